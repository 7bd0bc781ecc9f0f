//! `orders-risk`: the risk scorer. Configuration comes from flags or the environment (`--help`).
use clap::Parser;
use orders_risk::RiskServiceConfig;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = RiskServiceConfig::parse();
    let _telemetry = orders_runtime::telemetry::init("orders-risk");
    if config.print_config {
        let mut shown = config.clone();
        shown.db = shown.db.redacted();
        shown.kafka = shown.kafka.redacted();
        println!("{shown:#?}");
        println!("{:#?}", orders_risk::load_rules(&config)?);
        return Ok(());
    }
    orders_risk::run(config, orders_runtime::shutdown::on_signals()).await?;
    Ok(())
}

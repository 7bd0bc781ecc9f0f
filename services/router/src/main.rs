//! `orders-router`: the router. Configuration comes from flags or the environment (`--help`).
use clap::Parser;
use orders_router::RouterConfig;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = RouterConfig::parse();
    let _telemetry = orders_runtime::telemetry::init("orders-router");
    if config.print_config {
        let mut shown = config.clone();
        shown.db = shown.db.redacted();
        shown.kafka = shown.kafka.redacted();
        println!("{shown:#?}");
        println!("{:#?}", orders_router::load_hubs(&config)?);
        return Ok(());
    }
    orders_router::run(config, orders_runtime::shutdown::on_signals()).await?;
    Ok(())
}

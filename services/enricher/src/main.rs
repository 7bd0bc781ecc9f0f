//! `orders-enricher`: the enricher. Configuration comes from flags or the environment (`--help`).
use clap::Parser;
use orders_enricher::EnricherConfig;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = EnricherConfig::parse();
    let _telemetry = orders_runtime::telemetry::init("orders-enricher");
    if config.print_config {
        let mut shown = config.clone();
        shown.kafka = shown.kafka.redacted();
        println!("{shown:#?}");
        return Ok(());
    }
    orders_enricher::run(config, orders_runtime::shutdown::on_signals()).await?;
    Ok(())
}

//! `orders-projector`: builds the read models. Configuration comes from flags or the environment.
use clap::Parser;
use orders_projector::ProjectorConfig;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = ProjectorConfig::parse();
    let _telemetry = orders_runtime::telemetry::init("orders-projector");
    if config.print_config {
        let mut shown = config.clone();
        shown.db = shown.db.redacted();
        shown.kafka = shown.kafka.redacted();
        println!("{shown:#?}");
        return Ok(());
    }
    orders_projector::run(config, orders_runtime::shutdown::on_signals()).await?;
    Ok(())
}

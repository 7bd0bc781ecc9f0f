//! `orders-ingress`: the gRPC API. Configuration comes from flags or the environment (`--help`).
use clap::Parser;
use orders_ingress::IngressConfig;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = IngressConfig::parse();
    let _telemetry = orders_runtime::telemetry::init("orders-ingress");
    if config.print_config {
        let mut shown = config.clone();
        shown.db = shown.db.redacted();
        shown.kafka = shown.kafka.redacted();
        println!("{shown:#?}");
        return Ok(());
    }
    let listener = tokio::net::TcpListener::bind(&config.grpc_addr)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {} (ORDERS_GRPC_ADDR): {e}",
                config.grpc_addr
            )
        })?;
    orders_ingress::run(config, listener, orders_runtime::shutdown::on_signals()).await?;
    Ok(())
}

//! `orders-loadgen`: places orders at a fixed rate and reports latency; see `--help`.
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = orders_loadgen::LoadConfig::parse();
    let summary = orders_loadgen::run(&config).await?;
    if config.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print!("{}", summary.render());
    }
    if !summary.complete() {
        anyhow::bail!(
            "{} of {} orders placed, {} projected: see the summary above",
            summary.placed,
            config.orders,
            summary.projected
        );
    }
    Ok(())
}

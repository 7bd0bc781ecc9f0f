//! `orders-loadgen`: places a realistic mix of orders at a fixed rate, waits until they are decided
//! (or projected) and reports latency; see `--help`.
use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let config = orders_loadgen::LoadConfig::parse();
    let summary = match orders_loadgen::run(&config).await {
        Ok(summary) => summary,
        Err(e) => {
            eprintln!("orders-loadgen: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    if config.json {
        println!(
            "{}",
            serde_json::to_string(&summary).expect("summary serialises")
        );
    } else {
        print!("{}", summary.render());
    }
    if !summary.complete() {
        eprintln!(
            "orders-loadgen: {} of {} orders placed, {} projected, {} decided within --wait-secs {}: \
             see the summary above",
            summary.placed, config.orders, summary.projected, summary.decided, config.wait_secs
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

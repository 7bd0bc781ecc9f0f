//! `ordersctl`: see `ordersctl --help`. Output goes to stdout, messages and warnings to stderr; the
//! exit code says how it went (`ordersctl --help` lists them).
use std::process::ExitCode;

use clap::Parser;
use ordersctl::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    orders_runtime::telemetry::init_tool();
    match ordersctl::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

//! Shutdown as a value: services take a [`Shutdown`] so tests can trigger it without signals.
use tokio_util::sync::CancellationToken;

/// Cancelled when the service should drain and stop.
pub type Shutdown = CancellationToken;

/// A token cancelled by the first SIGTERM or SIGINT. A second signal exits the process at once
/// (exit code 130), for an operator who does not want to wait for the drain; so does the drain
/// outliving `ORDERS_SHUTDOWN_DEADLINE` (default 25 s; exit code 1), so a stuck dependency cannot
/// hold a deploy. Keep it above `ORDERS_DRAIN_TIMEOUT` and below Kubernetes'
/// terminationGracePeriodSeconds.
pub fn on_signals() -> Shutdown {
    let token = CancellationToken::new();
    let trip = token.clone();
    let deadline = std::env::var("ORDERS_SHUTDOWN_DEADLINE")
        .ok()
        .and_then(|v| crate::worker::parse_duration(&v).ok())
        .unwrap_or(std::time::Duration::from_secs(25));
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!(
            deadline_secs = deadline.as_secs(),
            "shutdown requested: draining; send the signal again to exit at once"
        );
        trip.cancel();
        tokio::select! {
            _ = wait_for_signal() => {
                tracing::warn!("second shutdown signal: exiting without draining");
                std::process::exit(130);
            }
            _ = tokio::time::sleep(deadline) => {
                tracing::error!(deadline_secs = deadline.as_secs(),
                    "drain did not finish within ORDERS_SHUTDOWN_DEADLINE; exiting");
                std::process::exit(1);
            }
        }
    });
    token
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

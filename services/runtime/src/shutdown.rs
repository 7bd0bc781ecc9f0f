//! Shutdown as a value: services take a [`Shutdown`] so tests can trigger it without signals.
use tokio_util::sync::CancellationToken;

/// Cancelled when the service should drain and stop.
pub type Shutdown = CancellationToken;

/// A token cancelled by the first SIGTERM or SIGINT. A second signal exits the process at once
/// (exit code 130), for an operator who does not want to wait for the drain.
pub fn on_signals() -> Shutdown {
    let token = CancellationToken::new();
    let trip = token.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown requested: draining; send the signal again to exit at once");
        trip.cancel();
        wait_for_signal().await;
        tracing::warn!("second shutdown signal: exiting without draining");
        std::process::exit(130);
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

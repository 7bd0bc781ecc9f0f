//! Logging set-up shared by the binaries.
use tracing_subscriber::EnvFilter;

/// Installs the global `tracing` subscriber: JSON lines on stderr, or human-readable text when
/// `ORDERS_LOG_FORMAT=text`. The level comes from `RUST_LOG` (default `info`).
pub fn init(service: &'static str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let text = std::env::var("ORDERS_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("text"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = if text {
        builder.try_init()
    } else {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init()
    };
    if result.is_ok() {
        tracing::debug!(service, "telemetry initialised");
    }
}

/// Logging for command-line tools: human-readable warnings on stderr (stdout is the tool's
/// output); `RUST_LOG` raises the level.
pub fn init_tool() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

//! Logging and tracing set-up shared by the binaries.
//!
//! Logs: JSON lines on stderr (or text with `ORDERS_LOG_FORMAT=text`), level from `RUST_LOG`.
//! Traces: when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, every `tracing` span is also an OpenTelemetry
//! span exported over OTLP/gRPC, and the W3C trace context travels in the events (envelope and Kafka
//! headers), so one order's gRPC call, appends, worker handling and projection form one trace.
use std::collections::HashMap;

use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Keeps the trace exporter alive; dropping it flushes the spans not yet sent.
#[must_use = "dropping the guard stops the trace exporter"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Sends the spans finished so far (tests; the batch exporter sends every few seconds).
    pub fn flush(&self) {
        if let Some(p) = &self.provider {
            let _ = p.force_flush();
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(p) = self.provider.take() {
            let _ = p.shutdown();
        }
    }
}

/// Installs the global subscriber: logs as above, and traces to `OTEL_EXPORTER_OTLP_ENDPOINT` when
/// it is set (service name from `OTEL_SERVICE_NAME`, else `service`).
pub fn init(service: &'static str) -> Telemetry {
    let endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
        .ok()
        .filter(|e| !e.trim().is_empty());
    init_with(service, endpoint.as_deref())
}

/// [`init`] with the OTLP endpoint given (tests run a receiver of their own).
pub fn init_with(service: &'static str, otlp_endpoint: Option<&str>) -> Telemetry {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let text = std::env::var("ORDERS_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("text"));
    let (provider, problem) = match otlp_endpoint.map(|e| tracer_provider(service, e)) {
        Some(Ok(p)) => (Some(p), None),
        Some(Err(e)) => (None, Some(e)),
        None => (None, None),
    };
    let otel = provider
        .as_ref()
        .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer(service)));
    let text_logs = text.then(|| tracing_subscriber::fmt::layer().with_writer(std::io::stderr));
    let json_logs = (!text).then(|| {
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            // The innermost span's fields: the order id, and the trace and span ids when traces
            // are on (see record_ids).
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(std::io::stderr)
    });
    let result = tracing_subscriber::registry()
        .with(filter)
        .with(text_logs)
        .with(json_logs)
        .with(otel)
        .try_init();
    if result.is_ok() {
        match (&provider, problem) {
            (Some(_), _) => tracing::info!(
                service,
                endpoint = otlp_endpoint,
                "traces exported over OTLP"
            ),
            (None, Some(e)) => tracing::warn!(service, error = %e, "traces are not exported"),
            (None, None) => tracing::debug!(service, "telemetry initialised (no OTLP endpoint)"),
        }
    }
    Telemetry { provider }
}

fn tracer_provider(service: &'static str, endpoint: &str) -> Result<SdkTracerProvider, String> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .map_err(|e| format!("OTLP exporter for {endpoint} (OTEL_EXPORTER_OTLP_ENDPOINT): {e}"))?;
    let mut resource = opentelemetry_sdk::Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name(service);
    }
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    opentelemetry::global::set_tracer_provider(provider.clone());
    Ok(provider)
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

/// Makes `span` a child of the W3C trace context `traceparent` (and `tracestate`) when there is one,
/// then records its `trace_id` and `span_id` fields (declared `Empty` by the caller) so that the log
/// lines inside it carry them.
pub fn set_parent(span: &tracing::Span, traceparent: Option<&str>, tracestate: Option<&str>) {
    if let Some(traceparent) = traceparent {
        adopt(span, traceparent, tracestate);
    }
    let cx = span.context();
    let otel = cx.span();
    let sc = otel.span_context();
    if sc.is_valid() {
        span.record("trace_id", sc.trace_id().to_string());
        span.record("span_id", sc.span_id().to_string());
    }
}

fn adopt(span: &tracing::Span, traceparent: &str, tracestate: Option<&str>) {
    let mut carrier = HashMap::new();
    carrier.insert("traceparent".to_owned(), traceparent.to_owned());
    if let Some(state) = tracestate {
        carrier.insert("tracestate".to_owned(), state.to_owned());
    }
    let cx = opentelemetry::global::get_text_map_propagator(|p| p.extract(&carrier));
    let _ = span.set_parent(cx);
}

/// The W3C `traceparent` of the current span, when traces are on; events carry it so their
/// consumers' spans join the trace.
pub fn current_traceparent() -> Option<String> {
    let cx = tracing::Span::current().context();
    let span = cx.span();
    let sc = span.span_context();
    sc.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            sc.trace_id(),
            sc.span_id(),
            sc.trace_flags().to_u8()
        )
    })
}

/// The OpenTelemetry messaging conventions' consumer span for processing `record` (decoded as
/// `event`) in `group`: a child of the trace context the event carries, with the trace and span ids
/// recorded for the log lines inside it. Used by the worker loop and the projector alike.
pub fn consumer_span(
    record: &crate::Record,
    group: &str,
    event: &orders_events::Event,
) -> tracing::Span {
    let span = tracing::info_span!(
        "process",
        otel.name = format!("{} process", record.topic),
        otel.kind = "consumer",
        messaging.system = "kafka",
        messaging.operation.type = "process",
        messaging.destination.name = %record.topic,
        messaging.destination.partition.id = record.partition,
        messaging.kafka.offset = record.offset,
        messaging.consumer.group.name = %group,
        messaging.message.id = %event.envelope.event_id,
        order_id = %event.envelope.order_id,
        trace_id = tracing::field::Empty,
        span_id = tracing::field::Empty,
    );
    set_parent(
        &span,
        event.envelope.traceparent.as_deref(),
        event.envelope.tracestate.as_deref(),
    );
    span
}

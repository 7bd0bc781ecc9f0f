//! One record through a worker: filter, decode, handle with retries, then append the follow-up or
//! the dead letter and wait for the broker's acknowledgement.
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use orders_events::headers::names as header;
use orders_events::{Event, EventMeta, EventType};
use rdkafka::producer::FutureProducer;

use super::{Handler, HandlerError, HandlerErrorClass, RetryConfig};
use crate::dlq::{self, ErrorClass, Provenance};
use crate::retry::{full_jitter, pause};
use crate::{Record, Shutdown, produce};

/// What the loop needs to process records; shared by every in-flight record.
pub(crate) struct Context<H> {
    pub(crate) handler: H,
    pub(crate) group: String,
    pub(crate) events_topic: String,
    pub(crate) dlq_topic: String,
    pub(crate) producer: FutureProducer,
    pub(crate) retry: RetryConfig,
    pub(crate) shutdown: Shutdown,
}

/// How a record ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Handled: follow-up appended, nothing to do, or dead-lettered. Its offset may be stored.
    Finished,
    /// Shutdown came first; the record is read again after a restart.
    Interrupted,
}

/// Whether the loop should run `record` at all, from its headers alone (no parsing). Records for
/// other event types, and records redriven to another group, are not this worker's.
pub(crate) fn is_for<H: Handler>(handler: &H, group: &str, record: &Record) -> bool {
    if let Some(target) = record.header(dlq::names::REDRIVE_GROUP)
        && target != group
    {
        return false;
    }
    match record.header(header::EVENT_TYPE).and_then(EventType::parse) {
        Some(t) => handler.handles(t),
        // No or unknown type: not readable by any worker. The projector, which reads every record,
        // dead-letters it once (a dead letter per group would multiply one bad record).
        None => false,
    }
}

pub(crate) async fn process<H: Handler>(ctx: Arc<Context<H>>, record: Record) -> Outcome {
    let event = match record.value.as_deref().map(Event::from_json) {
        Some(Ok(event)) => event,
        Some(Err(e)) => {
            tracing::warn!(record = %record.position(), error = %e,
                "undecodable record skipped; the projector dead-letters it");
            return Outcome::Finished;
        }
        None => {
            tracing::warn!(record = %record.position(), "record without a value skipped");
            return Outcome::Finished;
        }
    };
    let span = crate::telemetry::consumer_span(&record, &ctx.group, &event);
    use tracing::Instrument;
    handle(ctx, record, event).instrument(span).await
}

async fn handle<H: Handler>(ctx: Arc<Context<H>>, record: Record, event: Event) -> Outcome {
    let mut attempts = 0u32;
    let mut first_failure: Option<DateTime<Utc>> = None;
    let mut delays = backoff(
        &ctx.retry,
        Some(ctx.retry.attempts.saturating_sub(1) as usize),
    );
    let mut outage_delays = backoff(&ctx.retry, None);
    let event_type = event.event_type().as_str();
    metrics::counter!("orders_events_consumed_total", "group" => ctx.group.clone(),
        "event_type" => event_type)
    .increment(1);
    loop {
        attempts += 1;
        let started = std::time::Instant::now();
        let handled = ctx.handler.handle(&event).await;
        metrics::histogram!("orders_handler_duration_seconds", "group" => ctx.group.clone(),
            "event_type" => event_type)
        .record(started.elapsed().as_secs_f64());
        let error = match handled {
            Ok(follow_up) => {
                return match follow_up {
                    Some(payload) => {
                        let stage = ctx.handler.stage();
                        let mut meta = EventMeta::follow_up(
                            &event.envelope,
                            stage,
                            &format!("orders-{stage}"),
                            Utc::now(),
                        );
                        // With traces on, the follow-up continues from this worker's span.
                        if let Some(tp) = crate::telemetry::current_traceparent() {
                            meta.traceparent = Some(tp);
                        }
                        let next = Event::new(event.envelope.order_id, payload, meta);
                        // A follow-up that breaks its own schema is a bug in the handler: dead-letter
                        // the source rather than put a record on the log that every reader refuses.
                        if let Err(e) = orders_events::schema::validate(&next.to_value()) {
                            let now = Utc::now();
                            let error = HandlerError::permanent("invalid_follow_up", e.to_string());
                            let p = provenance(&ctx, &record, &error, false, attempts, now, now);
                            return dead_letter_until_acked(&ctx, &record, &p).await;
                        }
                        append_until_acked(&ctx, &record, &next).await
                    }
                    None => Outcome::Finished,
                };
            }
            Err(e) => e,
        };
        let now = Utc::now();
        let first = *first_failure.get_or_insert(now);
        let delay = match error.class {
            HandlerErrorClass::Outage => {
                // Everyone's dependency is down: wait for it without spending the record's attempts.
                attempts -= 1;
                metrics::counter!("orders_outage_pauses_total", "group" => ctx.group.clone(),
                    "error_kind" => error.kind)
                .increment(1);
                let delay = outage_delays.next().unwrap_or(ctx.retry.cap);
                tracing::warn!(record = %record.position(), kind = error.kind, error = %error.message,
                    retry_in_ms = delay.as_millis() as u64, "dependency unavailable; pausing");
                delay
            }
            HandlerErrorClass::Transient => match delays.next() {
                Some(delay) => {
                    metrics::counter!("orders_retries_total", "group" => ctx.group.clone(),
                        "error_kind" => error.kind)
                    .increment(1);
                    tracing::info!(record = %record.position(), attempt = attempts, kind = error.kind,
                        error = %error.message, retry_in_ms = delay.as_millis() as u64, "retrying");
                    delay
                }
                None => {
                    let p = provenance(&ctx, &record, &error, true, attempts, first, now);
                    return dead_letter_until_acked(&ctx, &record, &p).await;
                }
            },
            HandlerErrorClass::Permanent => {
                let p = provenance(&ctx, &record, &error, false, attempts, first, now);
                return dead_letter_until_acked(&ctx, &record, &p).await;
            }
        };
        if !pause(delay, &ctx.shutdown).await {
            return Outcome::Interrupted;
        }
    }
}

fn provenance<H>(
    ctx: &Context<H>,
    record: &Record,
    error: &HandlerError,
    exhausted: bool,
    attempts: u32,
    first: DateTime<Utc>,
    last: DateTime<Utc>,
) -> Provenance {
    let class = match error.class {
        HandlerErrorClass::Permanent => ErrorClass::Permanent,
        HandlerErrorClass::Transient | HandlerErrorClass::Outage => ErrorClass::Transient,
    };
    Provenance::of(
        record,
        &ctx.group,
        class,
        error.kind,
        &error.message,
        exhausted,
        attempts,
        first,
        last,
    )
}

/// Appends the follow-up, retrying while the broker is unavailable: the record is not finished
/// until its follow-up is acknowledged.
async fn append_until_acked<H>(ctx: &Context<H>, record: &Record, next: &Event) -> Outcome {
    let mut delays = backoff(&ctx.retry, None);
    loop {
        match produce::append(&ctx.producer, &ctx.events_topic, next).await {
            Ok(_) => return Outcome::Finished,
            Err(e) => {
                let delay = delays.next().unwrap_or(ctx.retry.cap);
                tracing::warn!(record = %record.position(), error = %e,
                    retry_in_ms = delay.as_millis() as u64, "follow-up not acknowledged; retrying");
                if !pause(delay, &ctx.shutdown).await {
                    return Outcome::Interrupted;
                }
            }
        }
    }
}

async fn dead_letter_until_acked<H>(ctx: &Context<H>, record: &Record, p: &Provenance) -> Outcome {
    let mut delays = backoff(&ctx.retry, None);
    loop {
        match dlq::send(&ctx.producer, &ctx.dlq_topic, record, p).await {
            Ok(()) => return Outcome::Finished,
            Err(e) => {
                let delay = delays.next().unwrap_or(ctx.retry.cap);
                tracing::warn!(record = %record.position(), error = %e,
                    retry_in_ms = delay.as_millis() as u64, "dead letter not acknowledged; retrying");
                if !pause(delay, &ctx.shutdown).await {
                    return Outcome::Interrupted;
                }
            }
        }
    }
}

fn backoff(cfg: &RetryConfig, times: Option<usize>) -> impl Iterator<Item = Duration> + use<> {
    full_jitter(cfg.base, cfg.cap, times)
}

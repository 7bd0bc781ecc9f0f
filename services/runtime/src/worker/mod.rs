//! The worker loop, written once for every stage that reacts to events with follow-up events.
//!
//! A worker supplies a [`Handler`]: an event in, at most one follow-up payload out. The loop does
//! the rest:
//! - reads `orders.events` in its consumer group and runs only records whose `event_type` header the
//!   handler [`handles`](Handler::handles) (and, for redriven records, only in the target group);
//! - runs records of different orders concurrently, up to `max_in_flight`, and the records of one
//!   order strictly one after another in log order;
//! - appends the follow-up with envelope key `<stage>:<source event id>` (so its event id is the
//!   same however often the source is processed) and waits for the broker's acknowledgement;
//! - retries transient errors with exponential backoff and full jitter, then dead-letters them as
//!   exhausted; dead-letters permanent errors at once; waits out outages without spending attempts
//!   (all in-flight records wait, so reading stops: the consumer pauses instead of flooding the DLQ);
//! - stores a partition's offset only when every record up to it is finished (follow-up or dead
//!   letter acknowledged), and librdkafka commits stored offsets in the background;
//! - on shutdown stops reading, lets in-flight records finish within the drain deadline, commits.
//!
//! Why a second loop beside [`crate::batch`]: projections apply batches in one database transaction
//! with their offsets; workers have no transaction to join, so they track each record until its
//! follow-up is acknowledged and commit in partition order instead.
mod process;
mod progress;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use orders_events::{Event, EventType, Payload};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};

use crate::context::RebalanceLog;
use crate::stranded::{self, Stranded};
use crate::{KafkaConfig, Record, RuntimeError, Shutdown, kafka};
use process::{Context, Outcome};
use progress::Progress;

/// How a handler failure is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandlerErrorClass {
    /// May succeed if tried again (a timeout, a 5xx): retried with backoff, then dead-lettered.
    Transient,
    /// Will fail the same way again (invalid input, a broken invariant): dead-lettered at once.
    Permanent,
    /// A dependency every record needs is down (the database): wait for it, never dead-letter.
    Outage,
}

/// A handler failure. The class alone decides retry, dead letter or pause.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct HandlerError {
    pub class: HandlerErrorClass,
    /// Short machine-readable code, e.g. `timeout`, `invariant`, `database_unavailable`.
    pub kind: &'static str,
    pub message: String,
}

impl HandlerError {
    pub fn transient(kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            class: HandlerErrorClass::Transient,
            kind,
            message: message.into(),
        }
    }
    pub fn permanent(kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            class: HandlerErrorClass::Permanent,
            kind,
            message: message.into(),
        }
    }
    pub fn outage(kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            class: HandlerErrorClass::Outage,
            kind,
            message: message.into(),
        }
    }
}

/// What a worker supplies to the loop: its business rule and nothing else.
pub trait Handler: Send + Sync + 'static {
    /// The stage name: first part of follow-up idempotency keys, and `orders-<stage>` is the
    /// follow-up's producer. Changing it changes every follow-up's event id.
    fn stage(&self) -> &'static str;

    /// Whether this worker reacts to events of `event_type`. Others are skipped unparsed.
    fn handles(&self, event_type: EventType) -> bool;

    /// The follow-up of `event`, if any. Must be deterministic enough that a retry after a crash
    /// is acceptable in place of the first answer: both carry the same event id, readers keep one.
    fn handle(
        &self,
        event: &Event,
    ) -> impl Future<Output = Result<Option<Payload>, HandlerError>> + Send;
}

/// Retry policy of transient errors.
#[derive(Debug, Clone, Args)]
pub struct RetryConfig {
    /// First retry delay of a transient error (exponential backoff with full jitter).
    #[arg(long = "retry-base", env = "ORDERS_RETRY_BASE", default_value = "100ms", value_parser = parse_duration)]
    pub base: Duration,
    /// Longest retry delay.
    #[arg(long = "retry-cap", env = "ORDERS_RETRY_CAP", default_value = "10s", value_parser = parse_duration)]
    pub cap: Duration,
    /// Attempts of a record with transient errors before it is dead-lettered as exhausted.
    #[arg(
        long = "retry-attempts",
        env = "ORDERS_RETRY_ATTEMPTS",
        default_value_t = 5
    )]
    pub attempts: u32,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(10),
            attempts: 5,
        }
    }
}

/// Tuning of the worker loop.
#[derive(Debug, Clone, Args)]
pub struct WorkerConfig {
    /// Records read and not yet finished, across all partitions; reading pauses at this bound.
    #[arg(long, env = "ORDERS_WORKER_MAX_IN_FLIGHT", default_value_t = 256)]
    pub max_in_flight: usize,
    /// On shutdown, how long in-flight records may take to finish before the loop commits what is
    /// done and exits (keep it below the group's session timeout of 10 s).
    #[arg(long, env = "ORDERS_DRAIN_TIMEOUT", default_value = "8s", value_parser = parse_duration)]
    pub drain_timeout: Duration,
    #[command(flatten)]
    pub retry: RetryConfig,
    /// Where the loop reports partitions and lag (set by the service, not a setting).
    #[arg(skip)]
    pub health: std::sync::Arc<crate::observe::Health>,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            max_in_flight: 256,
            drain_timeout: Duration::from_secs(8),
            retry: RetryConfig::default(),
            health: Default::default(),
        }
    }
}

/// Parses `250ms`, `10s`, `2m` or a bare number of milliseconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{s:?} is not a duration; write e.g. 250ms, 10s or 2m"))?;
    match unit.trim() {
        "" | "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        other => Err(format!(
            "unknown unit {other:?} in {s:?}; use ms, s or m (e.g. 250ms, 10s, 2m)"
        )),
    }
}

/// A record running in the loop, and its result.
type Running = futures::future::BoxFuture<'static, (Record, u64, Outcome)>;

/// Consumes the events topic as `group` and runs `handler` until `shutdown` is cancelled.
pub async fn run<H: Handler>(
    kafka_cfg: &KafkaConfig,
    group: &str,
    handler: H,
    cfg: &WorkerConfig,
    shutdown: Shutdown,
) -> Result<(), RuntimeError> {
    let topic = kafka_cfg.events_topic.clone();
    let consumer: StreamConsumer<RebalanceLog> = kafka::consumer(
        kafka_cfg,
        group,
        group,
        RebalanceLog::new(group, cfg.health.clone()),
    )?;
    consumer
        .subscribe(&[&topic])
        .map_err(|source| RuntimeError::Consume {
            topic: topic.clone(),
            source: Box::new(source),
        })?;
    let ctx = Arc::new(Context {
        handler,
        group: group.to_owned(),
        events_topic: topic.clone(),
        dlq_topic: kafka_cfg.dlq_topic.clone(),
        producer: kafka::producer(kafka_cfg, group)?,
        retry: cfg.retry.clone(),
        shutdown: shutdown.clone(),
    });
    let mut progress = Progress::default();
    let mut running: FuturesUnordered<Running> = FuturesUnordered::new();
    let start = |ctx: &Arc<Context<H>>, (record, generation): (Record, u64)| -> Running {
        let ctx = Arc::clone(ctx);
        Box::pin(async move {
            let outcome = process::process(Arc::clone(&ctx), record.clone()).await;
            (record, generation, outcome)
        })
    };
    tracing::info!(
        topic,
        group,
        stage = ctx.handler.stage(),
        "worker consuming"
    );
    let mut stranded = Stranded::default();
    let mut check = tokio::time::interval(stranded::CHECK_EVERY);

    loop {
        revoke(consumer.context(), &mut progress);
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            _ = check.tick() => stranded.check(&consumer, &topic),
            Some((record, generation, outcome)) = running.next(), if !running.is_empty() => {
                if outcome == Outcome::Finished {
                    finished(&consumer, &topic, &mut progress, &record, generation);
                }
                let key = record.key.unwrap_or_default();
                if let Some(next) = progress.next_of(&key) {
                    running.push(start(&ctx, next));
                }
            }
            msg = consumer.recv(), if progress.in_flight() < cfg.max_in_flight => {
                let record = match msg {
                    Ok(msg) => Record::from_message(&msg),
                    Err(e) => {
                        tracing::warn!(topic, error = %e, "consumer error; continuing");
                        continue;
                    }
                };
                if !process::is_for(&ctx.handler, group, &record) {
                    if let Some(offset) = progress.skip(record.partition, record.offset) {
                        store(&consumer, &topic, record.partition, offset);
                    }
                } else if let Some(ticket) = progress.admit(record) {
                    running.push(start(&ctx, ticket));
                }
            }
        }
    }

    // Drain: no more reading; in-flight records finish (retry pauses end at once on shutdown).
    let deadline = tokio::time::Instant::now() + cfg.drain_timeout;
    while !running.is_empty() {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => {
                tracing::warn!(unfinished = running.len(), "drain deadline passed; they will be read again");
                break;
            }
            Some((record, generation, outcome)) = running.next() => {
                if outcome == Outcome::Finished {
                    finished(&consumer, &topic, &mut progress, &record, generation);
                }
            }
        }
    }
    if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
        tracing::debug!(topic, error = %e, "final commit skipped");
    }
    use rdkafka::producer::Producer;
    if let Err(e) = ctx.producer.flush(Duration::from_secs(5)) {
        tracing::warn!(error = %e, "producer flush at shutdown failed");
    }
    tracing::info!(topic, group, "worker stopped");
    Ok(())
}

fn finished(
    consumer: &StreamConsumer<RebalanceLog>,
    topic: &str,
    progress: &mut Progress,
    record: &Record,
    generation: u64,
) {
    if let Some(offset) = progress.finish(record.partition, record.offset, generation) {
        consumer.context().processed(record);
        store(consumer, topic, record.partition, offset);
    }
}

fn store(consumer: &StreamConsumer<RebalanceLog>, topic: &str, partition: i32, offset: i64) {
    // librdkafka stores offset + 1, the next record to read.
    if let Err(e) = consumer.store_offset(topic, partition, offset) {
        tracing::debug!(topic, partition, error = %e, "offset not stored (partition revoked?)");
    }
}

fn revoke(log: &RebalanceLog, progress: &mut Progress) {
    for (assigned, partitions) in log.take() {
        if !assigned {
            progress.revoke(&partitions);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_bad_ones_are_explained() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("75"), Ok(Duration::from_millis(75)));
        assert!(parse_duration("ten").unwrap_err().contains("e.g. 250ms"));
        assert!(parse_duration("5h").unwrap_err().contains("use ms, s or m"));
    }
}

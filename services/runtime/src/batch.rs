//! The batch consumer loop, written once for every projection.
//!
//! A [`BatchHandler`] applies a batch of records and stores their offsets in the same transaction as
//! its effects; this loop does the rest:
//! - reads greedily: it waits for one record, then takes whatever is already fetched, up to
//!   `max_records`, so batches grow with load and latency stays low when idle;
//! - positions each newly assigned partition at the handler's stored offset (the handler's store,
//!   not the group's committed offset, is the truth), seeking when the two differ;
//! - retries a failed batch with exponential backoff and full jitter for as long as the handler says
//!   the failure is transient (a database outage pauses the projection instead of losing records);
//! - after a batch is applied, stores its offsets for the group's background commit, so the group's
//!   committed offset (what lag monitors read) follows the handler's;
//! - when the handler reports that its stored positions moved under it (a projection cut over to
//!   rebuilt read models), drops the batch, reads the stored offsets again and seeks there;
//! - on shutdown, finishes the batch in hand, commits, and returns.
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use rdkafka::Offset;
use rdkafka::consumer::{CommitMode, Consumer, ConsumerContext, StreamConsumer};

use crate::context::RebalanceLog;
use crate::observe::Health;
use crate::retry::{full_jitter, pause};
use crate::stranded::{self, Stranded};
use crate::{KafkaConfig, Record, RuntimeError, Shutdown, kafka};

/// Why a batch could not be applied, and whether trying again can help.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct BatchError {
    /// True for outages (database unreachable, timeouts): the loop pauses and retries the batch.
    /// False for bugs and broken invariants: the loop stops and the service exits with the error.
    pub retryable: bool,
    /// The handler's store was replaced (its stored offsets are no longer the ones the loop read):
    /// the batch was not applied, and the loop must position every partition anew.
    pub moved: bool,
    pub message: String,
}

impl BatchError {
    pub fn transient(message: impl Into<String>) -> Self {
        Self {
            retryable: true,
            moved: false,
            message: message.into(),
        }
    }
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            retryable: false,
            moved: false,
            message: message.into(),
        }
    }
    pub fn moved(message: impl Into<String>) -> Self {
        Self {
            retryable: false,
            moved: true,
            message: message.into(),
        }
    }
}

/// How applying a batch ended.
enum Applied {
    Done,
    /// Shutdown interrupted a retry; nothing of the batch was stored.
    Stopped,
    /// The handler's stored positions moved; nothing of the batch was stored.
    Moved,
}

/// What a projection supplies to the loop.
pub trait BatchHandler: Send + Sync {
    /// The next offset to read for each of `partitions` of `topic`, as stored with the handler's
    /// effects. A partition without a stored offset starts from the beginning of the log.
    fn stored_offsets(
        &self,
        topic: &str,
        partitions: &[i32],
    ) -> impl Future<Output = Result<HashMap<i32, i64>, BatchError>> + Send;

    /// Applies `batch` (records in partition order) and stores, atomically with the effects, the
    /// offset after the last record of each partition in it.
    fn apply(&self, batch: &[Record]) -> impl Future<Output = Result<(), BatchError>> + Send;
}

/// Tuning of the loop.
#[derive(Debug, Clone)]
pub struct BatchConfig {
    /// Largest batch handed to the handler.
    pub max_records: usize,
    /// First retry delay of a failed batch.
    pub retry_base: Duration,
    /// Longest retry delay of a failed batch.
    pub retry_cap: Duration,
    /// Where the loop reports partitions and lag.
    pub health: Arc<Health>,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            max_records: 500,
            retry_base: Duration::from_millis(100),
            retry_cap: Duration::from_secs(10),
            health: Arc::default(),
        }
    }
}

/// Where the loop stands on one assigned partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    /// Just assigned; the handler's stored offset has not been read yet.
    Unknown,
    /// The handler's stored offset is known; the first record read decides whether to seek.
    Fresh(i64),
    /// A seek to this offset was issued; records before it are stale prefetches.
    Seeking(i64),
    /// Reading in order; the next expected offset (gaps are allowed, e.g. compacted records).
    Live(i64),
}

/// Consumes `topic` as `group` and feeds batches to `handler` until `shutdown` is cancelled.
pub async fn run<H: BatchHandler>(
    kafka_cfg: &KafkaConfig,
    group: &str,
    topic: &str,
    handler: &H,
    cfg: &BatchConfig,
    shutdown: Shutdown,
) -> Result<(), RuntimeError> {
    let consumer: StreamConsumer<RebalanceLog> = kafka::consumer(
        kafka_cfg,
        group,
        group,
        RebalanceLog::new(group, cfg.health.clone()),
    )?;
    consumer
        .subscribe(&[topic])
        .map_err(|source| RuntimeError::Consume {
            topic: topic.to_owned(),
            source: Box::new(source),
        })?;
    let mut positions: HashMap<i32, Position> = HashMap::new();
    tracing::info!(topic, group, "consuming");
    let mut stranded = Stranded::default();
    let mut check = tokio::time::interval(stranded::CHECK_EVERY);

    loop {
        let first = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            _ = check.tick() => {
                stranded.check(&consumer, topic);
                continue;
            }
            msg = consumer.recv() => msg,
        };
        let mut batch = Vec::new();
        match first {
            Ok(msg) => batch.push(Record::from_message(&msg)),
            Err(e) => {
                tracing::warn!(topic, error = %e, "consumer error; continuing");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        }
        while batch.len() < cfg.max_records {
            match consumer.recv().now_or_never() {
                Some(Ok(msg)) => batch.push(Record::from_message(&msg)),
                Some(Err(e)) => {
                    tracing::warn!(topic, error = %e, "consumer error; continuing");
                    break;
                }
                None => break,
            }
        }
        apply_rebalances(consumer.context(), &mut positions);
        let partitions: Vec<i32> = batch.iter().map(|r| r.partition).collect();
        if !resolve_positions(handler, topic, &partitions, &mut positions, cfg, &shutdown).await? {
            break;
        }
        let accepted = admit(&consumer, topic, batch, &mut positions);
        if accepted.is_empty() {
            continue;
        }
        let started = std::time::Instant::now();
        match apply_with_retry(handler, &accepted, cfg, &shutdown).await? {
            Applied::Done => {
                record_batch(group, &accepted, started.elapsed());
                store_offsets(&consumer, topic, &accepted);
            }
            Applied::Stopped => break,
            Applied::Moved => {
                if !reposition(handler, &consumer, topic, &mut positions, cfg, &shutdown).await? {
                    break;
                }
            }
        }
    }
    // Flush what is stored so a restarted or rebalanced consumer starts where this one stopped.
    if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
        tracing::debug!(topic, error = %e, "final commit skipped");
    }
    tracing::info!(topic, group, "consumer stopped");
    Ok(())
}

fn apply_rebalances(log: &RebalanceLog, positions: &mut HashMap<i32, Position>) {
    for (assigned, partitions) in log.take() {
        for p in partitions {
            if assigned {
                positions.insert(p, Position::Unknown);
            } else {
                positions.remove(&p);
            }
        }
    }
}

/// Reads the stored offsets of those of `partitions` whose position is not known yet. Returns
/// false when shutdown interrupted a retry.
async fn resolve_positions<H: BatchHandler>(
    handler: &H,
    topic: &str,
    partitions: &[i32],
    positions: &mut HashMap<i32, Position>,
    cfg: &BatchConfig,
    shutdown: &Shutdown,
) -> Result<bool, RuntimeError> {
    let mut unknown: Vec<i32> = partitions
        .iter()
        .copied()
        .filter(|p| matches!(positions.get(p), None | Some(Position::Unknown)))
        .collect();
    unknown.sort_unstable();
    unknown.dedup();
    if unknown.is_empty() {
        return Ok(true);
    }
    let mut delays = backoff(cfg);
    loop {
        match handler.stored_offsets(topic, &unknown).await {
            Ok(stored) => {
                for p in &unknown {
                    let next = stored.get(p).copied().unwrap_or(0);
                    positions.insert(*p, Position::Fresh(next));
                }
                return Ok(true);
            }
            Err(e) if e.retryable => {
                let delay = delays.next().unwrap_or(cfg.retry_cap);
                tracing::warn!(topic, error = %e, retry_in_ms = delay.as_millis() as u64,
                    "cannot read stored offsets; pausing");
                if !pause(delay, shutdown).await {
                    return Ok(false);
                }
            }
            Err(e) => {
                return Err(RuntimeError::Handler {
                    topic: topic.to_owned(),
                    partition: unknown[0],
                    offset: -1,
                    message: e.message,
                });
            }
        }
    }
}

/// Keeps the records that continue each partition from its stored position; seeks where the
/// consumer's position and the stored one differ.
fn admit<C: ConsumerContext + 'static>(
    consumer: &StreamConsumer<C>,
    topic: &str,
    batch: Vec<Record>,
    positions: &mut HashMap<i32, Position>,
) -> Vec<Record> {
    let mut accepted = Vec::with_capacity(batch.len());
    for record in batch {
        let p = record.partition;
        let off = record.offset;
        let pos = positions.get(&p).copied().unwrap_or(Position::Live(0));
        let next = match pos {
            Position::Fresh(stored) if off != stored => {
                tracing::info!(
                    topic,
                    partition = p,
                    from = off,
                    to = stored,
                    "seeking to the stored offset"
                );
                match consumer.seek(topic, p, Offset::Offset(stored), Duration::from_secs(5)) {
                    Ok(()) => Position::Seeking(stored),
                    Err(e) => {
                        tracing::warn!(topic, partition = p, error = %e, "seek failed; will retry");
                        Position::Fresh(stored)
                    }
                }
            }
            Position::Seeking(target) if off < target => Position::Seeking(target),
            Position::Live(next) if off < next => Position::Live(next),
            Position::Fresh(_) | Position::Seeking(_) | Position::Live(_) => {
                accepted.push(record);
                Position::Live(off + 1)
            }
            Position::Unknown => unreachable!("positions are resolved before admission"),
        };
        positions.insert(p, next);
    }
    accepted
}

/// Reads the stored offsets of every assigned partition again and seeks each there, so the loop
/// carries on from the handler's new store (records already fetched are skipped until the seek
/// lands). Returns false when shutdown interrupted it.
async fn reposition<H: BatchHandler, C: ConsumerContext + 'static>(
    handler: &H,
    consumer: &StreamConsumer<C>,
    topic: &str,
    positions: &mut HashMap<i32, Position>,
    cfg: &BatchConfig,
    shutdown: &Shutdown,
) -> Result<bool, RuntimeError> {
    let assigned: Vec<i32> = positions.keys().copied().collect();
    for p in &assigned {
        positions.insert(*p, Position::Unknown);
    }
    if !resolve_positions(handler, topic, &assigned, positions, cfg, shutdown).await? {
        return Ok(false);
    }
    for p in assigned {
        if let Some(Position::Fresh(stored)) = positions.get(&p).copied() {
            tracing::info!(
                topic,
                partition = p,
                to = stored,
                "store replaced; seeking to its offset"
            );
            let next = match consumer.seek(topic, p, Offset::Offset(stored), Duration::from_secs(5))
            {
                Ok(()) => Position::Seeking(stored),
                Err(e) => {
                    tracing::warn!(topic, partition = p, error = %e, "seek failed; will retry");
                    Position::Fresh(stored)
                }
            };
            positions.insert(p, next);
        }
    }
    Ok(true)
}

async fn apply_with_retry<H: BatchHandler>(
    handler: &H,
    batch: &[Record],
    cfg: &BatchConfig,
    shutdown: &Shutdown,
) -> Result<Applied, RuntimeError> {
    let mut delays = backoff(cfg);
    loop {
        match handler.apply(batch).await {
            Ok(()) => return Ok(Applied::Done),
            Err(e) if e.moved => {
                tracing::warn!(error = %e, "stored positions moved; repositioning");
                return Ok(Applied::Moved);
            }
            Err(e) if e.retryable => {
                let delay = delays.next().unwrap_or(cfg.retry_cap);
                tracing::warn!(records = batch.len(), first = %batch[0].position(), error = %e,
                    retry_in_ms = delay.as_millis() as u64, "batch failed; pausing before retry");
                if !pause(delay, shutdown).await {
                    return Ok(Applied::Stopped);
                }
            }
            Err(e) => {
                return Err(RuntimeError::Handler {
                    topic: batch[0].topic.clone(),
                    partition: batch[0].partition,
                    offset: batch[0].offset,
                    message: e.message,
                });
            }
        }
    }
}

fn store_offsets(consumer: &StreamConsumer<RebalanceLog>, topic: &str, batch: &[Record]) {
    let mut last: HashMap<i32, &Record> = HashMap::new();
    for r in batch {
        last.insert(r.partition, r);
    }
    for (partition, record) in last {
        consumer.context().processed(record);
        // librdkafka stores offset + 1, the next record to read.
        if let Err(e) = consumer.store_offset(topic, partition, record.offset) {
            tracing::debug!(topic, partition, error = %e, "offset not stored (partition revoked?)");
        }
    }
}

/// Metrics of an applied batch: its size, how long it took (retries included) and the records by
/// event type.
fn record_batch(group: &str, batch: &[Record], took: Duration) {
    metrics::histogram!("orders_projector_batch_records", "group" => group.to_owned())
        .record(batch.len() as f64);
    metrics::histogram!("orders_projector_apply_duration_seconds", "group" => group.to_owned())
        .record(took.as_secs_f64());
    let mut by_type: HashMap<&str, u64> = HashMap::new();
    for r in batch {
        *by_type
            .entry(
                r.header(orders_events::headers::names::EVENT_TYPE)
                    .unwrap_or("unknown"),
            )
            .or_default() += 1;
    }
    for (event_type, n) in by_type {
        metrics::counter!("orders_events_consumed_total", "group" => group.to_owned(),
            "event_type" => event_type.to_owned())
        .increment(n);
    }
}

fn backoff(cfg: &BatchConfig) -> impl Iterator<Item = Duration> + use<> {
    full_jitter(cfg.retry_base, cfg.retry_cap, None)
}

//! The consumer context both loops use ([`RebalanceLog`]): partition assignments from librdkafka's
//! rebalance callback, for the loop to act on, and librdkafka's statistics turned into lag metrics
//! and the `partitions` and `lag` readiness checks.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rdkafka::ClientContext;
use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};

use crate::Record;
use crate::observe::Health;

/// The consumer's context, shared by both loops: it records partition assignments made inside
/// librdkafka's rebalance callback for the loop to act on, and turns librdkafka's statistics into
/// lag metrics and the `partitions` and `lag` readiness checks.
#[derive(Default)]
pub struct RebalanceLog {
    changes: Mutex<Vec<(bool, Vec<i32>)>>,
    /// An assignment (possibly empty) arrived since the consumer last (re)joined its group.
    joined: std::sync::atomic::AtomicBool,
    group: String,
    health: Arc<Health>,
    /// Per partition, the timestamp (ms) of the last record whose offset was stored.
    processed: Mutex<HashMap<i32, i64>>,
    started_ms: i64,
}

impl RebalanceLog {
    pub fn new(group: &str, health: Arc<Health>) -> Self {
        health.set("partitions", false, "joining the consumer group");
        health.set(
            "lag",
            true,
            "not measured yet (librdkafka statistics every 5 s)",
        );
        Self {
            group: group.to_owned(),
            health,
            started_ms: chrono::Utc::now().timestamp_millis(),
            ..Self::default()
        }
    }

    /// The changes since the last call, oldest first: (assigned?, partitions).
    pub fn take(&self) -> Vec<(bool, Vec<i32>)> {
        std::mem::take(&mut *self.changes.lock().expect("rebalance log poisoned"))
    }

    /// Whether the group has answered the consumer's last join with an assignment.
    pub fn joined(&self) -> bool {
        self.joined.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Forgets the last assignment, before joining the group again.
    pub fn rejoining(&self) {
        self.joined
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }

    /// Notes that `record` is done (its offset stored), for the lag in seconds.
    pub fn processed(&self, record: &Record) {
        if let Some(ts) = record.timestamp_ms {
            self.processed
                .lock()
                .expect("processed poisoned")
                .insert(record.partition, ts);
        }
    }
}

impl ClientContext for RebalanceLog {
    /// Lag per partition in records (librdkafka's `consumer_lag_stored`: log end minus stored
    /// offset) and, for the group, in seconds: the age of the last record processed on a partition
    /// that has records waiting (the age of the oldest waiting one is at most that).
    fn stats(&self, stats: rdkafka::Statistics) {
        let now = chrono::Utc::now().timestamp_millis();
        let processed = self.processed.lock().expect("processed poisoned").clone();
        let mut oldest_ms = 0i64;
        let mut total = 0i64;
        for topic in stats.topics.values() {
            for p in topic.partitions.values() {
                if p.partition < 0 || p.consumer_lag_stored < 0 {
                    continue;
                }
                let lag = p.consumer_lag_stored;
                total += lag;
                metrics::gauge!("orders_consumer_lag_records", "group" => self.group.clone(),
                    "partition" => p.partition.to_string())
                .set(lag as f64);
                if lag > 0 {
                    let since = processed
                        .get(&p.partition)
                        .copied()
                        .unwrap_or(self.started_ms);
                    oldest_ms = oldest_ms.max(now - since);
                }
            }
        }
        let seconds = oldest_ms.max(0) as f64 / 1000.0;
        metrics::gauge!("orders_consumer_lag_seconds", "group" => self.group.clone()).set(seconds);
        let max = self.health.max_lag;
        if max.is_zero() || seconds <= max.as_secs_f64() {
            self.health
                .set("lag", true, format!("{total} records waiting"));
        } else {
            self.health.set(
                "lag",
                false,
                format!(
                    "{total} records waiting, the oldest for about {seconds:.0} s (limit {} s)",
                    max.as_secs()
                ),
            );
        }
    }
}

impl ConsumerContext for RebalanceLog {
    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let (assigned, tpl) = match rebalance {
            Rebalance::Assign(tpl) => (true, tpl),
            Rebalance::Revoke(tpl) => (false, tpl),
            Rebalance::Error(e) => {
                tracing::warn!(error = %e, "consumer group rebalance failed");
                return;
            }
        };
        let partitions: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
        if assigned {
            self.joined.store(true, std::sync::atomic::Ordering::SeqCst);
            let ok = !partitions.is_empty();
            self.health.set(
                "partitions",
                ok,
                if ok {
                    format!("{} partitions assigned", partitions.len())
                } else {
                    "no partition assigned: more consumers than partitions, or the group is rebalancing".into()
                },
            );
        } else {
            self.health
                .set("partitions", false, "partitions revoked; rebalancing");
        }
        tracing::info!(?partitions, assigned, "partitions rebalanced");
        self.changes
            .lock()
            .expect("rebalance log poisoned")
            .push((assigned, partitions));
    }
}

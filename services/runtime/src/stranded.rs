//! Detects a consumer left without partitions while nobody consumes them, and makes it rejoin.
//! Only a consumer whose join the group has answered (with an empty assignment) is checked.
//!
//! Seen with tansu 0.6: after a member of a group died without leaving (SIGKILL), the member that
//! replaced it was given an empty assignment and no further rebalance came, so the group stopped.
//! Apache Kafka does not do this, but a consumer cannot tell a broker bug from a legitimate empty
//! assignment (more members than partitions) by its assignment alone. So, while its assignment is
//! empty, the consumer checks every [`CHECK_EVERY`] whether the group's committed offsets still move
//! on partitions that have records to read. If two checks [`CHECK_EVERY`] apart see unread records
//! and no committed offset moved, no member is consuming them: it rejoins the group (unsubscribe,
//! subscribe), which starts a new rebalance. With a healthy broker and surplus members the other
//! members' offsets move, so it never rejoins.
use std::collections::HashMap;
use std::time::Duration;

use rdkafka::consumer::{Consumer, StreamConsumer};

use crate::context::RebalanceLog;
use rdkafka::{Offset, TopicPartitionList};

/// How often an idle consumer checks the group's progress.
pub const CHECK_EVERY: Duration = Duration::from_secs(5);

const TIMEOUT: Duration = Duration::from_secs(5);

/// What the last check saw.
#[derive(Default)]
pub struct Stranded {
    last: Option<HashMap<i32, i64>>,
}

impl Stranded {
    /// Runs one check; rejoins the group when the consumer is stranded. Blocking calls to the
    /// broker run on a blocking-capable thread.
    pub fn check(&mut self, consumer: &StreamConsumer<RebalanceLog>, topic: &str) {
        let assigned = consumer.assignment().map(|a| a.count()).unwrap_or(0);
        // Still joining (the first join may take long on a big group): not stranded yet.
        if assigned > 0 || !consumer.context().joined() {
            self.last = None;
            return;
        }
        // The broker calls block for up to a few seconds: keep them off the async workers where the
        // runtime allows it (a current-thread runtime, as in some tests, just waits).
        let multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let progress = if multi_thread {
            tokio::task::block_in_place(|| unread(consumer, topic))
        } else {
            unread(consumer, topic)
        };
        let Some(progress) = progress else {
            return;
        };
        let lagging = progress.values().any(|(_, lag)| *lag > 0);
        let committed: HashMap<i32, i64> = progress.iter().map(|(p, (c, _))| (*p, *c)).collect();
        let stuck = lagging && self.last.as_ref() == Some(&committed);
        if stuck {
            tracing::warn!(
                topic,
                "no partitions assigned while records wait and the group's offsets do not move; \
                 rejoining the consumer group"
            );
            consumer.context().rejoining();
            consumer.unsubscribe();
            if let Err(e) = consumer.subscribe(&[topic]) {
                tracing::error!(topic, error = %e, "rejoining the consumer group failed");
            }
            self.last = None;
        } else {
            self.last = Some(committed);
        }
    }
}

/// Per partition: the group's committed offset (0 when none) and the records after it.
fn unread(
    consumer: &StreamConsumer<RebalanceLog>,
    topic: &str,
) -> Option<HashMap<i32, (i64, i64)>> {
    let md = consumer.fetch_metadata(Some(topic), TIMEOUT).ok()?;
    let partitions: Vec<i32> = md
        .topics()
        .iter()
        .find(|t| t.name() == topic)?
        .partitions()
        .iter()
        .map(|p| p.id())
        .collect();
    let mut tpl = TopicPartitionList::new();
    for p in &partitions {
        tpl.add_partition(topic, *p);
    }
    let committed = consumer.committed_offsets(tpl, TIMEOUT).ok()?;
    let mut out = HashMap::new();
    for e in committed.elements() {
        let at = match e.offset() {
            Offset::Offset(o) => o,
            _ => 0,
        };
        let (_, high) = consumer
            .fetch_watermarks(topic, e.partition(), TIMEOUT)
            .ok()?;
        out.insert(e.partition(), (at, (high - at).max(0)));
    }
    Some(out)
}

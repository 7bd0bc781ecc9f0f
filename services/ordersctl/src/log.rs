//! Reading topics without a consumer group: watermarks, the timestamp index, and ranges of records.
//! Nothing here joins a group or commits an offset, so the services never notice a reader.
use std::collections::HashMap;
use std::time::Duration;

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::{Offset, TopicPartitionList};

use orders_runtime::{KafkaConfig, Record};

use crate::CtlError;

const TIMEOUT: Duration = Duration::from_secs(15);

/// One partition's range of offsets: `from` inclusive, `to` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub partition: i32,
    pub from: i64,
    pub to: i64,
}

impl Range {
    pub fn len(&self) -> u64 {
        (self.to - self.from).max(0) as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Low and high watermark of one partition: the first offset kept and the next offset to be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Watermarks {
    pub partition: i32,
    pub low: i64,
    pub high: i64,
}

/// A reader of one topic.
pub struct LogReader {
    consumer: StreamConsumer<orders_runtime::kafka::ReaderContext>,
    pub topic: String,
}

fn kafka_error(topic: &str, what: &str, e: impl std::fmt::Display) -> CtlError {
    CtlError::Failed(anyhow::anyhow!(
        "{what} of topic {topic} failed: {e}; is the broker reachable (KAFKA_BROKERS)?"
    ))
}

impl LogReader {
    pub fn new(cfg: &KafkaConfig, topic: &str) -> Result<LogReader, CtlError> {
        let consumer = orders_runtime::kafka::reader(cfg, "ordersctl")
            .map_err(|e| CtlError::Failed(e.into()))?;
        Ok(LogReader {
            consumer,
            topic: topic.to_owned(),
        })
    }

    /// Partition ids of the topic, in order; an error names the topic when it does not exist.
    pub fn partitions(&self) -> Result<Vec<i32>, CtlError> {
        let md = tokio::task::block_in_place(|| {
            self.consumer.fetch_metadata(Some(&self.topic), TIMEOUT)
        })
        .map_err(|e| kafka_error(&self.topic, "reading the metadata", e))?;
        let topic = md
            .topics()
            .iter()
            .find(|t| t.name() == self.topic && t.error().is_none() && !t.partitions().is_empty())
            .ok_or_else(|| {
                CtlError::NotFound(format!(
                    "topic {} does not exist; create it with `ordersctl topics ensure`",
                    self.topic
                ))
            })?;
        let mut ids: Vec<i32> = topic.partitions().iter().map(|p| p.id()).collect();
        ids.sort_unstable();
        Ok(ids)
    }

    pub fn watermarks(&self) -> Result<Vec<Watermarks>, CtlError> {
        self.partitions()?
            .into_iter()
            .map(|partition| {
                let (low, high) = tokio::task::block_in_place(|| {
                    self.consumer
                        .fetch_watermarks(&self.topic, partition, TIMEOUT)
                })
                .map_err(|e| kafka_error(&self.topic, "reading the watermarks", e))?;
                Ok(Watermarks {
                    partition,
                    low,
                    high,
                })
            })
            .collect()
    }

    /// The next offset to be written to `partition`.
    pub fn high_watermark(&self, partition: i32) -> Result<i64, CtlError> {
        tokio::task::block_in_place(|| {
            self.consumer
                .fetch_watermarks(&self.topic, partition, TIMEOUT)
        })
        .map(|(_, high)| high)
        .map_err(|e| kafka_error(&self.topic, "reading the watermarks", e))
    }

    /// The first offset of each partition whose timestamp is at or after `ts_ms`, from the broker's
    /// timestamp index; `None` where no record is that late. Brokers that answer 0 for a time past
    /// the last record (tansu 0.6) only make callers read more: they filter by timestamp anyway.
    pub fn offsets_for_time(&self, ts_ms: i64) -> Result<HashMap<i32, Option<i64>>, CtlError> {
        let mut tpl = TopicPartitionList::new();
        for p in self.partitions()? {
            tpl.add_partition_offset(&self.topic, p, Offset::Offset(ts_ms))
                .map_err(|e| kafka_error(&self.topic, "building the offset query", e))?;
        }
        let found = tokio::task::block_in_place(|| self.consumer.offsets_for_times(tpl, TIMEOUT))
            .map_err(|e| kafka_error(&self.topic, "looking up offsets by time", e))?;
        Ok(found
            .elements()
            .iter()
            .map(|e| {
                let offset = match e.offset() {
                    Offset::Offset(o) if o >= 0 => Some(o),
                    _ => None,
                };
                (e.partition(), offset)
            })
            .collect())
    }

    /// Reads every record of `ranges`, calling `each` in per-partition offset order (partitions
    /// interleave). Stops early when `each` returns false.
    pub async fn read(
        &self,
        ranges: &[Range],
        mut each: impl FnMut(Record) -> bool,
    ) -> Result<(), CtlError> {
        let mut remaining: HashMap<i32, Range> = ranges
            .iter()
            .filter(|r| !r.is_empty())
            .map(|r| (r.partition, *r))
            .collect();
        if remaining.is_empty() {
            return Ok(());
        }
        let mut tpl = TopicPartitionList::new();
        for r in remaining.values() {
            tpl.add_partition_offset(&self.topic, r.partition, Offset::Offset(r.from))
                .map_err(|e| kafka_error(&self.topic, "assigning partitions", e))?;
        }
        self.consumer
            .assign(&tpl)
            .map_err(|e| kafka_error(&self.topic, "assigning partitions", e))?;
        let result = async {
            while !remaining.is_empty() {
                let msg = tokio::time::timeout(Duration::from_secs(30), self.consumer.recv())
                    .await
                    .map_err(|_| {
                        kafka_error(
                            &self.topic,
                            "reading",
                            "no record arrived for 30 s although the watermarks promised some",
                        )
                    })?;
                let msg = match msg {
                    Ok(msg) => msg,
                    // The end of a partition (compaction or aborted writes can leave the last
                    // offsets of a range empty).
                    Err(rdkafka::error::KafkaError::PartitionEOF(p)) => {
                        remaining.remove(&p);
                        continue;
                    }
                    Err(e) => return Err(kafka_error(&self.topic, "reading", e)),
                };
                let record = Record::from_message(&msg);
                let Some(range) = remaining.get(&record.partition) else {
                    continue;
                };
                if record.offset >= range.to {
                    remaining.remove(&record.partition);
                    continue;
                }
                if record.offset + 1 >= range.to {
                    remaining.remove(&record.partition);
                }
                if !each(record) {
                    break;
                }
            }
            Ok(())
        }
        .await;
        let _ = self.consumer.unassign();
        result
    }

    /// Up to `max` records of `ranges` (fewer at their end).
    pub async fn read_chunk(&self, ranges: &[Range], max: usize) -> Result<Vec<Record>, CtlError> {
        let mut out = Vec::new();
        self.read(ranges, |r| {
            out.push(r);
            out.len() < max
        })
        .await?;
        Ok(out)
    }

    /// Every record of the topic between the watermarks at the time of the call.
    pub async fn read_all(&self, each: impl FnMut(Record) -> bool) -> Result<(), CtlError> {
        let ranges: Vec<Range> = self
            .watermarks()?
            .into_iter()
            .map(|w| Range {
                partition: w.partition,
                from: w.low,
                to: w.high,
            })
            .collect();
        self.read(&ranges, each).await
    }
}

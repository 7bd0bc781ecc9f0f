//! Dead letters: a record that could not be processed, copied to `orders.dlq` byte for byte (key,
//! value, headers) with its provenance added as `dlq.*` headers.
//!
//! The provenance headers are the contract with `ordersctl dlq`; [`Provenance::from_headers`] reads
//! them back. A redriven record carries `redrive.count` (and `redrive.group`, the only group that
//! processes it); a dead letter of a redriven record keeps that count in `dlq.redrive_count`.
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

use crate::{Record, RuntimeError};

/// Header names of the provenance and of redrives.
pub mod names {
    pub const ORIGINAL_TOPIC: &str = "dlq.original_topic";
    pub const ORIGINAL_PARTITION: &str = "dlq.original_partition";
    pub const ORIGINAL_OFFSET: &str = "dlq.original_offset";
    pub const ORIGINAL_TIMESTAMP: &str = "dlq.original_timestamp_ms";
    pub const GROUP: &str = "dlq.group";
    pub const ERROR_CLASS: &str = "dlq.error_class";
    pub const ERROR_KIND: &str = "dlq.error_kind";
    pub const ERROR_MESSAGE: &str = "dlq.error_message";
    pub const EXHAUSTED: &str = "dlq.exhausted";
    pub const ATTEMPTS: &str = "dlq.attempts";
    pub const FIRST_FAILURE_AT: &str = "dlq.first_failure_at";
    pub const LAST_FAILURE_AT: &str = "dlq.last_failure_at";
    pub const REDRIVE_COUNT: &str = "dlq.redrive_count";
    /// On a redriven record in `orders.events`: how many times it was redriven.
    pub const REDRIVE: &str = "redrive.count";
    /// On a redriven record in `orders.events`: the only consumer group that processes it.
    pub const REDRIVE_GROUP: &str = "redrive.group";
    /// On a redriven record: the dead letter it was sent from, `<dlq topic>/<partition>@<offset>`.
    pub const REDRIVE_ID: &str = "redrive.id";
    /// On a redriven record: the `ordersctl dlq redrive` run that sent it.
    pub const REDRIVE_RUN: &str = "redrive.run";
}

/// Whether retrying could have helped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Timeouts, 5xx, a dependency briefly unavailable; dead-lettered once retries are exhausted.
    Transient,
    /// Undecodable, schema-invalid, a broken invariant: retrying gives the same answer.
    Permanent,
}

impl ErrorClass {
    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorClass::Transient => "transient",
            ErrorClass::Permanent => "permanent",
        }
    }

    pub fn parse(s: &str) -> Option<ErrorClass> {
        match s {
            "transient" => Some(ErrorClass::Transient),
            "permanent" => Some(ErrorClass::Permanent),
            _ => None,
        }
    }
}

/// Where a dead letter came from and why it failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Provenance {
    pub original_topic: String,
    pub original_partition: i32,
    pub original_offset: i64,
    pub original_timestamp_ms: Option<i64>,
    /// The consumer group that failed; a redrive goes to this group only.
    pub group: String,
    pub error_class: ErrorClass,
    /// Short machine-readable code, e.g. `not_json`, `schema_violation`, `timeout`.
    pub error_kind: String,
    pub error_message: String,
    /// True when a transient error outlived its retries.
    pub exhausted: bool,
    pub attempts: u32,
    pub first_failure_at: DateTime<Utc>,
    pub last_failure_at: DateTime<Utc>,
    /// How many times the original record had been redriven before this failure.
    pub redrive_count: u32,
}

/// Longest error message kept in a header; longer ones are cut at a character boundary.
const MAX_MESSAGE_BYTES: usize = 2000;

impl Provenance {
    /// The provenance of `record` failing in `group`; the redrive count comes from the record.
    #[allow(clippy::too_many_arguments)]
    pub fn of(
        record: &Record,
        group: &str,
        error_class: ErrorClass,
        error_kind: &str,
        error_message: &str,
        exhausted: bool,
        attempts: u32,
        first_failure_at: DateTime<Utc>,
        last_failure_at: DateTime<Utc>,
    ) -> Provenance {
        Provenance {
            original_topic: record.topic.clone(),
            original_partition: record.partition,
            original_offset: record.offset,
            original_timestamp_ms: record.timestamp_ms,
            group: group.to_owned(),
            error_class,
            error_kind: error_kind.to_owned(),
            error_message: truncate(error_message, MAX_MESSAGE_BYTES).to_owned(),
            exhausted,
            attempts,
            first_failure_at,
            last_failure_at,
            redrive_count: record
                .header(names::REDRIVE)
                .and_then(|c| c.parse().ok())
                .unwrap_or(0),
        }
    }

    /// The `dlq.*` headers, values as text.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let ts = |t: &DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
        let mut hs = vec![
            (names::ORIGINAL_TOPIC, self.original_topic.clone()),
            (
                names::ORIGINAL_PARTITION,
                self.original_partition.to_string(),
            ),
            (names::ORIGINAL_OFFSET, self.original_offset.to_string()),
            (names::GROUP, self.group.clone()),
            (names::ERROR_CLASS, self.error_class.as_str().to_owned()),
            (names::ERROR_KIND, self.error_kind.clone()),
            (names::ERROR_MESSAGE, self.error_message.clone()),
            (names::EXHAUSTED, self.exhausted.to_string()),
            (names::ATTEMPTS, self.attempts.to_string()),
            (names::FIRST_FAILURE_AT, ts(&self.first_failure_at)),
            (names::LAST_FAILURE_AT, ts(&self.last_failure_at)),
            (names::REDRIVE_COUNT, self.redrive_count.to_string()),
        ];
        if let Some(t) = self.original_timestamp_ms {
            hs.push((names::ORIGINAL_TIMESTAMP, t.to_string()));
        }
        hs
    }

    /// Reads the provenance of a dead letter. The error names the header that is missing or bad.
    pub fn from_headers(record: &Record) -> Result<Provenance, String> {
        let get = |name: &str| {
            record
                .headers
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
                .ok_or_else(|| format!("dead letter has no {name} header"))
        };
        fn parsed<T: std::str::FromStr>(name: &str, v: String) -> Result<T, String> {
            v.parse()
                .map_err(|_| format!("header {name} has unreadable value {v:?}"))
        }
        let time = |name: &str| -> Result<DateTime<Utc>, String> {
            let v = get(name)?;
            DateTime::parse_from_rfc3339(&v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| format!("header {name} is not an RFC 3339 time: {v:?}"))
        };
        let class = get(names::ERROR_CLASS)?;
        Ok(Provenance {
            original_topic: get(names::ORIGINAL_TOPIC)?,
            original_partition: parsed(names::ORIGINAL_PARTITION, get(names::ORIGINAL_PARTITION)?)?,
            original_offset: parsed(names::ORIGINAL_OFFSET, get(names::ORIGINAL_OFFSET)?)?,
            original_timestamp_ms: get(names::ORIGINAL_TIMESTAMP)
                .ok()
                .and_then(|v| v.parse().ok()),
            group: get(names::GROUP)?,
            error_class: ErrorClass::parse(&class).ok_or_else(|| {
                format!("header {} has unknown value {class:?}", names::ERROR_CLASS)
            })?,
            error_kind: get(names::ERROR_KIND)?,
            error_message: get(names::ERROR_MESSAGE)?,
            exhausted: parsed(names::EXHAUSTED, get(names::EXHAUSTED)?)?,
            attempts: parsed(names::ATTEMPTS, get(names::ATTEMPTS)?)?,
            first_failure_at: time(names::FIRST_FAILURE_AT)?,
            last_failure_at: time(names::LAST_FAILURE_AT)?,
            redrive_count: parsed(names::REDRIVE_COUNT, get(names::REDRIVE_COUNT)?)?,
        })
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Writes `record` to `dlq_topic`: the same key, value and headers, then the provenance headers,
/// and waits for the broker's acknowledgement. The key keeps an order's dead letters together.
pub async fn send(
    producer: &FutureProducer,
    dlq_topic: &str,
    record: &Record,
    provenance: &Provenance,
) -> Result<(), RuntimeError> {
    let mut headers = OwnedHeaders::new_with_capacity(record.headers.len() + 13);
    for (key, value) in &record.headers {
        headers = headers.insert(Header {
            key,
            value: Some(value.as_slice()),
        });
    }
    for (key, value) in provenance.headers() {
        headers = headers.insert(Header {
            key,
            value: Some(value.as_bytes()),
        });
    }
    let mut out: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(dlq_topic).headers(headers);
    if let Some(key) = &record.key {
        out = out.key(key.as_slice());
    }
    if let Some(value) = &record.value {
        out = out.payload(value.as_slice());
    }
    match producer.send(out, Duration::from_secs(30)).await {
        Ok(_) => {
            metrics::counter!("orders_dead_letters_total", "group" => provenance.group.clone(),
                "error_class" => provenance.error_class.as_str(),
                "error_kind" => provenance.error_kind.clone())
            .increment(1);
            tracing::warn!(
                record = %record.position(),
                group = %provenance.group,
                class = provenance.error_class.as_str(),
                kind = %provenance.error_kind,
                attempts = provenance.attempts,
                error = %provenance.error_message,
                "record dead-lettered"
            );
            Ok(())
        }
        Err((source, _)) => Err(RuntimeError::Produce {
            topic: dlq_topic.to_owned(),
            event_id: record
                .header(orders_events::headers::names::EVENT_ID)
                .unwrap_or("unknown")
                .to_owned(),
            source: Box::new(source),
        }),
    }
}

/// Where a consumer group sends its dead letters.
#[derive(Clone)]
pub struct DeadLetterSink {
    pub producer: FutureProducer,
    pub topic: String,
    pub group: String,
}

impl DeadLetterSink {
    /// Dead-letters a record that failed permanently on its first attempt (e.g. undecodable).
    pub async fn permanent(
        &self,
        record: &Record,
        error_kind: &str,
        error_message: &str,
    ) -> Result<(), RuntimeError> {
        let now = Utc::now();
        let p = Provenance::of(
            record,
            &self.group,
            ErrorClass::Permanent,
            error_kind,
            error_message,
            false,
            1,
            now,
            now,
        );
        send(&self.producer, &self.topic, record, &p).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Record {
        Record {
            topic: "orders.events".into(),
            partition: 3,
            offset: 42,
            key: Some(b"k".to_vec()),
            value: Some(b"v".to_vec()),
            headers: vec![
                ("event_type".into(), b"OrderPlaced".to_vec()),
                (names::REDRIVE.into(), b"2".to_vec()),
            ],
            timestamp_ms: Some(1_700_000_000_000),
        }
    }

    #[test]
    fn provenance_round_trips_through_headers() {
        let t0 = DateTime::parse_from_rfc3339("2026-11-27T10:00:00.123Z")
            .unwrap()
            .with_timezone(&Utc);
        let t1 = t0 + chrono::Duration::seconds(3);
        let p = Provenance::of(
            &record(),
            "orders-enricher",
            ErrorClass::Transient,
            "timeout",
            "provider timed out",
            true,
            5,
            t0,
            t1,
        );
        assert_eq!(p.redrive_count, 2, "taken from the redriven record");
        let mut dead = record();
        dead.headers.extend(
            p.headers()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.into_bytes())),
        );
        assert_eq!(Provenance::from_headers(&dead).unwrap(), p);
    }

    #[test]
    fn missing_provenance_is_named() {
        let err = Provenance::from_headers(&record()).unwrap_err();
        assert!(err.contains("dlq.error_class"), "{err}");
    }

    #[test]
    fn long_messages_are_cut_at_a_character_boundary() {
        let msg = "é".repeat(MAX_MESSAGE_BYTES);
        let now = Utc::now();
        let p = Provenance::of(
            &record(),
            "g",
            ErrorClass::Permanent,
            "x",
            &msg,
            false,
            1,
            now,
            now,
        );
        assert!(p.error_message.len() <= MAX_MESSAGE_BYTES);
        assert!(p.error_message.chars().all(|c| c == 'é'));
    }
}

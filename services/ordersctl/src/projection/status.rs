//! `ordersctl projection status`: per projection and partition, the offset stored with the read
//! models, the log end, and the lag in records and in seconds (age of the oldest record not yet
//! projected).
use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;

use crate::log::{LogReader, Range};
use crate::output::{self, emit, table};
use crate::{CtlError, Ctx};

#[derive(Debug, Serialize, PartialEq)]
pub struct PartitionStatus {
    pub projection: String,
    pub partition: i32,
    /// Next offset the projection will read; `None` if it has stored none for this partition.
    pub stored_offset: Option<i64>,
    pub log_end: i64,
    pub lag_records: i64,
    /// Age of the oldest record not yet projected; 0 when caught up.
    pub lag_seconds: f64,
    pub updated_at: Option<DateTime<Utc>>,
}

pub async fn run(ctx: &Ctx) -> Result<(), CtlError> {
    let rows = status(ctx).await?;
    emit(ctx.format, &rows, || {
        let mut t = table(&[
            "projection",
            "partition",
            "stored",
            "log end",
            "lag",
            "lag seconds",
            "updated",
        ]);
        let now = Utc::now();
        for r in &rows {
            t.add_row(vec![
                r.projection.clone(),
                r.partition.to_string(),
                r.stored_offset
                    .map(|o| o.to_string())
                    .unwrap_or_else(|| "-".into()),
                r.log_end.to_string(),
                r.lag_records.to_string(),
                format!("{:.1}", r.lag_seconds),
                r.updated_at
                    .map(|t| output::age(t, now) + " ago")
                    .unwrap_or_else(|| "-".into()),
            ]);
        }
        t
    });
    if rows.iter().any(|r| r.stored_offset > Some(r.log_end)) {
        output::note(
            "a stored offset is past the log end: the log was replaced (a wiped broker?) while the \
             read models were kept; the projector will skip new records up to the old offsets. \
             Rebuild the projection or drop the schema (docs/operations.md).",
        );
    }
    Ok(())
}

/// The status of every projection that stored offsets for the events topic.
pub async fn status(ctx: &Ctx) -> Result<Vec<PartitionStatus>, CtlError> {
    let pool = ctx.pool()?;
    let client = pool.get().await?;
    let stored = client
        .query(
            "SELECT projection, kafka_partition, next_offset, updated_at FROM projection_offsets \
             WHERE topic = $1 ORDER BY projection, kafka_partition",
            &[&ctx.kafka.events_topic],
        )
        .await?;
    let reader = LogReader::new(&ctx.kafka, &ctx.kafka.events_topic)?;
    let marks = reader.watermarks()?;
    let mut projections: Vec<String> = stored.iter().map(|r| r.get(0)).collect();
    projections.dedup();
    if projections.is_empty() {
        projections.push("orders-projector".into());
    }
    let now = Utc::now();
    let mut rows = Vec::new();
    for projection in &projections {
        for w in &marks {
            let row = stored.iter().find(|r| {
                r.get::<_, String>(0) == *projection && r.get::<_, i32>(1) == w.partition
            });
            let offset: Option<i64> = row.map(|r| r.get(2));
            let next = offset.unwrap_or(w.low).max(w.low);
            let lag_records = (w.high - next).max(0);
            let lag_seconds = if lag_records > 0 {
                oldest_age(&reader, w.partition, next, now).await?
            } else {
                0.0
            };
            rows.push(PartitionStatus {
                projection: projection.clone(),
                partition: w.partition,
                stored_offset: offset,
                log_end: w.high,
                lag_records,
                lag_seconds,
                updated_at: row.map(|r| r.get(3)),
            });
        }
    }
    Ok(rows)
}

/// Seconds since the record at `offset` was written.
async fn oldest_age(
    reader: &LogReader,
    partition: i32,
    offset: i64,
    now: DateTime<Utc>,
) -> Result<f64, CtlError> {
    let mut ts = None;
    reader
        .read(
            &[Range {
                partition,
                from: offset,
                to: offset + 1,
            }],
            |r| {
                ts = r.timestamp_ms;
                false
            },
        )
        .await?;
    Ok(ts
        .and_then(|t| Utc.timestamp_millis_opt(t).single())
        .map(|t| ((now - t).num_milliseconds().max(0) as f64) / 1000.0)
        .unwrap_or(0.0))
}

//! The read-model projection: applies a batch of events and the offsets after it in one transaction.
//! A duplicate event id (a replay, or a record appended twice) is skipped, so each event's effect
//! happens exactly once even when the log holds duplicates.
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeZone, Utc};
use deadpool_postgres::{Pool, Transaction};
use orders_events::{Event, LineItem, OrderPlaced, Payload};
use orders_runtime::Record;
use orders_runtime::batch::{BatchError, BatchHandler};
use orders_runtime::dlq::DeadLetterSink;

use crate::db::DbError;
use crate::effects;

/// Status values stored in `orders.status`.
pub mod status {
    pub const PLACED: &str = "PLACED";
    pub const ENRICHED: &str = "ENRICHED";
    pub const ASSESSED: &str = "ASSESSED";
    pub const ROUTED: &str = "ROUTED";
    pub const HELD: &str = "HELD";
    pub const REJECTED: &str = "REJECTED";
    pub const CANCELLED: &str = "CANCELLED";
}

/// The read-model projection over one schema.
pub struct Projection {
    pool: Pool,
    name: String,
    /// The live projector dead-letters records it cannot decode (it is the one group that reads
    /// every record, so each bad record gets exactly one dead letter). A rebuild has none: it has
    /// no side effects, and keeps such records in `projection_rejects` only.
    dead_letters: Option<DeadLetterSink>,
    /// Months whose `orders` partition is known to exist.
    months: Mutex<HashSet<(i32, u32)>>,
    /// The `projection_offsets` table the loop's positions were read from. A cutover
    /// (`ordersctl projection cutover`) moves rebuilt tables into the schema: a batch that finds
    /// another table there is rolled back and the loop re-reads the offsets (the new store's).
    offsets_table: Mutex<Option<u32>>,
}

/// What happened to one record of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Applied,
    Duplicate,
    Rejected,
}

impl Projection {
    /// `name` identifies this projection's offsets (e.g. "read_models").
    pub fn new(pool: Pool, name: impl Into<String>) -> Self {
        Self {
            pool,
            name: name.into(),
            dead_letters: None,
            months: Mutex::new(HashSet::new()),
            offsets_table: Mutex::new(None),
        }
    }

    /// Sends records that cannot be decoded to the dead-letter topic as well.
    pub fn with_dead_letters(mut self, sink: DeadLetterSink) -> Self {
        self.dead_letters = Some(sink);
        self
    }

    async fn apply_batch(&self, batch: &[Record]) -> Result<(), DbError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let mut created_months = Vec::new();
        let (mut applied, mut duplicates, mut rejected) = (0usize, 0usize, 0usize);
        let mut undecodable = Vec::new();
        for record in batch {
            // A dead letter redriven to another group is that group's; this projection applied
            // (or rejected) the original already.
            if record
                .header(orders_runtime::dlq::names::REDRIVE_GROUP)
                .is_some_and(|g| g != self.name)
            {
                duplicates += 1;
                continue;
            }
            let outcome = match Event::from_json(record.value.as_deref().unwrap_or_default()) {
                Ok(event) => {
                    use tracing::Instrument;
                    let span = orders_runtime::telemetry::consumer_span(record, &self.name, &event);
                    self.apply_event(&tx, record, &event, &mut created_months)
                        .instrument(span)
                        .await?
                }
                Err(e) => {
                    tracing::error!(record = %record.position(), error = %e,
                        "record is not a valid order event; kept in projection_rejects");
                    self.reject(&tx, record, &e.to_string()).await?;
                    undecodable.push((record, e));
                    Outcome::Rejected
                }
            };
            match outcome {
                Outcome::Applied => applied += 1,
                Outcome::Duplicate => duplicates += 1,
                Outcome::Rejected => rejected += 1,
            }
        }
        self.store_offsets(&tx, batch).await?;
        // Last, so that a cutover committed while this batch waited on its locks is seen here.
        if self.offsets_table_now(&tx).await? != self.known_offsets_table() {
            return Err(DbError::Moved);
        }
        // Dead letters are acknowledged before the offsets commit: a crash in between sends them
        // again (a duplicate dead letter, same provenance) but never loses one.
        if let Some(sink) = &self.dead_letters {
            for (record, e) in &undecodable {
                sink.permanent(record, e.kind(), &e.to_string())
                    .await
                    .map_err(|e| DbError::DeadLetter(e.to_string()))?;
            }
        }
        tx.commit().await?;
        self.months
            .lock()
            .expect("month cache poisoned")
            .extend(created_months);
        tracing::debug!(
            records = batch.len(),
            applied,
            duplicates,
            rejected,
            "batch projected"
        );
        Ok(())
    }

    async fn apply_event(
        &self,
        tx: &Transaction<'_>,
        record: &Record,
        event: &Event,
        created_months: &mut Vec<(i32, u32)>,
    ) -> Result<Outcome, DbError> {
        let env = &event.envelope;
        let payload = payload_json(&record.value)?;
        let inserted = tx
            .execute(
                "INSERT INTO order_timeline (event_id, order_id, event_type, event_version, \
                 occurred_at, causation_id, correlation_id, idempotency_key, producer, traceparent, \
                 tracestate, payload, kafka_topic, kafka_partition, kafka_offset, projected_at) \
                 VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,clock_timestamp()) \
                 ON CONFLICT (event_id) DO NOTHING",
                &[
                    &env.event_id,
                    &env.order_id,
                    &env.event_type.as_str(),
                    &(env.event_version as i32),
                    &env.occurred_at,
                    &env.causation_id,
                    &env.correlation_id,
                    &env.idempotency_key,
                    &env.producer,
                    &env.traceparent,
                    &env.tracestate,
                    &payload,
                    &record.topic,
                    &record.partition,
                    &record.offset,
                ],
            )
            .await?;
        if inserted == 0 {
            return Ok(Outcome::Duplicate);
        }
        match &event.payload {
            Payload::OrderPlaced(placed) => {
                self.ensure_month(tx, env.occurred_at, created_months)
                    .await?;
                insert_order(tx, event, placed).await?;
                effects::order_placed(tx, placed, env.occurred_at).await?;
            }
            _ => effects::follow_up(tx, event).await?,
        }
        Ok(Outcome::Applied)
    }

    /// Creates the month partition of `orders` holding `at`, once per month and process.
    async fn ensure_month(
        &self,
        tx: &Transaction<'_>,
        at: DateTime<Utc>,
        created: &mut Vec<(i32, u32)>,
    ) -> Result<(), DbError> {
        let month = (at.year(), at.month());
        if created.contains(&month)
            || self
                .months
                .lock()
                .expect("month cache poisoned")
                .contains(&month)
        {
            return Ok(());
        }
        let from = NaiveDate::from_ymd_opt(month.0, month.1, 1).expect("valid month start");
        let to = from + Months::new(1);
        let from_ts = Utc.from_utc_datetime(&from.and_hms_opt(0, 0, 0).expect("midnight"));
        let to_ts = Utc.from_utc_datetime(&to.and_hms_opt(0, 0, 0).expect("midnight"));
        // Serialise partition creation between projector replicas sharing the schema.
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('orders-partitions:' || current_schema()))",
            &[],
        )
        .await?;
        tx.batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS orders_p{:04}{:02} PARTITION OF orders \
             FOR VALUES FROM ('{}') TO ('{}')",
            month.0,
            month.1,
            from_ts.to_rfc3339(),
            to_ts.to_rfc3339()
        ))
        .await?;
        created.push(month);
        Ok(())
    }

    async fn reject(
        &self,
        tx: &Transaction<'_>,
        record: &Record,
        reason: &str,
    ) -> Result<(), DbError> {
        tx.execute(
            "INSERT INTO projection_rejects (projection, topic, kafka_partition, kafka_offset, reason, \
             record_key, record_value, rejected_at) VALUES ($1,$2,$3,$4,$5,$6,$7,now()) \
             ON CONFLICT DO NOTHING",
            &[&self.name, &record.topic, &record.partition, &record.offset, &reason, &record.key, &record.value],
        )
        .await?;
        Ok(())
    }

    async fn store_offsets(&self, tx: &Transaction<'_>, batch: &[Record]) -> Result<(), DbError> {
        let mut next: BTreeMap<(&str, i32), i64> = BTreeMap::new();
        for r in batch {
            next.insert((r.topic.as_str(), r.partition), r.offset + 1);
        }
        for ((topic, partition), offset) in next {
            tx.execute(
                "INSERT INTO projection_offsets (projection, topic, kafka_partition, next_offset, updated_at) \
                 VALUES ($1, $2, $3, $4, now()) \
                 ON CONFLICT (projection, topic, kafka_partition) \
                 DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = EXCLUDED.updated_at",
                &[&self.name, &topic, &partition, &offset],
            )
            .await?;
        }
        Ok(())
    }

    async fn offsets_table_now(
        &self,
        client: &impl deadpool_postgres::GenericClient,
    ) -> Result<Option<u32>, DbError> {
        let row = client
            .query_one("SELECT to_regclass('projection_offsets')::oid", &[])
            .await?;
        Ok(row.get(0))
    }

    fn known_offsets_table(&self) -> Option<u32> {
        *self.offsets_table.lock().expect("offsets table poisoned")
    }

    /// Stored next offsets of `topic` for this projection. Remembers which table they came from;
    /// when it is another one than before (a cutover), the month partitions are looked up anew.
    pub async fn offsets(
        &self,
        topic: &str,
        partitions: &[i32],
    ) -> Result<HashMap<i32, i64>, DbError> {
        let client = self.pool.get().await?;
        let table = self.offsets_table_now(&client).await?;
        let previous = std::mem::replace(
            &mut *self.offsets_table.lock().expect("offsets table poisoned"),
            table,
        );
        if previous.is_some() && previous != table {
            self.months.lock().expect("month cache poisoned").clear();
        }
        let rows = client
            .query(
                "SELECT kafka_partition, next_offset FROM projection_offsets \
                 WHERE projection = $1 AND topic = $2 AND kafka_partition = ANY($3)",
                &[&self.name, &topic, &partitions],
            )
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}

impl BatchHandler for Projection {
    async fn stored_offsets(
        &self,
        topic: &str,
        partitions: &[i32],
    ) -> Result<HashMap<i32, i64>, BatchError> {
        self.offsets(topic, partitions)
            .await
            .map_err(to_batch_error)
    }

    async fn apply(&self, batch: &[Record]) -> Result<(), BatchError> {
        self.apply_batch(batch).await.map_err(to_batch_error)
    }
}

fn to_batch_error(e: DbError) -> BatchError {
    if let DbError::Moved = e {
        BatchError::moved(e.to_string())
    } else if e.is_retryable() {
        BatchError::transient(e.to_string())
    } else {
        BatchError::permanent(e.to_string())
    }
}

fn payload_json(value: &Option<Vec<u8>>) -> Result<serde_json::Value, DbError> {
    // The record decoded as an Event already, so it is JSON with a payload member.
    let mut v: serde_json::Value = serde_json::from_slice(value.as_deref().unwrap_or_default())
        .map_err(|e| DbError::Config(format!("record value stopped being JSON: {e}")))?;
    Ok(v.get_mut("payload")
        .map(serde_json::Value::take)
        .unwrap_or_default())
}

async fn insert_order(
    tx: &Transaction<'_>,
    event: &Event,
    placed: &OrderPlaced,
) -> Result<(), DbError> {
    let env = &event.envelope;
    let address = serde_json::to_value(&placed.delivery_address)
        .map_err(|e| DbError::Config(format!("address does not serialise: {e}")))?;
    tx.execute(
        "INSERT INTO orders (order_id, placed_at, customer_id, caller, channel, currency, status, \
         delivery_address, notes, line_count, version, last_event_id, updated_at, projected_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,1,$11,$2,clock_timestamp()) ON CONFLICT DO NOTHING",
        &[
            &env.order_id,
            &env.occurred_at,
            &placed.customer_id,
            &placed.caller,
            &placed.channel.as_str(),
            &placed.currency,
            &status::PLACED,
            &address,
            &placed.notes,
            &(placed.lines.len() as i32),
            &env.event_id,
        ],
    )
    .await?;
    let mut line_no = Vec::new();
    let mut kind = Vec::new();
    let mut text = Vec::new();
    let mut sku = Vec::new();
    let mut quantity = Vec::new();
    let mut unit = Vec::new();
    for line in &placed.lines {
        line_no.push(line.line_no as i32);
        match &line.item {
            LineItem::Text { text: t } => {
                kind.push("text");
                text.push(Some(t.as_str()));
                sku.push(None);
                quantity.push(None);
                unit.push(None);
            }
            LineItem::Sku {
                sku: s,
                quantity: q,
                unit: u,
            } => {
                kind.push("sku");
                text.push(None);
                sku.push(Some(s.as_str()));
                quantity.push(Some(*q as i32));
                unit.push(u.as_deref());
            }
        }
    }
    tx.execute(
        "INSERT INTO order_lines (order_id, line_no, kind, text, sku, quantity, unit) \
         SELECT $1, * FROM UNNEST($2::int4[], $3::text[], $4::text[], $5::text[], $6::int4[], $7::text[]) \
         ON CONFLICT DO NOTHING",
        &[&env.order_id, &line_no, &kind, &text, &sku, &quantity, &unit],
    )
    .await?;
    Ok(())
}

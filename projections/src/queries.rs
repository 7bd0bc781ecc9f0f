//! Reads of the read models, as the API needs them.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use orders_events::Address;
use uuid::Uuid;

use crate::db::DbError;

/// One order as the read model holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderView {
    pub order_id: Uuid,
    pub customer_id: String,
    pub status: String,
    pub channel: String,
    pub currency: String,
    pub cancellation_requested: bool,
    pub delivery_address: Address,
    pub notes: Option<String>,
    pub placed_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub projected_at: DateTime<Utc>,
    pub version: i64,
    pub last_event_id: Uuid,
    pub lines: Vec<LineView>,
}

/// One line as placed.
#[derive(Debug, Clone, PartialEq)]
pub struct LineView {
    pub line_no: i32,
    pub text: Option<String>,
    pub sku: Option<String>,
    pub quantity: Option<i32>,
    pub unit: Option<String>,
}

/// One event of an order's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEntry {
    pub event_id: Uuid,
    pub event_type: String,
    pub event_version: i32,
    pub occurred_at: DateTime<Utc>,
    pub causation_id: Option<Uuid>,
    pub correlation_id: Uuid,
    pub idempotency_key: String,
    pub producer: String,
    pub traceparent: Option<String>,
    pub payload: serde_json::Value,
    pub partition: i32,
    pub offset: i64,
}

/// Filters of a list query; `None` or empty means no filter.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub customer_id: Option<String>,
    pub statuses: Vec<String>,
    pub placed_after: Option<DateTime<Utc>>,
    pub placed_before: Option<DateTime<Utc>>,
    pub page_size: i64,
    pub cursor: Option<Cursor>,
}

/// Position after the last order of a page: orders are listed newest first by (placed_at, order_id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub placed_at: DateTime<Utc>,
    pub order_id: Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!(
            "{}|{}",
            self.placed_at.timestamp_micros(),
            self.order_id
        ))
    }

    /// Decodes a page token; `None` if it was not made by [`Cursor::encode`].
    pub fn decode(token: &str) -> Option<Cursor> {
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
        let (micros, id) = raw.split_once('|')?;
        Some(Cursor {
            placed_at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
            order_id: id.parse().ok()?,
        })
    }
}

const ORDER_COLUMNS: &str = "order_id, customer_id, status, channel, currency, cancellation_requested, \
     delivery_address, notes, placed_at, updated_at, projected_at, version, last_event_id";

fn order_from_row(row: &tokio_postgres::Row) -> Result<OrderView, DbError> {
    let address: serde_json::Value = row.get("delivery_address");
    Ok(OrderView {
        order_id: row.get("order_id"),
        customer_id: row.get("customer_id"),
        status: row.get("status"),
        channel: row.get("channel"),
        currency: row.get("currency"),
        cancellation_requested: row.get("cancellation_requested"),
        delivery_address: serde_json::from_value(address)
            .map_err(|e| DbError::Config(format!("stored address does not decode: {e}")))?,
        notes: row.get("notes"),
        placed_at: row.get("placed_at"),
        updated_at: row.get("updated_at"),
        projected_at: row.get("projected_at"),
        version: row.get("version"),
        last_event_id: row.get("last_event_id"),
        lines: Vec::new(),
    })
}

/// One order with its lines, or `None` if the read model does not have it (yet).
pub async fn get_order(pool: &Pool, order_id: Uuid) -> Result<Option<OrderView>, DbError> {
    let client = pool.get().await?;
    let Some(row) = client
        .query_opt(
            &format!("SELECT {ORDER_COLUMNS} FROM orders WHERE order_id = $1"),
            &[&order_id],
        )
        .await?
    else {
        return Ok(None);
    };
    let mut order = order_from_row(&row)?;
    let lines = client
        .query(
            "SELECT line_no, text, sku, quantity, unit FROM order_lines WHERE order_id = $1 ORDER BY line_no",
            &[&order_id],
        )
        .await?;
    order.lines = lines
        .iter()
        .map(|r| LineView {
            line_no: r.get(0),
            text: r.get(1),
            sku: r.get(2),
            quantity: r.get(3),
            unit: r.get(4),
        })
        .collect();
    Ok(Some(order))
}

/// A page of orders (without lines), newest first, and the cursor of the next page if there is one.
pub async fn list_orders(
    pool: &Pool,
    filter: &ListFilter,
) -> Result<(Vec<OrderView>, Option<Cursor>), DbError> {
    let client = pool.get().await?;
    let (cursor_at, cursor_id) = match filter.cursor {
        Some(c) => (Some(c.placed_at), Some(c.order_id)),
        None => (None, None),
    };
    let rows = client
        .query(
            &format!(
                "SELECT {ORDER_COLUMNS} FROM orders \
                 WHERE ($1::text IS NULL OR customer_id = $1) \
                   AND (cardinality($2::text[]) = 0 OR status = ANY($2)) \
                   AND ($3::timestamptz IS NULL OR placed_at >= $3) \
                   AND ($4::timestamptz IS NULL OR placed_at < $4) \
                   AND ($5::timestamptz IS NULL OR (placed_at, order_id) < ($5, $6::uuid)) \
                 ORDER BY placed_at DESC, order_id DESC LIMIT $7"
            ),
            &[
                &filter.customer_id,
                &filter.statuses,
                &filter.placed_after,
                &filter.placed_before,
                &cursor_at,
                &cursor_id,
                &(filter.page_size + 1),
            ],
        )
        .await?;
    let mut orders = rows
        .iter()
        .map(order_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let next = if orders.len() as i64 > filter.page_size {
        orders.truncate(filter.page_size as usize);
        orders.last().map(|o| Cursor {
            placed_at: o.placed_at,
            order_id: o.order_id,
        })
    } else {
        None
    };
    Ok((orders, next))
}

/// Every event of an order in log order; empty if the read model has none.
pub async fn timeline(pool: &Pool, order_id: Uuid) -> Result<Vec<TimelineEntry>, DbError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT event_id, event_type, event_version, occurred_at, causation_id, correlation_id, \
             idempotency_key, producer, traceparent, payload, kafka_partition, kafka_offset \
             FROM order_timeline WHERE order_id = $1 ORDER BY kafka_partition, kafka_offset",
            &[&order_id],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| TimelineEntry {
            event_id: r.get(0),
            event_type: r.get(1),
            event_version: r.get(2),
            occurred_at: r.get(3),
            causation_id: r.get(4),
            correlation_id: r.get(5),
            idempotency_key: r.get(6),
            producer: r.get(7),
            traceparent: r.get(8),
            payload: r.get(9),
            partition: r.get(10),
            offset: r.get(11),
        })
        .collect())
}

/// The facts of a placed order, for stages that received an event without them (records upcast
/// from a version that did not carry them). `None` if the order is not in the read model.
pub async fn order_facts(
    pool: &Pool,
    order_id: Uuid,
) -> Result<Option<orders_events::OrderFacts>, DbError> {
    let client = pool.get().await?;
    let Some(row) = client
        .query_opt(
            "SELECT customer_id, channel, placed_at, delivery_address FROM orders \
             WHERE order_id = $1",
            &[&order_id],
        )
        .await?
    else {
        return Ok(None);
    };
    let address: Address = serde_json::from_value(row.get("delivery_address"))
        .map_err(|e| DbError::Config(format!("stored address does not decode: {e}")))?;
    let channel: String = row.get("channel");
    let channel = serde_json::from_value(serde_json::Value::String(channel.clone()))
        .map_err(|e| DbError::Config(format!("stored channel {channel:?} is unknown: {e}")))?;
    Ok(Some(orders_events::OrderFacts {
        customer_id: row.get("customer_id"),
        channel,
        placed_at: row.get("placed_at"),
        contact_phone: address.contact_phone.clone(),
        delivery_location: address.location,
    }))
}

/// Categories of an order's matched lines (sorted, without repeats) from its enrichment, or `None`
/// if the enrichment is not in the read model.
pub async fn order_categories(pool: &Pool, order_id: Uuid) -> Result<Option<Vec<String>>, DbError> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT ARRAY(SELECT DISTINCT l->>'category' FROM jsonb_array_elements(lines) l \
             WHERE (l->>'matched')::boolean AND l->>'category' IS NOT NULL ORDER BY 1) \
             FROM order_enrichments WHERE order_id = $1",
            &[&order_id],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = Cursor {
            placed_at: DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap(),
            order_id: Uuid::new_v4(),
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("not a token"), None);
        assert_eq!(Cursor::decode(&URL_SAFE_NO_PAD.encode("12|nope")), None);
    }
}

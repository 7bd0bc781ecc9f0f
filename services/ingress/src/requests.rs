//! The idempotency store. A request is identified by (caller, idempotency key). Its row keeps the
//! hash of the normalised request and the exact event bytes; the append happens while the row is
//! locked, so concurrent calls with one key append once, and a call after a crash between insert and
//! acknowledgement re-appends the identical record (consumers deduplicate it by event id).
use deadpool_postgres::Pool;
use orders_events::{Event, EventMeta, Payload, ids};
use orders_projections::DbError;
use rdkafka::producer::FutureProducer;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// What the caller asked for under a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Place,
    Cancel,
    Review,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Place => "place",
            Kind::Cancel => "cancel",
            Kind::Review => "review",
        }
    }
}

/// Result of [`submit`].
#[derive(Debug)]
pub enum Submitted {
    /// The event is in the log; `replayed` when an earlier call with this key had appended it.
    Appended {
        order_id: Uuid,
        event_id: Uuid,
        replayed: bool,
    },
    /// The key was used before for a different request.
    Conflict { order_id: Uuid, kind: &'static str },
}

/// Why [`submit`] failed.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Append(#[from] orders_runtime::RuntimeError),
}

impl From<tokio_postgres::Error> for SubmitError {
    fn from(e: tokio_postgres::Error) -> Self {
        SubmitError::Db(DbError::Query(e))
    }
}

impl From<deadpool_postgres::PoolError> for SubmitError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        SubmitError::Db(e.into())
    }
}

/// Hex SHA-256 of a canonical request body.
pub fn request_hash(canonical: &[u8]) -> String {
    Sha256::digest(canonical)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One write request, ready to be recorded and appended.
#[derive(Debug)]
pub struct Submission<'a> {
    pub caller: &'a str,
    pub key: &'a str,
    pub kind: Kind,
    /// [`request_hash`] of the normalised request: same key and same hash is a retry.
    pub hash: String,
    pub event: Event,
}

impl<'a> Submission<'a> {
    /// The submission of a request from `caller` with idempotency `key`: its event's idempotency
    /// key is `<kind>:<caller>:<key>` (so its event id is too). The event carries the trace
    /// context of the current (server) span when traces are on, else the caller's.
    pub fn new(
        caller: &'a str,
        key: &'a str,
        kind: Kind,
        hash: String,
        order_id: Uuid,
        payload: Payload,
        (traceparent, tracestate): (Option<String>, Option<String>),
    ) -> Self {
        let traceparent = orders_runtime::telemetry::current_traceparent().or(traceparent);
        let event = Event::new(
            order_id,
            payload,
            EventMeta {
                occurred_at: chrono::Utc::now(),
                causation_id: None,
                correlation_id: None,
                idempotency_key: ids::request_key(kind.as_str(), caller, key),
                producer: crate::service::PRODUCER.to_owned(),
                traceparent,
                tracestate,
            },
        );
        Submission {
            caller,
            key,
            kind,
            hash,
            event,
        }
    }
}

/// Records the request under (caller, key) and appends its event unless an earlier call did.
pub async fn submit(
    pool: &Pool,
    producer: &FutureProducer,
    topic: &str,
    sub: &Submission<'_>,
) -> Result<Submitted, SubmitError> {
    let (caller, key, kind, hash, event) = (sub.caller, sub.key, sub.kind, &sub.hash, &sub.event);
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let bytes = event.to_json();
    tx.execute(
        "INSERT INTO ingress_requests (caller, idempotency_key, kind, request_hash, order_id, event_id, event_json) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        &[&caller, &key, &kind.as_str(), &hash, &event.envelope.order_id, &event.envelope.event_id, &bytes],
    )
    .await?;
    let row = tx
        .query_one(
            "SELECT kind, request_hash, order_id, event_id, event_json, appended_at IS NOT NULL \
             FROM ingress_requests WHERE caller = $1 AND idempotency_key = $2 FOR UPDATE",
            &[&caller, &key],
        )
        .await?;
    let (stored_kind, stored_hash): (String, String) = (row.get(0), row.get(1));
    let (order_id, event_id): (Uuid, Uuid) = (row.get(2), row.get(3));
    if stored_kind != kind.as_str() || stored_hash != *hash {
        return Ok(Submitted::Conflict {
            order_id,
            kind: match stored_kind.as_str() {
                "place" => "PlaceOrder",
                "review" => "ReviewOrder",
                _ => "CancelOrder",
            },
        });
    }
    let replayed = event_id == event.envelope.event_id && row.get::<_, bool>(5);
    if !replayed {
        // Append the stored bytes, not a fresh serialisation: a retry must produce the same record.
        let stored: Vec<u8> = row.get(4);
        let stored_event = Event::from_json(&stored)
            .map_err(|e| DbError::Config(format!("stored request event does not decode: {e}")))?;
        orders_runtime::produce::append_bytes(producer, topic, &stored_event, &stored).await?;
        tx.execute(
            "UPDATE ingress_requests SET appended_at = now() WHERE caller = $1 AND idempotency_key = $2",
            &[&caller, &key],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Submitted::Appended {
        order_id,
        event_id,
        replayed,
    })
}

/// Whether this caller already used this idempotency key (for any request).
pub async fn known_request(pool: &Pool, caller: &str, key: &str) -> Result<bool, DbError> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT 1 FROM ingress_requests WHERE caller = $1 AND idempotency_key = $2",
            &[&caller, &key],
        )
        .await?;
    Ok(row.is_some())
}

/// True when an OrderPlaced for `order_id` was accepted (whether or not it is projected yet).
pub async fn order_accepted(pool: &Pool, order_id: Uuid) -> Result<bool, DbError> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT 1 FROM ingress_requests WHERE order_id = $1 AND kind = 'place' AND appended_at IS NOT NULL LIMIT 1",
            &[&order_id],
        )
        .await?;
    Ok(row.is_some())
}

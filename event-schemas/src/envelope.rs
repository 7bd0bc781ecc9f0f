//! The envelope every record carries, and [`Event`] = envelope + payload.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{DecodeError, EventType, Payload, codec, headers, ids};

/// Who, what and when of a record. Carried both inside the JSON value and as Kafka headers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Derived from `idempotency_key` ([`ids::event_id_for`]); consumers dedupe on it.
    pub event_id: Uuid,
    pub event_type: EventType,
    /// The payload's schema version. After [`Event::from_json`] this is the current version (the
    /// payload was upcast), not necessarily the version that was on the wire.
    pub event_version: u32,
    /// Kafka key: all events of an order share a partition.
    pub order_id: Uuid,
    /// RFC 3339, UTC, with `Z`.
    pub occurred_at: DateTime<Utc>,
    /// The event this one reacts to; `null` for events started by a request.
    pub causation_id: Option<Uuid>,
    /// The first event of the chain (the request that started it all).
    pub correlation_id: Uuid,
    pub idempotency_key: String,
    /// The service that wrote the record, e.g. "ingress", "enricher".
    pub producer: String,
    /// W3C trace context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracestate: Option<String>,
}

/// What the producer supplies to [`Event::new`]; the rest of the envelope is derived.
#[derive(Debug, Clone, PartialEq)]
pub struct EventMeta {
    pub occurred_at: DateTime<Utc>,
    pub causation_id: Option<Uuid>,
    /// `None` makes the new event the start of its own chain (correlation id = its event id).
    pub correlation_id: Option<Uuid>,
    /// Must be unique across the log; it determines the event id.
    pub idempotency_key: String,
    pub producer: String,
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
}

impl EventMeta {
    /// Meta for the event that `stage` emits in reaction to `source`: caused by it, in its
    /// correlation chain and trace, with key [`ids::follow_up_key`]`(stage, source.event_id)`, so
    /// reprocessing `source` yields the same event id.
    pub fn follow_up(
        source: &Envelope,
        stage: &str,
        producer: &str,
        occurred_at: DateTime<Utc>,
    ) -> EventMeta {
        EventMeta {
            occurred_at,
            causation_id: Some(source.event_id),
            correlation_id: Some(source.correlation_id),
            idempotency_key: ids::follow_up_key(stage, source.event_id),
            producer: producer.to_owned(),
            traceparent: source.traceparent.clone(),
            tracestate: source.tracestate.clone(),
        }
    }
}

/// One record of `orders.events`. JSON shape: the envelope fields at the top level plus
/// `"payload": {...}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub envelope: Envelope,
    pub payload: Payload,
}

/// The wire shape, for serializing without copying.
#[derive(Serialize)]
struct WireRef<'a> {
    #[serde(flatten)]
    envelope: &'a Envelope,
    payload: &'a Payload,
}

impl Event {
    /// Builds an event; `event_type` and `event_version` come from the payload (current version),
    /// `event_id = ids::event_id_for(&meta.idempotency_key)`.
    pub fn new(order_id: Uuid, payload: Payload, meta: EventMeta) -> Event {
        let event_type = payload.event_type();
        let event_id = ids::event_id_for(&meta.idempotency_key);
        Event {
            envelope: Envelope {
                event_id,
                event_type,
                event_version: event_type.current_version(),
                order_id,
                occurred_at: meta.occurred_at,
                causation_id: meta.causation_id,
                correlation_id: meta.correlation_id.unwrap_or(event_id),
                idempotency_key: meta.idempotency_key,
                producer: meta.producer,
                traceparent: meta.traceparent,
                tracestate: meta.tracestate,
            },
            payload,
        }
    }

    pub fn event_type(&self) -> EventType {
        self.envelope.event_type
    }

    /// The record as a JSON value (envelope fields + `payload`).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self.wire())
            .expect("an Event always serializes (plain structs, string keys)")
    }

    /// The record value for Kafka: compact JSON, envelope fields in declaration order, then `payload`.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(&self.wire())
            .expect("an Event always serializes (plain structs, string keys)")
    }

    /// Parses a record, checks the envelope, validates it against the JSON Schema of its type and
    /// version, and upcasts old versions to the current payload struct. See [`codec::decode`].
    pub fn from_json(bytes: &[u8]) -> Result<Event, DecodeError> {
        codec::decode(bytes)
    }

    /// The envelope as Kafka headers plus `content-type`. See [`headers`].
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        headers::envelope_headers(&self.envelope)
    }

    fn wire(&self) -> WireRef<'_> {
        WireRef {
            envelope: &self.envelope,
            payload: &self.payload,
        }
    }
}

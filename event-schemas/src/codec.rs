//! Decoding records, and upcasting old event versions to the current structs — the only place that
//! knows about old versions.
//!
//! Decode order: JSON → envelope `event_type`/`event_version` → JSON Schema of *that* version →
//! upcast the payload step by step (v1 → v2 → … → current) → current struct. So a record is checked
//! against the schema it was written with, and readers only ever see current structs.
//!
//! A decode error is never fixed by retrying: the record goes to the dead-letter topic.

use serde_json::{Map, Value};

use crate::{Envelope, Event, EventType, Payload, schema};

/// Why a record could not be read. Every message says what was wrong with the record.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("record value is not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    #[error("bad envelope: {0}")]
    BadEnvelope(String),
    #[error(
        "unknown event_type {0:?}: this reader knows OrderPlaced, OrderEnriched, OrderRiskAssessed, \
         OrderRouted, OrderReviewed, OrderCancellationRequested, OrderCancelled, OrderCancellationRejected, \
         OrderRoutingFailed"
    )]
    UnknownEventType(String),
    #[error(
        "unsupported event_version {version} of {event_type}: this reader knows versions 1..={}; \
         a newer producer may be running, upgrade this reader",
        .event_type.current_version()
    )]
    UnsupportedVersion { event_type: EventType, version: u32 },
    #[error("payload of {event_type} v{version} does not fit the current struct: {source}")]
    BadPayload {
        event_type: EventType,
        version: u32,
        #[source]
        source: serde_json::Error,
    },
    #[error("{event_type} v{version} does not match its JSON Schema: {}", .errors.join("; "))]
    SchemaViolation {
        event_type: EventType,
        version: u32,
        errors: Vec<String>,
    },
}

impl DecodeError {
    /// Short machine-readable code of the failure, for dead letters and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeError::NotJson(_) => "not_json",
            DecodeError::BadEnvelope(_) => "bad_envelope",
            DecodeError::UnknownEventType(_) => "unknown_event_type",
            DecodeError::UnsupportedVersion { .. } => "unsupported_version",
            DecodeError::BadPayload { .. } => "bad_payload",
            DecodeError::SchemaViolation { .. } => "schema_violation",
        }
    }
}

/// Reads a record value; see the module docs for the order of checks.
pub fn decode(bytes: &[u8]) -> Result<Event, DecodeError> {
    let value: Value = serde_json::from_slice(bytes).map_err(DecodeError::NotJson)?;
    decode_value(value)
}

/// [`decode`] for an already parsed value.
pub fn decode_value(value: Value) -> Result<Event, DecodeError> {
    let (event_type, version) = type_and_version(&value)?;
    schema::validate(&value)?;

    let Value::Object(mut fields) = value else {
        unreachable!("type_and_version accepted only objects")
    };
    let payload = fields
        .remove("payload")
        .ok_or_else(|| DecodeError::BadEnvelope("missing field payload".into()))?;
    let mut envelope: Envelope = serde_json::from_value(Value::Object(fields))
        .map_err(|e| DecodeError::BadEnvelope(e.to_string()))?;

    let payload = upcast(event_type, version, payload)?;
    let payload =
        Payload::from_value(event_type, payload).map_err(|source| DecodeError::BadPayload {
            event_type,
            version,
            source,
        })?;
    // The payload is now in the current version; say so, so that re-encoding writes a consistent record.
    envelope.event_version = event_type.current_version();
    Ok(Event { envelope, payload })
}

/// The `event_type` and `event_version` of a record, checked to be known and readable.
pub(crate) fn type_and_version(value: &Value) -> Result<(EventType, u32), DecodeError> {
    let fields = value.as_object().ok_or_else(|| {
        DecodeError::BadEnvelope(format!(
            "record must be a JSON object, found {}",
            json_kind(value)
        ))
    })?;
    let name = string_field(fields, "event_type")?;
    let event_type =
        EventType::parse(name).ok_or_else(|| DecodeError::UnknownEventType(name.to_owned()))?;
    let version = match fields.get("event_version") {
        None => {
            return Err(DecodeError::BadEnvelope(
                "missing field event_version".into(),
            ));
        }
        Some(v) => v
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| {
                DecodeError::BadEnvelope(format!(
                    "event_version must be a positive integer, found {v}"
                ))
            })?,
    };
    if !(1..=event_type.current_version()).contains(&version) {
        return Err(DecodeError::UnsupportedVersion {
            event_type,
            version,
        });
    }
    Ok((event_type, version))
}

fn string_field<'a>(fields: &'a Map<String, Value>, name: &str) -> Result<&'a str, DecodeError> {
    match fields.get(name) {
        None => Err(DecodeError::BadEnvelope(format!("missing field {name}"))),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(DecodeError::BadEnvelope(format!(
            "{name} must be a string, found {}",
            json_kind(other)
        ))),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Brings a payload of `event_type` from `version` to the current version, one step at a time.
fn upcast(event_type: EventType, version: u32, mut payload: Value) -> Result<Value, DecodeError> {
    let mut at = version;
    while at < event_type.current_version() {
        payload = upcast_step(event_type, at, payload)?;
        at += 1;
    }
    Ok(payload)
}

/// One upcaster per (type, old version): turns a `from`-version payload into a `from + 1` payload.
///
/// Each arm has a test decoding a stored record of the old version into the current struct.
fn upcast_step(event_type: EventType, from: u32, payload: Value) -> Result<Value, DecodeError> {
    match (event_type, from, payload) {
        // v2 carries the order's facts forward; v1 records did not have them.
        (EventType::OrderEnriched, 1, Value::Object(mut p)) => {
            p.insert("order".into(), Value::Null);
            Ok(Value::Object(p))
        }
        // v2 carries the facts, categories and estimate the router needs.
        (EventType::OrderRiskAssessed, 1, Value::Object(mut p)) => {
            p.insert("order".into(), Value::Null);
            p.insert("categories".into(), Value::Null);
            p.insert("estimated_total".into(), Value::Null);
            Ok(Value::Object(p))
        }
        //
        // Reached only if a `current_version()` was raised without adding its step above; the record
        // is left for a reader that has the upcaster.
        _ => Err(DecodeError::UnsupportedVersion {
            event_type,
            version: from,
        }),
    }
}

//! The envelope as Kafka headers, so consumers can filter (by type, version, order) without parsing
//! the value. The JSON value stays the source of truth; headers are a copy written by [`Event::headers`].
//!
//! [`Event::headers`]: crate::Event::headers

use uuid::Uuid;

use crate::{CONTENT_TYPE, DecodeError, Envelope};

/// Header names.
pub mod names {
    pub const EVENT_ID: &str = "event_id";
    pub const EVENT_TYPE: &str = "event_type";
    pub const EVENT_VERSION: &str = "event_version";
    pub const ORDER_ID: &str = "order_id";
    pub const OCCURRED_AT: &str = "occurred_at";
    pub const CAUSATION_ID: &str = "causation_id";
    pub const CORRELATION_ID: &str = "correlation_id";
    pub const IDEMPOTENCY_KEY: &str = "idempotency_key";
    pub const PRODUCER: &str = "producer";
    pub const TRACEPARENT: &str = "traceparent";
    pub const TRACESTATE: &str = "tracestate";
    pub const CONTENT_TYPE: &str = "content-type";
}

/// Every envelope field as a string, in the same text as in the JSON value (`causation_id`,
/// `traceparent` and `tracestate` only when set), plus `content-type`.
pub(crate) fn envelope_headers(envelope: &Envelope) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        (names::EVENT_ID, envelope.event_id.to_string()),
        (names::EVENT_TYPE, envelope.event_type.as_str().to_owned()),
        (names::EVENT_VERSION, envelope.event_version.to_string()),
        (names::ORDER_ID, envelope.order_id.to_string()),
        (names::OCCURRED_AT, rfc3339(envelope)),
    ];
    if let Some(causation_id) = envelope.causation_id {
        headers.push((names::CAUSATION_ID, causation_id.to_string()));
    }
    headers.extend([
        (names::CORRELATION_ID, envelope.correlation_id.to_string()),
        (names::IDEMPOTENCY_KEY, envelope.idempotency_key.clone()),
        (names::PRODUCER, envelope.producer.clone()),
    ]);
    if let Some(traceparent) = &envelope.traceparent {
        headers.push((names::TRACEPARENT, traceparent.clone()));
    }
    if let Some(tracestate) = &envelope.tracestate {
        headers.push((names::TRACESTATE, tracestate.clone()));
    }
    headers.push((names::CONTENT_TYPE, CONTENT_TYPE.to_owned()));
    headers
}

/// `occurred_at` exactly as serde writes it into the JSON value.
fn rfc3339(envelope: &Envelope) -> String {
    match serde_json::to_value(envelope.occurred_at) {
        Ok(serde_json::Value::String(s)) => s,
        _ => unreachable!("chrono serializes DateTime<Utc> as a string"),
    }
}

/// The part of the envelope needed to route or skip a record, read from its headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderEnvelope {
    pub event_id: Uuid,
    /// As written; may be a type this reader does not know (see [`HeaderEnvelope::known_type`]).
    pub event_type: String,
    pub event_version: u32,
    pub order_id: Uuid,
}

impl HeaderEnvelope {
    /// The event type, if this reader knows it.
    pub fn known_type(&self) -> Option<crate::EventType> {
        crate::EventType::parse(&self.event_type)
    }
}

/// Reads [`HeaderEnvelope`] from Kafka headers (name, raw value). When a header repeats, the last
/// one wins. Errors are `BadEnvelope` naming the header that is missing or malformed.
pub fn envelope_from_headers(headers: &[(String, Vec<u8>)]) -> Result<HeaderEnvelope, DecodeError> {
    let get = |name: &str| -> Result<&str, DecodeError> {
        let raw = headers
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
            .ok_or_else(|| DecodeError::BadEnvelope(format!("missing header {name}")))?;
        std::str::from_utf8(raw)
            .map_err(|e| DecodeError::BadEnvelope(format!("header {name} is not UTF-8: {e}")))
    };
    let uuid = |name: &str| -> Result<Uuid, DecodeError> {
        let text = get(name)?;
        Uuid::parse_str(text).map_err(|e| {
            DecodeError::BadEnvelope(format!("header {name} is not a UUID ({text:?}): {e}"))
        })
    };
    let version_text = get(names::EVENT_VERSION)?;
    let event_version = version_text.parse::<u32>().map_err(|e| {
        DecodeError::BadEnvelope(format!(
            "header {} must be an unsigned integer, found {version_text:?}: {e}",
            names::EVENT_VERSION
        ))
    })?;
    Ok(HeaderEnvelope {
        event_id: uuid(names::EVENT_ID)?,
        event_type: get(names::EVENT_TYPE)?.to_owned(),
        event_version,
        order_id: uuid(names::ORDER_ID)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Event, EventMeta, OrderCancelled};
    use chrono::TimeZone;

    fn event(causation_id: Option<Uuid>, traceparent: Option<&str>) -> Event {
        Event::new(
            Uuid::from_u128(7),
            OrderCancelled {
                reason: "customer asked".into(),
            }
            .into(),
            EventMeta {
                occurred_at: chrono::Utc.with_ymd_and_hms(2025, 3, 1, 10, 30, 0).unwrap(),
                causation_id,
                correlation_id: None,
                idempotency_key: "router:abc".into(),
                producer: "router".into(),
                traceparent: traceparent.map(str::to_owned),
                tracestate: None,
            },
        )
    }

    fn owned(headers: Vec<(&'static str, String)>) -> Vec<(String, Vec<u8>)> {
        headers
            .into_iter()
            .map(|(n, v)| (n.to_owned(), v.into_bytes()))
            .collect()
    }

    #[test]
    fn headers_carry_every_envelope_field_as_in_the_json() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let e = event(Some(Uuid::from_u128(1)), Some(tp));
        let json: serde_json::Value = serde_json::from_slice(&e.to_json()).unwrap();
        let headers = e.headers();
        for (name, value) in &headers {
            if *name == names::CONTENT_TYPE {
                assert_eq!(value, "application/json");
                continue;
            }
            let in_json = match &json[*name] {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            assert_eq!(value, &in_json, "header {name}");
        }
        let names: Vec<_> = headers.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "event_id",
                "event_type",
                "event_version",
                "order_id",
                "occurred_at",
                "causation_id",
                "correlation_id",
                "idempotency_key",
                "producer",
                "traceparent",
                "content-type"
            ]
        );
        assert!(headers.contains(&("occurred_at", "2025-03-01T10:30:00Z".to_owned())));
    }

    #[test]
    fn unset_optional_fields_are_not_headers() {
        let names: Vec<_> = event(None, None)
            .headers()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert!(!names.contains(&names::CAUSATION_ID));
        assert!(!names.contains(&names::TRACEPARENT));
        assert!(!names.contains(&names::TRACESTATE));
    }

    #[test]
    fn header_envelope_reads_back() {
        let e = event(None, None);
        let h = envelope_from_headers(&owned(e.headers())).unwrap();
        assert_eq!(
            h,
            HeaderEnvelope {
                event_id: e.envelope.event_id,
                event_type: "OrderCancelled".into(),
                event_version: 1,
                order_id: Uuid::from_u128(7),
            }
        );
        assert_eq!(h.known_type(), Some(crate::EventType::OrderCancelled));
    }

    #[test]
    fn header_envelope_names_the_bad_header() {
        let mut headers = owned(event(None, None).headers());
        headers.retain(|(n, _)| n != names::ORDER_ID);
        let err = envelope_from_headers(&headers).unwrap_err().to_string();
        assert!(err.contains("missing header order_id"), "{err}");

        let mut headers = owned(event(None, None).headers());
        headers.push((names::EVENT_ID.into(), b"not-a-uuid".to_vec()));
        let err = envelope_from_headers(&headers).unwrap_err().to_string();
        assert!(err.contains("header event_id is not a UUID"), "{err}");

        let mut headers = owned(event(None, None).headers());
        headers.push((names::EVENT_VERSION.into(), b"v1".to_vec()));
        let err = envelope_from_headers(&headers).unwrap_err().to_string();
        assert!(err.contains("event_version"), "{err}");
    }
}

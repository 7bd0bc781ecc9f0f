//! `orders-events`: the events of the order pipeline as they travel on `orders.events`.
//!
//! Every other crate reads and writes the log through this one, so the wire format is defined once:
//!
//! - [`envelope`]: [`Envelope`] (who/what/when of every record), [`Event`] (envelope + payload) with
//!   [`Event::new`], [`Event::to_json`], [`Event::from_json`], and [`EventMeta`].
//! - [`payloads`]: [`EventType`], [`Payload`] and one struct per event type (the *current* version).
//! - [`codec`]: decoding bytes into an [`Event`] and the upcasters from old versions, all in one place;
//!   [`DecodeError`].
//! - [`schema`]: the JSON Schemas in `event-schemas/schemas/<EventType>.v<N>.json`, embedded at build
//!   time, and [`schema::validate`]. `schemas.lock` pins each published file by SHA-256.
//! - [`headers`]: the envelope as Kafka headers, for filtering without parsing the value.
//! - [`ids`]: deterministic order ids, event ids and follow-up idempotency keys.
//!
//! A record's JSON is the envelope fields at the top level plus `"payload": {...}`; see
//! `event-schemas/README.md` for how to add a new event version.

pub mod codec;
pub mod envelope;
pub mod headers;
pub mod ids;
pub mod payloads;
pub mod schema;

pub use codec::DecodeError;
pub use envelope::{Envelope, Event, EventMeta};
pub use headers::{HeaderEnvelope, envelope_from_headers};
pub use payloads::*;

/// Content type of every record value on `orders.events`.
pub const CONTENT_TYPE: &str = "application/json";

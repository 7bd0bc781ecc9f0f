//! Event types and payloads: one struct per event type, in its *current* version.
//!
//! Changing a struct here changes the wire format: that needs a new schema version and an upcaster
//! in `codec.rs` (see the crate README). Optional fields are always written, as `null` when absent.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The kind of an event; serialized as its name, e.g. `"OrderPlaced"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    OrderPlaced,
    OrderEnriched,
    OrderRiskAssessed,
    OrderRouted,
    OrderReviewed,
    OrderCancellationRequested,
    OrderCancelled,
    OrderCancellationRejected,
    OrderRoutingFailed,
}

impl EventType {
    /// Every event type, in lifecycle order.
    pub const ALL: [EventType; 9] = [
        EventType::OrderPlaced,
        EventType::OrderEnriched,
        EventType::OrderRiskAssessed,
        EventType::OrderRouted,
        EventType::OrderReviewed,
        EventType::OrderCancellationRequested,
        EventType::OrderCancelled,
        EventType::OrderCancellationRejected,
        EventType::OrderRoutingFailed,
    ];

    /// The name on the wire (JSON `event_type` and the `event_type` header).
    pub fn as_str(&self) -> &'static str {
        match self {
            EventType::OrderPlaced => "OrderPlaced",
            EventType::OrderEnriched => "OrderEnriched",
            EventType::OrderRiskAssessed => "OrderRiskAssessed",
            EventType::OrderRouted => "OrderRouted",
            EventType::OrderReviewed => "OrderReviewed",
            EventType::OrderCancellationRequested => "OrderCancellationRequested",
            EventType::OrderCancelled => "OrderCancelled",
            EventType::OrderCancellationRejected => "OrderCancellationRejected",
            EventType::OrderRoutingFailed => "OrderRoutingFailed",
        }
    }

    /// The type with this wire name, if any (exact, case-sensitive).
    pub fn parse(s: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The version new events of this type are written in, and that readers upcast to.
    /// Versions `1..=current_version()` can be read.
    pub fn current_version(&self) -> u32 {
        match self {
            EventType::OrderEnriched | EventType::OrderRiskAssessed => 2,
            EventType::OrderPlaced
            | EventType::OrderRouted
            | EventType::OrderReviewed
            | EventType::OrderCancellationRequested
            | EventType::OrderCancelled
            | EventType::OrderCancellationRejected
            | EventType::OrderRoutingFailed => 1,
        }
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The payload of an event, in the current version of its type.
///
/// On the wire the payload is a plain object (the envelope's `event_type` says which one), so this
/// serializes untagged and is read with [`Payload::from_value`].
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    OrderPlaced(OrderPlaced),
    OrderEnriched(OrderEnriched),
    OrderRiskAssessed(OrderRiskAssessed),
    OrderRouted(OrderRouted),
    OrderReviewed(OrderReviewed),
    OrderCancellationRequested(OrderCancellationRequested),
    OrderCancelled(OrderCancelled),
    OrderCancellationRejected(OrderCancellationRejected),
    OrderRoutingFailed(OrderRoutingFailed),
}

macro_rules! payload_variants {
    ($($name:ident),* $(,)?) => {
        impl Payload {
            /// The event type this payload belongs to.
            pub fn event_type(&self) -> EventType {
                match self {
                    $(Payload::$name(_) => EventType::$name,)*
                }
            }

            /// Reads the payload object of `event_type` in its *current* version (older versions go
            /// through `codec` first).
            pub fn from_value(
                event_type: EventType,
                value: serde_json::Value,
            ) -> Result<Payload, serde_json::Error> {
                Ok(match event_type {
                    $(EventType::$name => Payload::$name(serde_json::from_value(value)?),)*
                })
            }
        }

        impl Serialize for Payload {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self {
                    $(Payload::$name(p) => p.serialize(serializer),)*
                }
            }
        }

        $(
            impl From<$name> for Payload {
                fn from(p: $name) -> Payload {
                    Payload::$name(p)
                }
            }
        )*
    };
}

payload_variants!(
    OrderPlaced,
    OrderEnriched,
    OrderRiskAssessed,
    OrderRouted,
    OrderReviewed,
    OrderCancellationRequested,
    OrderCancelled,
    OrderCancellationRejected,
    OrderRoutingFailed,
);

/// Integer minor units (paisa for NPR) and an ISO 4217 code; never floats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Money {
    pub amount_minor: i64,
    pub currency: String,
}

/// The raw order as the shop sent it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderPlaced {
    pub customer_id: String,
    /// The internal service that called PlaceOrder.
    pub caller: String,
    pub channel: Channel,
    /// ISO 4217, e.g. "NPR".
    pub currency: String,
    pub lines: Vec<PlacedLine>,
    pub delivery_address: Address,
    pub notes: Option<String>,
}

/// Where the order came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    App,
    Web,
    Phone,
    Whatsapp,
    SalesRep,
    Api,
}

impl Channel {
    /// The wire name, e.g. `"sales_rep"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Channel::App => "app",
            Channel::Web => "web",
            Channel::Phone => "phone",
            Channel::Whatsapp => "whatsapp",
            Channel::SalesRep => "sales_rep",
            Channel::Api => "api",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlacedLine {
    /// 1-based position in the order; stable through enrichment.
    pub line_no: u32,
    pub item: LineItem,
}

/// A line as sent: free text ("2 kg rice") or a known SKU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LineItem {
    Text {
        text: String,
    },
    Sku {
        sku: String,
        quantity: u32,
        unit: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub district: Option<String>,
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2, e.g. "NP".
    pub country_code: String,
    pub location: GeoPoint,
}

/// WGS 84 degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoPoint {
    pub latitude: f64,
    pub longitude: f64,
}

/// Facts of the placed order that later stages need, carried forward in their events so that no
/// stage has to wait for the read model to catch up (event-carried state).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderFacts {
    pub customer_id: String,
    pub channel: Channel,
    /// `occurred_at` of the order's OrderPlaced.
    pub placed_at: DateTime<Utc>,
    pub contact_phone: Option<String>,
    pub delivery_location: GeoPoint,
}

impl OrderFacts {
    /// The facts of a placed order.
    pub fn of(placed: &OrderPlaced, placed_at: DateTime<Utc>) -> OrderFacts {
        OrderFacts {
            customer_id: placed.customer_id.clone(),
            channel: placed.channel,
            placed_at,
            contact_phone: placed.delivery_address.contact_phone.clone(),
            delivery_location: placed.delivery_address.location,
        }
    }
}

/// Lines matched to the catalogue. v2 added `order`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderEnriched {
    /// The placed order's facts; `null` only in records upcast from v1 (readers then look the order
    /// up in the read model).
    pub order: Option<OrderFacts>,
    pub lines: Vec<EnrichedLine>,
    /// BCP 47 tag of the order's text, e.g. "ne" or "en".
    pub language: String,
    /// The provider whose answer was used.
    pub provider: String,
    /// 0.0..=1.0.
    pub confidence: f64,
    /// Every provider tried, in order.
    pub attempts: Vec<ProviderAttempt>,
    pub estimated_total: Option<Money>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrichedLine {
    pub line_no: u32,
    /// The line as placed (text, or the SKU line rendered as text).
    pub raw: String,
    pub matched: bool,
    pub sku: Option<String>,
    pub name: Option<String>,
    pub category: Option<String>,
    /// In `unit`; may be fractional (0.5 kg).
    pub quantity: f64,
    pub unit: String,
    pub unit_price: Option<Money>,
    pub line_total: Option<Money>,
    /// 0.0..=1.0.
    pub confidence: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderAttempt {
    pub provider: String,
    /// "answered" | "failed" | "skipped".
    pub outcome: String,
    pub reason: Option<String>,
}

/// v2 added `order`, `categories` and `estimated_total`, which the router needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderRiskAssessed {
    /// The placed order's facts; `null` only in records upcast from v1.
    pub order: Option<OrderFacts>,
    /// Categories of the matched lines, sorted, without repeats; `null` only in records upcast from v1.
    pub categories: Option<Vec<String>>,
    /// The enricher's estimate, as assessed.
    pub estimated_total: Option<Money>,
    /// 0..=100; higher is riskier.
    pub score: u8,
    pub decision: RiskDecision,
    pub reasons: Vec<RiskReason>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskDecision {
    Approve,
    Review,
    Reject,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskReason {
    pub code: String,
    pub description: String,
    /// Contribution to the score; negative lowers it.
    pub weight: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderRouted {
    pub hub_id: String,
    pub hub_name: String,
    pub distance_km: f64,
    pub eta_minutes: u32,
    /// Why this hub was chosen.
    pub reason: String,
}

/// No hub can take an approved order (outside every service radius, no hub serves its categories,
/// or every eligible hub is full). A decision, not an error: the order is held for a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderRoutingFailed {
    /// Why, in words an operator understands (names the nearest hub and what ruled it out).
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderReviewed {
    pub reviewer: String,
    pub decision: ReviewDecision,
    pub comment: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewDecision {
    Approve,
    Reject,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderCancellationRequested {
    pub requested_by: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderCancelled {
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderCancellationRejected {
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_type_names_parse_back() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
            assert_eq!(t.to_string(), t.as_str());
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
            assert!(t.current_version() >= 1);
        }
        assert_eq!(EventType::parse("orderplaced"), None);
        assert_eq!(EventType::parse("OrderShipped"), None);
    }

    #[test]
    fn channel_wire_names_match_serde() {
        for c in [
            Channel::App,
            Channel::Web,
            Channel::Phone,
            Channel::Whatsapp,
            Channel::SalesRep,
            Channel::Api,
        ] {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
    }

    #[test]
    fn line_items_are_tagged_by_kind_and_optional_fields_are_null() {
        let sku = LineItem::Sku {
            sku: "RICE-5KG".into(),
            quantity: 2,
            unit: None,
        };
        assert_eq!(
            serde_json::to_value(&sku).unwrap(),
            serde_json::json!({"kind": "sku", "sku": "RICE-5KG", "quantity": 2, "unit": null})
        );
        let text: LineItem =
            serde_json::from_value(serde_json::json!({"kind": "text", "text": "2 kg chini"}))
                .unwrap();
        assert_eq!(
            text,
            LineItem::Text {
                text: "2 kg chini".into()
            }
        );
    }

    #[test]
    fn payloads_refuse_unknown_fields() {
        let err = Payload::from_value(
            EventType::OrderCancelled,
            serde_json::json!({"reason": "x", "refund": true}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("refund"), "{err}");
    }
}

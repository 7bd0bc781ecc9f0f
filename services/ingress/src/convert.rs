//! Conversions between the API's messages and the events and read models.
use chrono::{DateTime, Utc};
use orders_events::{Address, Channel};
use orders_projections::queries::{OrderView, TimelineEntry};
use orders_proto::v1;

pub fn channel_from_proto(c: v1::Channel) -> Channel {
    match c {
        v1::Channel::App => Channel::App,
        v1::Channel::Web => Channel::Web,
        v1::Channel::Phone => Channel::Phone,
        v1::Channel::Whatsapp => Channel::Whatsapp,
        v1::Channel::SalesRep => Channel::SalesRep,
        v1::Channel::Api | v1::Channel::Unspecified => Channel::Api,
    }
}

fn channel_to_proto(stored: &str) -> v1::Channel {
    match stored {
        "app" => v1::Channel::App,
        "web" => v1::Channel::Web,
        "phone" => v1::Channel::Phone,
        "whatsapp" => v1::Channel::Whatsapp,
        "sales_rep" => v1::Channel::SalesRep,
        "api" => v1::Channel::Api,
        _ => v1::Channel::Unspecified,
    }
}

/// Read-model status name for an API status; `None` for UNSPECIFIED.
pub fn status_name(s: v1::OrderStatus) -> Option<&'static str> {
    use orders_projections::apply::status;
    Some(match s {
        v1::OrderStatus::Unspecified => return None,
        v1::OrderStatus::Placed => status::PLACED,
        v1::OrderStatus::Enriched => status::ENRICHED,
        v1::OrderStatus::Assessed => status::ASSESSED,
        v1::OrderStatus::Routed => status::ROUTED,
        v1::OrderStatus::Held => status::HELD,
        v1::OrderStatus::Rejected => status::REJECTED,
        v1::OrderStatus::Cancelled => status::CANCELLED,
    })
}

fn status_to_proto(stored: &str) -> v1::OrderStatus {
    v1::OrderStatus::from_str_name(&format!("ORDER_STATUS_{stored}"))
        .unwrap_or(v1::OrderStatus::Unspecified)
}

pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

/// `None` when the timestamp is out of range.
pub fn from_timestamp(t: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?)
}

fn address(a: &Address) -> v1::DeliveryAddress {
    v1::DeliveryAddress {
        contact_name: a.contact_name.clone().unwrap_or_default(),
        contact_phone: a.contact_phone.clone().unwrap_or_default(),
        line1: a.line1.clone(),
        line2: a.line2.clone().unwrap_or_default(),
        city: a.city.clone(),
        district: a.district.clone().unwrap_or_default(),
        postal_code: a.postal_code.clone().unwrap_or_default(),
        country_code: a.country_code.clone(),
        location: Some(v1::GeoPoint {
            latitude: a.location.latitude,
            longitude: a.location.longitude,
        }),
    }
}

pub fn order(o: &OrderView) -> v1::Order {
    v1::Order {
        order_id: o.order_id.to_string(),
        customer_id: o.customer_id.clone(),
        status: status_to_proto(&o.status) as i32,
        channel: channel_to_proto(&o.channel) as i32,
        lines: o
            .lines
            .iter()
            .map(|l| v1::PlacedLine {
                line_no: l.line_no as u32,
                line: Some(v1::OrderLine {
                    item: Some(match (&l.text, &l.sku) {
                        (Some(text), _) => v1::order_line::Item::Text(text.clone()),
                        (None, sku) => v1::order_line::Item::Sku(v1::SkuItem {
                            sku: sku.clone().unwrap_or_default(),
                            quantity: l.quantity.unwrap_or_default(),
                            unit: l.unit.clone().unwrap_or_default(),
                        }),
                    }),
                }),
            })
            .collect(),
        delivery_address: Some(address(&o.delivery_address)),
        notes: o.notes.clone().unwrap_or_default(),
        currency: o.currency.clone(),
        placed_at: Some(timestamp(o.placed_at)),
        updated_at: Some(timestamp(o.updated_at)),
        last_event_id: o.last_event_id.to_string(),
        version: o.version,
        cancellation_requested: o.cancellation_requested,
    }
}

pub fn timeline_event(e: &TimelineEntry) -> v1::TimelineEvent {
    v1::TimelineEvent {
        event_id: e.event_id.to_string(),
        event_type: e.event_type.clone(),
        event_version: e.event_version as u32,
        occurred_at: Some(timestamp(e.occurred_at)),
        causation_id: e.causation_id.map(|c| c.to_string()).unwrap_or_default(),
        correlation_id: e.correlation_id.to_string(),
        idempotency_key: e.idempotency_key.clone(),
        producer: e.producer.clone(),
        traceparent: e.traceparent.clone().unwrap_or_default(),
        payload_json: e.payload.to_string(),
        partition: e.partition,
        offset: e.offset,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_maps_both_ways() {
        for s in [
            v1::OrderStatus::Placed,
            v1::OrderStatus::Enriched,
            v1::OrderStatus::Assessed,
            v1::OrderStatus::Routed,
            v1::OrderStatus::Held,
            v1::OrderStatus::Rejected,
            v1::OrderStatus::Cancelled,
        ] {
            assert_eq!(status_to_proto(status_name(s).unwrap()), s);
        }
    }

    #[test]
    fn every_channel_maps_both_ways() {
        for c in [
            v1::Channel::App,
            v1::Channel::Web,
            v1::Channel::Phone,
            v1::Channel::Whatsapp,
            v1::Channel::SalesRep,
            v1::Channel::Api,
        ] {
            assert_eq!(channel_to_proto(channel_from_proto(c).as_str()), c);
        }
    }
}

//! Appending events to the log.
use std::time::Duration;

use orders_events::Event;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

use crate::RuntimeError;

/// Where an appended record landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub partition: i32,
    pub offset: i64,
}

/// The envelope as Kafka headers, so consumers can filter without parsing the value.
pub fn headers_of(event: &Event) -> OwnedHeaders {
    event
        .headers()
        .into_iter()
        .fold(OwnedHeaders::new(), |hs, (key, value)| {
            hs.insert(Header {
                key,
                value: Some(value.as_bytes()),
            })
        })
}

/// Appends `event` to `topic` keyed by its order id (so an order's events stay in one partition, in
/// order) and waits for the broker's acknowledgement.
pub async fn append(
    producer: &FutureProducer,
    topic: &str,
    event: &Event,
) -> Result<Appended, RuntimeError> {
    append_bytes(producer, topic, event, &event.to_json()).await
}

/// Like [`append`] with the value already serialised (the ingress stores these bytes so that a
/// retried request re-appends exactly the same record).
pub async fn append_bytes(
    producer: &FutureProducer,
    topic: &str,
    event: &Event,
    value: &[u8],
) -> Result<Appended, RuntimeError> {
    let key = event.envelope.order_id.to_string();
    let record = FutureRecord::to(topic)
        .key(&key)
        .payload(value)
        .headers(headers_of(event));
    let span = tracing::info_span!(
        "publish",
        otel.name = format!("{topic} publish"),
        otel.kind = "producer",
        messaging.system = "kafka",
        messaging.operation.type = "publish",
        messaging.destination.name = topic,
        messaging.message.id = %event.envelope.event_id,
        order_id = %event.envelope.order_id,
    );
    use tracing::Instrument;
    match producer
        .send(record, Duration::from_secs(30))
        .instrument(span)
        .await
    {
        Ok(delivery) => {
            metrics::counter!("orders_events_produced_total",
                "producer" => event.envelope.producer.clone(),
                "event_type" => event.event_type().as_str())
            .increment(1);
            Ok(Appended {
                partition: delivery.partition,
                offset: delivery.offset,
            })
        }
        Err((source, _)) => Err(RuntimeError::Produce {
            topic: topic.to_owned(),
            event_id: event.envelope.event_id.to_string(),
            source: Box::new(source),
        }),
    }
}

//! What an analyst sees reading `orders.events` with a generic Kafka client: the key is the order id
//! and the envelope is mirrored into headers, consistent with the JSON value.
use orders_events::Event;
use orders_events::headers::names;
use orders_testkit::{TestEnv, order_request, topic_records};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_carry_the_envelope_as_headers() {
    let env = TestEnv::new().await;
    let ingress = env.spawn_ingress().await;
    let mut client = ingress.client().await;
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let mut req = tonic::Request::new(order_request("headers-1"));
    req.metadata_mut()
        .insert("traceparent", traceparent.parse().unwrap());
    let placed = client.place_order(req).await.expect("place").into_inner();

    let records = topic_records(&env.kafka, &env.kafka.events_topic).await;
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(
        r.key.as_deref(),
        Some(placed.order_id.as_bytes()),
        "key = order id"
    );
    for name in [
        names::EVENT_ID,
        names::EVENT_TYPE,
        names::EVENT_VERSION,
        names::ORDER_ID,
        names::OCCURRED_AT,
        names::CORRELATION_ID,
        names::IDEMPOTENCY_KEY,
        names::PRODUCER,
        names::TRACEPARENT,
        names::CONTENT_TYPE,
    ] {
        assert!(
            r.header(name).is_some(),
            "header {name} missing: {:?}",
            r.headers
        );
    }
    let event = Event::from_json(r.value.as_deref().unwrap()).expect("value is a valid event");
    let env_ = &event.envelope;
    assert_eq!(r.header(names::EVENT_ID), Some(placed.event_id.as_str()));
    assert_eq!(env_.event_id.to_string(), placed.event_id);
    assert_eq!(r.header(names::EVENT_TYPE), Some("OrderPlaced"));
    assert_eq!(r.header(names::EVENT_VERSION), Some("1"));
    assert_eq!(r.header(names::ORDER_ID), Some(placed.order_id.as_str()));
    assert_eq!(r.header(names::PRODUCER), Some("orders-ingress"));
    assert_eq!(
        r.header(names::IDEMPOTENCY_KEY),
        Some("place:4:test:headers-1")
    );
    assert_eq!(
        r.header(names::TRACEPARENT),
        Some(traceparent),
        "trace context is carried from the call"
    );
    assert_eq!(env_.traceparent.as_deref(), Some(traceparent));
    assert_eq!(r.header(names::CONTENT_TYPE), Some("application/json"));
    let occurred = chrono::DateTime::parse_from_rfc3339(r.header(names::OCCURRED_AT).unwrap())
        .expect("RFC 3339");
    assert_eq!(occurred, env_.occurred_at);
    ingress.stop().await;
}

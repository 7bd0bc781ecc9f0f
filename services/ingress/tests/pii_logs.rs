//! Personal data never reaches the logs: an order with a contact name, phone number and street
//! address goes through the whole pipeline, a bad call is refused, and a record with an invalid
//! phone number is dead-lettered; no log line of any service holds the personal data.
use std::io::Write;
use std::sync::{Arc, Mutex};

use orders_proto::v1;
use orders_testkit::{TestEnv, order_request, topic_records, wait_for, wait_order};

/// Every log line of this test process (all services run in it), as the services write them.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const PERSONAL: [&str; 6] = [
    "Sita Sharma",
    "9800000000",
    "Jhamsikhel",
    "Ram Bahadur",
    "9811111111",
    "Thamel Marg",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_log_line_holds_a_name_a_phone_number_or_an_address() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "info,orders_runtime=debug,orders_ingress=debug,orders_projections=debug,\
             orders_projector=debug,orders_enricher=debug,orders_risk=debug,orders_router=debug",
        ))
        .with_writer(move || writer.clone())
        .init();

    let env = TestEnv::new().await;
    let pipeline = env.spawn_pipeline().await;
    let mut client = pipeline.ingress.client().await;
    // order_request carries Sita Sharma, +977 9800000000, Ward 4, Jhamsikhel Road.
    let placed = client
        .place_order(order_request("pii-1"))
        .await
        .expect("placed")
        .into_inner();
    // A refused call whose bad field is personal data.
    let mut bad = order_request("pii-2");
    let address = bad.delivery_address.as_mut().unwrap();
    address.contact_name = "Ram Bahadur".into();
    address.contact_phone = "9811111111 ext. twelve".into();
    address.line1 = String::new();
    assert!(client.place_order(bad).await.is_err());
    // A record written straight to the log whose invalid field is a phone number: the projector
    // dead-letters it with the validator's error.
    let mut event = orders_testkit::placed_event("shop-7", uuid::Uuid::new_v4()).to_value();
    event["payload"]["delivery_address"]["contact_phone"] = serde_json::json!(9811111111u64);
    event["payload"]["delivery_address"]["line1"] = serde_json::json!("Thamel Marg");
    let producer = orders_runtime::kafka::producer(&env.kafka, "test").unwrap();
    let bytes = serde_json::to_vec(&event).unwrap();
    let record = rdkafka::producer::FutureRecord::<str, [u8]>::to(&env.kafka.events_topic)
        .key("pii")
        .payload(&bytes);
    producer
        .send(record, std::time::Duration::from_secs(10))
        .await
        .expect("raw record written");

    wait_order(&client, &placed.order_id, "the order decided", |o| {
        o.status == v1::OrderStatus::Routed as i32
    })
    .await;
    wait_for("the bad record dead-lettered", || async {
        (!topic_records(&env.kafka, &env.kafka.dlq_topic)
            .await
            .is_empty())
        .then_some(())
    })
    .await;
    pipeline.stop().await;

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("order accepted") && logs.contains("record dead-lettered"),
        "the logs were captured"
    );
    assert!(
        logs.contains("not shown: personal data"),
        "the dead letter's error names the field without its value"
    );
    for line in logs.lines() {
        for personal in PERSONAL {
            assert!(
                !line.contains(personal),
                "{personal:?} in a log line: {line}"
            );
        }
    }
}

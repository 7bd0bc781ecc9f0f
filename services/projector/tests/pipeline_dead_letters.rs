//! A garbage record and a schema-invalid record written straight into the events topic while the
//! whole pipeline runs: exactly one dead letter each (from the projector, which reads every record;
//! the workers skip what they cannot read), with full provenance, and orders keep flowing.
use orders_events::headers::names;
use orders_runtime::dlq::{ErrorClass, Provenance};
use orders_testkit::{TestEnv, order_request, topic_records, wait_for};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

async fn count(env: &TestEnv, sql: &str) -> i64 {
    let pool = env.pool();
    let db = pool.get().await.expect("db");
    db.query_one(sql, &[]).await.map(|r| r.get(0)).unwrap_or(-1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_records_get_one_dead_letter_each_and_the_pipeline_goes_on() {
    let env = TestEnv::new().await;
    let pipeline = env.spawn_pipeline().await;
    let mut client = pipeline.ingress.client().await;
    let producer: FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &env.kafka.brokers)
        .create()
        .expect("producer");
    let send = |key: &'static str, value: Vec<u8>, headers: OwnedHeaders| {
        let producer = producer.clone();
        let topic = env.kafka.events_topic.clone();
        async move {
            let d = producer
                .send(
                    FutureRecord::to(&topic)
                        .key(key)
                        .payload(&value)
                        .headers(headers),
                    std::time::Duration::from_secs(10),
                )
                .await
                .expect("append");
            (d.partition, d.offset)
        }
    };

    // Garbage: not JSON, no envelope headers.
    let garbage = send(
        "garbage-key",
        b"\x00\x01 definitely not an event".to_vec(),
        OwnedHeaders::new(),
    )
    .await;
    // Schema-invalid: a real OrderPlaced with its lines removed, headers intact (so every worker
    // that handles OrderPlaced would look at it).
    let placed = client
        .place_order(order_request("template"))
        .await
        .expect("place template")
        .into_inner();
    let template = wait_for("the template record", || async {
        topic_records(&env.kafka, &env.kafka.events_topic)
            .await
            .into_iter()
            .find(|r| r.header(names::ORDER_ID) == Some(placed.order_id.as_str()))
    })
    .await;
    let mut value: serde_json::Value =
        serde_json::from_slice(template.value.as_deref().unwrap()).unwrap();
    value["payload"]["lines"] = serde_json::json!([]);
    value["event_id"] = serde_json::json!(uuid::Uuid::new_v4().to_string());
    let mut headers = OwnedHeaders::new();
    for (k, v) in &template.headers {
        if k != names::EVENT_ID {
            headers = headers.insert(Header {
                key: k,
                value: Some(v.as_slice()),
            });
        }
    }
    let invalid_value = serde_json::to_vec(&value).unwrap();
    let invalid = send("invalid-key", invalid_value.clone(), headers).await;

    // The pipeline keeps going: orders placed after the bad records are decided.
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut req = order_request(&format!("after-{i}"));
        req.customer_id = format!("shop-after-{i}");
        ids.push(
            client
                .place_order(req)
                .await
                .expect("place")
                .into_inner()
                .order_id,
        );
    }
    wait_for("orders after the bad records decided", || async {
        let n = count(
            &env,
            &format!(
                "SELECT count(*) FROM orders WHERE decided_at IS NOT NULL AND order_id IN ({})",
                ids.iter()
                    .map(|i| format!("'{i}'"))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        )
        .await;
        (n == 5).then_some(())
    })
    .await;
    let dead = wait_for("two dead letters", || async {
        let dead = topic_records(&env.kafka, &env.kafka.dlq_topic).await;
        (dead.len() >= 2).then_some(dead)
    })
    .await;
    assert_eq!(
        dead.len(),
        2,
        "exactly one dead letter per bad record: {dead:#?}"
    );

    let find = |key: &[u8]| {
        dead.iter()
            .find(|d| d.key.as_deref() == Some(key))
            .expect("dead letter by key")
    };
    let g = find(b"garbage-key");
    assert_eq!(
        g.value.as_deref(),
        Some(&b"\x00\x01 definitely not an event"[..])
    );
    let p = Provenance::from_headers(g).unwrap();
    assert_eq!((p.original_partition, p.original_offset), garbage);
    assert_eq!(p.original_topic, env.kafka.events_topic);
    assert_eq!(p.group, format!("t-{}-projector", env.id));
    assert_eq!(
        (p.error_class, p.error_kind.as_str()),
        (ErrorClass::Permanent, "not_json")
    );
    assert!(p.original_timestamp_ms.is_some());

    let s = find(b"invalid-key");
    assert_eq!(
        s.value.as_deref(),
        Some(invalid_value.as_slice()),
        "value byte for byte"
    );
    assert_eq!(
        s.header(names::EVENT_TYPE),
        Some("OrderPlaced"),
        "original headers kept"
    );
    let p = Provenance::from_headers(s).unwrap();
    assert_eq!((p.original_partition, p.original_offset), invalid);
    assert_eq!(
        (p.error_class, p.error_kind.as_str()),
        (ErrorClass::Permanent, "schema_violation")
    );
    assert!(p.error_message.contains("lines"), "{}", p.error_message);
    assert_eq!((p.attempts, p.redrive_count, p.exhausted), (1, 0, false));

    pipeline.stop().await;
}

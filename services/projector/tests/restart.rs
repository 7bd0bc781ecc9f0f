//! The projector stopped mid-stream and restarted, with duplicates in the log: every order appears
//! exactly once and the stored offsets reach the end of the log.
use std::collections::HashMap;

use orders_runtime::dlq::{ErrorClass, Provenance};
use orders_testkit::{TestEnv, order_request, topic_records, wait_for};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

async fn count(env: &TestEnv, sql: &str) -> i64 {
    let pool = env.pool();
    let db = pool.get().await.expect("db");
    db.query_one(sql, &[]).await.map(|r| r.get(0)).unwrap_or(0)
}

async fn place(
    client: &mut orders_proto::v1::order_service_client::OrderServiceClient<
        tonic::transport::Channel,
    >,
    range: std::ops::Range<usize>,
) {
    for i in range {
        client
            .place_order(order_request(&format!("restart-{i}")))
            .await
            .expect("place");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_projector_resumes_and_projects_each_order_once() {
    let env = TestEnv::new().await;
    let ingress = env.spawn_ingress().await;
    let mut client = ingress.client().await;

    place(&mut client, 0..150).await;
    let projector = env.spawn_projector();
    wait_for("some orders projected", || async {
        (count(&env, "SELECT count(*) FROM orders").await >= 20).then_some(())
    })
    .await;
    projector.stop().await;
    let after_stop = count(&env, "SELECT count(*) FROM orders").await;

    // More orders while the projector is down, and every record so far appended a second time, as a
    // producer retry or a redrive could do.
    place(&mut client, 150..300).await;
    let records = topic_records(&env.kafka, &env.kafka.events_topic).await;
    assert_eq!(records.len(), 300);
    let producer: FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &env.kafka.brokers)
        .create()
        .expect("producer");
    for r in records.iter().step_by(3) {
        let headers = r.headers.iter().fold(OwnedHeaders::new(), |hs, (k, v)| {
            hs.insert(Header {
                key: k,
                value: Some(v),
            })
        });
        let record = FutureRecord::to(&env.kafka.events_topic)
            .partition(r.partition)
            .key(r.key.as_deref().unwrap())
            .payload(r.value.as_deref().unwrap())
            .headers(headers);
        producer
            .send(record, std::time::Duration::from_secs(10))
            .await
            .expect("re-append");
    }

    let projector = env.spawn_projector();
    wait_for("all 300 orders projected", || async {
        (count(&env, "SELECT count(*) FROM orders").await == 300).then_some(())
    })
    .await;
    // Let the projector reach the end of the log (the duplicates come after the originals).
    let all = topic_records(&env.kafka, &env.kafka.events_topic).await;
    assert_eq!(all.len(), 400);
    let mut ends: HashMap<i32, i64> = HashMap::new();
    for r in &all {
        let e = ends.entry(r.partition).or_default();
        *e = (*e).max(r.offset + 1);
    }
    let group = format!("t-{}-projector", env.id);
    let pool = env.pool();
    wait_for("stored offsets at the end of the log", || {
        let pool = pool.clone();
        let ends = ends.clone();
        let group = group.clone();
        async move {
            let db = pool.get().await.ok()?;
            let rows = db
                .query("SELECT kafka_partition, next_offset FROM projection_offsets WHERE projection = $1", &[&group])
                .await
                .ok()?;
            let stored: HashMap<i32, i64> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
            (stored == ends).then_some(())
        }
    })
    .await;
    projector.stop().await;

    assert!(
        after_stop < 300,
        "the projector was stopped mid-stream ({after_stop} projected)"
    );
    assert_eq!(count(&env, "SELECT count(*) FROM orders").await, 300);
    assert_eq!(
        count(&env, "SELECT count(DISTINCT order_id) FROM orders").await,
        300
    );
    assert_eq!(
        count(
            &env,
            "SELECT count(*) FROM order_timeline WHERE event_type = 'OrderPlaced'"
        )
        .await,
        300
    );
    assert_eq!(count(&env, "SELECT count(*) FROM order_lines").await, 600);
    assert_eq!(
        count(&env, "SELECT count(*) FROM orders WHERE version <> 1").await,
        0,
        "no event applied twice"
    );
    assert_eq!(
        count(&env, "SELECT count(*) FROM projection_rejects").await,
        0
    );
    ingress.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_that_is_not_an_event_is_dead_lettered_once_and_projection_goes_on() {
    let env = TestEnv::new().await;
    let ingress = env.spawn_ingress().await;
    let mut client = ingress.client().await;
    let producer: FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &env.kafka.brokers)
        .create()
        .expect("producer");
    producer
        .send(
            FutureRecord::to(&env.kafka.events_topic)
                .key("garbage")
                .payload("not json at all"),
            std::time::Duration::from_secs(10),
        )
        .await
        .expect("append garbage");
    place(&mut client, 0..5).await;
    let projector = env.spawn_projector();
    wait_for("five orders projected", || async {
        (count(&env, "SELECT count(*) FROM orders").await == 5).then_some(())
    })
    .await;
    wait_for("the garbage record kept aside", || async {
        (count(&env, "SELECT count(*) FROM projection_rejects").await == 1).then_some(())
    })
    .await;
    let pool = env.pool();
    let db = pool.get().await.unwrap();
    let row = db
        .query_one("SELECT reason, record_value FROM projection_rejects", &[])
        .await
        .unwrap();
    let reason: String = row.get(0);
    let value: Vec<u8> = row.get(1);
    assert_eq!(value, b"not json at all", "kept byte for byte");
    assert!(!reason.is_empty());

    let dead = topic_records(&env.kafka, &env.kafka.dlq_topic).await;
    assert_eq!(dead.len(), 1, "one dead letter for one bad record");
    let dead = &dead[0];
    assert_eq!(dead.value.as_deref(), Some(&b"not json at all"[..]));
    assert_eq!(dead.key.as_deref(), Some(&b"garbage"[..]));
    let p = Provenance::from_headers(dead).expect("provenance headers");
    assert_eq!(p.original_topic, env.kafka.events_topic);
    assert_eq!(p.original_offset, 0, "the garbage was the first record");
    assert_eq!(p.group, format!("t-{}-projector", env.id));
    assert_eq!(p.error_class, ErrorClass::Permanent);
    assert_eq!(p.error_kind, "not_json");
    assert!(p.error_message.contains("not JSON"), "{}", p.error_message);
    assert!(!p.exhausted);
    assert_eq!((p.attempts, p.redrive_count), (1, 0));
    projector.stop().await;
    ingress.stop().await;
}

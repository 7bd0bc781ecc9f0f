//! The idempotency contract of PlaceOrder: one key, one order, one record in the log.
use futures::future::join_all;
use orders_events::EventType;
use orders_events::headers::names;
use orders_testkit::{TestEnv, order_request, topic_records, wait_for};
use tonic::Code;

fn placed_records_for(records: &[orders_runtime::Record], order_id: &str) -> usize {
    records
        .iter()
        .filter(|r| r.header(names::ORDER_ID) == Some(order_id))
        .filter(|r| r.header(names::EVENT_TYPE) == Some(EventType::OrderPlaced.as_str()))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_key_same_order_gives_one_order_and_different_payload_is_refused() {
    let env = TestEnv::new().await;
    let ingress = env.spawn_ingress().await;
    let projector = env.spawn_projector();
    let mut client = ingress.client().await;

    let first = client
        .place_order(order_request("k-1"))
        .await
        .expect("first")
        .into_inner();
    let second = client
        .place_order(order_request("k-1"))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(first.order_id, second.order_id);
    assert_eq!(first.event_id, second.event_id);
    assert!(!first.replayed);
    assert!(second.replayed);

    // Whitespace-only differences normalise to the same order: still a retry.
    let mut padded = order_request("k-1");
    padded.notes = "  deliver before 10am ".into();
    assert_eq!(
        client
            .place_order(padded)
            .await
            .expect("padded retry")
            .into_inner()
            .order_id,
        first.order_id
    );

    let mut changed = order_request("k-1");
    changed.customer_id = "shop-9999".into();
    let err = client.place_order(changed).await.unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    assert!(
        err.message().contains("\"k-1\"") && err.message().contains(&first.order_id),
        "{}",
        err.message()
    );
    assert!(
        err.message().contains("new key"),
        "the message says what to do: {}",
        err.message()
    );

    // Another caller's key of the same name is another order.
    let mut req = tonic::Request::new(order_request("k-1"));
    req.metadata_mut()
        .insert("x-caller", "other-service".parse().unwrap());
    let other = client
        .place_order(req)
        .await
        .expect("other caller")
        .into_inner();
    assert_ne!(other.order_id, first.order_id);

    let records = topic_records(&env.kafka, &env.kafka.events_topic).await;
    assert_eq!(
        placed_records_for(&records, &first.order_id),
        1,
        "one append for one key"
    );
    assert_eq!(
        records.len(),
        2,
        "one record per accepted order, none for the refused one"
    );

    wait_for("both orders projected", || {
        let mut c = client.clone();
        let id = other.order_id.clone();
        async move {
            c.get_order(orders_proto::v1::GetOrderRequest { order_id: id })
                .await
                .ok()
        }
    })
    .await;
    let pool = env.pool();
    let db = pool.get().await.unwrap();
    let n: i64 = db
        .query_one("SELECT count(*) FROM orders", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 2);

    projector.stop().await;
    ingress.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_calls_with_one_key_give_one_order() {
    let env = TestEnv::new().await;
    let ingress = env.spawn_ingress().await;
    let projector = env.spawn_projector();
    let client = ingress.client().await;

    let calls = (0..50).map(|_| {
        let mut c = client.clone();
        async move { c.place_order(order_request("burst")).await }
    });
    let results = join_all(calls).await;
    let ids: std::collections::HashSet<String> = results
        .into_iter()
        .map(|r| r.expect("every call succeeds").into_inner().order_id)
        .collect();
    assert_eq!(ids.len(), 1, "all 50 calls name the same order");
    let order_id = ids.into_iter().next().unwrap();

    let records = topic_records(&env.kafka, &env.kafka.events_topic).await;
    assert_eq!(
        placed_records_for(&records, &order_id),
        1,
        "exactly one OrderPlaced in the log"
    );

    wait_for("the order projected", || {
        let mut c = client.clone();
        let id = order_id.clone();
        async move {
            c.get_order(orders_proto::v1::GetOrderRequest { order_id: id })
                .await
                .ok()
        }
    })
    .await;
    let pool = env.pool();
    let db = pool.get().await.unwrap();
    let n: i64 = db
        .query_one("SELECT count(*) FROM orders", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);

    projector.stop().await;
    ingress.stop().await;
}

/// Caller `a:b` with key `c` and caller `a` with key `b:c` are two requests: two orders, two
/// events, both in the read model (an ambiguous key would give both the same event id, and the
/// projector would drop the second as a duplicate).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_and_keys_containing_colons_never_collide() {
    let env = TestEnv::new().await;
    let ingress = env.spawn_ingress().await;
    let projector = env.spawn_projector();
    let mut client = ingress.client().await;

    let mut placed = Vec::new();
    for (caller, key) in [("a:b", "c"), ("a", "b:c")] {
        let mut req = tonic::Request::new(order_request(key));
        req.metadata_mut()
            .insert("x-caller", caller.parse().unwrap());
        placed.push(client.place_order(req).await.expect(caller).into_inner());
    }
    assert_ne!(placed[0].order_id, placed[1].order_id);
    assert_ne!(placed[0].event_id, placed[1].event_id);

    for p in &placed {
        wait_for("order projected", || {
            let mut c = client.clone();
            let id = p.order_id.clone();
            async move {
                c.get_order(orders_proto::v1::GetOrderRequest { order_id: id })
                    .await
                    .ok()
            }
        })
        .await;
    }
    projector.stop().await;
    ingress.stop().await;
}

//! PlaceOrder, then the queries a caller would make: GetOrder, GetOrderTimeline, ListOrders,
//! CancelOrder — against the real broker, PostgreSQL and projector.
use orders_proto::v1;
use orders_testkit::{TestEnv, order_request, wait_for};
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn placed_order_is_queryable_with_its_lines_and_timeline() {
    let env = TestEnv::new().await;
    let ingress = env.spawn_ingress().await;
    let projector = env.spawn_projector();
    let mut client = ingress.client().await;

    let placed = client
        .place_order(order_request("order-1"))
        .await
        .expect("PlaceOrder")
        .into_inner();
    assert_eq!(
        placed.status,
        v1::place_order_response::Status::Accepted as i32
    );
    assert!(!placed.replayed);

    let order = wait_for("the order in the read model", || {
        let mut c = client.clone();
        let id = placed.order_id.clone();
        async move { c.get_order(v1::GetOrderRequest { order_id: id }).await.ok() }
    })
    .await
    .into_inner()
    .order
    .expect("order");
    assert_eq!(order.order_id, placed.order_id);
    assert_eq!(order.customer_id, "shop-0042");
    assert_eq!(order.status, v1::OrderStatus::Placed as i32);
    assert_eq!(order.channel, v1::Channel::App as i32);
    assert_eq!(order.version, 1);
    assert_eq!(order.last_event_id, placed.event_id);
    assert_eq!(order.notes, "deliver before 10am");
    let sent = order_request("order-1");
    let lines: Vec<_> = order
        .lines
        .iter()
        .map(|l| l.line.clone().unwrap())
        .collect();
    assert_eq!(lines, sent.lines, "lines come back as they were placed");
    assert_eq!(
        order.lines.iter().map(|l| l.line_no).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert_eq!(order.delivery_address, sent.delivery_address);

    let timeline = client
        .get_order_timeline(v1::GetOrderTimelineRequest {
            order_id: placed.order_id.clone(),
        })
        .await
        .expect("timeline")
        .into_inner();
    assert_eq!(timeline.events.len(), 1);
    let e = &timeline.events[0];
    assert_eq!(e.event_type, "OrderPlaced");
    assert_eq!(e.event_version, 1);
    assert_eq!(e.event_id, placed.event_id);
    assert_eq!(
        e.correlation_id, placed.event_id,
        "an OrderPlaced starts its own correlation"
    );
    assert_eq!(e.causation_id, "");
    assert_eq!(e.producer, "orders-ingress");
    assert_eq!(e.idempotency_key, "place:4:test:order-1");
    assert!(e.occurred_at.is_some());
    let payload: serde_json::Value = serde_json::from_str(&e.payload_json).unwrap();
    assert_eq!(payload["customer_id"], "shop-0042");
    assert_eq!(payload["lines"][0]["item"]["text"], "5 kg basmati rice");

    projector.stop().await;
    ingress.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_orders_are_not_found_and_bad_ids_are_invalid() {
    let env = TestEnv::new().await;
    let ingress = env.spawn_ingress().await;
    let mut client = ingress.client().await;
    let unknown = uuid::Uuid::new_v4().to_string();
    let err = client
        .get_order(v1::GetOrderRequest {
            order_id: unknown.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(err.message().contains(&unknown), "{}", err.message());
    let err = client
        .get_order_timeline(v1::GetOrderTimelineRequest {
            order_id: unknown.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = client
        .cancel_order(v1::CancelOrderRequest {
            idempotency_key: "c-1".into(),
            order_id: unknown,
            reason: "changed my mind".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = client
        .get_order(v1::GetOrderRequest {
            order_id: "order-42".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("order_id"), "{}", err.message());
    ingress.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_orders_filters_and_pages_and_cancel_is_recorded() {
    let env = TestEnv::new().await;
    let ingress = env.spawn_ingress().await;
    let projector = env.spawn_projector();
    let mut client = ingress.client().await;

    let mut ids = Vec::new();
    for i in 0..7 {
        let mut req = order_request(&format!("list-{i}"));
        req.customer_id = if i % 2 == 0 {
            "shop-even".into()
        } else {
            "shop-odd".into()
        };
        ids.push(
            client
                .place_order(req)
                .await
                .expect("place")
                .into_inner()
                .order_id,
        );
    }
    wait_for("all seven orders projected", || {
        let mut c = client.clone();
        async move {
            let page = c
                .list_orders(v1::ListOrdersRequest {
                    page_size: 100,
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner();
            (page.orders.len() == 7).then_some(())
        }
    })
    .await;

    // Pages of 3 for shop-even (4 orders): 3 then 1, newest first, no repeats.
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = client
            .list_orders(v1::ListOrdersRequest {
                customer_id: "shop-even".into(),
                page_size: 3,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .expect("list")
            .into_inner();
        pages += 1;
        seen.extend(
            page.orders
                .iter()
                .map(|o| (o.order_id.clone(), o.placed_at.unwrap())),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(pages, 2);
    let mut expected: Vec<_> = ids.iter().step_by(2).cloned().collect();
    expected.sort();
    let mut got: Vec<_> = seen.iter().map(|(id, _)| id.clone()).collect();
    got.sort();
    assert_eq!(got, expected);
    assert!(
        seen.windows(2)
            .all(|w| (w[0].1.seconds, w[0].1.nanos) >= (w[1].1.seconds, w[1].1.nanos)),
        "newest first"
    );

    // Bad filters are refused with the field named.
    let err = client
        .list_orders(v1::ListOrdersRequest {
            page_size: 501,
            page_token: "garbage".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("page_size") && err.message().contains("page_token"),
        "{}",
        err.message()
    );

    // Cancellation is requested, idempotently, and shows on the order.
    let cancel = v1::CancelOrderRequest {
        idempotency_key: "cancel-1".into(),
        order_id: ids[1].clone(),
        reason: "duplicate order".into(),
    };
    let first = client
        .cancel_order(cancel.clone())
        .await
        .expect("cancel")
        .into_inner();
    let again = client
        .cancel_order(cancel)
        .await
        .expect("cancel again")
        .into_inner();
    assert_eq!(first.event_id, again.event_id);
    assert!(again.replayed);
    let order = wait_for("the cancellation request in the read model", || {
        let mut c = client.clone();
        let id = ids[1].clone();
        async move {
            let o = c
                .get_order(v1::GetOrderRequest { order_id: id })
                .await
                .ok()?
                .into_inner()
                .order?;
            o.cancellation_requested.then_some(o)
        }
    })
    .await;
    assert_eq!(order.version, 2);
    let statuses = client
        .list_orders(v1::ListOrdersRequest {
            statuses: vec![v1::OrderStatus::Placed as i32],
            customer_id: "shop-odd".into(),
            ..Default::default()
        })
        .await
        .expect("list by status")
        .into_inner();
    assert_eq!(statuses.orders.len(), 3);

    projector.stop().await;
    ingress.stop().await;
}

//! Decisions a person or a caller makes after placing: ReviewOrder on held orders, CancelOrder at
//! every stage, against the whole pipeline.
use orders_proto::v1::{self, order_service_client::OrderServiceClient};
use orders_testkit::{TestEnv, order_request, wait_for};
use tonic::Code;
use tonic::transport::Channel;

async fn status_of(
    client: &mut OrderServiceClient<Channel>,
    order_id: &str,
) -> Option<v1::OrderStatus> {
    let order = client
        .get_order(v1::GetOrderRequest {
            order_id: order_id.into(),
        })
        .await
        .ok()?
        .into_inner()
        .order?;
    v1::OrderStatus::try_from(order.status).ok()
}

async fn wait_status(client: &OrderServiceClient<Channel>, order_id: &str, want: v1::OrderStatus) {
    wait_for(&format!("order {order_id} to be {want:?}"), || {
        let mut c = client.clone();
        let id = order_id.to_owned();
        async move { (status_of(&mut c, &id).await == Some(want)).then_some(()) }
    })
    .await
}

/// An order whose lines the catalogue does not know: the risk scorer holds it for review.
fn unmatched_order(key: &str) -> v1::PlaceOrderRequest {
    let mut req = order_request(key);
    req.customer_id = format!("shop-{key}");
    req.lines = vec![
        v1::OrderLine {
            item: Some(v1::order_line::Item::Text("3 blorf widgets".into())),
        },
        v1::OrderLine {
            item: Some(v1::order_line::Item::Text("qwzx 7 pcs".into())),
        },
    ];
    req
}

fn review(key: &str, order_id: &str, decision: v1::ReviewDecision) -> v1::ReviewOrderRequest {
    v1::ReviewOrderRequest {
        idempotency_key: key.into(),
        order_id: order_id.into(),
        decision: decision as i32,
        reviewer: "ops.anita".into(),
        comment: "called the shop".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_orders_are_reviewed_into_routing_or_rejection() {
    let env = TestEnv::new().await;
    let pipeline = env.spawn_pipeline().await;
    let mut client = pipeline.ingress.client().await;

    let approve = client
        .place_order(unmatched_order("rev-a"))
        .await
        .unwrap()
        .into_inner();
    let reject = client
        .place_order(unmatched_order("rev-r"))
        .await
        .unwrap()
        .into_inner();
    wait_status(&client, &approve.order_id, v1::OrderStatus::Held).await;
    wait_status(&client, &reject.order_id, v1::OrderStatus::Held).await;

    let first = client
        .review_order(review(
            "r-1",
            &approve.order_id,
            v1::ReviewDecision::Approve,
        ))
        .await
        .expect("approve")
        .into_inner();
    assert!(!first.replayed);
    client
        .review_order(review("r-2", &reject.order_id, v1::ReviewDecision::Reject))
        .await
        .expect("reject");
    wait_status(&client, &approve.order_id, v1::OrderStatus::Routed).await;
    wait_status(&client, &reject.order_id, v1::OrderStatus::Rejected).await;

    // A retry of the accepted review answers the same, although the order is no longer held.
    let again = client
        .review_order(review(
            "r-1",
            &approve.order_id,
            v1::ReviewDecision::Approve,
        ))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(
        (again.event_id.as_str(), again.replayed),
        (first.event_id.as_str(), true)
    );
    // A new review of an order that is not held is refused, saying why.
    let err = client
        .review_order(review("r-3", &approve.order_id, v1::ReviewDecision::Reject))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("ROUTED"), "{}", err.message());
    // Bad input names the fields.
    let mut bad = review("r-4", "not-a-uuid", v1::ReviewDecision::Unspecified);
    bad.reviewer = String::new();
    let err = client.review_order(bad).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    for field in ["order_id", "decision", "reviewer"] {
        assert!(
            err.message().contains(field),
            "{field} in {}",
            err.message()
        );
    }

    let timeline = client
        .get_order_timeline(v1::GetOrderTimelineRequest {
            order_id: approve.order_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let types: Vec<&str> = timeline
        .events
        .iter()
        .map(|e| e.event_type.as_str())
        .collect();
    assert_eq!(
        types,
        [
            "OrderPlaced",
            "OrderEnriched",
            "OrderRiskAssessed",
            "OrderReviewed",
            "OrderRouted"
        ]
    );
    pipeline.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellations_are_decided_against_the_order_state() {
    let env = TestEnv::new().await;
    let pipeline = env.spawn_pipeline().await;
    let mut client = pipeline.ingress.client().await;
    let cancel = |key: &str, order_id: &str| v1::CancelOrderRequest {
        idempotency_key: key.into(),
        order_id: order_id.into(),
        reason: "shop closed today".into(),
    };

    // Routed, then cancelled: the hub slot is given back.
    let mut req = order_request("c-routed");
    req.customer_id = "shop-c-routed".into();
    let routed = client.place_order(req).await.unwrap().into_inner();
    wait_status(&client, &routed.order_id, v1::OrderStatus::Routed).await;
    client
        .cancel_order(cancel("k-1", &routed.order_id))
        .await
        .unwrap();
    wait_status(&client, &routed.order_id, v1::OrderStatus::Cancelled).await;

    // Rejected by review, then a cancellation request: refused, the order stays rejected.
    let held = client
        .place_order(unmatched_order("c-held"))
        .await
        .unwrap()
        .into_inner();
    wait_status(&client, &held.order_id, v1::OrderStatus::Held).await;
    client
        .review_order(review("k-2", &held.order_id, v1::ReviewDecision::Reject))
        .await
        .unwrap();
    wait_status(&client, &held.order_id, v1::OrderStatus::Rejected).await;
    client
        .cancel_order(cancel("k-3", &held.order_id))
        .await
        .unwrap();

    let pool = env.pool();
    let db = pool.get().await.unwrap();
    wait_for("the cancellation of the rejected order decided", || {
        let db = &db;
        let id: uuid::Uuid = held.order_id.parse().unwrap();
        async move {
            let n: i64 = db
                .query_one(
                    "SELECT count(*) FROM order_timeline WHERE order_id = $1 \
                     AND event_type = 'OrderCancellationRejected'",
                    &[&id],
                )
                .await
                .ok()?
                .get(0);
            (n == 1).then_some(())
        }
    })
    .await;
    assert_eq!(
        status_of(&mut client, &held.order_id).await,
        Some(v1::OrderStatus::Rejected)
    );

    let slots: i64 = db
        .query_one(
            "SELECT coalesce(sum(used), 0)::bigint FROM router_hub_capacity",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(slots, 0, "the cancelled order's slot was released");
    let load: i64 = db
        .query_one(
            "SELECT coalesce(sum(routed - cancelled), 0)::bigint FROM hub_load",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(load, 0);
    let cancelled_flag: bool = db
        .query_one(
            "SELECT cancellation_requested FROM orders WHERE order_id = $1",
            &[&held.order_id.parse::<uuid::Uuid>().unwrap()],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        !cancelled_flag,
        "a refused cancellation clears the request flag"
    );
    pipeline.stop().await;
}

//! Overload: writes beyond ORDERS_MAX_WRITES_IN_FLIGHT are refused at once with RESOURCE_EXHAUSTED,
//! and the refused call succeeds when retried with the same key once capacity is back.
use orders_testkit::{TestEnv, order_request, wait_for};
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_over_the_limit_is_refused_at_once_and_succeeds_on_retry() {
    let env = TestEnv::new().await;
    let ingress = env.spawn_ingress_with(|c| c.max_writes_in_flight = 1).await;
    let pool = env.pool();

    // Hold the idempotency row of key "stuck" in an open transaction: the ingress's write with that
    // key then waits on the row lock while holding the only write permit.
    let mut holder = pool.get().await.expect("connection");
    let tx = holder.transaction().await.expect("begin");
    tx.execute(
        "INSERT INTO ingress_requests (caller, idempotency_key, kind, request_hash, order_id, event_id, event_json) \
         VALUES ('test', 'stuck', 'place', 'x', gen_random_uuid(), gen_random_uuid(), '\\x00')",
        &[],
    )
    .await
    .expect("insert the blocking row");

    let mut stuck_client = ingress.client().await;
    let stuck = tokio::spawn(async move { stuck_client.place_order(order_request("stuck")).await });
    let probe = env.pool();
    wait_for("the first write to wait on the row lock", || {
        let probe = probe.clone();
        async move {
            let c = probe.get().await.ok()?;
            let row = c
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity \
                     WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO ingress_requests%'",
                    &[],
                )
                .await
                .ok()?;
            (row.get::<_, i64>(0) > 0).then_some(())
        }
    })
    .await;

    let mut client = ingress.client().await;
    // Refused while the first write still holds its permit (its lock is held until the rollback
    // below), so the refusal cannot have queued behind it.
    let refused = client
        .place_order(order_request("second"))
        .await
        .expect_err("a write over the limit must be refused");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(
        refused.message().contains("ORDERS_MAX_WRITES_IN_FLIGHT")
            && refused.message().contains("same idempotency key"),
        "the message must say what happened and what to do: {}",
        refused.message()
    );
    assert!(
        !stuck.is_finished(),
        "the first write must still be waiting"
    );

    // Release the lock: the first write completes (as a new order: our row was rolled back) and
    // the refused one goes through on retry with the same key.
    tx.rollback().await.expect("rollback");
    let first = stuck
        .await
        .expect("join")
        .expect("the waiting write completes")
        .into_inner();
    assert!(!first.replayed);
    let retried = client
        .place_order(order_request("second"))
        .await
        .expect("the retry succeeds once capacity is back")
        .into_inner();
    assert!(!retried.replayed);
    assert_ne!(first.order_id, retried.order_id);
    ingress.stop().await;
}

//! The router killed with SIGKILL mid-stream (no drain, no final commit) and started again: no
//! order is lost, and no effect happens twice (one routing per order, one slot per routed order).
use orders_testkit::process::{Service, ServiceProcess};
use orders_testkit::{TestEnv, count, free_addr, order_request, topic_records, wait_for};

fn router_process(env: &TestEnv, grpc: &str) -> ServiceProcess {
    ServiceProcess::start(
        env!("CARGO_BIN_EXE_orders-router"),
        Service::Router,
        env,
        grpc,
    )
}

const ORDERS: usize = 150;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_router_restarts_without_losing_or_repeating_work() {
    let env = TestEnv::new().await;
    let grpc = free_addr();
    let ingress = env.spawn_ingress().await;
    let projector = env.spawn_projector();
    let enricher = env.spawn_enricher();
    let risk = env.spawn_risk();
    let mut router = router_process(&env, &grpc);

    let mut client = ingress.client().await;
    let placing = tokio::spawn(async move {
        for i in 0..ORDERS {
            let mut req = order_request(&format!("kill-{i}"));
            req.customer_id = format!("shop-kill-{i}");
            client.place_order(req).await.expect("place");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    });

    wait_for("some orders routed before the kill", || async {
        (count(&env, "SELECT count(*) FROM orders WHERE status = 'ROUTED'").await >= 20)
            .then_some(())
    })
    .await;
    router.kill();
    let routed_at_kill = count(&env, "SELECT count(*) FROM orders WHERE status = 'ROUTED'").await;
    let router = router_process(&env, &grpc);

    placing.await.expect("placing task");
    wait_for("every order decided", || async {
        (count(
            &env,
            "SELECT count(*) FROM orders WHERE decided_at IS NOT NULL",
        )
        .await
            == ORDERS as i64)
            .then_some(())
    })
    .await;
    let routed = count(&env, "SELECT count(*) FROM orders WHERE status = 'ROUTED'").await;
    assert!(
        routed > routed_at_kill,
        "the restarted router carried on ({routed_at_kill} routed at the kill, {routed} at the end)"
    );
    assert_eq!(
        routed, ORDERS as i64,
        "small orders from new shops inside a hub's radius are all routed"
    );
    assert_eq!(
        count(&env, "SELECT count(*) FROM order_routes").await,
        routed
    );
    assert_eq!(
        count(
            &env,
            "SELECT count(*) FROM (SELECT order_id FROM order_timeline WHERE event_type = 'OrderRouted' \
             GROUP BY order_id HAVING count(*) > 1) d"
        )
        .await,
        0,
        "one routing event id per order, even if the log holds a record twice"
    );
    assert_eq!(
        count(
            &env,
            "SELECT coalesce(sum(used), 0)::bigint FROM router_hub_capacity"
        )
        .await,
        routed,
        "one hub slot per routed order: no slot reserved twice"
    );
    assert_eq!(
        count(
            &env,
            "SELECT coalesce(sum(routed - cancelled), 0)::bigint FROM hub_load"
        )
        .await,
        routed
    );
    assert!(
        topic_records(&env.kafka, &env.kafka.dlq_topic)
            .await
            .is_empty()
    );

    let log = router.log.clone();
    drop(router);
    risk.stop().await;
    enricher.stop().await;
    projector.stop().await;
    ingress.stop().await;
    // Shown with --nocapture: how the group handed the partitions over.
    for line in std::fs::read_to_string(&log).unwrap_or_default().lines() {
        if line.contains("rebalanced") || line.contains("rejoin") {
            eprintln!("router: {line}");
        }
    }
    let _ = std::fs::remove_file(&log);
}

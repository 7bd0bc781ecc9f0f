//! The router killed with SIGKILL mid-stream (no drain, no final commit) and started again: no
//! order is lost, and no effect happens twice (one routing per order, one slot per routed order).
use std::process::{Child, Command, Stdio};

use orders_testkit::{TestEnv, order_request, topic_records, wait_for};

async fn count(env: &TestEnv, sql: &str) -> i64 {
    let pool = env.pool();
    let db = pool.get().await.expect("db");
    db.query_one(sql, &[]).await.map(|r| r.get(0)).unwrap_or(-1)
}

/// A child process that is killed when dropped, so a failing test leaves no router behind.
struct KillOnDrop(Child);

impl KillOnDrop {
    fn kill(&mut self) {
        self.0.kill().expect("SIGKILL the router");
        self.0.wait().expect("reap the router");
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The router binary as a separate process, on the test's topics, schema and group.
fn router_process(env: &TestEnv, log: &std::path::Path) -> KillOnDrop {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("router log file");
    Command::new(env!("CARGO_BIN_EXE_orders-router"))
        .env("KAFKA_BROKERS", &env.kafka.brokers)
        .env("ORDERS_EVENTS_TOPIC", &env.kafka.events_topic)
        .env("ORDERS_DLQ_TOPIC", &env.kafka.dlq_topic)
        .env("ORDERS_PARTITIONS", env.kafka.partitions.to_string())
        .env("DATABASE_URL", &env.db.url)
        .env("ORDERS_DB_SCHEMA", &env.db.schema)
        .env("ORDERS_DB_POOL_SIZE", "6")
        .env("ORDERS_ROUTER_GROUP", format!("t-{}-router", env.id))
        .env("ORDERS_RETRY_BASE", "20ms")
        .env("ORDERS_RETRY_CAP", "200ms")
        .env("RUST_LOG", "info")
        .env("ORDERS_LOG_FORMAT", "text")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map(KillOnDrop)
        .expect("start orders-router")
}

const ORDERS: usize = 150;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_router_restarts_without_losing_or_repeating_work() {
    let env = TestEnv::new().await;
    let log = std::env::temp_dir().join(format!("orders-router-kill-{}.log", env.id));
    let ingress = env.spawn_ingress().await;
    let projector = env.spawn_projector();
    let enricher = env.spawn_enricher();
    let risk = env.spawn_risk();
    let mut router = router_process(&env, &log);

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
    let router = router_process(&env, &log);

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

//! PostgreSQL unreachable for the risk scorer: it pauses instead of dead-lettering, and resumes
//! where it stopped when the database is back.
use std::net::SocketAddr;

use orders_proto::v1::order_service_client::OrderServiceClient;
use orders_risk::RiskServiceConfig;
use orders_runtime::observe::ObserveConfig;
use orders_testkit::proxy::TcpProxy;
use orders_testkit::{
    Running, TestEnv, database_url_via, free_addr, http_get, order_request, topic_records, wait_for,
};
use tonic::transport::Channel;

async fn count(env: &TestEnv, sql: &str) -> i64 {
    let pool = env.pool();
    let db = pool.get().await.expect("db");
    db.query_one(sql, &[]).await.map(|r| r.get(0)).unwrap_or(0)
}

async fn place(client: &mut OrderServiceClient<Channel>, keys: std::ops::Range<usize>) {
    for i in keys {
        let mut req = order_request(&format!("outage-{i}"));
        // One order per shop, so that the velocity rule stays quiet.
        req.customer_id = format!("shop-outage-{i}");
        client.place_order(req).await.expect("place");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn risk_scorer_pauses_while_postgres_is_unreachable_and_resumes() {
    let env = TestEnv::new().await;
    let target: SocketAddr = {
        let config: tokio_postgres::Config = env.db.url.parse().unwrap();
        let host = match &config.get_hosts()[0] {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            other => panic!("the test database must be reached over TCP, not {other:?}"),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        tokio::net::lookup_host((host.as_str(), port))
            .await
            .unwrap()
            .next()
            .unwrap()
    };
    let proxy = TcpProxy::start(target).await;
    let ingress = env.spawn_ingress().await;
    let projector = env.spawn_projector();
    let enricher = env.spawn_enricher();
    let mut risk_db = env.db.clone();
    risk_db.url = database_url_via(&env.db.url, proxy.addr);
    let http = free_addr();
    let config = RiskServiceConfig {
        group: format!("t-{}-risk", env.id),
        rules: None,
        print_config: false,
        worker: TestEnv::worker_config(),
        kafka: env.kafka.clone(),
        db: risk_db,
        observe: ObserveConfig {
            http_addr: Some(http.clone()),
            ..ObserveConfig::ephemeral()
        },
    };
    let risk = Running::spawn(|token| orders_risk::run(config, token));
    let mut client = ingress.client().await;

    place(&mut client, 0..5).await;
    wait_for("5 orders assessed", || async {
        (count(&env, "SELECT count(*) FROM order_risk").await == 5).then_some(())
    })
    .await;

    let ready = |want: u16| {
        let http = http.clone();
        async move {
            let (status, body) = http_get(&http, "/readyz").await?;
            (status == want).then_some(body)
        }
    };
    let body = wait_for("the risk scorer to be ready", || ready(200)).await;
    for check in ["broker", "database", "partitions", "lag"] {
        assert!(
            body.contains(&format!("\"{check}\"")),
            "{check} is checked: {body}"
        );
    }

    proxy.cut();
    // Not ready while its database is away, and /readyz says why.
    let body = wait_for("the risk scorer to report its database down", || ready(503)).await;
    let report: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["checks"]["database"]["ok"], false, "{body}");
    assert_eq!(report["checks"]["broker"]["ok"], true, "{body}");
    place(&mut client, 5..15).await;
    wait_for(
        "15 orders enriched (the rest of the pipeline goes on)",
        || async {
            (count(&env, "SELECT count(*) FROM order_enrichments").await == 15).then_some(())
        },
    )
    .await;
    // Keep the database away for far longer than five attempts with the test backoff (20 ms base,
    // 200 ms cap) would take: the scorer keeps knocking (refused connections) without giving up.
    let refused_at_cut = proxy.refused();
    wait_for("the risk scorer retrying through the outage", || async {
        (proxy.refused() >= refused_at_cut + 10).then_some(())
    })
    .await;
    assert_eq!(count(&env, "SELECT count(*) FROM order_risk").await, 5);
    assert!(
        topic_records(&env.kafka, &env.kafka.dlq_topic)
            .await
            .is_empty(),
        "an outage dead-letters nothing"
    );

    proxy.restore();
    wait_for("all 15 orders assessed after the outage", || async {
        (count(&env, "SELECT count(*) FROM order_risk").await == 15).then_some(())
    })
    .await;
    wait_for("the risk scorer to be ready again", || ready(200)).await;
    // The pauses and the work show in the metrics, labelled with the group.
    let (_, metrics) = http_get(&http, "/metrics").await.expect("metrics");
    let group = format!("group=\"t-{}-risk\"", env.id);
    for name in [
        "orders_outage_pauses_total",
        "orders_events_consumed_total",
        "orders_handler_duration_seconds_bucket",
        "orders_consumer_lag_seconds",
        "orders_consumer_lag_records",
    ] {
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with(name) && l.contains(&group)),
            "{name} for {group} in /metrics"
        );
    }
    assert!(
        topic_records(&env.kafka, &env.kafka.dlq_topic)
            .await
            .is_empty()
    );
    assert_eq!(
        count(
            &env,
            "SELECT count(*) FROM (SELECT order_id FROM order_timeline \
             WHERE event_type = 'OrderRiskAssessed' GROUP BY order_id HAVING count(*) > 1) d"
        )
        .await,
        0,
        "one assessment per order"
    );

    risk.stop().await;
    enricher.stop().await;
    projector.stop().await;
    ingress.stop().await;
}

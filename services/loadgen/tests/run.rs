//! A short load run against a real ingress and projector only (no workers, so `--until projected`):
//! every order is acknowledged and projected, and the JSON summary carries the fields scripts read.
use clap::Parser;
use orders_loadgen::LoadConfig;
use orders_loadgen::orders::Kind;
use orders_testkit::TestEnv;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_load_run_places_and_projects_every_order_and_reports_it() {
    let env = TestEnv::new().await;
    let ingress = env.spawn_ingress().await;
    let projector = env.spawn_projector();
    let addr = ingress.addr.expect("ingress listens").to_string();

    let mut config = LoadConfig::parse_from([
        "orders-loadgen",
        "--orders",
        "40",
        "--rate",
        "40",
        "--json",
        "--wait-secs",
        "60",
        "--until",
        "projected",
        "--grpc-addr",
        &addr,
    ]);
    config.db = env.db.clone();
    config.kafka = env.kafka.clone();
    let summary = orders_loadgen::run(&config).await.expect("load run");

    assert!(summary.complete(), "incomplete run: {summary:?}");
    assert_eq!(summary.placed, 40);
    assert_eq!(summary.projected, 40);
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);
    // Without workers nothing moves past PLACED, except the orders the run cancelled: their
    // cancellation waits for the router, which is not running.
    assert_eq!(summary.by_status.get("PLACED"), Some(&40));
    assert_eq!(summary.decided, 0);
    assert!(summary.by_final_status.is_empty(), "{summary:?}");
    assert_eq!(summary.by_kind.values().sum::<u64>(), 40);
    let cancels = summary.by_kind.get(&Kind::Cancelled).copied().unwrap_or(0);
    assert_eq!(summary.cancel_requests.sent, cancels);
    assert_eq!(
        summary.cancel_requests.failed, 0,
        "{:?}",
        summary.cancel_requests
    );
    assert_eq!(summary.dead_letters, Some(0));
    let ack = &summary.ack_latency_ms;
    assert!(
        ack.p50 > 0.0 && ack.p50 <= ack.p99 && ack.p99 <= ack.max,
        "{ack:?}"
    );
    let e2e = &summary.e2e_latency_ms;
    assert!(
        e2e.p50 > 0.0 && e2e.p50 <= e2e.p99 && e2e.p99 <= e2e.max,
        "{e2e:?}"
    );
    assert!(summary.throughput_per_s > 0.0);

    let json: serde_json::Value = serde_json::to_value(&summary).expect("serialises");
    for key in [
        "placed",
        "projected",
        "by_status",
        "ack_latency_ms",
        "e2e_latency_ms",
        "duration_s",
        "throughput_per_s",
        "decided",
        "decided_latency_ms",
        "by_final_status",
        "by_provider",
        "by_kind",
        "cancel_requests",
        "dead_letters",
    ] {
        assert!(json.get(key).is_some(), "--json lacks {key}: {json}");
    }
    for key in ["p50", "p99", "max"] {
        assert!(json["e2e_latency_ms"][key].is_number(), "{json}");
    }

    projector.stop().await;
    ingress.stop().await;
}

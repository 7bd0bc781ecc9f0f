//! 500 orders of mixed kinds end to end through the whole pipeline in this process (ingress,
//! projector, enricher with the local matcher, risk scorer, router): every order is decided, each
//! is enriched and assessed exactly once and routed at most once, each kind ends where it belongs,
//! nothing is dead-lettered, and hub load matches the routed orders.
use std::collections::{BTreeMap, HashMap};

use clap::Parser;
use orders_events::ids::order_id_for;
use orders_loadgen::LoadConfig;
use orders_loadgen::orders::{self, Kind};
use orders_testkit::{TestEnv, wait_for};
use uuid::Uuid;

const ORDERS: u64 = 500;

/// One order as the read models show it at the end.
#[derive(Debug)]
struct Seen {
    kind: Kind,
    status: String,
    hold_reason: Option<String>,
    risk_decision: Option<String>,
    provider: Option<String>,
    hub_id: Option<String>,
    /// Rows in order_enrichments, order_risk, order_routes.
    enrichments: i64,
    assessments: i64,
    routes: i64,
    /// Events in order_timeline, by type.
    events: BTreeMap<String, i64>,
}

impl Seen {
    fn events(&self, event_type: &str) -> i64 {
        self.events.get(event_type).copied().unwrap_or(0)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_mixed_orders_are_each_decided_once_where_their_kind_belongs() {
    let env = TestEnv::new().await;
    let p = env.spawn_pipeline().await;
    let addr = p.ingress.addr.expect("ingress listens").to_string();

    let mut config = LoadConfig::parse_from([
        "orders-loadgen",
        "--orders",
        &ORDERS.to_string(),
        "--rate",
        "100",
        "--json",
        "--wait-secs",
        "180",
        // 100/s is more than the shared test broker takes while the pipeline's consumers poll it:
        // the ingress then sheds calls with UNAVAILABLE, and the run retries them with the same
        // key, as a shop's app would, until each order is in.
        "--attempts",
        "20",
        "--grpc-addr",
        &addr,
    ]);
    config.db = env.db.clone();
    config.kafka = env.kafka.clone();
    let summary = orders_loadgen::run(&config).await.expect("load run");
    println!("{}", summary.render());

    // What the run reports.
    assert!(summary.complete(), "incomplete run: {summary:#?}");
    assert_eq!(summary.placed, ORDERS);
    assert_eq!(summary.decided, ORDERS);
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);
    assert_eq!(summary.dead_letters, Some(0), "{summary:#?}");
    let kinds: HashMap<Uuid, Kind> = (0..ORDERS)
        .map(|i| {
            let key = orders::idempotency_key(&summary.run_id, i);
            (order_id_for(orders::CALLER, &key), orders::kind(i))
        })
        .collect();
    let mut expected_kinds: BTreeMap<Kind, u64> = BTreeMap::new();
    for kind in kinds.values() {
        *expected_kinds.entry(*kind).or_default() += 1;
    }
    assert_eq!(summary.by_kind, expected_kinds);
    assert!(
        Kind::ALL.iter().all(|k| expected_kinds.contains_key(k)),
        "{expected_kinds:?}"
    );
    let cancelled: Vec<Uuid> = kinds
        .iter()
        .filter(|(_, k)| **k == Kind::Cancelled)
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(summary.cancel_requests.sent, cancelled.len() as u64);
    assert_eq!(
        summary.cancel_requests.failed, 0,
        "{:?}",
        summary.cancel_requests
    );
    assert_eq!(summary.by_final_status.values().sum::<u64>(), ORDERS);
    assert!(
        summary.by_provider.keys().all(|p| p == "local"),
        "{:?}",
        summary.by_provider
    );
    let l = &summary.decided_latency_ms;
    assert!(l.p50 > 0.0 && l.p50 <= l.p99 && l.p99 <= l.max, "{l:?}");
    assert!(summary.decided_latency_ms.p50 >= summary.e2e_latency_ms.p50);

    // A cancelled order is decided as soon as its cancellation is, which can be before its
    // enrichment and assessment arrive: those are still on their way.
    let ids: Vec<Uuid> = kinds.keys().copied().collect();
    let pool = env.pool();
    wait_for(
        "every order enriched and assessed, and every cancellation answered",
        || async {
            let client = pool.get().await.ok()?;
            let row = client
                .query_one(
                    "SELECT (SELECT count(*) FROM order_enrichments WHERE order_id = ANY($1)), \
                     (SELECT count(*) FROM order_risk WHERE order_id = ANY($1)), \
                     (SELECT count(DISTINCT order_id) FROM order_timeline WHERE order_id = ANY($2) \
                      AND event_type IN ('OrderCancelled', 'OrderCancellationRejected'))",
                    &[&ids, &cancelled],
                )
                .await
                .ok()?;
            let (enriched, assessed, answered): (i64, i64, i64) =
                (row.get(0), row.get(1), row.get(2));
            (enriched == ORDERS as i64
                && assessed == ORDERS as i64
                && answered == cancelled.len() as i64)
                .then_some(())
        },
    )
    .await;

    let seen = read_orders(&pool, &kinds).await;
    assert_eq!(
        seen.len() as u64,
        ORDERS,
        "orders missing from the read model"
    );
    let mut problems = Vec::new();
    let mut regular = (0, 0);
    for (id, o) in &seen {
        let mut check = |ok: bool, what: &str| {
            if !ok {
                problems.push(format!("{id} {what}: {o:?}"));
            }
        };
        check(
            ["ROUTED", "HELD", "REJECTED", "CANCELLED"].contains(&o.status.as_str()),
            "is not decided",
        );
        check(o.events("OrderPlaced") == 1, "placed other than once");
        check(
            o.enrichments == 1 && o.events("OrderEnriched") == 1,
            "enriched other than once",
        );
        check(
            o.provider.as_deref() == Some("local"),
            "not enriched locally",
        );
        check(
            o.assessments == 1 && o.events("OrderRiskAssessed") == 1,
            "assessed other than once",
        );
        check(
            o.routes <= 1 && o.events("OrderRouted") == o.routes,
            "routed more than once",
        );
        if o.status == "ROUTED" {
            check(
                o.routes == 1 && o.hub_id.is_some(),
                "ROUTED without a route",
            );
        }
        match o.kind {
            Kind::Regular => {
                regular.1 += 1;
                if o.status == "ROUTED" {
                    regular.0 += 1;
                }
                // A shop that orders often within the hour may be held for review.
                check(
                    o.status == "ROUTED" || o.status == "HELD",
                    "regular neither routed nor held",
                );
            }
            Kind::OutOfArea => check(
                o.status == "HELD" && o.hold_reason.is_some() && o.events("OrderRouted") == 0,
                "out-of-area order not held with a reason",
            ),
            Kind::Unmatched => check(
                o.status == "HELD"
                    && o.risk_decision.as_deref() == Some("review")
                    && o.hold_reason.is_some(),
                "mostly unmatched order not held for review",
            ),
            Kind::NewBigSpender => check(
                matches!(
                    (o.status.as_str(), o.risk_decision.as_deref()),
                    ("HELD", Some("review")) | ("REJECTED", Some("reject"))
                ),
                "new big spender neither held for review nor rejected",
            ),
            Kind::Cancelled => {
                let rejected = o.risk_decision.as_deref() == Some("reject");
                check(
                    o.status == if rejected { "REJECTED" } else { "CANCELLED" },
                    "cancelled order not cancelled",
                );
                check(
                    o.events("OrderCancellationRequested") == 1
                        && o.events("OrderCancelled") + o.events("OrderCancellationRejected") == 1,
                    "cancellation not answered exactly once",
                );
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(
        regular.0 * 100 >= regular.1 * 90,
        "only {} of {} regular orders routed",
        regular.0,
        regular.1
    );

    // Hub load: routed minus cancelled per hub equals the orders routed there.
    let mut routed_per_hub: BTreeMap<String, i64> = BTreeMap::new();
    for o in seen.values().filter(|o| o.status == "ROUTED") {
        *routed_per_hub
            .entry(o.hub_id.clone().expect("checked above"))
            .or_default() += 1;
    }
    let client = pool.get().await.expect("connection");
    let load: BTreeMap<String, i64> = client
        .query(
            "SELECT hub_id, sum(routed - cancelled)::bigint FROM hub_load GROUP BY hub_id \
             HAVING sum(routed - cancelled) <> 0",
            &[],
        )
        .await
        .expect("hub load")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(load, routed_per_hub, "hub_load against ROUTED orders");

    let dead = orders_testkit::topic_records(&env.kafka, &env.kafka.dlq_topic).await;
    assert!(dead.is_empty(), "{} dead letters", dead.len());

    p.stop().await;
}

async fn read_orders(
    pool: &deadpool_postgres::Pool,
    kinds: &HashMap<Uuid, Kind>,
) -> HashMap<Uuid, Seen> {
    let ids: Vec<Uuid> = kinds.keys().copied().collect();
    let client = pool.get().await.expect("connection");
    let rows = client
        .query(
            "SELECT o.order_id, o.status, o.hold_reason, o.risk_decision, o.enrichment_provider, \
             o.hub_id, \
             (SELECT count(*) FROM order_enrichments e WHERE e.order_id = o.order_id), \
             (SELECT count(*) FROM order_risk r WHERE r.order_id = o.order_id), \
             (SELECT count(*) FROM order_routes r WHERE r.order_id = o.order_id) \
             FROM orders o WHERE o.order_id = ANY($1)",
            &[&ids],
        )
        .await
        .expect("orders");
    let mut seen: HashMap<Uuid, Seen> = rows
        .iter()
        .map(|r| {
            let id: Uuid = r.get(0);
            let seen = Seen {
                kind: kinds[&id],
                status: r.get(1),
                hold_reason: r.get(2),
                risk_decision: r.get(3),
                provider: r.get(4),
                hub_id: r.get(5),
                enrichments: r.get(6),
                assessments: r.get(7),
                routes: r.get(8),
                events: BTreeMap::new(),
            };
            (id, seen)
        })
        .collect();
    let events = client
        .query(
            "SELECT order_id, event_type, count(*) FROM order_timeline WHERE order_id = ANY($1) \
             GROUP BY 1, 2",
            &[&ids],
        )
        .await
        .expect("timeline");
    for r in &events {
        if let Some(o) = seen.get_mut(&r.get::<_, Uuid>(0)) {
            o.events.insert(r.get(1), r.get(2));
        }
    }
    seen
}

//! `ordersctl projection rebuild` and `cutover` against a running pipeline: the rebuilt models equal
//! the live ones, queries keep answering through the switch, and the live projector carries on.
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use common::ctl;
use orders_proto::v1;
use orders_testkit::{TestEnv, order_request, wait_for};

/// Waits until every order in `ids` has a final status in the read model.
async fn decided(
    client: &v1::order_service_client::OrderServiceClient<tonic::transport::Channel>,
    ids: &[String],
) {
    let finals = [
        v1::OrderStatus::Routed as i32,
        v1::OrderStatus::Held as i32,
        v1::OrderStatus::Rejected as i32,
    ];
    for id in ids {
        wait_for("the order to be decided", || {
            let mut c = client.clone();
            let id = id.clone();
            async move {
                let o = c
                    .get_order(v1::GetOrderRequest { order_id: id })
                    .await
                    .ok()?;
                let status = o.into_inner().order?.status;
                finals.contains(&status).then_some(())
            }
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_and_cutover_give_equal_models_while_queries_keep_answering() {
    let env = TestEnv::new().await;
    let pipeline = env.spawn_pipeline().await;
    let client = pipeline.ingress.client().await;
    let mut ids = Vec::new();
    for i in 0..20 {
        let mut req = order_request(&format!("rebuild-{i}"));
        req.customer_id = format!("shop-{:04}", i % 7);
        let placed = client
            .clone()
            .place_order(req)
            .await
            .expect("placed")
            .into_inner();
        ids.push(placed.order_id);
    }
    decided(&client, &ids).await;

    let projection = format!("t-{}-projector", env.id);
    let shadow = format!("{}_shadow", env.db.schema);
    let retired = format!("{}_old", env.db.schema);
    let rebuilt = ctl(
        &env,
        &[
            "projection",
            "rebuild",
            "--into",
            &shadow,
            "--projection",
            &projection,
            "-o",
            "json",
        ],
    )
    .await
    .ok()
    .json();
    assert!(rebuilt["applied"].as_u64().unwrap() >= 80, "{rebuilt}");
    // A second run resumes: nothing left to apply.
    let again = ctl(
        &env,
        &[
            "projection",
            "rebuild",
            "--into",
            &shadow,
            "--projection",
            &projection,
            "-o",
            "json",
        ],
    )
    .await
    .ok()
    .json();
    assert_eq!(again["applied"], 0);
    assert_eq!(again["resumed_after"], rebuilt["applied"]);
    // Rebuilding into the live schema is refused.
    let live = ctl(&env, &["projection", "rebuild", "--into", &env.db.schema]).await;
    assert_eq!(live.code, 2, "{live:?}");

    let checked = ctl(
        &env,
        &[
            "projection",
            "cutover",
            "--to",
            &shadow,
            "--projection",
            &projection,
            "--check-only",
            "-o",
            "json",
        ],
    )
    .await
    .ok()
    .json();
    assert_eq!(checked["differences"], 0, "{checked}");
    let orders_row = checked["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "orders")
        .unwrap()
        .clone();
    assert_eq!(orders_row["live_rows"], 20);
    assert_eq!(orders_row["shadow_rows"], 20);

    // Queries run without pause while the cutover happens; none may fail.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let reader = {
        let (stop, ok, failed, client, ids) = (
            stop.clone(),
            ok.clone(),
            failed.clone(),
            client.clone(),
            ids.clone(),
        );
        tokio::spawn(async move {
            let mut c = client;
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                let got = c
                    .get_order(v1::GetOrderRequest {
                        order_id: ids[i % ids.len()].clone(),
                    })
                    .await;
                match got {
                    Ok(r) if r.get_ref().order.is_some() => ok.fetch_add(1, Ordering::SeqCst),
                    _ => failed.fetch_add(1, Ordering::SeqCst),
                };
                i += 1;
            }
        })
    };
    wait_for("queries to be running", || async {
        (ok.load(Ordering::SeqCst) > 5).then_some(())
    })
    .await;
    let before = ok.load(Ordering::SeqCst);
    // And orders keep coming while the check and the switch run: the live projector is busy.
    let placing = {
        let client = client.clone();
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..10 {
                let placed = client
                    .clone()
                    .place_order(order_request(&format!("during-cutover-{i}")))
                    .await
                    .expect("placed during the cutover")
                    .into_inner();
                ids.push(placed.order_id);
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            ids
        })
    };
    let cut = ctl(
        &env,
        &[
            "projection",
            "cutover",
            "--to",
            &shadow,
            "--projection",
            &projection,
            "--retire-into",
            &retired,
            "--yes",
        ],
    )
    .await;
    assert_eq!(cut.code, 0, "{cut:?}");
    assert!(cut.stderr.contains("cut over in"), "{}", cut.stderr);
    wait_for("queries after the cutover", || async {
        (ok.load(Ordering::SeqCst) > before + 20).then_some(())
    })
    .await;
    let during = placing.await.unwrap();
    stop.store(true, Ordering::SeqCst);
    reader.await.unwrap();
    assert_eq!(
        failed.load(Ordering::SeqCst),
        0,
        "a query failed during the cutover"
    );

    // The rebuilt tables are the live ones now, the old ones are kept aside.
    let pool = env.pool();
    let db = pool.get().await.unwrap();
    let like = format!("{}%", env.db.schema);
    let schema_of = |table: &'static str| {
        let (db, like) = (&db, &like);
        async move {
            db.query(
                "SELECT table_schema::text FROM information_schema.tables WHERE table_name = $1 \
                 AND table_schema::text LIKE $2 ORDER BY 1",
                &[&table, like],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect::<Vec<_>>()
        }
    };
    let mut want = vec![env.db.schema.clone(), retired.clone()];
    want.sort();
    assert_eq!(
        schema_of("order_timeline").await,
        want,
        "live and retired, none left in the shadow"
    );

    // The live projector carries on into the new tables: new orders are decided and visible.
    let mut more = Vec::new();
    for i in 0..5 {
        let placed = client
            .clone()
            .place_order(order_request(&format!("after-cutover-{i}")))
            .await
            .expect("placed")
            .into_inner();
        more.push(placed.order_id);
    }
    decided(&client, &during).await;
    decided(&client, &more).await;
    let count: i64 = db
        .query_one("SELECT count(*) FROM orders", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        count, 35,
        "every order, before, during and after the switch"
    );
    let old: i64 = db
        .query_one(&format!("SELECT count(*) FROM \"{retired}\".orders"), &[])
        .await
        .unwrap()
        .get(0);
    assert!(
        (20..35).contains(&old),
        "the retired models stopped at the cutover ({old})"
    );
    let projected_twice: i64 = db
        .query_one(
            "SELECT count(*) FROM (SELECT order_id FROM order_timeline \
             WHERE event_type = 'OrderPlaced' GROUP BY order_id HAVING count(*) > 1) d",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(projected_twice, 0);
    pipeline.stop().await;
}

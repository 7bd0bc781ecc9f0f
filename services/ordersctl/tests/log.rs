//! `ordersctl events export`, `order timeline`, `projection status` and `topics` against the real
//! stack.
mod common;

use std::collections::HashSet;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use common::{ctl, placed_records};
use orders_testkit::{TestEnv, order_request, wait_for};

fn ts(r: &orders_runtime::Record) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(r.timestamp_ms.expect("timestamp"))
        .unwrap()
}

/// A time strictly after every record of `batch`, waited for so the next batch is later still.
async fn boundary_after(batch: &[orders_runtime::Record]) -> DateTime<Utc> {
    let t = batch.iter().map(ts).max().unwrap() + chrono::Duration::milliseconds(1);
    wait_for("the clock to pass the batch", || async {
        (Utc::now() > t + chrono::Duration::milliseconds(5)).then_some(())
    })
    .await;
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_of_a_time_range_holds_exactly_the_records_of_that_range() {
    let env = TestEnv::new().await;
    let before = placed_records(&env, 7).await;
    let from = boundary_after(&before).await;
    let inside = placed_records(&env, 11).await;
    let to = boundary_after(&inside).await;
    let after = placed_records(&env, 5).await;
    assert!(inside.iter().all(|r| ts(r) >= from && ts(r) < to));
    assert!(
        before
            .iter()
            .chain(&after)
            .all(|r| ts(r) < from || ts(r) >= to)
    );

    let (from_s, to_s) = (
        from.to_rfc3339_opts(SecondsFormat::Millis, true),
        to.to_rfc3339_opts(SecondsFormat::Millis, true),
    );
    let ran = ctl(
        &env,
        &["events", "export", "--from", &from_s, "--to", &to_s],
    )
    .await
    .ok();
    let ids: Vec<String> = ran
        .stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
            assert_eq!(v["event_type"], "OrderPlaced");
            assert!(v["kafka"]["offset"].is_i64());
            v["event_id"].as_str().unwrap().to_owned()
        })
        .collect();
    let want: HashSet<String> = inside
        .iter()
        .map(|r| r.header("event_id").unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 11, "{}", ran.stderr);
    assert_eq!(ids.iter().cloned().collect::<HashSet<_>>(), want);
    assert!(ran.stderr.contains("exported 11 events"), "{}", ran.stderr);

    // CSV of the same range to a file: a header and one row per event.
    let file = std::env::temp_dir().join(format!("export-{}.csv", env.id));
    ctl(
        &env,
        &[
            "events",
            "export",
            "--from",
            &from_s,
            "--to",
            &to_s,
            "--format",
            "csv",
            "--out",
            file.to_str().unwrap(),
        ],
    )
    .await
    .ok();
    let mut reader = csv::Reader::from_path(&file).unwrap();
    assert_eq!(&reader.headers().unwrap()[3], "event_id");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 11);
    assert!(rows.iter().all(|r| want.contains(&r[3])));
    std::fs::remove_file(&file).unwrap();

    // By order id, whatever the time.
    let one = after[2].header("order_id").unwrap();
    let ran = ctl(&env, &["events", "export", "--order", one]).await.ok();
    assert_eq!(ran.stdout.lines().count(), 1);
    // A type that does not exist is a usage error that names the valid ones.
    let bad = ctl(&env, &["events", "export", "--type", "OrderShipped"]).await;
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("OrderPlaced"), "{}", bad.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeline_projection_status_and_topics_describe_the_running_pipeline() {
    let env = TestEnv::new().await;
    let pipeline = env.spawn_pipeline().await;
    let mut client = pipeline.ingress.client().await;
    let placed = client
        .place_order(order_request("ctl-timeline"))
        .await
        .expect("placed")
        .into_inner();

    // The test order is approved and routed; nothing follows OrderRouted.
    let steps = wait_for("the order to be routed in the read model", || async {
        let ran = ctl(&env, &["order", "timeline", &placed.order_id, "-o", "json"]).await;
        let steps = (ran.code == 0).then(|| ran.json())?;
        let types: Vec<&str> = steps
            .as_array()?
            .iter()
            .filter_map(|s| s["event_type"].as_str())
            .collect();
        types.contains(&"OrderRouted").then_some(steps.clone())
    })
    .await;
    let steps = steps.as_array().unwrap();
    assert_eq!(steps[0]["event_type"], "OrderPlaced");
    assert_eq!(steps[1]["event_type"], "OrderEnriched");
    assert!(
        steps[1]["detail"].as_str().unwrap().starts_with("by local"),
        "the provider is named: {}",
        steps[1]["detail"]
    );
    assert_eq!(steps[2]["event_type"], "OrderRiskAssessed");
    assert!(
        steps[2]["detail"]
            .as_str()
            .unwrap()
            .starts_with("approve (score"),
        "{}",
        steps[2]
    );
    assert_eq!(steps[3]["event_type"], "OrderRouted");
    assert!(
        steps[3]["detail"].as_str().unwrap().starts_with("to "),
        "{}",
        steps[3]
    );
    let table = ctl(&env, &["order", "timeline", &placed.order_id])
        .await
        .ok();
    assert!(table.stdout.starts_with("OCCURRED AT"), "{}", table.stdout);
    let missing = ctl(
        &env,
        &["order", "timeline", &uuid::Uuid::new_v4().to_string()],
    )
    .await;
    assert_eq!(missing.code, 3, "{missing:?}");
    assert_eq!(
        ctl(&env, &["order", "timeline", "not-a-uuid"]).await.code,
        2
    );

    // Once everything is projected the projector's lag is 0 on every partition.
    let group = format!("t-{}-projector", env.id);
    let status = wait_for("the projector to catch up", || async {
        let ran = ctl(&env, &["projection", "status", "-o", "json"]).await;
        let rows = (ran.code == 0).then(|| ran.json())?;
        let mine: Vec<serde_json::Value> = rows
            .as_array()?
            .iter()
            .filter(|r| r["projection"] == group.as_str())
            .cloned()
            .collect();
        (mine.len() == 3 && mine.iter().all(|r| r["lag_records"] == 0)).then_some(mine)
    })
    .await;
    let end: i64 = status.iter().map(|r| r["log_end"].as_i64().unwrap()).sum();
    assert!(end >= steps.len() as i64);
    assert!(status.iter().all(|r| r["lag_seconds"] == 0.0));

    let described = ctl(&env, &["topics", "describe", "-o", "json"])
        .await
        .ok()
        .json();
    let rows = described.as_array().unwrap();
    assert_eq!(
        rows.iter()
            .filter(|r| r["topic"] == env.kafka.events_topic.as_str())
            .count(),
        3
    );
    assert_eq!(
        rows.iter()
            .filter(|r| r["topic"] == env.kafka.dlq_topic.as_str())
            .count(),
        3
    );
    let records: i64 = rows
        .iter()
        .filter(|r| r["topic"] == env.kafka.events_topic.as_str())
        .map(|r| r["records"].as_i64().unwrap())
        .sum();
    assert_eq!(records, end);
    ctl(&env, &["topics", "ensure"]).await.ok();
    pipeline.stop().await;
}

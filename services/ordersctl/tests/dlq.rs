//! `ordersctl dlq` against the real broker and PostgreSQL, run as the binary operators run.
mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use common::{ctl, dead_letter, ledger_count, placed_records, spawn};
use orders_events::{Event, EventType, OrderCancellationRejected, Payload};
use orders_runtime::Shutdown;
use orders_runtime::worker::{self, Handler, HandlerError};
use orders_testkit::{TestEnv, topic_records, wait_for};
use uuid::Uuid;

/// Counts the OrderPlaced events it handles; fails them permanently while `failing` is set.
#[derive(Clone)]
struct Counting {
    stage: &'static str,
    failing: Arc<AtomicBool>,
    calls: Arc<Mutex<HashMap<Uuid, u32>>>,
}

impl Counting {
    fn new(stage: &'static str, failing: bool) -> Self {
        Counting {
            stage,
            failing: Arc::new(AtomicBool::new(failing)),
            calls: Arc::default(),
        }
    }

    fn calls(&self, id: Uuid) -> u32 {
        self.calls.lock().unwrap().get(&id).copied().unwrap_or(0)
    }
}

impl Handler for Counting {
    fn stage(&self) -> &'static str {
        self.stage
    }

    fn handles(&self, t: EventType) -> bool {
        t == EventType::OrderPlaced
    }

    async fn handle(&self, event: &Event) -> Result<Option<Payload>, HandlerError> {
        *self
            .calls
            .lock()
            .unwrap()
            .entry(event.envelope.event_id)
            .or_default() += 1;
        if self.failing.load(Ordering::SeqCst) {
            return Err(HandlerError::permanent(
                "invariant",
                "hub table is missing a row",
            ));
        }
        Ok(Some(Payload::OrderCancellationRejected(
            OrderCancellationRejected {
                reason: "handled".into(),
            },
        )))
    }
}

fn start(env: &TestEnv, group: &str, handler: Counting) -> (Shutdown, tokio::task::JoinHandle<()>) {
    let shutdown = Shutdown::new();
    let (kafka, group, token) = (env.kafka.clone(), group.to_owned(), shutdown.clone());
    let task = tokio::spawn(async move {
        worker::run(&kafka, &group, handler, &TestEnv::worker_config(), token)
            .await
            .expect("worker");
    });
    (shutdown, task)
}

fn event_id(r: &orders_runtime::Record) -> Uuid {
    r.header("event_id").unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_changes_nothing_and_a_redrive_reaches_the_failing_group_only() {
    let env = TestEnv::new().await;
    ctl(&env, &["migrate"]).await.ok();
    let (group_a, group_b) = (format!("t-{}-a", env.id), format!("t-{}-b", env.id));
    let a = Counting::new("alpha", true);
    let b = Counting::new("beta", false);
    let run_a = start(&env, &group_a, a.clone());
    let run_b = start(&env, &group_b, b.clone());

    let placed = placed_records(&env, 3).await;
    wait_for("three dead letters from group a", || async {
        (topic_records(&env.kafka, &env.kafka.dlq_topic).await.len() == 3).then_some(())
    })
    .await;
    wait_for("group b to handle all three", || async {
        placed
            .iter()
            .all(|r| b.calls(event_id(r)) == 1)
            .then_some(())
    })
    .await;

    let stats = ctl(&env, &["dlq", "stats", "-o", "json"]).await.ok().json();
    assert_eq!(stats["depth"], 3);
    assert_eq!(stats["by"]["group"][&group_a], 3);
    assert_eq!(stats["by"]["kind"]["invariant"], 3);
    let listed = ctl(&env, &["dlq", "list", "-o", "json"]).await.ok().json();
    assert_eq!(listed.as_array().unwrap().len(), 3);
    let first = listed[0]["position"].as_str().unwrap().to_owned();
    let shown = ctl(&env, &["dlq", "show", &first, "-o", "json"])
        .await
        .ok()
        .json();
    assert_eq!(shown["provenance"]["group"], group_a.as_str());
    assert_eq!(shown["provenance"]["error_kind"], "invariant");
    assert_eq!(shown["event"]["event_type"], "OrderPlaced");
    assert_eq!(
        ctl(&env, &["dlq", "show", "0:999999"]).await.code,
        3,
        "an unknown position is 'not found'"
    );

    // A dry run: prints what would happen, sends and records nothing.
    let events_before = topic_records(&env.kafka, &env.kafka.events_topic)
        .await
        .len();
    let dry = ctl(&env, &["dlq", "redrive", "--group", &group_a, "-o", "json"])
        .await
        .ok()
        .json();
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["redriven"], 3);
    assert_eq!(dry["by"][0]["group"], group_a.as_str());
    assert_eq!(dry["by"][0]["count"], 3);
    assert_eq!(
        topic_records(&env.kafka, &env.kafka.events_topic)
            .await
            .len(),
        events_before
    );
    assert_eq!(
        ledger_count(&env, "done").await + ledger_count(&env, "pending").await,
        0
    );
    let runs: i64 = env
        .pool()
        .get()
        .await
        .unwrap()
        .query_one("SELECT count(*) FROM dlq_runs", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(runs, 0, "a dry run records no run");

    // --execute needs a reason.
    let no_reason = ctl(&env, &["dlq", "redrive", "--execute"]).await;
    assert_eq!(no_reason.code, 2, "{no_reason:?}");
    assert!(
        no_reason.stderr.contains("--reason"),
        "{}",
        no_reason.stderr
    );

    // Fix group a, redrive: a handles each record again, b never sees them again.
    a.failing.store(false, Ordering::SeqCst);
    let done = ctl(
        &env,
        &[
            "dlq",
            "redrive",
            "--group",
            &group_a,
            "--execute",
            "--reason",
            "hub table fixed",
            "--rate",
            "100",
            "-o",
            "json",
        ],
    )
    .await
    .ok()
    .json();
    assert_eq!(done["redriven"], 3);
    wait_for("group a to handle the redriven records", || async {
        placed
            .iter()
            .all(|r| a.calls(event_id(r)) == 2)
            .then_some(())
    })
    .await;
    // A marker after the redriven records: once b handled it, b has read past them.
    let marker = placed_records(&env, 1).await;
    wait_for("group b to handle the marker", || async {
        (b.calls(event_id(&marker[0])) == 1).then_some(())
    })
    .await;
    for r in &placed {
        assert_eq!(b.calls(event_id(r)), 1, "group b saw a redriven record");
        assert_eq!(a.calls(event_id(r)), 2);
    }
    let stats = ctl(&env, &["dlq", "stats", "-o", "json"]).await.ok().json();
    assert_eq!(stats["depth"], 0);
    assert_eq!(stats["redriven"], 3);
    let audit = env
        .pool()
        .get()
        .await
        .unwrap()
        .query_one("SELECT actor, reason, outcome, records FROM dlq_runs", &[])
        .await
        .unwrap();
    assert_eq!(audit.get::<_, String>(0), "test-operator");
    assert_eq!(audit.get::<_, String>(1), "hub table fixed");
    assert_eq!(audit.get::<_, String>(2), "done");
    assert_eq!(audit.get::<_, i32>(3), 3);

    for (shutdown, task) in [run_a, run_b] {
        shutdown.cancel();
        task.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redrive_killed_half_way_and_run_again_sends_each_record_once() {
    let env = TestEnv::new().await;
    ctl(&env, &["migrate"]).await.ok();
    let group = format!("t-{}-gone", env.id);
    let placed = placed_records(&env, 30).await;
    for r in &placed {
        dead_letter(&env, r, &group, "timeout", 0).await;
    }
    // One over the redrive cap: refused, not sent.
    dead_letter(&env, &placed[0], &group, "timeout", 3).await;
    let dlq = topic_records(&env.kafka, &env.kafka.dlq_topic).await;
    assert_eq!(dlq.len(), 31);

    let args = [
        "dlq",
        "redrive",
        "--execute",
        "--reason",
        "provider back",
        "--rate",
        "10",
    ];
    let mut child = spawn(&env, &args);
    wait_for("a third of the redrive", || async {
        (ledger_count(&env, "done").await >= 10).then_some(())
    })
    .await;
    child.kill().expect("SIGKILL the redrive");
    child.wait().expect("reap");
    let sent_before = ledger_count(&env, "done").await;
    assert!(sent_before < 30, "the kill came too late to test a resume");

    let resumed = ctl(
        &env,
        &[
            "dlq",
            "redrive",
            "--execute",
            "--reason",
            "provider back",
            "--rate",
            "100",
            "-o",
            "json",
        ],
    )
    .await;
    assert_eq!(resumed.code, 4, "the capped one is refused: {resumed:?}");
    let report = resumed.json();
    assert_eq!(report["refused"]["over --max-redrives 3"], 1);
    let sent_now = report["redriven"].as_i64().unwrap() + report["resumed"].as_i64().unwrap();
    assert_eq!(sent_before + sent_now, 30, "{report}");

    // Exactly one redriven record per dead letter, each to the group that failed.
    let events = topic_records(&env.kafka, &env.kafka.events_topic).await;
    let mut by_id: HashMap<String, usize> = HashMap::new();
    for r in events.iter().filter(|r| r.header("redrive.id").is_some()) {
        assert_eq!(r.header("redrive.group"), Some(group.as_str()));
        assert_eq!(r.header("redrive.count"), Some("1"));
        *by_id
            .entry(r.header("redrive.id").unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(by_id.len(), 30);
    assert!(by_id.values().all(|n| *n == 1), "{by_id:?}");
    // The redriven record is the original: same key, value, and event headers.
    let original = &placed[5];
    let redriven = events
        .iter()
        .find(|r| {
            r.header("redrive.id").is_some() && r.header("event_id") == original.header("event_id")
        })
        .expect("redriven copy");
    assert_eq!(redriven.key, original.key);
    assert_eq!(redriven.value, original.value);
    assert_eq!(redriven.partition, original.partition);
    assert_eq!(
        &redriven.headers[..original.headers.len()],
        &original.headers[..]
    );

    let stats = ctl(&env, &["dlq", "stats", "-o", "json"]).await.ok().json();
    assert_eq!(stats["depth"], 1, "only the refused one stays open");
    // Nothing is left to send: a third run sends nothing.
    let again = ctl(
        &env,
        &[
            "dlq",
            "redrive",
            "--execute",
            "--reason",
            "again",
            "--max-redrives",
            "9",
            "-o",
            "json",
        ],
    )
    .await
    .ok()
    .json();
    assert_eq!(
        again["redriven"], 1,
        "only the one that was over the old cap"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_archives_before_hiding_and_the_archive_can_be_redriven() {
    let env = TestEnv::new().await;
    ctl(&env, &["migrate"]).await.ok();
    let (x, y) = (format!("t-{}-x", env.id), format!("t-{}-y", env.id));
    let placed = placed_records(&env, 6).await;
    for r in &placed[..4] {
        dead_letter(&env, r, &x, "timeout", 0).await;
    }
    for r in &placed[4..] {
        dead_letter(&env, r, &y, "invariant", 0).await;
    }
    // The same failure written twice (a crash between the dead letter's ack and the offset commit).
    dead_letter(&env, &placed[0], &x, "timeout", 0).await;

    let stats = ctl(&env, &["dlq", "stats", "-o", "json"]).await.ok().json();
    assert_eq!(stats["depth"], 6, "the repeat is one failure");
    assert_eq!(stats["duplicates"], 1);

    let dir = std::env::temp_dir().join(format!("ordersctl-{}", env.id));
    std::fs::create_dir_all(&dir).unwrap();
    let archive = dir.join("timeouts.jsonl");
    let archive_s = archive.to_str().unwrap();

    // Not confirmed (no terminal, no --yes): refused, nothing archived or hidden.
    let refused = ctl(
        &env,
        &[
            "dlq",
            "purge",
            "--kind",
            "timeout",
            "--archive",
            archive_s,
            "--reason",
            "provider gone",
        ],
    )
    .await;
    assert_eq!(refused.code, 4, "{refused:?}");
    assert!(!archive.exists());
    // The archive cannot be written: nothing is hidden.
    let bad = dir.join("missing-dir").join("a.jsonl");
    let failed = ctl(
        &env,
        &[
            "dlq",
            "purge",
            "--kind",
            "timeout",
            "--archive",
            bad.to_str().unwrap(),
            "--reason",
            "r",
            "--yes",
        ],
    )
    .await;
    assert_eq!(failed.code, 1, "{failed:?}");
    assert!(
        failed.stderr.contains("cannot write the archive"),
        "{}",
        failed.stderr
    );
    assert_eq!(
        ctl(&env, &["dlq", "stats", "-o", "json"]).await.ok().json()["depth"],
        6
    );

    let purged = ctl(
        &env,
        &[
            "dlq",
            "purge",
            "--kind",
            "timeout",
            "--archive",
            archive_s,
            "--reason",
            "provider gone",
            "--yes",
            "-o",
            "json",
        ],
    )
    .await
    .ok()
    .json();
    assert_eq!(purged["purged"], 4);
    assert_eq!(purged["duplicates"], 1);
    let stats = ctl(&env, &["dlq", "stats", "-o", "json"]).await.ok().json();
    assert_eq!(stats["depth"], 2, "stats drop by exactly the purged count");
    assert_eq!(stats["by"]["kind"]["invariant"], 2);
    assert!(stats["by"]["kind"].get("timeout").is_none());
    let listed = ctl(&env, &["dlq", "list", "-o", "json"]).await.ok().json();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let all = ctl(&env, &["dlq", "list", "--all", "-o", "json"])
        .await
        .ok()
        .json();
    assert_eq!(
        all.as_array()
            .unwrap()
            .iter()
            .filter(|r| r["state"] == "purged")
            .count(),
        5
    );

    // The archive holds each purged record byte for byte.
    let dlq = topic_records(&env.kafka, &env.kafka.dlq_topic).await;
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&archive)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    use base64::Engine;
    for line in &lines {
        let record = dlq
            .iter()
            .find(|r| r.partition == line["dlq_partition"] && r.offset == line["dlq_offset"])
            .expect("archived record is in the DLQ");
        let value = base64::engine::general_purpose::STANDARD
            .decode(line["value_b64"].as_str().unwrap())
            .unwrap();
        assert_eq!(Some(value), record.value);
    }

    // Nothing is lost: the archive redrives (one record per failure, the repeat goes with it).
    let redriven = ctl(
        &env,
        &[
            "dlq",
            "redrive",
            "--from-archive",
            archive_s,
            "--execute",
            "--reason",
            "provider is back",
            "--rate",
            "100",
            "-o",
            "json",
        ],
    )
    .await
    .ok()
    .json();
    assert_eq!(redriven["redriven"], 4);
    let events = topic_records(&env.kafka, &env.kafka.events_topic).await;
    assert_eq!(
        events
            .iter()
            .filter(|r| r.header("redrive.group") == Some(x.as_str()))
            .count(),
        4
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

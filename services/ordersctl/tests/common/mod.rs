//! Runs the real `ordersctl` binary against a test's topics and schema.
#![allow(dead_code)]
use std::process::{Child, Command, Output, Stdio};

use orders_runtime::dlq::{ErrorClass, Provenance};
use orders_runtime::{Record, kafka};
use orders_testkit::TestEnv;

/// What a run of `ordersctl` gave.
#[derive(Debug)]
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// stdout parsed as JSON (`-o json`).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }

    pub fn ok(self) -> Ran {
        assert_eq!(self.code, 0, "ordersctl failed: {self:#?}");
        self
    }
}

pub fn command(env: &TestEnv, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ordersctl"));
    cmd.args(args)
        .env("KAFKA_BROKERS", &env.kafka.brokers)
        .env("ORDERS_EVENTS_TOPIC", &env.kafka.events_topic)
        .env("ORDERS_DLQ_TOPIC", &env.kafka.dlq_topic)
        .env("DATABASE_URL", &env.db.url)
        .env("ORDERS_DB_SCHEMA", &env.db.schema)
        .env("ORDERS_ACTOR", "test-operator")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    cmd
}

/// Runs `ordersctl args` to completion.
pub async fn ctl(env: &TestEnv, args: &[&str]) -> Ran {
    let mut cmd = command(env, args);
    let out: Output = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("join")
        .expect("run ordersctl");
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Starts `ordersctl args` in the background.
pub fn spawn(env: &TestEnv, args: &[&str]) -> Child {
    command(env, args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ordersctl")
}

/// Dead-letters `record` as `group` would have, through the runtime's own DLQ writer.
pub async fn dead_letter(env: &TestEnv, record: &Record, group: &str, kind: &str, redrives: u32) {
    let producer = kafka::producer(&env.kafka, "test").expect("producer");
    let now = chrono::Utc::now();
    let mut record = record.clone();
    record.headers.retain(|(k, _)| !k.starts_with("redrive."));
    if redrives > 0 {
        record
            .headers
            .push(("redrive.count".into(), redrives.to_string().into_bytes()));
    }
    let p = Provenance::of(
        &record,
        group,
        ErrorClass::Transient,
        kind,
        "provider timed out after 5 attempts",
        true,
        5,
        now - chrono::Duration::seconds(3),
        now,
    );
    orders_runtime::dlq::send(&producer, &env.kafka.dlq_topic, &record, &p)
        .await
        .expect("dead letter written");
}

/// Appends `n` OrderPlaced events for new orders and returns their records as the log holds them.
pub async fn placed_records(env: &TestEnv, n: usize) -> Vec<Record> {
    let producer = kafka::producer(&env.kafka, "test").expect("producer");
    let mut ids = Vec::new();
    for _ in 0..n {
        let e = orders_testkit::placed_event("shop-7", uuid::Uuid::new_v4());
        orders_runtime::produce::append(&producer, &env.kafka.events_topic, &e)
            .await
            .expect("append");
        ids.push(e.envelope.event_id.to_string());
    }
    let all = orders_testkit::topic_records(&env.kafka, &env.kafka.events_topic).await;
    ids.iter()
        .map(|id| {
            all.iter()
                .find(|r| r.header("event_id") == Some(id.as_str()))
                .expect("appended record is in the log")
                .clone()
        })
        .collect()
}

/// Rows in the test schema's ledger with this state.
pub async fn ledger_count(env: &TestEnv, state: &str) -> i64 {
    env.pool()
        .get()
        .await
        .expect("connection")
        .query_one(
            "SELECT count(*) FROM dlq_handled WHERE state = $1",
            &[&state],
        )
        .await
        .expect("ledger query")
        .get(0)
}

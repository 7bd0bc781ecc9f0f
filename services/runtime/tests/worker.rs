//! The worker loop against the real broker, with a scripted handler: retries with backoff, dead
//! letters with provenance, pauses on outages, redrives for another group, offsets after acks.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use orders_events::headers::names;
use orders_events::{Event, EventType, OrderCancellationRejected, Payload};
use orders_runtime::dlq::{ErrorClass, Provenance};
use orders_runtime::worker::{self, Handler, HandlerError};
use orders_runtime::{Record, Shutdown, kafka, produce};
use orders_testkit::{TestEnv, topic_records, wait_for};
use uuid::Uuid;

/// Behaves as the order's customer id says: `ok`, `transient-<n>` (fails n times, then answers),
/// `outage-<n>`, `permanent`, `always-transient`.
#[derive(Default, Clone)]
struct Scripted {
    calls: Arc<Mutex<HashMap<Uuid, u32>>>,
}

impl Scripted {
    fn calls(&self, event_id: Uuid) -> u32 {
        self.calls
            .lock()
            .unwrap()
            .get(&event_id)
            .copied()
            .unwrap_or(0)
    }
}

impl Handler for Scripted {
    fn stage(&self) -> &'static str {
        "scripted"
    }

    fn handles(&self, event_type: EventType) -> bool {
        event_type == EventType::OrderPlaced
    }

    async fn handle(&self, event: &Event) -> Result<Option<Payload>, HandlerError> {
        let Payload::OrderPlaced(placed) = &event.payload else {
            return Ok(None);
        };
        let call = {
            let mut calls = self.calls.lock().unwrap();
            let n = calls.entry(event.envelope.event_id).or_default();
            *n += 1;
            *n
        };
        let script = placed.customer_id.as_str();
        let fail_times = |prefix: &str| {
            script
                .strip_prefix(prefix)
                .and_then(|n| n.parse::<u32>().ok())
        };
        if let Some(n) = fail_times("transient-")
            && call <= n
        {
            return Err(HandlerError::transient(
                "timeout",
                format!("call {call} timed out"),
            ));
        }
        if let Some(n) = fail_times("outage-")
            && call <= n
        {
            return Err(HandlerError::outage(
                "database_unavailable",
                "connection refused",
            ));
        }
        match script {
            "permanent" => Err(HandlerError::permanent("invariant", "order has no lines")),
            "always-transient" => Err(HandlerError::transient("http_status", "503 from provider")),
            _ => Ok(Some(Payload::OrderCancellationRejected(
                OrderCancellationRejected {
                    reason: format!("handled after {call} calls"),
                },
            ))),
        }
    }
}

fn placed(customer: &str) -> Event {
    placed_in(customer, Uuid::new_v4())
}

/// An OrderPlaced of `order_id` (events of one order share a partition, so they are read in order).
fn placed_in(customer: &str, order_id: Uuid) -> Event {
    orders_testkit::placed_event(customer, order_id)
}

fn follow_ups_of(records: &[Record], source: Uuid) -> Vec<Record> {
    records
        .iter()
        .filter(|r| r.header(names::CAUSATION_ID) == Some(&source.to_string()))
        .cloned()
        .collect()
}

struct Run {
    shutdown: Shutdown,
    task: tokio::task::JoinHandle<Result<(), orders_runtime::RuntimeError>>,
}

fn start(env: &TestEnv, group: &str, handler: Scripted) -> Run {
    let shutdown = Shutdown::new();
    let (kafka, group, token) = (env.kafka.clone(), group.to_owned(), shutdown.clone());
    let task = tokio::spawn(async move {
        worker::run(&kafka, &group, handler, &TestEnv::worker_config(), token).await
    });
    Run { shutdown, task }
}

impl Run {
    async fn stop(self) {
        self.shutdown.cancel();
        self.task
            .await
            .expect("worker task")
            .expect("worker result");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_dead_letters_and_pauses_as_the_error_class_says() {
    let env = TestEnv::new().await;
    let producer = kafka::producer(&env.kafka, "test").unwrap();
    let events: HashMap<&str, Event> = [
        "ok",
        "transient-2",
        "outage-3",
        "permanent",
        "always-transient",
    ]
    .into_iter()
    .map(|c| (c, placed(c)))
    .collect();
    for e in events.values() {
        produce::append(&producer, &env.kafka.events_topic, e)
            .await
            .unwrap();
    }
    let handler = Scripted::default();
    let group = format!("t-{}-scripted", env.id);
    let run = start(&env, &group, handler.clone());

    let dead = wait_for("two dead letters", || async {
        let dead = topic_records(&env.kafka, &env.kafka.dlq_topic).await;
        (dead.len() >= 2).then_some(dead)
    })
    .await;
    let follow = wait_for("three follow-ups", || async {
        let all = topic_records(&env.kafka, &env.kafka.events_topic).await;
        let n = ["ok", "transient-2", "outage-3"]
            .iter()
            .filter(|c| !follow_ups_of(&all, events[*c].envelope.event_id).is_empty())
            .count();
        (n == 3).then_some(all)
    })
    .await;

    // Transient twice, then success: three calls, one follow-up, no dead letter.
    let source = &events["transient-2"];
    assert_eq!(handler.calls(source.envelope.event_id), 3);
    let f = follow_ups_of(&follow, source.envelope.event_id);
    assert_eq!(f.len(), 1);
    let e = Event::from_json(f[0].value.as_deref().unwrap()).unwrap();
    assert_eq!(
        e.envelope.idempotency_key,
        format!("scripted:{}", source.envelope.event_id),
        "follow-up key is <stage>:<source event id>"
    );
    assert_eq!(e.envelope.order_id, source.envelope.order_id);
    assert_eq!(e.envelope.producer, "orders-scripted");
    // An outage does not spend attempts: four calls (the limit is five), no dead letter.
    assert_eq!(handler.calls(events["outage-3"].envelope.event_id), 4);
    assert_eq!(
        follow_ups_of(&follow, events["outage-3"].envelope.event_id).len(),
        1
    );

    assert_eq!(dead.len(), 2, "only the permanent and the exhausted record");
    let by_customer = |c: &str| {
        let id = events[c].envelope.event_id.to_string();
        dead.iter()
            .find(|r| r.header(names::EVENT_ID) == Some(id.as_str()))
            .unwrap_or_else(|| panic!("no dead letter for {c}"))
            .clone()
    };
    let original = |c: &str| {
        follow
            .iter()
            .find(|r| r.header(names::EVENT_ID) == Some(&events[c].envelope.event_id.to_string()))
            .unwrap()
            .clone()
    };

    let permanent = by_customer("permanent");
    let p = Provenance::from_headers(&permanent).unwrap();
    assert_eq!(
        handler.calls(events["permanent"].envelope.event_id),
        1,
        "no retry"
    );
    assert_eq!(p.error_class, ErrorClass::Permanent);
    assert_eq!(
        (p.error_kind.as_str(), p.attempts, p.exhausted),
        ("invariant", 1, false)
    );
    assert_eq!(p.group, group);
    let orig = original("permanent");
    assert_eq!(
        (p.original_partition, p.original_offset),
        (orig.partition, orig.offset)
    );
    assert_eq!(permanent.value, orig.value, "value byte for byte");
    assert_eq!(permanent.key, orig.key, "key byte for byte");
    assert_eq!(
        &permanent.headers[..orig.headers.len()],
        &orig.headers[..],
        "original headers first, unchanged"
    );

    let exhausted = by_customer("always-transient");
    let p = Provenance::from_headers(&exhausted).unwrap();
    assert_eq!(p.error_class, ErrorClass::Transient);
    assert!(p.exhausted);
    assert_eq!(p.attempts, 5, "the default 5 attempts");
    assert_eq!(
        handler.calls(events["always-transient"].envelope.event_id),
        5
    );
    assert!(
        p.last_failure_at > p.first_failure_at,
        "backoff between attempts"
    );

    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_worker_resumes_after_what_it_finished() {
    let env = TestEnv::new().await;
    let producer = kafka::producer(&env.kafka, "test").unwrap();
    let group = format!("t-{}-scripted", env.id);
    let first: Vec<Event> = (0..20).map(|_| placed("ok")).collect();
    for e in &first {
        produce::append(&producer, &env.kafka.events_topic, e)
            .await
            .unwrap();
    }
    let handler = Scripted::default();
    let run = start(&env, &group, handler.clone());
    wait_for("20 follow-ups", || async {
        let all = topic_records(&env.kafka, &env.kafka.events_topic).await;
        (all.len() == 40).then_some(())
    })
    .await;
    run.stop().await;

    let second: Vec<Event> = (0..10).map(|_| placed("ok")).collect();
    for e in &second {
        produce::append(&producer, &env.kafka.events_topic, e)
            .await
            .unwrap();
    }
    let again = Scripted::default();
    let run = start(&env, &group, again.clone());
    wait_for("10 more follow-ups", || async {
        let all = topic_records(&env.kafka, &env.kafka.events_topic).await;
        (all.len() == 60).then_some(())
    })
    .await;
    run.stop().await;
    for e in &first {
        assert_eq!(
            again.calls(e.envelope.event_id),
            0,
            "finished records are not read again"
        );
    }
    for e in &second {
        assert_eq!(again.calls(e.envelope.event_id), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_redriven_to_another_group_is_left_alone() {
    let env = TestEnv::new().await;
    let producer = kafka::producer(&env.kafka, "test").unwrap();
    let group = format!("t-{}-scripted", env.id);
    let order = Uuid::new_v4();
    let mine = placed_in("ok", order);
    let theirs = placed_in("ok", order);
    produce::append(&producer, &env.kafka.events_topic, &mine)
        .await
        .unwrap();
    // The same event redriven to another group: this worker must not process it.
    let mut headers = produce::headers_of(&theirs);
    headers = headers.insert(rdkafka::message::Header {
        key: orders_runtime::dlq::names::REDRIVE_GROUP,
        value: Some("some-other-group"),
    });
    let key = theirs.envelope.order_id.to_string();
    let value = theirs.to_json();
    producer
        .send(
            rdkafka::producer::FutureRecord::to(&env.kafka.events_topic)
                .key(&key)
                .payload(&value)
                .headers(headers),
            std::time::Duration::from_secs(10),
        )
        .await
        .unwrap();
    let marker = placed_in("ok", order);
    produce::append(&producer, &env.kafka.events_topic, &marker)
        .await
        .unwrap();
    let handler = Scripted::default();
    let run = start(&env, &group, handler.clone());
    wait_for("the marker handled", || async {
        (handler.calls(marker.envelope.event_id) == 1).then_some(())
    })
    .await;
    run.stop().await;
    assert_eq!(handler.calls(mine.envelope.event_id), 1);
    assert_eq!(handler.calls(theirs.envelope.event_id), 0);
}

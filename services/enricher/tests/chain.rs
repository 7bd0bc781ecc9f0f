//! The provider chain against two fake OpenAI-compatible providers on 127.0.0.1:0 whose
//! behaviour each test switches at runtime (a correct answer with real catalogue SKUs, an answer
//! slower than the timeout, 500, prose instead of JSON, a SKU the catalogue does not have, huge
//! quantities):
//!
//! - which provider answers and which attempts are recorded, in order;
//! - an AI answer's total staying within what the `OrderEnriched` schema accepts;
//! - the circuit breaker opening after consecutive failures, refusing calls, and closing again
//!   after a successful trial (on an injected clock, and on the real one through the config);
//! - SKU-only orders, which need no provider;
//! - the enricher worker on the real broker, reading the `OrderEnriched` back from the log.
//!
//! The fakes answer with language [`AI_LANGUAGE`] and confidence [`AI_CONFIDENCE`], which the
//! local matcher never gives, so a test can tell an AI answer from the local one.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::Utc;
use orders_enricher::EnricherConfig;
use orders_enricher::catalogue::{Catalogue, MAX_AMOUNT_MINOR};
use orders_enricher::chain::{self, Chain, Outcome, Slot};
use orders_enricher::config::AiConfig;
use orders_enricher::local::LocalEnricher;
use orders_enricher::provider::{
    BreakerConfig, BreakerState, CircuitBreaker, Clock, OpenAiProvider, ProviderConfig,
};
use orders_events::{
    Address, Channel, EnrichedLine, Event, EventMeta, EventType, GeoPoint, LineItem, Money,
    OrderEnriched, OrderFacts, OrderPlaced, Payload, PlacedLine, ProviderAttempt,
};
use orders_testkit::{TestEnv, topic_records, wait_for};
use serde_json::{Value, json};

/// Deadline of one provider call in the chains built here. Generous, since a correct answer
/// from a fake on localhost takes milliseconds even on a busy machine.
const TIMEOUT: Duration = Duration::from_secs(1);

/// How long [`Behaviour::Slow`] waits before answering: far past [`TIMEOUT`].
const SLOW_FOR: Duration = Duration::from_secs(60);

/// Language tag of every fake answer; the local matcher says "en" or "ne".
const AI_LANGUAGE: &str = "en-IN";

/// Confidence of every line a fake matches; the local matcher's are never exactly this.
const AI_CONFIDENCE: f64 = 0.77;

/// What the fakes know: order text → (SKU in the built-in catalogue, quantity, unit).
const KNOWN: &[(&str, &str, f64, &str)] = &[
    ("5 kg basmati rice", "RICE-BAS", 5.0, "kg"),
    ("2 dozen eggs", "EGG-WHT", 2.0, "dozen"),
];

/// A well-formed SKU that the built-in catalogue does not have.
const UNKNOWN_SKU: &str = "RICE-XYZ-9KG";

/// A quantity whose line total (in paisa) is below the cap on amounts for every known product,
/// but two of which add up to more than the cap.
const HUGE_QUANTITY: f64 = 250_000_000_000.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    /// Matches every line in [`KNOWN`] to its SKU; other lines get `sku: null`.
    Correct,
    /// Answers correctly, but only after [`SLOW_FOR`].
    Slow,
    /// 500 with a short body.
    ServerError,
    /// 200, but the assistant's content is prose instead of the JSON object asked for.
    NonJsonContent,
    /// A well-formed answer whose first line names [`UNKNOWN_SKU`].
    UnknownSku,
    /// A correct answer, except that every quantity is [`HUGE_QUANTITY`].
    HugeQuantities,
}

/// A fake OpenAI-compatible provider on 127.0.0.1:0.
#[derive(Clone)]
struct Fake {
    behaviour: Arc<Mutex<Behaviour>>,
    /// The `lines` of every request's user message, in the order received.
    received: Arc<Mutex<Vec<Value>>>,
    /// API root to configure the provider with, `http://127.0.0.1:PORT/v1`.
    base_url: String,
}

impl Fake {
    async fn start(behaviour: Behaviour) -> Fake {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = Fake {
            behaviour: Arc::new(Mutex::new(behaviour)),
            received: Arc::default(),
            base_url: format!("http://{}/v1", listener.local_addr().unwrap()),
        };
        let app = Router::new()
            .route("/v1/chat/completions", post(answer))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        fake
    }

    fn switch_to(&self, behaviour: Behaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }

    fn received(&self) -> Vec<Value> {
        self.received.lock().unwrap().clone()
    }

    fn requests(&self) -> usize {
        self.received.lock().unwrap().len()
    }
}

async fn answer(State(fake): State<Fake>, body: Bytes) -> Response {
    let asked = asked_lines(&body);
    fake.received.lock().unwrap().push(asked.clone());
    let behaviour = *fake.behaviour.lock().unwrap();
    match behaviour {
        Behaviour::Correct => completion(&matched(&asked, None).to_string()),
        Behaviour::Slow => {
            tokio::time::sleep(SLOW_FOR).await;
            completion(&matched(&asked, None).to_string())
        }
        Behaviour::ServerError => {
            (StatusCode::INTERNAL_SERVER_ERROR, "upstream exploded").into_response()
        }
        Behaviour::NonJsonContent => completion("Sure! Line 1 is basmati rice (RICE-BAS)."),
        Behaviour::UnknownSku => {
            let mut answer = matched(&asked, None);
            answer["lines"][0]["sku"] = json!(UNKNOWN_SKU);
            completion(&answer.to_string())
        }
        Behaviour::HugeQuantities => completion(&matched(&asked, Some(HUGE_QUANTITY)).to_string()),
    }
}

/// The `lines` of the request's user message (`[{"line_no": 1, "text": "..."}]`), or `null`
/// when the request is not what the provider client should send.
fn asked_lines(body: &[u8]) -> Value {
    let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    request["messages"][1]["content"]
        .as_str()
        .and_then(|user| serde_json::from_str::<Value>(user).ok())
        .map_or(Value::Null, |user| user["lines"].clone())
}

/// The answer a correct provider gives for `asked`, with every quantity replaced by `quantity`
/// when given.
fn matched(asked: &Value, quantity: Option<f64>) -> Value {
    let lines: Vec<Value> = asked
        .as_array()
        .into_iter()
        .flatten()
        .map(|line| {
            let known = KNOWN
                .iter()
                .find(|(text, ..)| line["text"].as_str() == Some(text));
            match known {
                Some((_, sku, q, unit)) => json!({
                    "line_no": line["line_no"],
                    "sku": sku,
                    "quantity": quantity.unwrap_or(*q),
                    "unit": unit,
                    "confidence": AI_CONFIDENCE,
                }),
                None => json!({
                    "line_no": line["line_no"],
                    "sku": null,
                    "quantity": quantity.unwrap_or(1.0),
                    "unit": "piece",
                    "confidence": 0.0,
                }),
            }
        })
        .collect();
    json!({ "language": AI_LANGUAGE, "lines": lines })
}

/// A chat-completions response whose assistant message is `content`.
fn completion(content: &str) -> Response {
    axum::Json(json!({
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "model": "test-model",
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": content },
            "finish_reason": "stop",
        }],
    }))
    .into_response()
}

/// A clock that only moves when told to.
#[derive(Clone)]
struct ManualClock(Arc<Mutex<Instant>>);

impl ManualClock {
    fn new() -> Self {
        ManualClock(Arc::new(Mutex::new(Instant::now())))
    }

    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }

    fn clock(&self) -> Clock {
        let now = self.0.clone();
        Arc::new(move || *now.lock().unwrap())
    }
}

fn slot(name: &str, fake: &Fake, breaker: CircuitBreaker) -> Slot {
    let provider = OpenAiProvider::new(ProviderConfig {
        name: name.to_owned(),
        base_url: fake.base_url.clone(),
        model: "test-model".into(),
        api_key: None,
        timeout: TIMEOUT,
    })
    .unwrap();
    Slot {
        provider,
        breaker: breaker.named(name),
    }
}

/// Primary, then secondary, with breakers configured by `cfg` on `clock`, then local.
fn chain_with(primary: &Fake, secondary: &Fake, cfg: BreakerConfig, clock: Clock) -> Chain {
    let slots = vec![
        slot(
            "primary",
            primary,
            CircuitBreaker::with_clock(cfg.clone(), clock.clone()),
        ),
        slot(
            "secondary",
            secondary,
            CircuitBreaker::with_clock(cfg, clock),
        ),
    ];
    Chain::new(slots, Catalogue::builtin())
}

/// Primary, then secondary, with default breakers (3 failures, 30 s), then local.
fn chain_of(primary: &Fake, secondary: &Fake) -> Chain {
    chain_with(
        primary,
        secondary,
        BreakerConfig::default(),
        ManualClock::new().clock(),
    )
}

fn primary_breaker(chain: &Chain) -> &CircuitBreaker {
    &chain.slots()[0].breaker
}

fn text(line_no: u32, text: &str) -> PlacedLine {
    PlacedLine {
        line_no,
        item: LineItem::Text { text: text.into() },
    }
}

fn sku(line_no: u32, sku: &str, quantity: u32, unit: Option<&str>) -> PlacedLine {
    PlacedLine {
        line_no,
        item: LineItem::Sku {
            sku: sku.into(),
            quantity,
            unit: unit.map(str::to_owned),
        },
    }
}

/// Two free-text lines the fakes know, and a SKU line.
fn order_lines() -> Vec<PlacedLine> {
    vec![
        text(1, "5 kg basmati rice"),
        text(2, "2 dozen eggs"),
        sku(3, "OIL-SUN-1L", 6, Some("bottle")),
    ]
}

/// `(provider, outcome)` of every attempt, in order.
fn attempts(attempts: &[ProviderAttempt]) -> Vec<(&str, &str)> {
    attempts
        .iter()
        .map(|a| (a.provider.as_str(), a.outcome.as_str()))
        .collect()
}

/// The reason of attempt `i`, which must have one.
fn reason(attempts: &[ProviderAttempt], i: usize) -> &str {
    attempts[i]
        .reason
        .as_deref()
        .unwrap_or_else(|| panic!("attempt {i} has no reason: {attempts:?}"))
}

/// The price in paisa of `quantity` units of `sku` in the built-in catalogue.
fn priced(sku: &str, quantity: i64) -> i64 {
    let catalogue = Catalogue::builtin();
    let product = catalogue
        .get(sku)
        .unwrap_or_else(|| panic!("{sku} is not in the built-in catalogue"));
    product.price_minor * quantity
}

/// `outcome` is the fakes' answer for [`order_lines`]: see [`assert_ai_lines`].
fn assert_ai_answer(outcome: &Outcome) {
    let enrichment = &outcome.enrichment;
    assert_ai_lines(
        &enrichment.language,
        &enrichment.lines,
        enrichment.estimated_total.as_ref(),
    );
}

/// The fakes' SKUs, quantities, language and confidence for the text lines of [`order_lines`],
/// the SKU line from the catalogue, and everything priced.
fn assert_ai_lines(language: &str, lines: &[EnrichedLine], total: Option<&Money>) {
    assert_eq!(language, AI_LANGUAGE, "{lines:#?}");
    let summary: Vec<_> = lines
        .iter()
        .map(|l| {
            (
                l.line_no,
                l.sku.as_deref(),
                l.quantity,
                l.unit.as_str(),
                l.line_total.as_ref().map(|m| m.amount_minor),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (1, Some("RICE-BAS"), 5.0, "kg", Some(priced("RICE-BAS", 5))),
            (2, Some("EGG-WHT"), 2.0, "dozen", Some(priced("EGG-WHT", 2))),
            (
                3,
                Some("OIL-SUN-1L"),
                6.0,
                "bottle",
                Some(priced("OIL-SUN-1L", 6))
            ),
        ],
        "{lines:#?}"
    );
    assert_eq!(lines[0].confidence, AI_CONFIDENCE);
    assert_eq!(lines[1].confidence, AI_CONFIDENCE);
    let total = total.expect("a total");
    assert_eq!(
        total.amount_minor,
        priced("RICE-BAS", 5) + priced("EGG-WHT", 2) + priced("OIL-SUN-1L", 6)
    );
    assert_eq!(total.currency, "NPR");
}

#[tokio::test]
async fn healthy_primary_answers_alone_and_sees_only_the_text_lines() {
    let primary = Fake::start(Behaviour::Correct).await;
    let secondary = Fake::start(Behaviour::Correct).await;
    let chain = chain_of(&primary, &secondary);

    let outcome = chain.enrich(&order_lines()).await;

    assert_eq!(outcome.provider, "primary");
    assert_eq!(attempts(&outcome.attempts), [("primary", "answered")]);
    assert_eq!(outcome.attempts[0].reason, None);
    assert_ai_answer(&outcome);
    assert_eq!(
        primary.received(),
        [json!([
            { "line_no": 1, "text": "5 kg basmati rice" },
            { "line_no": 2, "text": "2 dozen eggs" },
        ])]
    );
    assert_eq!(secondary.requests(), 0);
}

#[tokio::test]
async fn primary_server_error_falls_back_to_the_secondary() {
    let primary = Fake::start(Behaviour::ServerError).await;
    let secondary = Fake::start(Behaviour::Correct).await;
    let chain = chain_of(&primary, &secondary);

    let outcome = chain.enrich(&order_lines()).await;

    assert_eq!(outcome.provider, "secondary");
    assert_eq!(
        attempts(&outcome.attempts),
        [("primary", "failed"), ("secondary", "answered")]
    );
    let why = reason(&outcome.attempts, 0);
    assert!(why.starts_with("http_status"), "{why}");
    assert!(why.contains("500"), "{why}");
    assert_eq!(outcome.attempts[1].reason, None);
    assert_ai_answer(&outcome);
    assert_eq!((primary.requests(), secondary.requests()), (1, 1));
}

#[tokio::test]
async fn primary_timeout_and_secondary_bad_json_fall_back_to_the_local_matcher() {
    let primary = Fake::start(Behaviour::Slow).await;
    let secondary = Fake::start(Behaviour::NonJsonContent).await;
    let chain = chain_of(&primary, &secondary);
    let lines = order_lines();

    let started = Instant::now();
    let outcome = chain.enrich(&lines).await;
    let took = started.elapsed();

    assert_eq!(outcome.provider, chain::LOCAL);
    assert_eq!(
        attempts(&outcome.attempts),
        [
            ("primary", "failed"),
            ("secondary", "failed"),
            ("local", "answered")
        ]
    );
    let why = reason(&outcome.attempts, 0);
    assert!(why.starts_with("timeout"), "{why}");
    let why = reason(&outcome.attempts, 1);
    assert!(why.starts_with("bad_answer"), "{why}");
    assert!(why.contains("not JSON"), "{why}");
    assert_eq!(outcome.attempts[2].reason, None);
    assert!(
        took < SLOW_FOR / 2,
        "the slow primary held the order for {took:?}"
    );

    // The local matcher's answer, exactly: every line matched and priced.
    let local = LocalEnricher::new(Catalogue::builtin()).enrich(&lines);
    assert_eq!(outcome.enrichment, local);
    assert!(
        outcome.enrichment.lines.iter().all(|l| l.matched),
        "{outcome:#?}"
    );
    assert!(outcome.enrichment.estimated_total.is_some());
    assert_ne!(outcome.enrichment.language, AI_LANGUAGE);
}

#[tokio::test]
async fn breaker_opens_after_three_failures_and_closes_after_a_successful_trial() {
    let primary = Fake::start(Behaviour::ServerError).await;
    let secondary = Fake::start(Behaviour::Correct).await;
    let clock = ManualClock::new();
    let cfg = BreakerConfig {
        failure_threshold: 3,
        open_for: Duration::from_secs(30),
        half_open_max_calls: 1,
    };
    let chain = chain_with(&primary, &secondary, cfg, clock.clock());
    let breaker = primary_breaker(&chain);

    // Given three orders the primary fails...
    for order in 1..=3 {
        let outcome = chain.enrich(&order_lines()).await;
        assert_eq!(
            attempts(&outcome.attempts),
            [("primary", "failed"), ("secondary", "answered")],
            "order {order}"
        );
        let expected = if order < 3 {
            BreakerState::Closed
        } else {
            BreakerState::Open
        };
        assert_eq!(breaker.state(), expected, "after order {order}");
    }
    assert_eq!(primary.requests(), 3);

    // ...the next order does not call it: it is skipped and the secondary answers.
    let outcome = chain.enrich(&order_lines()).await;
    assert_eq!(outcome.provider, "secondary");
    assert_eq!(
        attempts(&outcome.attempts),
        [("primary", "skipped"), ("secondary", "answered")]
    );
    assert_eq!(
        reason(&outcome.attempts, 0),
        "circuit open; next trial in 30 s"
    );
    assert_ai_answer(&outcome);
    assert_eq!(primary.requests(), 3);

    // Healthy again, but still resting: still not called.
    primary.switch_to(Behaviour::Correct);
    clock.advance(Duration::from_secs(29));
    let outcome = chain.enrich(&order_lines()).await;
    assert_eq!(
        attempts(&outcome.attempts),
        [("primary", "skipped"), ("secondary", "answered")]
    );
    assert!(reason(&outcome.attempts, 0).starts_with("circuit open"));
    assert_eq!(primary.requests(), 3);

    // Once the rest period is over the trial call goes through, succeeds and closes the circuit.
    clock.advance(Duration::from_secs(1));
    assert_eq!(breaker.state(), BreakerState::HalfOpen);
    let outcome = chain.enrich(&order_lines()).await;
    assert_eq!(outcome.provider, "primary");
    assert_eq!(attempts(&outcome.attempts), [("primary", "answered")]);
    assert_ai_answer(&outcome);
    assert_eq!(primary.requests(), 4);
    assert_eq!(breaker.state(), BreakerState::Closed);
    assert_eq!(secondary.requests(), 5);
}

#[tokio::test]
async fn failed_trial_reopens_the_circuit() {
    let primary = Fake::start(Behaviour::ServerError).await;
    let secondary = Fake::start(Behaviour::Correct).await;
    let clock = ManualClock::new();
    let cfg = BreakerConfig {
        failure_threshold: 1,
        open_for: Duration::from_secs(30),
        half_open_max_calls: 1,
    };
    let chain = chain_with(&primary, &secondary, cfg, clock.clock());
    let breaker = primary_breaker(&chain);

    chain.enrich(&order_lines()).await;
    assert_eq!(breaker.state(), BreakerState::Open);
    clock.advance(Duration::from_secs(30));

    let trial = chain.enrich(&order_lines()).await;
    assert_eq!(
        attempts(&trial.attempts),
        [("primary", "failed"), ("secondary", "answered")]
    );
    assert_eq!(breaker.state(), BreakerState::Open);
    let after = chain.enrich(&order_lines()).await;
    assert_eq!(
        attempts(&after.attempts),
        [("primary", "skipped"), ("secondary", "answered")]
    );
    assert_eq!(
        reason(&after.attempts, 0),
        "circuit open; next trial in 30 s"
    );
    assert_eq!(primary.requests(), 2);
}

/// The chain as the service builds it from its configuration, on the real clock.
#[tokio::test]
async fn configured_breaker_recovers_on_the_real_clock() {
    let primary = Fake::start(Behaviour::ServerError).await;
    let secondary = Fake::start(Behaviour::Correct).await;
    // Long enough that the skipped order below surely comes before the rest period is over,
    // short enough to wait for.
    let open_for = Duration::from_secs(2);
    let config = EnricherConfig {
        group: "unused".into(),
        catalogue: None,
        print_config: false,
        ai: AiConfig {
            primary_url: Some(primary.base_url.clone()),
            secondary_url: Some(secondary.base_url.clone()),
            timeout: TIMEOUT,
            breaker_failures: 3,
            breaker_open_for: open_for,
            breaker_trials: 1,
            ..orders_testkit::no_ai()
        },
        worker: TestEnv::worker_config(),
        kafka: orders_runtime::KafkaConfig::new("127.0.0.1:9092"),
        observe: orders_runtime::observe::ObserveConfig::ephemeral(),
    };
    let chain = orders_enricher::chain(&config).unwrap();
    let names: Vec<_> = chain.slots().iter().map(|s| s.provider.name()).collect();
    assert_eq!(names, ["primary", "secondary"]);
    let breaker = primary_breaker(&chain).clone();
    assert_eq!(breaker.config().failure_threshold, 3);
    assert_eq!(breaker.config().open_for, open_for);

    for _ in 0..3 {
        chain.enrich(&order_lines()).await;
    }
    let outcome = chain.enrich(&order_lines()).await;
    assert_eq!(
        attempts(&outcome.attempts),
        [("primary", "skipped"), ("secondary", "answered")]
    );
    assert!(
        reason(&outcome.attempts, 0).starts_with("circuit open"),
        "{outcome:#?}"
    );
    assert_eq!(primary.requests(), 3);

    primary.switch_to(Behaviour::Correct);
    wait_for("the primary's circuit to let a trial call through", || {
        let breaker = breaker.clone();
        async move { (breaker.state() == BreakerState::HalfOpen).then_some(()) }
    })
    .await;
    let outcome = chain.enrich(&order_lines()).await;
    assert_eq!(attempts(&outcome.attempts), [("primary", "answered")]);
    assert_ai_answer(&outcome);
    assert_eq!(breaker.state(), BreakerState::Closed);
    assert_eq!(primary.requests(), 4);
}

#[tokio::test]
async fn unknown_sku_is_a_failed_answer_and_the_next_provider_answers() {
    let primary = Fake::start(Behaviour::UnknownSku).await;
    let secondary = Fake::start(Behaviour::Correct).await;
    // One failure opens the circuit, so its state shows whether the breaker heard of it.
    let cfg = BreakerConfig {
        failure_threshold: 1,
        open_for: Duration::from_secs(30),
        half_open_max_calls: 1,
    };
    let chain = chain_with(&primary, &secondary, cfg, ManualClock::new().clock());

    let outcome = chain.enrich(&order_lines()).await;

    assert_eq!(outcome.provider, "secondary");
    assert_eq!(
        attempts(&outcome.attempts),
        [("primary", "failed"), ("secondary", "answered")]
    );
    let why = reason(&outcome.attempts, 0);
    assert!(why.starts_with("bad_answer"), "{why}");
    assert!(why.contains(UNKNOWN_SKU), "{why}");
    assert!(why.contains("not in the catalogue"), "{why}");
    assert_ai_answer(&outcome);
    assert_eq!(primary_breaker(&chain).state(), BreakerState::Open);
    assert_eq!(chain.slots()[1].breaker.state(), BreakerState::Closed);
}

#[tokio::test]
async fn sku_only_orders_skip_the_providers() {
    let primary = Fake::start(Behaviour::Correct).await;
    let secondary = Fake::start(Behaviour::Correct).await;
    let chain = chain_of(&primary, &secondary);
    let lines = vec![
        sku(1, "OIL-SUN-1L", 6, Some("bottle")),
        sku(2, "SUGAR-1KG", 2, None),
    ];

    let outcome = chain.enrich(&lines).await;

    assert_eq!(outcome.provider, chain::LOCAL);
    assert_eq!(
        attempts(&outcome.attempts),
        [
            ("primary", "skipped"),
            ("secondary", "skipped"),
            ("local", "answered")
        ]
    );
    assert_eq!(reason(&outcome.attempts, 0), "no free-text lines");
    assert_eq!(reason(&outcome.attempts, 1), "no free-text lines");
    assert_eq!(outcome.attempts[2].reason, None);
    let local = LocalEnricher::new(Catalogue::builtin()).enrich(&lines);
    assert_eq!(outcome.enrichment, local);
    assert_eq!(
        outcome
            .enrichment
            .estimated_total
            .map(|total| total.amount_minor),
        Some(priced("OIL-SUN-1L", 6) + priced("SUGAR-1KG", 2))
    );
    assert_eq!((primary.requests(), secondary.requests()), (0, 0));
    assert_eq!(primary_breaker(&chain).state(), BreakerState::Closed);
}

/// Each line of the answer is priced below the cap on amounts, but their sum is not: the
/// `OrderEnriched` must still be one the event schema accepts (the local matcher caps its total
/// at `MAX_AMOUNT_MINOR` for the same reason).
#[tokio::test]
async fn estimated_total_of_an_ai_answer_stays_within_the_schema() {
    let primary = Fake::start(Behaviour::HugeQuantities).await;
    let secondary = Fake::start(Behaviour::Correct).await;
    let chain = chain_of(&primary, &secondary);
    let lines = order_lines();

    let outcome = chain.enrich(&lines).await;

    assert_eq!(outcome.provider, "primary");
    for line in &outcome.enrichment.lines {
        let total = line.line_total.as_ref().expect("every line priced");
        assert!(total.amount_minor <= MAX_AMOUNT_MINOR, "{line:?}");
    }
    let event = enriched_event(&lines, outcome);
    let total = match &event.payload {
        Payload::OrderEnriched(enriched) => enriched.estimated_total.clone().expect("a total"),
        other => panic!("not an OrderEnriched: {other:?}"),
    };
    assert!(
        total.amount_minor <= MAX_AMOUNT_MINOR,
        "estimated total {} is above the cap on amounts, {MAX_AMOUNT_MINOR}",
        total.amount_minor
    );
    orders_events::schema::validate(&event.to_value())
        .expect("the OrderEnriched is valid against its schema");
}

/// The `OrderEnriched` the enricher's handler would write for `outcome`.
fn enriched_event(lines: &[PlacedLine], outcome: Outcome) -> Event {
    let placed = placed_event(lines.to_vec());
    let Payload::OrderPlaced(order) = &placed.payload else {
        unreachable!("placed_event builds an OrderPlaced");
    };
    let payload = Payload::OrderEnriched(OrderEnriched {
        order: Some(OrderFacts::of(order, placed.envelope.occurred_at)),
        lines: outcome.enrichment.lines,
        language: outcome.enrichment.language,
        provider: outcome.provider,
        confidence: outcome.enrichment.confidence,
        attempts: outcome.attempts,
        estimated_total: outcome.enrichment.estimated_total,
    });
    let meta = EventMeta::follow_up(&placed.envelope, "enricher", "orders-enricher", Utc::now());
    Event::new(placed.envelope.order_id, payload, meta)
}

/// An `OrderPlaced` of a new order with `lines`.
fn placed_event(lines: Vec<PlacedLine>) -> Event {
    let payload = OrderPlaced {
        customer_id: "shop-0042".into(),
        caller: "test".into(),
        channel: Channel::App,
        currency: "NPR".into(),
        lines,
        delivery_address: Address {
            contact_name: Some("Sita Sharma".into()),
            contact_phone: Some("+977 9800000000".into()),
            line1: "Ward 4, Jhamsikhel Road".into(),
            line2: None,
            city: "Lalitpur".into(),
            district: Some("Lalitpur".into()),
            postal_code: Some("44700".into()),
            country_code: "NP".into(),
            location: GeoPoint {
                latitude: 27.6795,
                longitude: 85.3070,
            },
        },
        notes: None,
    };
    Event::new(
        uuid::Uuid::new_v4(),
        Payload::OrderPlaced(payload),
        EventMeta {
            occurred_at: Utc::now(),
            causation_id: None,
            correlation_id: None,
            idempotency_key: format!("place:test:{}", uuid::Uuid::new_v4()),
            producer: "test".into(),
            traceparent: None,
            tracestate: None,
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_writes_the_secondary_answer_when_the_primary_fails() {
    let env = TestEnv::new().await;
    let primary = Fake::start(Behaviour::ServerError).await;
    let secondary = Fake::start(Behaviour::Correct).await;
    let enricher = env.spawn_enricher_with(AiConfig {
        primary_url: Some(primary.base_url.clone()),
        secondary_url: Some(secondary.base_url.clone()),
        timeout: Duration::from_secs(5),
        ..orders_testkit::no_ai()
    });

    // Given an OrderPlaced on the log...
    let placed = placed_event(order_lines());
    let producer = orders_runtime::kafka::producer(&env.kafka, "test").unwrap();
    orders_runtime::produce::append(&producer, &env.kafka.events_topic, &placed)
        .await
        .unwrap();

    // ...the enricher writes its OrderEnriched.
    let placed_id = placed.envelope.event_id;
    let enriched = wait_for("the OrderEnriched of the placed order", || {
        let kafka = env.kafka.clone();
        async move {
            topic_records(&kafka, &kafka.events_topic)
                .await
                .iter()
                .map(|r| Event::from_json(r.value.as_deref().expect("a value")).expect("decodes"))
                .find(|e| e.envelope.causation_id == Some(placed_id))
        }
    })
    .await;
    enricher.stop().await;

    assert_eq!(enriched.envelope.event_type, EventType::OrderEnriched);
    assert_eq!(enriched.envelope.order_id, placed.envelope.order_id);
    assert_eq!(enriched.envelope.correlation_id, placed_id);
    let Payload::OrderEnriched(payload) = &enriched.payload else {
        panic!("not an OrderEnriched: {enriched:?}");
    };
    let Payload::OrderPlaced(order) = &placed.payload else {
        unreachable!("placed_event builds an OrderPlaced");
    };
    assert_eq!(payload.provider, "secondary");
    assert_eq!(
        attempts(&payload.attempts),
        [("primary", "failed"), ("secondary", "answered")]
    );
    let why = reason(&payload.attempts, 0);
    assert!(why.contains("500"), "{why}");
    assert_eq!(payload.attempts[1].reason, None);
    assert_eq!(
        payload.order,
        Some(OrderFacts::of(order, placed.envelope.occurred_at))
    );
    assert_ai_lines(
        &payload.language,
        &payload.lines,
        payload.estimated_total.as_ref(),
    );
}

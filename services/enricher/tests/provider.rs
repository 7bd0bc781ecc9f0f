//! The OpenAI-compatible provider client against a fake provider on 127.0.0.1:0 whose behaviour
//! each test switches: a correct answer, a slow or stalled one, error statuses, and answers that
//! are not what was asked for.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use orders_enricher::provider::{AiLine, OpenAiProvider, ProviderConfig, ProviderError};
use serde_json::{Value, json};

const API_KEY: &str = "sk-test-0123456789";
const MODEL: &str = "grocer-1";
const CATALOGUE: &str = "RICE-BAS-5 | Basmati rice 5 kg | chawal, basmati | kg\n\
                         EGG-12 | Eggs, tray of 12 | anda, ande | dozen\n";

#[derive(Debug, Clone, Copy)]
enum Behaviour {
    Correct,
    /// Answers correctly, but only after `SLOW_FOR`.
    Slow,
    /// Sends 200 and the start of the body, then nothing more.
    StalledBody,
    ServerError,
    RateLimited,
    /// 401 with a body that echoes the API key, as some gateways do.
    EchoesKey,
    NonJsonContent,
    MissingLine,
    Fenced,
}

const SLOW_FOR: Duration = Duration::from_secs(10);

/// A request as the fake provider received it.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    authorization: Option<String>,
    body: Value,
}

#[derive(Clone)]
struct Fake {
    behaviour: Arc<Mutex<Behaviour>>,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Fake {
    /// Starts a fake provider; returns it and its base URL.
    async fn start(behaviour: Behaviour) -> (Fake, String) {
        let fake = Fake {
            behaviour: Arc::new(Mutex::new(behaviour)),
            received: Arc::default(),
        };
        let app = Router::new().fallback(answer).with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (fake, format!("http://{addr}/v1"))
    }

    fn switch_to(&self, behaviour: Behaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

async fn answer(State(fake): State<Fake>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    fake.received.lock().unwrap().push(Received {
        path: uri.path().to_owned(),
        authorization: headers
            .get(header::AUTHORIZATION)
            .map(|value| value.to_str().unwrap().to_owned()),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    let behaviour = *fake.behaviour.lock().unwrap();
    let answer = json!({
        "language": "hi-Latn",
        "lines": [
            { "line_no": 1, "sku": "RICE-BAS-5", "quantity": 5, "unit": "kg", "confidence": 0.95 },
            { "line_no": 2, "sku": "EGG-12", "quantity": 2, "unit": "dozen", "confidence": 0.8 },
        ],
    });
    match behaviour {
        Behaviour::Correct => completion(&answer.to_string()),
        Behaviour::Slow => {
            tokio::time::sleep(SLOW_FOR).await;
            completion(&answer.to_string())
        }
        Behaviour::StalledBody => {
            let start = futures::stream::once(async {
                Ok::<_, std::io::Error>(Bytes::from_static(b"{\"choices\": ["))
            });
            let body = Body::from_stream(start.chain(futures::stream::pending()));
            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Behaviour::ServerError => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("upstream exploded: {}", "x".repeat(5_000)),
        )
            .into_response(),
        Behaviour::RateLimited => (
            StatusCode::TOO_MANY_REQUESTS,
            r#"{"error": {"message": "Rate limit reached", "type": "requests"}}"#,
        )
            .into_response(),
        Behaviour::EchoesKey => {
            (StatusCode::UNAUTHORIZED, format!("invalid key {API_KEY}")).into_response()
        }
        Behaviour::NonJsonContent => {
            completion("Sure! Line 1 is basmati rice (RICE-BAS-5), line 2 is eggs.")
        }
        Behaviour::MissingLine => {
            let mut answer = answer;
            answer["lines"].as_array_mut().unwrap().pop();
            completion(&answer.to_string())
        }
        Behaviour::Fenced => completion(&format!("```json\n{answer:#}\n```")),
    }
}

/// A chat-completions response carrying `content` as the assistant's message.
fn completion(content: &str) -> Response {
    axum::Json(json!({
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "model": MODEL,
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": content },
            "finish_reason": "stop",
        }],
    }))
    .into_response()
}

fn provider(base_url: &str, timeout: Duration) -> OpenAiProvider {
    OpenAiProvider::new(ProviderConfig {
        name: "primary".into(),
        base_url: base_url.to_owned(),
        model: MODEL.into(),
        api_key: Some(API_KEY.into()),
        timeout,
    })
    .unwrap()
}

fn order_lines() -> Vec<(u32, String)> {
    vec![
        (1, "5 kg basmati rice".to_owned()),
        (2, "2 darjan anda".to_owned()),
    ]
}

async fn enrich_with(behaviour: Behaviour) -> Result<Vec<AiLine>, ProviderError> {
    let (_fake, base_url) = Fake::start(behaviour).await;
    provider(&base_url, Duration::from_secs(5))
        .enrich(&order_lines(), CATALOGUE)
        .await
        .map(|answer| answer.lines)
}

#[tokio::test]
async fn correct_answer_is_returned_line_by_line() {
    let (_fake, base_url) = Fake::start(Behaviour::Correct).await;
    let provider = provider(&base_url, Duration::from_secs(5));
    assert_eq!(provider.name(), "primary");

    let answer = provider.enrich(&order_lines(), CATALOGUE).await.unwrap();

    assert_eq!(answer.language, "hi-Latn");
    let matched: Vec<_> = answer
        .lines
        .iter()
        .map(|line| {
            (
                line.line_no,
                line.sku.as_deref(),
                line.quantity,
                line.unit.as_str(),
            )
        })
        .collect();
    assert_eq!(
        matched,
        [
            (1, Some("RICE-BAS-5"), 5.0, "kg"),
            (2, Some("EGG-12"), 2.0, "dozen"),
        ]
    );
    assert_eq!(answer.lines[1].confidence, 0.8);
}

#[tokio::test]
async fn request_carries_key_model_format_catalogue_and_lines() {
    let (fake, base_url) = Fake::start(Behaviour::Correct).await;

    provider(&format!("{base_url}/"), Duration::from_secs(5))
        .enrich(&order_lines(), CATALOGUE)
        .await
        .unwrap();

    let received = fake.received();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.path, "/v1/chat/completions");
    assert_eq!(
        request.authorization.as_deref(),
        Some(format!("Bearer {API_KEY}").as_str())
    );
    let body = &request.body;
    assert_eq!(body["model"], MODEL);
    assert_eq!(body["response_format"], json!({ "type": "json_object" }));
    assert_eq!(body["temperature"], 0);
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system");
    let system = messages[0]["content"].as_str().unwrap();
    assert!(system.contains(CATALOGUE.trim_end()), "{system}");
    assert!(system.contains("\"line_no\""), "{system}");
    assert!(system.contains("\"confidence\""), "{system}");
    assert_eq!(messages[1]["role"], "user");
    let user: Value = serde_json::from_str(messages[1]["content"].as_str().unwrap()).unwrap();
    assert_eq!(
        user["lines"],
        json!([
            { "line_no": 1, "text": "5 kg basmati rice" },
            { "line_no": 2, "text": "2 darjan anda" },
        ])
    );
}

#[tokio::test]
async fn no_authorization_header_without_a_key() {
    let (fake, base_url) = Fake::start(Behaviour::Correct).await;
    let provider = OpenAiProvider::new(ProviderConfig {
        name: "local-llm".into(),
        base_url,
        model: MODEL.into(),
        api_key: None,
        timeout: Duration::from_secs(5),
    })
    .unwrap();

    provider.enrich(&order_lines(), CATALOGUE).await.unwrap();

    assert_eq!(fake.received()[0].authorization, None);
}

/// Asserts a timeout error that came no later than the deadline allows.
fn assert_timed_out(
    result: Result<impl std::fmt::Debug, ProviderError>,
    took: Duration,
    timeout: Duration,
) {
    let err = result.expect_err("the slow provider should time out");
    assert_eq!(err.kind(), "timeout", "{err}");
    assert!(
        took <= timeout * 2 + Duration::from_millis(200),
        "took {took:?} with a timeout of {timeout:?}"
    );
}

#[tokio::test]
async fn slow_provider_times_out_within_the_deadline() {
    let (_fake, base_url) = Fake::start(Behaviour::Slow).await;
    let timeout = Duration::from_millis(300);
    let provider = provider(&base_url, timeout);

    let started = Instant::now();
    let result = provider.enrich(&order_lines(), CATALOGUE).await;

    assert_timed_out(result, started.elapsed(), timeout);
}

#[tokio::test]
async fn stalled_body_times_out_within_the_deadline() {
    let (_fake, base_url) = Fake::start(Behaviour::StalledBody).await;
    let timeout = Duration::from_millis(300);
    let provider = provider(&base_url, timeout);

    let started = Instant::now();
    let result = provider.enrich(&order_lines(), CATALOGUE).await;

    assert_timed_out(result, started.elapsed(), timeout);
}

#[tokio::test]
async fn server_error_is_an_http_status_with_a_short_excerpt() {
    match enrich_with(Behaviour::ServerError).await {
        Err(ProviderError::Status { code, body }) => {
            assert_eq!(code, 500);
            assert!(body.starts_with("upstream exploded"), "{body}");
            assert!(
                body.chars().count() <= 200,
                "{} chars",
                body.chars().count()
            );
        }
        other => panic!("expected an HTTP status error, got {other:?}"),
    }
}

#[tokio::test]
async fn rate_limit_is_an_http_status() {
    let err = enrich_with(Behaviour::RateLimited).await.unwrap_err();
    assert_eq!(err.kind(), "http_status");
    assert!(
        matches!(err, ProviderError::Status { code: 429, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("Rate limit reached"), "{err}");
}

#[tokio::test]
async fn api_key_echoed_by_the_provider_is_redacted() {
    let err = enrich_with(Behaviour::EchoesKey).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::Status { code: 401, .. }),
        "{err:?}"
    );
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(API_KEY), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");
}

#[tokio::test]
async fn non_json_content_is_a_bad_answer() {
    let err = enrich_with(Behaviour::NonJsonContent).await.unwrap_err();
    assert_eq!(err.kind(), "bad_answer");
    assert!(err.to_string().contains("content is not JSON"), "{err}");
}

#[tokio::test]
async fn answer_missing_a_line_is_a_bad_answer() {
    let err = enrich_with(Behaviour::MissingLine).await.unwrap_err();
    assert_eq!(err.kind(), "bad_answer");
    assert!(err.to_string().contains("no answer for line_no 2"), "{err}");
}

#[tokio::test]
async fn fenced_json_answer_is_accepted() {
    let lines = enrich_with(Behaviour::Fenced).await.unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].sku.as_deref(), Some("RICE-BAS-5"));
}

#[tokio::test]
async fn unreachable_provider_is_a_transport_error() {
    // A port that was just free: nothing listens on it any more.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);

    let err = provider(&format!("http://{addr}/v1"), Duration::from_secs(5))
        .enrich(&order_lines(), CATALOGUE)
        .await
        .unwrap_err();

    assert_eq!(err.kind(), "transport", "{err}");
}

#[tokio::test]
async fn same_provider_recovers_when_the_server_does() {
    let (fake, base_url) = Fake::start(Behaviour::ServerError).await;
    let provider = provider(&base_url, Duration::from_secs(5));

    let first = provider.enrich(&order_lines(), CATALOGUE).await;
    fake.switch_to(Behaviour::Correct);
    let second = provider.enrich(&order_lines(), CATALOGUE).await;

    assert_eq!(first.unwrap_err().kind(), "http_status");
    assert_eq!(second.unwrap().lines.len(), 2);
    assert_eq!(fake.received().len(), 2);
}

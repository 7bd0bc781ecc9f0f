//! AI providers that match order lines to catalogue SKUs, and the circuit breaker around each.
//!
//! - [`OpenAiProvider`] (`openai.rs`): one OpenAI-compatible chat-completions endpoint (OpenAI, Groq,
//!   a local vLLM, ...). It sends the catalogue listing and the order lines, and returns an
//!   [`AiAnswer`] only when the answer passed strict validation; anything else is a
//!   [`ProviderError`]. SKUs are not checked against the catalogue here: the caller does that.
//! - [`CircuitBreaker`] (`breaker.rs`): stops calling a provider that keeps failing, and lets a
//!   few trial calls through once it has rested.
//!
//! The chain that tries the primary provider, then the secondary, then the local matcher lives
//! outside this module.

mod breaker;
mod openai;

use std::fmt;
use std::time::Duration;

pub use breaker::{BreakerConfig, BreakerState, CircuitBreaker, Clock, Permit};
pub use openai::OpenAiProvider;

/// Where and how to reach one OpenAI-compatible provider.
#[derive(Clone)]
pub struct ProviderConfig {
    /// Name used in logs and metrics, e.g. "primary", "openai", "groq".
    pub name: String,
    /// API root, e.g. "https://api.openai.com/v1"; requests go to `{base_url}/chat/completions`.
    pub base_url: String,
    /// Model asked for, e.g. "gpt-4o-mini".
    pub model: String,
    /// Bearer token. Never logged; `Debug` shows it as redacted.
    pub api_key: Option<String>,
    /// Deadline for a whole call: connect, request, response headers and body.
    pub timeout: Duration,
}

impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// One order line as the provider matched it.
#[derive(Debug, Clone, PartialEq)]
pub struct AiLine {
    /// The `line_no` of the input line this answers.
    pub line_no: u32,
    /// The SKU the provider chose, `None` when it found no match. Not checked against the
    /// catalogue.
    pub sku: Option<String>,
    /// Quantity in `unit`; finite and greater than zero.
    pub quantity: f64,
    /// Unit as the provider wrote it ("kg", "dozen", "packet"); never empty.
    pub unit: String,
    /// The provider's confidence in the match, in `0.0..=1.0`.
    pub confidence: f64,
}

/// A validated answer: the language of the order and one line per input line, in input order.
#[derive(Debug, Clone, PartialEq)]
pub struct AiAnswer {
    /// BCP 47 tag of the order's language as the provider detected it, e.g. "en", "hi-Latn".
    pub language: String,
    /// Exactly one entry per input line, in the order the lines were given.
    pub lines: Vec<AiLine>,
}

/// Why a provider call gave no usable answer. Every variant counts as a failure of the provider
/// (for its circuit breaker) and sends the caller to the next provider in the chain.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// No complete answer within the configured deadline.
    #[error("no complete answer within {0:?}")]
    Timeout(Duration),
    /// The provider answered with a non-2xx status (5xx, 429 rate limit, 401 bad key, ...).
    #[error("answered HTTP {code}: {body}")]
    Status {
        /// HTTP status code.
        code: u16,
        /// The start of the response body (at most 200 characters), for the operator.
        body: String,
    },
    /// The request could not be sent or the answer not received (DNS, connection refused, TLS,
    /// connection reset), or the HTTP client could not be built from the configuration.
    #[error("transport error: {0}")]
    Transport(String),
    /// The provider answered 2xx but the answer is not what was asked for; the message says what
    /// was wrong.
    #[error("unusable answer: {0}")]
    BadAnswer(String),
}

impl ProviderError {
    /// Short, stable label for metrics and logs: "timeout", "http_status", "transport" or
    /// "bad_answer".
    pub fn kind(&self) -> &'static str {
        match self {
            ProviderError::Timeout(_) => "timeout",
            ProviderError::Status { .. } => "http_status",
            ProviderError::Transport(_) => "transport",
            ProviderError::BadAnswer(_) => "bad_answer",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_config_hides_the_api_key() {
        let cfg = ProviderConfig {
            name: "primary".into(),
            base_url: "https://api.example.com/v1".into(),
            model: "m".into(),
            api_key: Some("sk-very-secret".into()),
            timeout: Duration::from_secs(5),
        };
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("sk-very-secret"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }

    #[test]
    fn kinds_are_stable_labels() {
        assert_eq!(
            ProviderError::Timeout(Duration::from_secs(1)).kind(),
            "timeout"
        );
        let status = ProviderError::Status {
            code: 500,
            body: String::new(),
        };
        assert_eq!(status.kind(), "http_status");
        assert_eq!(ProviderError::Transport(String::new()).kind(), "transport");
        assert_eq!(ProviderError::BadAnswer(String::new()).kind(), "bad_answer");
    }
}

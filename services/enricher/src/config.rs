//! Configuration of the enricher service.
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser};
use orders_runtime::KafkaConfig;
use orders_runtime::worker::{WorkerConfig, parse_duration};

use crate::provider::{BreakerConfig, ProviderConfig};

/// Configuration of the enricher.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "orders-enricher",
    about = "Matches order lines to the catalogue (AI providers with a local fallback)",
    version
)]
pub struct EnricherConfig {
    /// Consumer group.
    #[arg(long, env = "ORDERS_ENRICHER_GROUP", default_value = "orders-enricher")]
    pub group: String,
    /// Product catalogue (JSON, see services/enricher/catalogue/catalogue.json); the built-in one
    /// when unset.
    #[arg(long, env = "ORDERS_CATALOGUE")]
    pub catalogue: Option<PathBuf>,
    /// Print the resulting configuration (secrets hidden) and exit.
    #[arg(long)]
    pub print_config: bool,
    #[command(flatten)]
    pub ai: AiConfig,
    #[command(flatten)]
    pub worker: WorkerConfig,
    #[command(flatten)]
    pub kafka: KafkaConfig,
    #[command(flatten)]
    pub observe: orders_runtime::observe::ObserveConfig,
}

/// The AI providers (OpenAI-compatible chat completions). A provider without a URL is not used.
#[derive(Clone, Args)]
pub struct AiConfig {
    /// Primary provider's API root, e.g. https://api.openai.com/v1.
    #[arg(long, env = "ORDERS_AI_PRIMARY_URL")]
    pub primary_url: Option<String>,
    /// Primary provider's model.
    #[arg(long, env = "ORDERS_AI_PRIMARY_MODEL", default_value = "gpt-4o-mini")]
    pub primary_model: String,
    /// Primary provider's API key (sent as a bearer token).
    #[arg(long, env = "ORDERS_AI_PRIMARY_API_KEY", hide_env_values = true)]
    pub primary_api_key: Option<String>,
    /// Secondary provider's API root.
    #[arg(long, env = "ORDERS_AI_SECONDARY_URL")]
    pub secondary_url: Option<String>,
    /// Secondary provider's model.
    #[arg(
        long,
        env = "ORDERS_AI_SECONDARY_MODEL",
        default_value = "llama-3.1-8b-instant"
    )]
    pub secondary_model: String,
    /// Secondary provider's API key.
    #[arg(long, env = "ORDERS_AI_SECONDARY_API_KEY", hide_env_values = true)]
    pub secondary_api_key: Option<String>,
    /// Deadline of one provider call (connect, request, whole answer).
    #[arg(long, env = "ORDERS_AI_TIMEOUT", default_value = "3s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Consecutive failures that open a provider's circuit.
    #[arg(long, env = "ORDERS_AI_BREAKER_FAILURES", default_value_t = 3)]
    pub breaker_failures: u32,
    /// How long an open circuit rests before a trial call.
    #[arg(long, env = "ORDERS_AI_BREAKER_OPEN_FOR", default_value = "30s", value_parser = parse_duration)]
    pub breaker_open_for: Duration,
    /// Trial calls let through while half-open.
    #[arg(long, env = "ORDERS_AI_BREAKER_TRIALS", default_value_t = 1)]
    pub breaker_trials: u32,
}

impl std::fmt::Debug for AiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let key = |k: &Option<String>| k.as_ref().map(|_| "***");
        f.debug_struct("AiConfig")
            .field("primary_url", &self.primary_url)
            .field("primary_model", &self.primary_model)
            .field("primary_api_key", &key(&self.primary_api_key))
            .field("secondary_url", &self.secondary_url)
            .field("secondary_model", &self.secondary_model)
            .field("secondary_api_key", &key(&self.secondary_api_key))
            .field("timeout", &self.timeout)
            .field("breaker_failures", &self.breaker_failures)
            .field("breaker_open_for", &self.breaker_open_for)
            .field("breaker_trials", &self.breaker_trials)
            .finish()
    }
}

impl AiConfig {
    /// The configured providers in order of preference.
    pub fn providers(&self) -> Vec<ProviderConfig> {
        [
            (
                "primary",
                &self.primary_url,
                &self.primary_model,
                &self.primary_api_key,
            ),
            (
                "secondary",
                &self.secondary_url,
                &self.secondary_model,
                &self.secondary_api_key,
            ),
        ]
        .into_iter()
        .filter_map(|(name, url, model, key)| {
            url.as_ref().map(|url| ProviderConfig {
                name: name.to_owned(),
                base_url: url.clone(),
                model: model.clone(),
                api_key: key.clone(),
                timeout: self.timeout,
            })
        })
        .collect()
    }

    pub fn breaker(&self) -> BreakerConfig {
        BreakerConfig {
            failure_threshold: self.breaker_failures,
            open_for: self.breaker_open_for,
            half_open_max_calls: self.breaker_trials,
        }
    }
}

//! The enricher: turns the lines of an `OrderPlaced` into catalogue lines for `OrderEnriched`, on
//! the shared worker loop.
//!
//! - [`units`]: quantities and units in free text ("5 kg", "2 dozen", "500 g", "1 packet") and
//!   conversions between units.
//! - [`catalogue`]: the product catalogue shipped with the project (`catalogue/catalogue.json`).
//! - [`local`]: the built-in local enricher that always answers (catalogue matching, language
//!   detection, confidence).
//! - [`provider`]: OpenAI-compatible chat-completions providers and the circuit breaker around them.
//! - [`chain`]: primary, secondary, then local; records every attempt.
//! - [`enricher`]: the handler; [`config`]: the service's settings.
pub mod catalogue;
pub mod chain;
pub mod config;
pub mod enricher;
pub mod local;
pub mod provider;
pub mod units;

use std::sync::Arc;

use orders_runtime::{Shutdown, worker};

pub use config::EnricherConfig;
pub use enricher::Enricher;

/// Errors that stop the enricher.
#[derive(Debug, thiserror::Error)]
pub enum EnricherError {
    #[error(transparent)]
    Runtime(#[from] orders_runtime::RuntimeError),
    #[error(transparent)]
    Catalogue(#[from] catalogue::CatalogueError),
    #[error("AI provider {name}: {source}")]
    Provider {
        name: String,
        source: provider::ProviderError,
    },
}

/// The provider chain described by `config`.
pub fn chain(config: &EnricherConfig) -> Result<chain::Chain, EnricherError> {
    let catalogue = match &config.catalogue {
        Some(path) => Arc::new(catalogue::Catalogue::load(path)?),
        None => catalogue::Catalogue::builtin(),
    };
    let slots = config
        .ai
        .providers()
        .into_iter()
        .map(|cfg| {
            let name = cfg.name.clone();
            let provider =
                provider::OpenAiProvider::new(cfg).map_err(|source| EnricherError::Provider {
                    name: name.clone(),
                    source,
                })?;
            let breaker = provider::CircuitBreaker::new(config.ai.breaker()).named(name);
            Ok(chain::Slot { provider, breaker })
        })
        .collect::<Result<Vec<_>, EnricherError>>()?;
    Ok(chain::Chain::new(slots, catalogue))
}

/// Enriches orders until `shutdown` is cancelled.
pub async fn run(config: EnricherConfig, shutdown: Shutdown) -> Result<(), EnricherError> {
    let chain = chain(&config)?;
    let providers: Vec<&str> = chain.slots().iter().map(|s| s.provider.name()).collect();
    tracing::info!(?providers, "provider chain ready (then local)");
    orders_runtime::topics::ensure(
        &config.kafka,
        &[&config.kafka.events_topic, &config.kafka.dlq_topic],
    )
    .await?;
    let mut worker_cfg = config.worker.clone();
    worker_cfg.health = orders_runtime::observe::start_service(
        &config.observe,
        9102,
        &config.kafka,
        None,
        &shutdown,
    )
    .await?;
    worker::run(
        &config.kafka,
        &config.group,
        Enricher { chain },
        &worker_cfg,
        shutdown,
    )
    .await?;
    Ok(())
}

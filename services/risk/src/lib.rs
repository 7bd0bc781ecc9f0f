//! The risk scorer: scores each enriched order 0–100 with explainable rules and decides approve,
//! review or reject (`OrderEnriched` → `OrderRiskAssessed`), on the shared worker loop.
//!
//! - [`rules`]: the rules, their weights and thresholds (configurable), and the scoring (pure).
//! - [`scorer`]: the handler: the order's facts from the event, the customer's history from the
//!   read models (`customer_stats`, `orders`), then [`rules::assess`].
pub mod rules;
pub mod scorer;

use std::path::PathBuf;

use clap::Parser;
use orders_projections::DbConfig;
use orders_runtime::observe::{self, ObserveConfig};
use orders_runtime::worker::{self, WorkerConfig};
use orders_runtime::{KafkaConfig, Shutdown};

pub use scorer::RiskScorer;

/// Configuration of the risk scorer.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "orders-risk",
    about = "Scores enriched orders and decides approve, review or reject",
    version
)]
pub struct RiskServiceConfig {
    /// Consumer group.
    #[arg(long, env = "ORDERS_RISK_GROUP", default_value = "orders-risk")]
    pub group: String,
    /// Rules file (JSON, see services/risk/risk.json); the built-in defaults when unset.
    #[arg(long, env = "ORDERS_RISK_CONFIG")]
    pub rules: Option<PathBuf>,
    /// Print the resulting configuration (secrets hidden) and exit.
    #[arg(long)]
    pub print_config: bool,
    #[command(flatten)]
    pub worker: WorkerConfig,
    #[command(flatten)]
    pub kafka: KafkaConfig,
    #[command(flatten)]
    pub db: DbConfig,
    #[command(flatten)]
    pub observe: ObserveConfig,
}

/// Errors that stop the risk scorer.
#[derive(Debug, thiserror::Error)]
pub enum RiskError {
    #[error(transparent)]
    Runtime(#[from] orders_runtime::RuntimeError),
    #[error(transparent)]
    Db(#[from] orders_projections::DbError),
    #[error(transparent)]
    Rules(#[from] rules::RiskConfigError),
}

/// The rules in effect: the file given, or the defaults.
pub fn load_rules(config: &RiskServiceConfig) -> Result<rules::RiskConfig, RiskError> {
    Ok(match &config.rules {
        Some(path) => rules::RiskConfig::load(path)?,
        None => rules::RiskConfig::default(),
    })
}

/// Scores orders until `shutdown` is cancelled.
pub async fn run(config: RiskServiceConfig, shutdown: Shutdown) -> Result<(), RiskError> {
    let rules = load_rules(&config)?;
    orders_runtime::topics::ensure(
        &config.kafka,
        &[&config.kafka.events_topic, &config.kafka.dlq_topic],
    )
    .await?;
    let pool = config.db.pool()?;
    // The scorer reads the read models; make sure they exist even if it starts before the projector.
    orders_projections::migrate_read_models(&pool, &config.db.schema).await?;
    let mut worker_cfg = config.worker.clone();
    worker_cfg.health =
        observe::start_service(&config.observe, 9103, &config.kafka, Some(&pool), &shutdown)
            .await?;
    let handler = RiskScorer {
        pool,
        config: rules,
    };
    worker::run(&config.kafka, &config.group, handler, &worker_cfg, shutdown).await?;
    Ok(())
}

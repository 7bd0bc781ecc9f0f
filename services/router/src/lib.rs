//! The router: chooses a hub for each approved order and decides cancellation requests, on the
//! shared worker loop (`OrderRiskAssessed`, `OrderReviewed`, `OrderCancellationRequested` →
//! `OrderRouted`, `OrderRoutingFailed`, `OrderCancelled`, `OrderCancellationRejected`).
//!
//! - [`hubs`]: hubs from configuration (location, service radius, daily capacity, categories) and
//!   the choice of the nearest eligible hub with capacity left (pure).
//! - [`router`]: the handler and the router's own state in PostgreSQL (`migrations/`): per-order
//!   state, per-hub daily capacity reserved atomically, and the answer given to each source event.
pub mod hubs;
pub mod router;

use std::path::PathBuf;

use clap::Parser;
use orders_projections::DbConfig;
use orders_projections::migrate::Migration;
use orders_runtime::observe::{self, ObserveConfig};
use orders_runtime::worker::{self, WorkerConfig};
use orders_runtime::{KafkaConfig, Shutdown};

pub use router::Router;

/// Migrations of the router's state tables (in the same schema as the read models).
pub const ROUTER_MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "router_state",
    sql: include_str!("../migrations/0001_router_state.sql"),
}];

/// Configuration of the router.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "orders-router",
    about = "Routes approved orders to hubs and decides cancellations",
    version
)]
pub struct RouterConfig {
    /// Consumer group.
    #[arg(long, env = "ORDERS_ROUTER_GROUP", default_value = "orders-router")]
    pub group: String,
    /// Hubs file (JSON, see services/router/hubs.json); the built-in hubs when unset.
    #[arg(long, env = "ORDERS_HUBS_CONFIG")]
    pub hubs: Option<PathBuf>,
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

/// Errors that stop the router.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    #[error(transparent)]
    Runtime(#[from] orders_runtime::RuntimeError),
    #[error(transparent)]
    Db(#[from] orders_projections::DbError),
    #[error(transparent)]
    Hubs(#[from] hubs::HubsConfigError),
}

/// The hubs in effect: the file given, or the built-in ones.
pub fn load_hubs(config: &RouterConfig) -> Result<hubs::HubsConfig, RouterError> {
    Ok(match &config.hubs {
        Some(path) => hubs::HubsConfig::load(path)?,
        None => hubs::HubsConfig::builtin(),
    })
}

/// Routes orders until `shutdown` is cancelled.
pub async fn run(config: RouterConfig, shutdown: Shutdown) -> Result<(), RouterError> {
    let hubs = load_hubs(&config)?;
    orders_runtime::topics::ensure(
        &config.kafka,
        &[&config.kafka.events_topic, &config.kafka.dlq_topic],
    )
    .await?;
    let pool = config.db.pool()?;
    orders_projections::migrate_read_models(&pool, &config.db.schema).await?;
    orders_projections::migrate::run(&pool, &config.db.schema, "router", ROUTER_MIGRATIONS).await?;
    let mut worker_cfg = config.worker.clone();
    worker_cfg.health =
        observe::start_service(&config.observe, 9104, &config.kafka, Some(&pool), &shutdown)
            .await?;
    let handler = Router { pool, hubs };
    worker::run(&config.kafka, &config.group, handler, &worker_cfg, shutdown).await?;
    Ok(())
}

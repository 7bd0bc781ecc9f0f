//! The projector: consumes `orders.events` with the shared batch loop and applies each batch to the
//! read models through [`orders_projections::Projection`], offsets in the same transaction.
use clap::Parser;
use orders_projections::{DbConfig, Projection};
use orders_runtime::batch::{self, BatchConfig};
use orders_runtime::dlq::DeadLetterSink;
use orders_runtime::{KafkaConfig, Shutdown};

/// Configuration of the projector.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "orders-projector",
    about = "Builds the read models from the order log",
    version
)]
pub struct ProjectorConfig {
    /// Consumer group; also the projection's name in `projection_offsets`.
    #[arg(
        long,
        env = "ORDERS_PROJECTOR_GROUP",
        default_value = "orders-projector"
    )]
    pub group: String,
    /// Largest batch applied in one transaction.
    #[arg(long, env = "ORDERS_PROJECTOR_BATCH", default_value_t = 500)]
    pub max_batch: usize,
    /// Print the resulting configuration (secrets hidden) and exit.
    #[arg(long)]
    pub print_config: bool,
    #[command(flatten)]
    pub kafka: KafkaConfig,
    #[command(flatten)]
    pub db: DbConfig,
    #[command(flatten)]
    pub observe: orders_runtime::observe::ObserveConfig,
}

/// Errors that stop the projector.
#[derive(Debug, thiserror::Error)]
pub enum ProjectorError {
    #[error(transparent)]
    Runtime(#[from] orders_runtime::RuntimeError),
    #[error(transparent)]
    Db(#[from] orders_projections::DbError),
}

/// Migrates the read models, then projects until `shutdown` is cancelled.
pub async fn run(config: ProjectorConfig, shutdown: Shutdown) -> Result<(), ProjectorError> {
    orders_runtime::topics::ensure(
        &config.kafka,
        &[&config.kafka.events_topic, &config.kafka.dlq_topic],
    )
    .await?;
    let pool = config.db.pool()?;
    orders_projections::migrate_read_models(&pool, &config.db.schema).await?;
    let pool_for_probe = pool.clone();
    let projection =
        Projection::new(pool, config.group.clone()).with_dead_letters(DeadLetterSink {
            producer: orders_runtime::kafka::producer(&config.kafka, &config.group)?,
            topic: config.kafka.dlq_topic.clone(),
            group: config.group.clone(),
        });
    let health = orders_runtime::observe::start_service(
        &config.observe,
        9101,
        &config.kafka,
        Some(&pool_for_probe),
        &shutdown,
    )
    .await?;
    let batch_cfg = BatchConfig {
        max_records: config.max_batch,
        health,
        ..BatchConfig::default()
    };
    batch::run(
        &config.kafka,
        &config.group,
        &config.kafka.events_topic,
        &projection,
        &batch_cfg,
        shutdown,
    )
    .await?;
    Ok(())
}

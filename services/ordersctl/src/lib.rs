//! `ordersctl`: the operators' and analysts' tool of the order pipeline.
//!
//! - [`dlq`]: dead letters: stats, list, show, redrive (targeted, rate-limited, resumable), purge
//!   (archived first); their handling is recorded in PostgreSQL (`dlq_runs`, `dlq_handled`).
//! - [`events`]: export a slice of the log for analysts (JSON Lines or CSV, upcast).
//! - [`order`]: an order's timeline from the read model.
//! - [`projection`]: offsets and lag of the projections.
//! - [`topics`]: create and describe the topics.
//! - [`log`]: reading topics without a consumer group; [`output`]: tables and JSON.
pub mod dlq;
pub mod error;
pub mod events;
pub mod log;
pub mod order;
pub mod output;
pub mod projection;
pub mod time;
pub mod topics;

use clap::{Parser, Subcommand};
use orders_projections::DbConfig;
use orders_runtime::KafkaConfig;

pub use error::CtlError;
pub use output::Format;

const EXIT_CODES: &str = "\
Exit codes: 0 done; 1 failed (broker, database, bad input file); 2 wrong command line;
3 not found (dead letter, order, topic); 4 refused (confirmation declined, over --max-redrives,
differences found); 130 interrupted (run the same command again to resume).

Connection settings come from the same environment as the services: KAFKA_BROKERS,
ORDERS_EVENTS_TOPIC, ORDERS_DLQ_TOPIC, ORDERS_KAFKA_PROPERTIES, DATABASE_URL, ORDERS_DB_SCHEMA.";

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "ordersctl",
    version,
    about = "Operate the order pipeline: dead letters, replay for analysts, projections, topics",
    after_help = EXIT_CODES
)]
pub struct Cli {
    /// Output: `table` for people, `json` (one document) or `jsonl` (one object per line) for scripts.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = Format::Table)]
    pub output: Format,
    #[command(flatten, next_help_heading = "Broker")]
    pub kafka: KafkaConfig,
    #[command(flatten, next_help_heading = "Database")]
    pub db: DbConfig,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Dead letters in the DLQ topic: inspect, redrive to the group that failed, purge.
    #[command(subcommand)]
    Dlq(dlq::DlqCommand),
    /// Read the order log without disturbing the services.
    #[command(subcommand)]
    Events(events::EventsCommand),
    /// One order's history.
    #[command(subcommand)]
    Order(order::OrderCommand),
    /// The read-model projections.
    #[command(subcommand)]
    Projection(projection::ProjectionCommand),
    /// Create or describe the pipeline's topics.
    #[command(subcommand)]
    Topics(topics::TopicsCommand),
    /// Apply every component's PostgreSQL migrations (read models, ingress, router, ordersctl) to
    /// ORDERS_DB_SCHEMA; safe to run again.
    Migrate,
    /// Print a shell completion script, e.g. `ordersctl completions bash > /etc/bash_completion.d/ordersctl`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Set by Ctrl-C while a long command runs; the command stops at a safe point and says how to resume.
pub struct Interrupt {
    flag: std::sync::Arc<std::sync::atomic::AtomicBool>,
    watcher: tokio::task::JoinHandle<()>,
}

impl Interrupt {
    pub fn watch() -> Interrupt {
        let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let watcher = {
            let flag = flag.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    flag.store(true, std::sync::atomic::Ordering::SeqCst);
                }
            })
        };
        Interrupt { flag, watcher }
    }

    pub fn requested(&self) -> bool {
        self.flag.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for Interrupt {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

/// Everything a command needs to reach the stack.
pub struct Ctx {
    pub kafka: KafkaConfig,
    pub db: DbConfig,
    pub format: Format,
}

impl Ctx {
    pub fn pool(&self) -> Result<deadpool_postgres::Pool, CtlError> {
        Ok(self.db.pool()?)
    }
}

/// Runs one command line.
pub async fn run(cli: Cli) -> Result<(), CtlError> {
    let ctx = Ctx {
        kafka: cli.kafka,
        db: cli.db,
        format: cli.output,
    };
    match cli.command {
        Command::Dlq(cmd) => dlq::run(&ctx, cmd).await,
        Command::Events(cmd) => events::run(&ctx, cmd).await,
        Command::Order(cmd) => order::run(&ctx, cmd).await,
        Command::Projection(cmd) => projection::run(&ctx, cmd).await,
        Command::Topics(cmd) => topics::run(&ctx, cmd).await,
        Command::Migrate => migrate(&ctx).await,
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "ordersctl",
                &mut std::io::stdout(),
            );
            Ok(())
        }
    }
}

/// The migrations ordersctl owns: the dead-letter ledger.
pub const CTL_MIGRATIONS: &[orders_projections::migrate::Migration] =
    &[orders_projections::migrate::Migration {
        version: 1,
        name: "dlq_ledger",
        sql: include_str!("../migrations/0001_dlq_ledger.sql"),
    }];

/// Applies every component's migrations to the configured schema.
pub async fn migrate(ctx: &Ctx) -> Result<(), CtlError> {
    let pool = ctx.pool()?;
    let schema = &ctx.db.schema;
    orders_projections::migrate_read_models(&pool, schema).await?;
    orders_projections::migrate::run(&pool, schema, "ingress", orders_ingress::INGRESS_MIGRATIONS)
        .await?;
    orders_projections::migrate::run(&pool, schema, "router", orders_router::ROUTER_MIGRATIONS)
        .await?;
    orders_projections::migrate::run(&pool, schema, "ordersctl", CTL_MIGRATIONS).await?;
    output::note(&format!("schema {schema} is migrated"));
    Ok(())
}

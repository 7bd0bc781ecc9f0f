//! PostgreSQL read models of the order pipeline.
//!
//! - [`db`]: connection settings (`DATABASE_URL`, `ORDERS_DB_SCHEMA`), pools pinned to a schema, and
//!   the classification of database errors into retryable or not.
//! - [`migrate`]: the migration runner; the SQL lives in `projections/migrations/`.
//! - [`apply`]: the projection: applies a batch of events and its offsets in one transaction,
//!   skipping event ids it has already applied; `effects` holds what each later event changes.
//! - [`queries`]: what the API reads: one order, a filtered page of orders, an order's timeline.
pub mod apply;
pub mod db;
mod effects;
pub mod migrate;
pub mod queries;

pub use apply::Projection;
pub use db::{DbConfig, DbError};

/// Migrations of the read models, in order. Applied ones must never be edited: add a new file.
pub const READ_MODEL_MIGRATIONS: &[migrate::Migration] = &[
    migrate::Migration {
        version: 1,
        name: "read_models",
        sql: include_str!("../migrations/0001_read_models.sql"),
    },
    migrate::Migration {
        version: 2,
        name: "decisions",
        sql: include_str!("../migrations/0002_decisions.sql"),
    },
];

/// Creates the schema if needed and applies the read-model migrations to it.
pub async fn migrate_read_models(
    pool: &deadpool_postgres::Pool,
    schema: &str,
) -> Result<(), DbError> {
    migrate::run(pool, schema, "read_models", READ_MODEL_MIGRATIONS).await
}

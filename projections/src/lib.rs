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

/// A table the projection writes, and its columns set from the clock at projection time (which a
/// rebuild sets anew, so a comparison of live and rebuilt models leaves them out).
#[derive(Debug, Clone, Copy)]
pub struct ReadModelTable {
    pub name: &'static str,
    pub clock_columns: &'static [&'static str],
}

/// Every table the read-model migrations create: what a rebuild fills and a cutover swaps. `orders`
/// is partitioned by month; its partitions (`orders_pYYYYMM`) go with it.
pub const READ_MODEL_TABLES: &[ReadModelTable] = &[
    ReadModelTable {
        name: "orders",
        clock_columns: &["projected_at", "decided_at"],
    },
    ReadModelTable {
        name: "order_lines",
        clock_columns: &[],
    },
    ReadModelTable {
        name: "order_timeline",
        clock_columns: &["projected_at"],
    },
    ReadModelTable {
        name: "projection_offsets",
        clock_columns: &["updated_at"],
    },
    ReadModelTable {
        name: "projection_rejects",
        clock_columns: &["rejected_at"],
    },
    ReadModelTable {
        name: "order_enrichments",
        clock_columns: &[],
    },
    ReadModelTable {
        name: "order_risk",
        clock_columns: &[],
    },
    ReadModelTable {
        name: "order_routes",
        clock_columns: &[],
    },
    ReadModelTable {
        name: "order_reviews",
        clock_columns: &[],
    },
    ReadModelTable {
        name: "customer_stats",
        clock_columns: &[],
    },
    ReadModelTable {
        name: "hub_load",
        clock_columns: &[],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_of_the_migrations_is_a_listed_read_model_table() {
        let mut created: Vec<String> = READ_MODEL_MIGRATIONS
            .iter()
            .flat_map(|m| m.sql.lines())
            .filter_map(|l| l.trim().strip_prefix("CREATE TABLE "))
            .map(|rest| rest.split_whitespace().next().unwrap().to_owned())
            .collect();
        created.sort();
        let mut listed: Vec<String> = READ_MODEL_TABLES
            .iter()
            .map(|t| t.name.to_owned())
            .collect();
        listed.sort();
        assert_eq!(created, listed, "add new tables to READ_MODEL_TABLES");
    }
}

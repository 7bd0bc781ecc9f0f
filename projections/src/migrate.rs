//! A small migration runner. It exists instead of a migration crate because the read models must be
//! migrated into any schema (live or a rebuild's shadow) with the schema taken from the connection's
//! search_path, and concurrent starts of several replicas must serialise on an advisory lock.
use deadpool_postgres::Pool;
use sha2::{Digest, Sha256};

use crate::db::{DbError, check_schema_name};

/// One SQL file.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Creates `schema` and applies the `component`'s migrations not yet applied there, each in its own
/// transaction. Fails if an applied migration's text has changed since.
pub async fn run(
    pool: &Pool,
    schema: &str,
    component: &str,
    migrations: &[Migration],
) -> Result<(), DbError> {
    check_schema_name(schema)?;
    let mut client = pool.get().await?;
    let lock_key = format!("orders-migrate:{schema}");
    client
        .execute("SELECT pg_advisory_lock(hashtext($1))", &[&lock_key])
        .await?;
    let result = apply_all(&mut client, schema, component, migrations).await;
    client
        .execute("SELECT pg_advisory_unlock(hashtext($1))", &[&lock_key])
        .await?;
    result
}

async fn apply_all(
    client: &mut deadpool_postgres::Client,
    schema: &str,
    component: &str,
    migrations: &[Migration],
) -> Result<(), DbError> {
    client
        .batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {schema};
             CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
                 component  text        NOT NULL,
                 version    integer     NOT NULL,
                 name       text        NOT NULL,
                 checksum   text        NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now(),
                 PRIMARY KEY (component, version));"
        ))
        .await?;
    for m in migrations {
        let checksum = hex(&Sha256::digest(m.sql.as_bytes()));
        let applied = client
            .query_opt(
                &format!(
                    "SELECT checksum FROM {schema}.schema_migrations \
                     WHERE component = $1 AND version = $2"
                ),
                &[&component, &m.version],
            )
            .await?;
        match applied {
            Some(row) if row.get::<_, String>(0) == checksum => continue,
            Some(_) => {
                return Err(DbError::MigrationEdited {
                    component: component.to_owned(),
                    version: m.version,
                    name: m.name.to_owned(),
                });
            }
            None => {}
        }
        let tx = client.transaction().await?;
        tx.batch_execute(&format!("SET LOCAL search_path TO {schema}"))
            .await?;
        tx.batch_execute(m.sql).await?;
        tx.execute(
            &format!(
                "INSERT INTO {schema}.schema_migrations (component, version, name, checksum) \
                 VALUES ($1, $2, $3, $4)"
            ),
            &[&component, &m.version, &m.name, &checksum],
        )
        .await?;
        tx.commit().await?;
        tracing::info!(
            schema,
            component,
            version = m.version,
            name = m.name,
            "migration applied"
        );
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

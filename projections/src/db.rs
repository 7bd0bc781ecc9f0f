//! Connection settings and pools.
use clap::Args;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

/// Where the read models live.
#[derive(Debug, Clone, Args)]
pub struct DbConfig {
    /// PostgreSQL connection URL of the primary (read models are written here).
    #[arg(
        long = "database-url",
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/orders"
    )]
    pub url: String,
    /// Optional read replica for queries; queries use the primary when unset.
    #[arg(long = "database-read-url", env = "DATABASE_READ_URL")]
    pub read_url: Option<String>,
    /// Schema holding the tables (lower-case letters, digits and '_'); a rebuild uses another one.
    #[arg(long = "db-schema", env = "ORDERS_DB_SCHEMA", default_value = "orders")]
    pub schema: String,
    /// Largest number of connections per pool (opened on demand). The ingress holds one for each
    /// write until the broker acks, so this bounds its in-flight PlaceOrder/CancelOrder calls: at
    /// 16, a broker that takes 100 ms to ack caps it near 160 orders/s.
    #[arg(
        long = "db-pool-size",
        env = "ORDERS_DB_POOL_SIZE",
        default_value_t = 48
    )]
    pub pool_size: usize,
}

impl DbConfig {
    pub fn new(url: impl Into<String>, schema: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            read_url: None,
            schema: schema.into(),
            // Small: tests run many services side by side against one server (max_connections
            // is 100 by default).
            pool_size: 6,
        }
    }

    /// A pool on the primary whose connections use [`Self::schema`].
    pub fn pool(&self) -> Result<Pool, DbError> {
        pool_for(&self.url, &self.schema, self.pool_size)
    }

    /// A pool for queries: the replica when configured, else the primary.
    pub fn read_pool(&self) -> Result<Pool, DbError> {
        pool_for(
            self.read_url.as_deref().unwrap_or(&self.url),
            &self.schema,
            self.pool_size,
        )
    }
}

/// Checks that `schema` is a plain identifier, so it can be spliced into SQL safely.
pub fn check_schema_name(schema: &str) -> Result<(), DbError> {
    let ok = !schema.is_empty()
        && schema.len() <= 63
        && schema.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && schema
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(DbError::Config(format!(
            "schema name {schema:?} is not allowed: use 1 to 63 lower-case letters, digits and '_', \
             starting with a letter or '_'"
        )))
    }
}

fn pool_for(url: &str, schema: &str, size: usize) -> Result<Pool, DbError> {
    check_schema_name(schema)?;
    let mut pg: tokio_postgres::Config = url.parse().map_err(|e| {
        DbError::Config(format!(
            "DATABASE_URL {:?} is not a PostgreSQL URL ({e}); write e.g. \
             postgres://user@host:5432/dbname",
            redact(url)
        ))
    })?;
    pg.options(format!("-c search_path={schema}"));
    pg.application_name("orders");
    let manager = Manager::from_config(
        pg,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = Pool::builder(manager)
        .max_size(size)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .wait_timeout(Some(std::time::Duration::from_secs(10)))
        .create_timeout(Some(std::time::Duration::from_secs(5)))
        .build()
        .map_err(|e| DbError::Config(e.to_string()))?;
    close_idle_connections(&pool);
    Ok(pool)
}

/// A connection unused for this long is closed, so that a burst does not keep the server's
/// connection slots (100 by default) taken by idle connections for ever.
const IDLE_CLOSE: std::time::Duration = std::time::Duration::from_secs(60);

/// Prunes idle connections every half [`IDLE_CLOSE`] while the pool exists (deadpool keeps them
/// otherwise). Needs a Tokio runtime; outside one the pool keeps its connections.
fn close_idle_connections(pool: &Pool) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let weak = pool.weak();
    runtime.spawn(async move {
        let mut tick = tokio::time::interval(IDLE_CLOSE / 2);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(pool) = weak.upgrade() else { return };
            pool.retain(|_, metrics| metrics.last_used() < IDLE_CLOSE);
        }
    });
}

impl DbConfig {
    /// A copy fit for printing: passwords in the URLs replaced by `***`.
    pub fn redacted(&self) -> DbConfig {
        DbConfig {
            url: redact(&self.url),
            read_url: self.read_url.as_deref().map(redact),
            ..self.clone()
        }
    }
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Database errors, classified for the consumer loop and the API.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database configuration: {0}")]
    Config(String),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Every pooled connection stayed busy for the pool's wait timeout (10 s): overload, not an
    /// outage of the database.
    #[error("every pooled database connection stayed busy for the pool's wait timeout")]
    Busy,
    /// The read models were replaced under the projection (a cutover to rebuilt tables); the batch
    /// was rolled back and the stored offsets must be read again.
    #[error("the read models were replaced (projection cutover); re-reading the stored offsets")]
    Moved,
    /// A dead letter was not acknowledged; the batch is retried.
    #[error("dead-letter topic unavailable: {0}")]
    DeadLetter(String),
    #[error("database error: {}", pg_detail(.0))]
    Query(#[from] tokio_postgres::Error),
    #[error(
        "migration {component} v{version} ({name}) was edited after it was applied; add a new migration instead"
    )]
    MigrationEdited {
        component: String,
        version: i32,
        name: String,
    },
}

/// For workers: a database that cannot be reached is an outage (the worker pauses); anything else
/// is a bug in a query or the data, which retrying will not fix (a dead letter).
impl From<DbError> for orders_runtime::worker::HandlerError {
    fn from(e: DbError) -> Self {
        if e.is_retryable() {
            Self::outage("database_unavailable", e.to_string())
        } else {
            Self::permanent("database_error", e.to_string())
        }
    }
}

/// A tokio-postgres error with the server's message and SQLSTATE (its Display says only "db error").
/// The server's detail is left out when it quotes a whole row ("Failing row contains (...)"): rows
/// of the read models hold names, phone numbers and addresses, which must not reach the logs.
fn pg_detail(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!(
            "{} (SQLSTATE {}){}",
            db.message(),
            db.code().code(),
            db.detail()
                .filter(|d| !d.starts_with("Failing row contains"))
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        ),
        None => match std::error::Error::source(e) {
            Some(source) => format!("{e}: {source}"),
            None => e.to_string(),
        },
    }
}

impl DbError {
    /// True when trying again later can succeed: connection failures, timeouts, serialisation
    /// conflicts, the server shutting down. False for errors in the SQL or the data.
    pub fn is_retryable(&self) -> bool {
        match self {
            DbError::Config(_) | DbError::MigrationEdited { .. } | DbError::Moved => false,
            DbError::Unavailable(_) | DbError::DeadLetter(_) | DbError::Busy => true,
            DbError::Query(e) => match e.code() {
                None => true, // I/O, closed connection, timeout
                Some(code) => {
                    code == &SqlState::T_R_SERIALIZATION_FAILURE
                        || code == &SqlState::T_R_DEADLOCK_DETECTED
                        || code == &SqlState::ADMIN_SHUTDOWN
                        || code == &SqlState::CRASH_SHUTDOWN
                        || code == &SqlState::CANNOT_CONNECT_NOW
                        || code == &SqlState::TOO_MANY_CONNECTIONS
                        || code.code().starts_with("08")
                }
            },
        }
    }
}

impl From<deadpool_postgres::PoolError> for DbError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => DbError::Query(e),
            deadpool_postgres::PoolError::Timeout(deadpool_postgres::TimeoutType::Wait) => {
                DbError::Busy
            }
            other => DbError::Unavailable(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_checked() {
        assert!(check_schema_name("orders").is_ok());
        assert!(check_schema_name("t_1a2b").is_ok());
        for bad in ["", "Orders", "1abc", "a-b", "a;drop", &"x".repeat(64)] {
            let err = check_schema_name(bad).unwrap_err().to_string();
            assert!(err.contains("is not allowed"), "{bad}: {err}");
        }
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }
}

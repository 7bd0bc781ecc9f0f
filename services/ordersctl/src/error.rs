//! Errors and the exit codes they map to, so scripts can tell outcomes apart.

/// Exit codes (also in `ordersctl --help`).
pub mod exit {
    pub const OK: u8 = 0;
    /// The command failed: a broker or database error, a bad archive, an unreadable record.
    pub const FAILED: u8 = 1;
    /// The command line was wrong (clap uses 2 as well).
    pub const USAGE: u8 = 2;
    /// What was asked for does not exist: a dead letter, an order, a topic.
    pub const NOT_FOUND: u8 = 3;
    /// Refused: confirmation declined, records over `--max-redrives`, a check that found differences.
    pub const REFUSED: u8 = 4;
    /// Interrupted (Ctrl-C); the command can be run again to resume.
    pub const INTERRUPTED: u8 = 130;
}

#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Interrupted(String),
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

impl CtlError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CtlError::Usage(_) => exit::USAGE,
            CtlError::NotFound(_) => exit::NOT_FOUND,
            CtlError::Refused(_) => exit::REFUSED,
            CtlError::Interrupted(_) => exit::INTERRUPTED,
            CtlError::Failed(_) => exit::FAILED,
        }
    }
}

impl From<orders_projections::DbError> for CtlError {
    fn from(e: orders_projections::DbError) -> Self {
        CtlError::Failed(anyhow::anyhow!(
            "{e}; is PostgreSQL reachable (DATABASE_URL) and the schema migrated (`ordersctl migrate`)?"
        ))
    }
}

impl From<tokio_postgres::Error> for CtlError {
    fn from(e: tokio_postgres::Error) -> Self {
        orders_projections::DbError::from(e).into()
    }
}

impl From<deadpool_postgres::PoolError> for CtlError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        orders_projections::DbError::from(e).into()
    }
}

impl From<orders_runtime::RuntimeError> for CtlError {
    fn from(e: orders_runtime::RuntimeError) -> Self {
        CtlError::Failed(e.into())
    }
}

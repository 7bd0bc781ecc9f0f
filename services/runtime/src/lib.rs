//! Shared runtime of the order pipeline. Every service links it; nothing here knows about a business rule.
//!
//! - [`config`]: the Kafka settings every service shares (`KAFKA_BROKERS`, topic names, partitions).
//! - [`kafka`]: producer and consumer clients with the pipeline's defaults (idempotent producer with
//!   `acks=all`; consumers that store offsets only after the work is durable).
//! - [`topics`]: idempotent topic creation through the admin API (brokers may not auto-create topics).
//! - [`produce`]: appending an [`orders_events::Event`] with its envelope mirrored into Kafka headers.
//! - [`batch`]: the batch consumer loop used by projections: it applies batches through a
//!   [`batch::BatchHandler`] that stores offsets with its effects, seeks to those stored offsets when
//!   partitions are assigned, retries while a dependency is down, and drains on shutdown.
//! - [`worker`]: the worker loop used by the enricher, risk scorer and router: a [`worker::Handler`]
//!   turns an event into a follow-up; the loop retries, dead-letters, pauses on outages, and stores
//!   offsets in partition order only after follow-ups are acknowledged.
//! - [`context`]: the consumer context of both loops: rebalances, lag metrics, readiness.
//! - [`dlq`]: dead-letter records (the original bytes plus `dlq.*` provenance headers).
//! - [`retry`]: exponential backoff with full jitter, shared by both loops.
//! - [`stranded`]: a consumer left without partitions while nobody consumes them rejoins its group.
//! - [`shutdown`]: a cancellation token tripped by the first SIGTERM/SIGINT; a second one exits at once.
//! - [`telemetry`]: `tracing` set-up (JSON logs by default).
//! - [`observe`]: `/healthz`, `/readyz` and `/metrics`; readiness checks and probes.
pub mod batch;
pub mod config;
pub mod context;
pub mod dlq;
pub mod error;
pub mod kafka;
pub mod observe;
pub mod produce;
pub mod record;
pub mod retry;
pub mod shutdown;
pub mod stranded;
pub mod telemetry;
pub mod topics;
pub mod worker;

pub use config::KafkaConfig;
pub use error::RuntimeError;
pub use record::Record;
pub use shutdown::Shutdown;

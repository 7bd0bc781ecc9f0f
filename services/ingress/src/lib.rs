//! The gRPC ingress of the order pipeline.
//!
//! - [`validate`]: turns requests into event payloads or field violations (google.rpc.BadRequest).
//! - [`requests`]: the idempotency store: one row per (caller, idempotency key) with the exact event.
//! - [`service`]: the `orders.v1.OrderService` implementation; `review.rs` holds ReviewOrder.
//! - [`convert`]: read-model rows to API messages.
//!
//! [`run`] serves the API, gRPC health and reflection on a listener until shutdown.
pub mod convert;
pub mod requests;
mod review;
pub mod service;
pub mod validate;

use std::sync::Arc;

use clap::Parser;
use orders_projections::DbConfig;
use orders_proto::v1::order_service_server::OrderServiceServer;
use orders_runtime::{KafkaConfig, Shutdown};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

pub use service::OrderApi;

/// Configuration of the ingress.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "orders-ingress",
    about = "gRPC ingress of the order pipeline",
    version
)]
pub struct IngressConfig {
    /// Address the gRPC server listens on.
    #[arg(long, env = "ORDERS_GRPC_ADDR", default_value = "127.0.0.1:50051")]
    pub grpc_addr: String,
    /// Largest accepted request, in bytes; bigger requests are refused before decoding.
    #[arg(long, env = "ORDERS_MAX_MESSAGE_BYTES", default_value_t = 256 * 1024)]
    pub max_message_bytes: usize,
    /// Writes (PlaceOrder, CancelOrder, ReviewOrder) in flight at most; more are refused at once
    /// with RESOURCE_EXHAUSTED, so an overloaded broker costs callers a fast retry, not a queue
    /// that grows the ingress's memory and every caller's latency. An accepted write waits about
    /// this many / the broker's ack rate: 64 at Kafka's ~10 ms acks allows ~6,000 writes/s.
    #[arg(long, env = "ORDERS_MAX_WRITES_IN_FLIGHT", default_value_t = 64)]
    pub max_writes_in_flight: usize,
    /// Caller name used when a request carries no `x-caller` metadata.
    #[arg(long, env = "ORDERS_DEFAULT_CALLER", default_value = "anonymous")]
    pub default_caller: String,
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

/// Errors that stop the ingress from starting or serving.
#[derive(Debug, thiserror::Error)]
pub enum IngressError {
    #[error(transparent)]
    Runtime(#[from] orders_runtime::RuntimeError),
    #[error(transparent)]
    Db(#[from] orders_projections::DbError),
    #[error("gRPC server failed: {0}")]
    Serve(#[from] tonic::transport::Error),
    #[error("gRPC reflection set-up failed: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
}

/// Migrations of the ingress's own tables (kept beside the read models, in the same schema).
pub const INGRESS_MIGRATIONS: &[orders_projections::migrate::Migration] = &[
    orders_projections::migrate::Migration {
        version: 1,
        name: "ingress_requests",
        sql: include_str!("../migrations/0001_ingress_requests.sql"),
    },
    orders_projections::migrate::Migration {
        version: 2,
        name: "review_requests",
        sql: include_str!("../migrations/0002_review_requests.sql"),
    },
];

/// Serves the API on `listener` until `shutdown` is cancelled, then lets in-flight calls finish and
/// flushes the producer.
pub async fn run(
    config: IngressConfig,
    listener: TcpListener,
    shutdown: Shutdown,
) -> Result<(), IngressError> {
    orders_runtime::topics::ensure(
        &config.kafka,
        &[&config.kafka.events_topic, &config.kafka.dlq_topic],
    )
    .await?;
    let pool = config.db.pool()?;
    orders_projections::migrate::run(&pool, &config.db.schema, "ingress", INGRESS_MIGRATIONS)
        .await?;
    orders_projections::migrate_read_models(&pool, &config.db.schema).await?;
    let read_pool = match &config.db.read_url {
        Some(_) => config.db.read_pool()?,
        None => pool.clone(),
    };
    let producer = orders_runtime::kafka::producer(&config.kafka, "orders-ingress")?;
    orders_runtime::observe::start_service(
        &config.observe,
        9100,
        &config.kafka,
        Some(&pool),
        &shutdown,
    )
    .await?;
    let api = OrderApi {
        producer: producer.clone(),
        topic: config.kafka.events_topic.clone(),
        pool,
        read_pool,
        default_caller: Arc::from(config.default_caller.as_str()),
        writes: Arc::new(tokio::sync::Semaphore::new(
            config.max_writes_in_flight.max(1),
        )),
    };

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<OrderServiceServer<OrderApi>>()
        .await;
    // Draining: health checks answer NOT_SERVING at once, so balancers stop sending new calls
    // while the calls in flight finish.
    {
        let (reporter, draining) = (health_reporter.clone(), shutdown.clone());
        tokio::spawn(async move {
            draining.cancelled().await;
            reporter
                .set_not_serving::<OrderServiceServer<OrderApi>>()
                .await;
        });
    }
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(orders_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let addr = listener.local_addr().ok();
    tracing::info!(addr = ?addr, topic = %config.kafka.events_topic, "ingress serving");
    tonic::transport::Server::builder()
        .add_service(health_service)
        .add_service(reflection)
        .add_service(
            OrderServiceServer::new(api).max_decoding_message_size(config.max_message_bytes),
        )
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown.cancelled())
        .await?;
    use rdkafka::producer::Producer;
    if let Err(e) = producer.flush(std::time::Duration::from_secs(10)) {
        tracing::warn!(error = %e, "producer flush at shutdown failed");
    }
    tracing::info!("ingress stopped");
    Ok(())
}

//! Kafka clients with the pipeline's defaults. Only settings every Kafka-protocol broker understands
//! are used: no transactions, no snappy, no topic auto-creation.
use rdkafka::ClientConfig;
use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{ConsumerContext, StreamConsumer};
use rdkafka::producer::FutureProducer;

use crate::{KafkaConfig, RuntimeError};

fn base(cfg: &KafkaConfig, client_id: &str) -> Result<ClientConfig, RuntimeError> {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &cfg.brokers)
        .set("client.id", client_id)
        // Broker metadata is small; refresh it often enough to notice new partitions within a minute.
        .set("topic.metadata.refresh.interval.ms", "60000")
        .set("log_level", "4");
    for (k, v) in cfg.extra_pairs()? {
        c.set(k, v);
    }
    Ok(c)
}

/// An idempotent producer with `acks=all`: an acknowledged record is on every in-sync replica and a
/// retried send cannot duplicate it. lz4 because not every broker (tansu) understands snappy.
pub fn producer(cfg: &KafkaConfig, client_id: &str) -> Result<FutureProducer, RuntimeError> {
    let mut c = base(cfg, client_id)?;
    c.set("acks", "all")
        .set("enable.idempotence", "true")
        .set("compression.type", "lz4")
        // Ingress answers only after the ack, so batching delay is user-visible latency: keep it short.
        .set("linger.ms", cfg.linger_ms.to_string())
        .set("message.timeout.ms", "30000");
    c.create().map_err(|source| RuntimeError::Client {
        brokers: cfg.brokers.clone(),
        source: Box::new(source),
    })
}

/// A consumer in `group` that never stores offsets by itself: callers store an offset only once the
/// record's effect is durable, and librdkafka commits stored offsets in the background.
pub fn consumer<C: ConsumerContext + 'static>(
    cfg: &KafkaConfig,
    group: &str,
    client_id: &str,
    context: C,
) -> Result<StreamConsumer<C>, RuntimeError> {
    let mut c = base(cfg, client_id)?;
    c.set("group.id", group)
        .set("enable.auto.commit", "true")
        .set("enable.auto.offset.store", "false")
        .set("auto.commit.interval.ms", "1000")
        .set("auto.offset.reset", "earliest")
        // See KafkaConfig::fetch_wait_ms: on tansu this is per-hop latency against idle broker CPU.
        .set("fetch.wait.max.ms", cfg.fetch_wait_ms.to_string())
        .set("session.timeout.ms", "10000")
        .set("heartbeat.interval.ms", "1000")
        .set("max.poll.interval.ms", "300000")
        // Lag metrics and the readiness lag check come from librdkafka's statistics.
        .set("statistics.interval.ms", "5000");
    c.create_with_context(context)
        .map_err(|source| RuntimeError::Client {
            brokers: cfg.brokers.clone(),
            source: Box::new(source),
        })
}

/// The reader's context: the end of a partition is how a reader knows it is done, not an error, so
/// librdkafka's "PartitionEOF" global error is not logged; other errors are, as warnings.
pub struct ReaderContext;

impl rdkafka::ClientContext for ReaderContext {
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        // It arrives as KafkaError::Global(PartitionEOF) here, not as the PartitionEOF variant.
        if error.rdkafka_error_code() == Some(rdkafka::types::RDKafkaErrorCode::PartitionEOF) {
            return;
        }
        tracing::warn!(error = %error, reason, "Kafka client error");
    }
}

impl ConsumerContext for ReaderContext {}

/// A consumer that reads partitions it is assigned and nothing else: it joins no group and commits
/// nothing, so tools can read the log without disturbing the services' consumer groups. (A group
/// id is still set, unique per client, because librdkafka wants one; it is never used.)
pub fn reader(
    cfg: &KafkaConfig,
    client_id: &str,
) -> Result<StreamConsumer<ReaderContext>, RuntimeError> {
    let mut c = base(cfg, client_id)?;
    c.set("group.id", format!("{client_id}-{}", uuid::Uuid::new_v4()))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", cfg.fetch_wait_ms.min(50).to_string());
    c.create_with_context(ReaderContext)
        .map_err(|source| RuntimeError::Client {
            brokers: cfg.brokers.clone(),
            source: Box::new(source),
        })
}

/// An admin client for topic management.
pub fn admin(cfg: &KafkaConfig) -> Result<AdminClient<DefaultClientContext>, RuntimeError> {
    base(cfg, "orders-admin")?
        .create()
        .map_err(|source| RuntimeError::Client {
            brokers: cfg.brokers.clone(),
            source: Box::new(source),
        })
}

//! Idempotent topic creation. Brokers such as tansu do not auto-create topics, and relying on
//! auto-creation would give topics the broker's default partition count instead of ours.
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;

use crate::{KafkaConfig, RuntimeError, kafka};

/// Creates `topics` with the configured partitions and replication unless they exist, then waits
/// until the broker's metadata shows each of them with its partitions.
pub async fn ensure(cfg: &KafkaConfig, topics: &[&str]) -> Result<(), RuntimeError> {
    let admin = kafka::admin(cfg)?;
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| {
            NewTopic::new(
                t,
                cfg.partitions,
                TopicReplication::Fixed(cfg.replication_factor),
            )
        })
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results =
        admin
            .create_topics(&new, &opts)
            .await
            .map_err(|e| RuntimeError::CreateTopic {
                topic: topics.join(","),
                message: e.to_string(),
            })?;
    for result in results {
        match result {
            Ok(topic) => tracing::info!(topic, partitions = cfg.partitions, "topic created"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(RuntimeError::CreateTopic {
                    topic,
                    message: code.to_string(),
                });
            }
        }
    }
    for topic in topics {
        wait_visible(cfg, topic, Duration::from_secs(30)).await?;
    }
    Ok(())
}

/// Number of partitions of `topic` according to the broker, or `None` if it does not exist.
pub fn partition_count(cfg: &KafkaConfig, topic: &str) -> Result<Option<usize>, RuntimeError> {
    let consumer: BaseConsumer = kafka_base_consumer(cfg)?;
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .map_err(|source| RuntimeError::Consume {
            topic: topic.to_owned(),
            source: Box::new(source),
        })?;
    Ok(md
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none())
        .map(|t| t.partitions().len())
        .filter(|n| *n > 0))
}

fn kafka_base_consumer(cfg: &KafkaConfig) -> Result<BaseConsumer, RuntimeError> {
    let mut c = rdkafka::ClientConfig::new();
    c.set("bootstrap.servers", &cfg.brokers);
    for (k, v) in cfg.extra_pairs()? {
        c.set(k, v);
    }
    c.create().map_err(|source| RuntimeError::Client {
        brokers: cfg.brokers.clone(),
        source: Box::new(source),
    })
}

async fn wait_visible(cfg: &KafkaConfig, topic: &str, limit: Duration) -> Result<(), RuntimeError> {
    let deadline = Instant::now() + limit;
    loop {
        let cfg2 = cfg.clone();
        let name = topic.to_owned();
        let found = tokio::task::spawn_blocking(move || partition_count(&cfg2, &name))
            .await
            .map_err(|e| RuntimeError::Config(format!("metadata task failed: {e}")))??;
        if found.is_some() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(RuntimeError::TopicNotVisible {
                topic: topic.to_owned(),
                seconds: limit.as_secs(),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

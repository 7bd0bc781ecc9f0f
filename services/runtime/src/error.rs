use rdkafka::error::KafkaError;

/// Errors of the shared runtime, with the context an operator needs.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("could not create Kafka client for brokers {brokers}: {source}")]
    Client {
        brokers: String,
        #[source]
        source: Box<KafkaError>,
    },
    #[error("could not create topic {topic}: {message}")]
    CreateTopic { topic: String, message: String },
    #[error("topic {topic} did not become visible in broker metadata within {seconds} s")]
    TopicNotVisible { topic: String, seconds: u64 },
    #[error("append to {topic} failed for event {event_id}: {source}")]
    Produce {
        topic: String,
        event_id: String,
        #[source]
        source: Box<KafkaError>,
    },
    #[error("consuming {topic} failed: {source}")]
    Consume {
        topic: String,
        #[source]
        source: Box<KafkaError>,
    },
    #[error("handler failed permanently at {topic}/{partition}@{offset}: {message}")]
    Handler {
        topic: String,
        partition: i32,
        offset: i64,
        message: String,
    },
}

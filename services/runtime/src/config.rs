//! Kafka settings shared by every service, read from flags or the environment.
use clap::Args;

/// Where the log lives and how its topics are shaped.
#[derive(Debug, Clone, Args)]
pub struct KafkaConfig {
    /// Bootstrap brokers of any Kafka-protocol broker (Apache Kafka, Redpanda, tansu), comma separated.
    #[arg(
        long = "kafka-brokers",
        env = "KAFKA_BROKERS",
        default_value = "127.0.0.1:9092"
    )]
    pub brokers: String,
    /// Topic holding every order event; the source of truth.
    #[arg(long, env = "ORDERS_EVENTS_TOPIC", default_value = "orders.events")]
    pub events_topic: String,
    /// Topic holding dead letters.
    #[arg(long, env = "ORDERS_DLQ_TOPIC", default_value = "orders.dlq")]
    pub dlq_topic: String,
    /// Partitions given to the topics when this service creates them (existing topics are left alone).
    #[arg(long, env = "ORDERS_PARTITIONS", default_value_t = 12)]
    pub partitions: i32,
    /// Replication factor given to topics this service creates (use 3 on a production cluster).
    #[arg(long, env = "ORDERS_REPLICATION_FACTOR", default_value_t = 1)]
    pub replication_factor: i32,
    /// Longest time a consumer's fetch waits for records (librdkafka `fetch.wait.max.ms`). Apache
    /// Kafka and Redpanda answer a fetch as soon as records arrive, so this only bounds idle polls
    /// there; tansu 0.6 waits the whole time, so it is also the latency of every hop, and each idle
    /// consumer costs tansu CPU in proportion to 1 / this value.
    #[arg(long, env = "ORDERS_FETCH_WAIT_MS", default_value_t = 100)]
    pub fetch_wait_ms: u32,
    /// How long a producer waits to fill a batch (librdkafka `linger.ms`). Every produce request
    /// costs the broker a write (one SQLite transaction on tansu), so a few milliseconds of
    /// batching buy throughput at a latency cost of the same few milliseconds.
    #[arg(long, env = "ORDERS_LINGER_MS", default_value_t = 5)]
    pub linger_ms: u32,
    /// Extra librdkafka properties, `key=value` separated by commas (e.g. TLS or SASL settings).
    #[arg(long, env = "ORDERS_KAFKA_PROPERTIES", default_value = "")]
    pub extra_properties: String,
}

impl KafkaConfig {
    /// Settings for a broker at `brokers` with default topic names; used by tests and tools.
    pub fn new(brokers: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            events_topic: "orders.events".into(),
            dlq_topic: "orders.dlq".into(),
            partitions: 12,
            replication_factor: 1,
            fetch_wait_ms: 100,
            linger_ms: 5,
            extra_properties: String::new(),
        }
    }

    /// A copy fit for printing: values of secret-looking extra properties (passwords, keys, SASL
    /// JAAS configs, OAuth secrets) replaced by `***`.
    pub fn redacted(&self) -> KafkaConfig {
        let secret = |k: &str| {
            let k = k.to_ascii_lowercase();
            ["password", "secret", "jaas", "key", "token"]
                .iter()
                .any(|s| k.contains(s))
        };
        let extra_properties = self
            .extra_properties
            .split(',')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if secret(k) => format!("{k}=***"),
                _ => pair.to_owned(),
            })
            .collect::<Vec<_>>()
            .join(",");
        KafkaConfig {
            extra_properties,
            ..self.clone()
        }
    }

    /// The `key=value` pairs of [`Self::extra_properties`].
    pub fn extra_pairs(&self) -> Result<Vec<(String, String)>, crate::RuntimeError> {
        self.extra_properties
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|pair| {
                pair.split_once('=')
                    .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                    .ok_or_else(|| {
                        crate::RuntimeError::Config(format!(
                            "ORDERS_KAFKA_PROPERTIES entry {pair:?} is not key=value; \
                             write e.g. security.protocol=SSL,ssl.ca.location=/etc/ca.pem"
                        ))
                    })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_properties_are_parsed_and_bad_ones_explained() {
        let mut cfg = KafkaConfig::new("b:9092");
        cfg.extra_properties = "security.protocol=SSL, ssl.ca.location = /ca.pem".into();
        assert_eq!(
            cfg.extra_pairs().unwrap(),
            vec![
                ("security.protocol".into(), "SSL".into()),
                ("ssl.ca.location".into(), "/ca.pem".into())
            ]
        );
        cfg.extra_properties =
            "security.protocol=SASL_SSL,sasl.password=hunter2,ssl.key.pem=PEM".into();
        assert_eq!(
            cfg.redacted().extra_properties,
            "security.protocol=SASL_SSL,sasl.password=***,ssl.key.pem=***"
        );
        cfg.extra_properties = "linger.ms".into();
        let err = cfg.extra_pairs().unwrap_err().to_string();
        assert!(err.contains("\"linger.ms\" is not key=value"), "{err}");
    }
}

//! An owned copy of a consumed Kafka record, so handlers need no lifetimes tied to the consumer.
use rdkafka::Message;
use rdkafka::message::{BorrowedMessage, Headers};

/// One record read from a topic.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    /// Headers in record order; values are raw bytes.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Broker or producer timestamp in milliseconds since the epoch, when the record has one.
    pub timestamp_ms: Option<i64>,
}

impl Record {
    pub fn from_message(msg: &BorrowedMessage<'_>) -> Self {
        let headers = msg
            .headers()
            .map(|hs| {
                hs.iter()
                    .map(|h| {
                        (
                            h.key.to_owned(),
                            h.value.map(<[u8]>::to_vec).unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self {
            topic: msg.topic().to_owned(),
            partition: msg.partition(),
            offset: msg.offset(),
            key: msg.key().map(<[u8]>::to_vec),
            value: msg.payload().map(<[u8]>::to_vec),
            headers,
            timestamp_ms: msg.timestamp().to_millis(),
        }
    }

    /// The first header with this name, as UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// `topic/partition@offset`, the way logs and errors name a record.
    pub fn position(&self) -> String {
        format!("{}/{}@{}", self.topic, self.partition, self.offset)
    }
}

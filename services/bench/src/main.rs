//! `orders-brokerbench`: how many records of a given size the broker itself carries, produced and
//! consumed with the same client settings as the pipeline (idempotent producer, acks=all, lz4,
//! fetch.wait.max.ms=10). The ceiling the pipeline is compared against in docs/performance.md.
//!
//! It writes `--records` records of `--size` bytes (JSON-like text that compresses like events) to a
//! new topic `bench.<id>`, as fast as the broker acknowledges them with at most `--in-flight`
//! unacknowledged, then reads them back in one new consumer group, and prints one JSON object.
use std::time::{Duration, Instant};

use clap::Parser;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use orders_runtime::{KafkaConfig, kafka, topics};
use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::FutureRecord;

#[derive(Debug, Parser)]
#[command(
    name = "orders-brokerbench",
    version,
    about = "Raw produce and consume rate of the broker"
)]
struct Args {
    /// Records to produce and consume.
    #[arg(long, default_value_t = 100_000)]
    records: usize,
    /// Bytes per record value.
    #[arg(long, default_value_t = 1000)]
    size: usize,
    /// Unacknowledged records at most.
    #[arg(long, default_value_t = 5000)]
    in_flight: usize,
    #[command(flatten)]
    kafka: KafkaConfig,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut cfg = args.kafka.clone();
    let id = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    cfg.events_topic = format!("bench.{id}");
    topics::ensure(&cfg, &[&cfg.events_topic]).await?;
    let topic = cfg.events_topic.clone();
    let values: Vec<Vec<u8>> = (0..64).map(|_| value(args.size)).collect();
    let keys: Vec<String> = (0..4096)
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect();

    let producer = kafka::producer(&cfg, "orders-brokerbench")?;
    let start = Instant::now();
    let mut pending = FuturesUnordered::new();
    for i in 0..args.records {
        while pending.len() >= args.in_flight {
            pending.next().await.expect("pending")?;
        }
        let (producer, topic) = (producer.clone(), topic.clone());
        let (key, value) = (
            keys[i % keys.len()].clone(),
            values[i % values.len()].clone(),
        );
        pending.push(async move {
            producer
                .send(
                    FutureRecord::to(&topic).key(&key).payload(&value),
                    Duration::from_secs(60),
                )
                .await
                .map(|_| ())
                .map_err(|(e, _)| anyhow::anyhow!("produce failed: {e}"))
        });
    }
    while let Some(r) = pending.next().await {
        r?;
    }
    let produce_s = start.elapsed().as_secs_f64();

    let consumer: StreamConsumer<rdkafka::consumer::DefaultConsumerContext> = kafka::consumer(
        &cfg,
        &format!("bench-{id}"),
        "orders-brokerbench",
        rdkafka::consumer::DefaultConsumerContext,
    )?;
    consumer.subscribe(&[&topic])?;
    let start = Instant::now();
    let mut read = 0usize;
    let mut bytes = 0usize;
    while read < args.records {
        let msg = tokio::time::timeout(Duration::from_secs(60), consumer.recv())
            .await
            .map_err(|_| {
                anyhow::anyhow!("no record for 60 s after {read} of {}", args.records)
            })??;
        bytes += msg.payload().map(<[u8]>::len).unwrap_or(0);
        read += 1;
    }
    let consume_s = start.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "topic": topic,
            "records": args.records,
            "value_bytes": args.size,
            "partitions": cfg.partitions,
            "produce_per_s": (args.records as f64 / produce_s).round(),
            "consume_per_s": (read as f64 / consume_s).round(),
            "consumed_mb": (bytes as f64 / 1e6 * 10.0).round() / 10.0,
            "produce_s": (produce_s * 100.0).round() / 100.0,
            "consume_s": (consume_s * 100.0).round() / 100.0,
        })
    );
    Ok(())
}

/// JSON-like text of `size` bytes with varied content, so compression behaves as on real events.
fn value(size: usize) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "\"order_id\":",
        "\"basmati\"",
        "\"quantity\":",
        "12.5",
        "\"kg\"",
        "\"NPR\"",
        "\"sku\":",
        "\"OIL-SUN-1L\"",
        "\"confidence\":",
        "0.93",
        "{",
        "}",
        ",",
        "\"payload\":",
        "\"lines\":[",
    ];
    let mut out = Vec::with_capacity(size + 16);
    while out.len() < size {
        if fastrand::u8(..) < 64 {
            out.extend(fastrand::u64(..).to_string().as_bytes());
        } else {
            out.extend(WORDS[fastrand::usize(..WORDS.len())].as_bytes());
        }
    }
    out.truncate(size);
    out
}

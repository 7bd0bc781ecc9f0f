//! `ordersctl topics ensure|describe`.
use clap::Subcommand;
use serde::Serialize;

use crate::log::{LogReader, Watermarks};
use crate::output::{self, emit, table};
use crate::{CtlError, Ctx};

#[derive(Debug, Subcommand)]
pub enum TopicsCommand {
    /// Create the events and dead-letter topics (ORDERS_PARTITIONS, ORDERS_REPLICATION_FACTOR) unless
    /// they exist; existing topics are left as they are.
    Ensure,
    /// Partitions, watermarks and record counts of the events and dead-letter topics.
    Describe,
}

#[derive(Debug, Serialize)]
pub struct TopicPartition {
    pub topic: String,
    #[serde(flatten)]
    pub marks: Watermarks,
    pub records: i64,
}

pub async fn run(ctx: &Ctx, cmd: TopicsCommand) -> Result<(), CtlError> {
    let topics = [&ctx.kafka.events_topic, &ctx.kafka.dlq_topic];
    match cmd {
        TopicsCommand::Ensure => {
            orders_runtime::topics::ensure(&ctx.kafka, &topics.map(String::as_str)).await?;
            for t in topics {
                let n = LogReader::new(&ctx.kafka, t)?.partitions()?.len();
                output::note(&format!("topic {t}: {n} partitions"));
            }
            Ok(())
        }
        TopicsCommand::Describe => {
            let mut rows = Vec::new();
            for t in topics {
                for marks in LogReader::new(&ctx.kafka, t)?.watermarks()? {
                    rows.push(TopicPartition {
                        topic: t.clone(),
                        records: marks.high - marks.low,
                        marks,
                    });
                }
            }
            emit(ctx.format, &rows, || {
                let mut t = table(&["topic", "partition", "low", "high", "records"]);
                for r in &rows {
                    t.add_row(vec![
                        r.topic.clone(),
                        r.marks.partition.to_string(),
                        r.marks.low.to_string(),
                        r.marks.high.to_string(),
                        r.records.to_string(),
                    ]);
                }
                t
            });
            Ok(())
        }
    }
}

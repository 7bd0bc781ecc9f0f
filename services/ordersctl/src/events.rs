//! `ordersctl events export`: a slice of the order log for analysts. The start of the range is found
//! through the broker's timestamp index; every record is then checked against the range, so the
//! file holds exactly the records with `from <= timestamp < to`. Events of old versions are upcast
//! to the current schema. The log is read without a consumer group.
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use chrono::{DateTime, TimeZone, Utc};
use clap::{Args, Subcommand, ValueEnum};
use orders_events::Event;
use orders_runtime::Record;
use serde_json::{Value, json};

use crate::log::{LogReader, Range};
use crate::output;
use crate::{CtlError, Ctx};

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Write the events of a time range (by record timestamp) as JSON Lines or CSV.
    Export(ExportArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Jsonl,
    Csv,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Start of the range, inclusive: RFC 3339, a date (midnight UTC) or an age (2h, 7d).
    #[arg(long, value_parser = crate::time::parse_time)]
    pub from: Option<DateTime<Utc>>,
    /// End of the range, exclusive; the newest record at the start of the export when not given.
    #[arg(long, value_parser = crate::time::parse_time)]
    pub to: Option<DateTime<Utc>>,
    /// Only these event types (repeat or comma separate), e.g. OrderPlaced,OrderRouted.
    #[arg(long = "type", value_delimiter = ',')]
    pub types: Vec<String>,
    /// Only this order's events.
    #[arg(long)]
    pub order: Option<String>,
    /// File format.
    #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
    pub format: ExportFormat,
    /// Write here instead of stdout.
    #[arg(long = "out")]
    pub out: Option<PathBuf>,
}

pub async fn run(ctx: &Ctx, cmd: EventsCommand) -> Result<(), CtlError> {
    match cmd {
        EventsCommand::Export(args) => export(ctx, args).await.map(|_| ()),
    }
}

/// What an export did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Exported {
    pub written: u64,
    pub read: u64,
    /// Records in the range that are not valid events (they are in the DLQ).
    pub undecodable: u64,
}

pub async fn export(ctx: &Ctx, args: ExportArgs) -> Result<Exported, CtlError> {
    for t in &args.types {
        if orders_events::EventType::parse(t).is_none() {
            return Err(CtlError::Usage(format!(
                "--type {t:?} is not an event type; use names such as OrderPlaced, OrderEnriched, \
                 OrderRiskAssessed, OrderRouted"
            )));
        }
    }
    if let (Some(from), Some(to)) = (args.from, args.to)
        && from >= to
    {
        return Err(CtlError::Usage(format!(
            "--from {from} is not before --to {to}; the range is from <= timestamp < to"
        )));
    }
    let reader = LogReader::new(&ctx.kafka, &ctx.kafka.events_topic)?;
    let marks = reader.watermarks()?;
    let starts = match args.from {
        Some(from) => reader.offsets_for_time(from.timestamp_millis())?,
        None => marks.iter().map(|w| (w.partition, Some(w.low))).collect(),
    };
    // The end, also from the timestamp index: the first record a minute past `to` (producers'
    // clocks and batching can put records slightly out of timestamp order). A broker that answers
    // nothing usable (none that late, or tansu's 0 past the last record) leaves the log end.
    let ends = match args.to {
        Some(to) => {
            reader.offsets_for_time((to + chrono::Duration::seconds(60)).timestamp_millis())?
        }
        None => Default::default(),
    };
    let ranges: Vec<Range> = marks
        .iter()
        .filter_map(|w| {
            let from = starts.get(&w.partition).copied().flatten()?.max(w.low);
            let to = ends
                .get(&w.partition)
                .copied()
                .flatten()
                .filter(|end| *end > from)
                .map_or(w.high, |end| end.min(w.high));
            Some(Range {
                partition: w.partition,
                from,
                to,
            })
        })
        .collect();
    let total: u64 = ranges.iter().map(Range::len).sum();
    let sink: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|e| {
                CtlError::Failed(anyhow::anyhow!("cannot create {}: {e}", path.display()))
            })?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut out = match args.format {
        ExportFormat::Jsonl => Out::Jsonl(sink),
        ExportFormat::Csv => {
            let mut w = csv::Writer::from_writer(sink);
            w.write_record(CSV_COLUMNS)
                .map_err(|e| io_error(e.into()))?;
            Out::Csv(Box::new(w))
        }
    };
    let bar = output::progress(total, "exporting");
    let mut done = Exported::default();
    let mut failure: Option<CtlError> = None;
    let in_range = |ts: i64| {
        args.from.is_none_or(|f| ts >= f.timestamp_millis())
            && args.to.is_none_or(|t| ts < t.timestamp_millis())
    };
    reader
        .read(&ranges, |record| {
            done.read += 1;
            bar.inc(1);
            if !record.timestamp_ms.is_some_and(in_range) {
                return true;
            }
            let event = match record.value.as_deref().map(Event::from_json) {
                Some(Ok(e)) => e,
                _ => {
                    done.undecodable += 1;
                    return true;
                }
            };
            let wanted = (args.types.is_empty()
                || args.types.iter().any(|t| t == event.event_type().as_str()))
                && args
                    .order
                    .as_deref()
                    .is_none_or(|o| o == event.envelope.order_id.to_string());
            if !wanted {
                return true;
            }
            let written = match &mut out {
                Out::Csv(w) => write_csv(w, &record, &event),
                Out::Jsonl(sink) => serde_json::to_writer(&mut *sink, &json_line(&record, &event))
                    .map_err(|e| io_error(e.into()))
                    .and_then(|_| sink.write_all(b"\n").map_err(io_error)),
            };
            match written {
                Ok(()) => {
                    done.written += 1;
                    true
                }
                Err(e) => {
                    failure = Some(e);
                    false
                }
            }
        })
        .await?;
    bar.finish_and_clear();
    if let Some(e) = failure {
        return Err(e);
    }
    match &mut out {
        Out::Csv(w) => w.flush(),
        Out::Jsonl(sink) => sink.flush(),
    }
    .map_err(io_error)?;
    output::note(&format!(
        "exported {} events ({} records read from {} partitions{})",
        done.written,
        done.read,
        ranges.len(),
        if done.undecodable > 0 {
            format!(
                "; {} records in the range were not valid events, see `ordersctl dlq list`",
                done.undecodable
            )
        } else {
            String::new()
        }
    ));
    Ok(done)
}

fn io_error(e: std::io::Error) -> CtlError {
    CtlError::Failed(anyhow::anyhow!("writing the export failed: {e}"))
}

fn timestamp(record: &Record) -> Option<DateTime<Utc>> {
    record
        .timestamp_ms
        .and_then(|t| Utc.timestamp_millis_opt(t).single())
}

/// The event as the current schema has it, with where it is in the log.
fn json_line(record: &Record, event: &Event) -> Value {
    let mut v = event.to_value();
    if let Value::Object(map) = &mut v {
        map.insert(
            "kafka".into(),
            json!({
                "partition": record.partition,
                "offset": record.offset,
                "timestamp": timestamp(record),
            }),
        );
    }
    v
}

const CSV_COLUMNS: [&str; 12] = [
    "kafka_partition",
    "kafka_offset",
    "kafka_timestamp",
    "event_id",
    "order_id",
    "event_type",
    "event_version",
    "occurred_at",
    "producer",
    "causation_id",
    "traceparent",
    "payload",
];

/// Where exported events go.
enum Out {
    Jsonl(Box<dyn Write>),
    Csv(Box<csv::Writer<Box<dyn Write>>>),
}

fn write_csv(
    w: &mut csv::Writer<Box<dyn Write>>,
    record: &Record,
    event: &Event,
) -> Result<(), CtlError> {
    let env = &event.envelope;
    let value = event.to_value();
    let payload = value.get("payload").cloned().unwrap_or(Value::Null);
    let fields: BTreeMap<&str, String> = [
        ("kafka_partition", record.partition.to_string()),
        ("kafka_offset", record.offset.to_string()),
        (
            "kafka_timestamp",
            timestamp(record)
                .map(|t| t.to_rfc3339())
                .unwrap_or_default(),
        ),
        ("event_id", env.event_id.to_string()),
        ("order_id", env.order_id.to_string()),
        ("event_type", env.event_type.as_str().to_owned()),
        ("event_version", env.event_version.to_string()),
        ("occurred_at", env.occurred_at.to_rfc3339()),
        ("producer", env.producer.clone()),
        (
            "causation_id",
            env.causation_id.map(|c| c.to_string()).unwrap_or_default(),
        ),
        ("traceparent", env.traceparent.clone().unwrap_or_default()),
        ("payload", payload.to_string()),
    ]
    .into_iter()
    .collect();
    w.write_record(CSV_COLUMNS.iter().map(|c| fields[c].as_str()))
        .map_err(|e| io_error(e.into()))
}

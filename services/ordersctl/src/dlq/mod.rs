//! `ordersctl dlq`: dead letters read from the DLQ topic, joined with what operators did with them
//! (the ledger in PostgreSQL). A dead letter is *open* until it is redriven or purged.
//!
//! One failure can leave more than one dead letter (a service that crashed after the dead letter's
//! ack and before its offset commit sends it again). Dead letters with the same provenance
//! (original record, group, redrive count) are one failure: the first is shown, the others count
//! as duplicates and are handled with it.
pub mod archive;
pub mod ledger;
pub mod purge;
pub mod redrive;
pub mod view;

use std::collections::HashMap;

use chrono::{DateTime, TimeZone, Utc};
use clap::{Args, Subcommand};
use orders_events::headers::names as event_headers;
use orders_runtime::Record;
use orders_runtime::dlq::Provenance;
use serde::Serialize;

use crate::log::LogReader;
use crate::{CtlError, Ctx};

pub use ledger::Handled;

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Depth, age of the oldest, and counts of the open dead letters by group, error kind, error
    /// class and event type.
    Stats(view::StatsArgs),
    /// Open dead letters, oldest first (`--all` adds redriven and purged ones).
    List(view::ListArgs),
    /// One dead letter: the original record decoded, its headers, provenance, attempts, trace id.
    Show(view::ShowArgs),
    /// Send dead letters back to the group that failed them. A dry run unless --execute.
    Redrive(redrive::RedriveArgs),
    /// Archive dead letters to a file, then mark them handled so they leave stats and lists.
    Purge(purge::PurgeArgs),
}

pub async fn run(ctx: &Ctx, cmd: DlqCommand) -> Result<(), CtlError> {
    match cmd {
        DlqCommand::Stats(args) => view::stats(ctx, args).await,
        DlqCommand::List(args) => view::list(ctx, args).await,
        DlqCommand::Show(args) => view::show(ctx, args).await,
        DlqCommand::Redrive(args) => redrive::run(ctx, args).await,
        DlqCommand::Purge(args) => purge::run(ctx, args).await,
    }
}

/// Which dead letters a command acts on; every given filter must match.
#[derive(Debug, Clone, Default, Args, Serialize)]
pub struct Filter {
    /// The consumer group that failed, e.g. orders-enricher.
    #[arg(long)]
    pub group: Option<String>,
    /// Error class: transient (retries exhausted) or permanent.
    #[arg(long, value_parser = ["transient", "permanent"])]
    pub class: Option<String>,
    /// Error kind, e.g. not_json, schema_violation, timeout, invariant.
    #[arg(long)]
    pub kind: Option<String>,
    /// Event type of the original record, e.g. OrderPlaced.
    #[arg(long = "type")]
    pub event_type: Option<String>,
    /// Order id of the original record.
    #[arg(long)]
    pub order: Option<String>,
    /// Failed at or after: RFC 3339, a date, or an age (30m, 2h, 7d).
    #[arg(long, value_parser = crate::time::parse_time)]
    pub since: Option<DateTime<Utc>>,
    /// Failed before: RFC 3339, a date, or an age.
    #[arg(long, value_parser = crate::time::parse_time)]
    pub until: Option<DateTime<Utc>>,
}

/// Original topic, partition, offset, failing group and redrive count: one failure.
type Failure = (String, i32, i64, String, u32);

/// A record of the DLQ topic, with what is known about it.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub record: Record,
    pub provenance: Result<Provenance, String>,
    pub handled: Option<Handled>,
    /// The first dead letter of the same failure, when this one repeats it.
    pub duplicate_of: Option<(i32, i64)>,
}

impl DeadLetter {
    pub fn new(record: Record) -> DeadLetter {
        DeadLetter {
            provenance: Provenance::from_headers(&record),
            record,
            handled: None,
            duplicate_of: None,
        }
    }

    /// `partition:offset` in the DLQ topic, the name `dlq show` takes.
    pub fn position(&self) -> String {
        format!("{}:{}", self.record.partition, self.record.offset)
    }

    pub fn key(&self) -> (i32, i64) {
        (self.record.partition, self.record.offset)
    }

    pub fn event_type(&self) -> Option<&str> {
        self.record.header(event_headers::EVENT_TYPE)
    }

    pub fn order_id(&self) -> Option<&str> {
        self.record.header(event_headers::ORDER_ID)
    }

    pub fn group(&self) -> Option<&str> {
        self.provenance.as_ref().ok().map(|p| p.group.as_str())
    }

    /// When it failed last: the provenance's time, else when it was written to the DLQ.
    pub fn failed_at(&self) -> DateTime<Utc> {
        match &self.provenance {
            Ok(p) => p.last_failure_at,
            Err(_) => self
                .record
                .timestamp_ms
                .and_then(|t| Utc.timestamp_millis_opt(t).single())
                .unwrap_or_default(),
        }
    }

    /// Redriven (acknowledged) or purged: no longer needs anyone.
    pub fn is_handled(&self) -> bool {
        self.handled.as_ref().is_some_and(|h| h.state == "done")
    }

    /// Waiting for someone: not handled and not a repeat of another dead letter.
    pub fn is_open(&self) -> bool {
        !self.is_handled() && self.duplicate_of.is_none()
    }

    /// The failure this dead letter records: original record, group and redrive count.
    fn identity(&self) -> Option<Failure> {
        let p = self.provenance.as_ref().ok()?;
        Some((
            p.original_topic.clone(),
            p.original_partition,
            p.original_offset,
            p.group.clone(),
            p.redrive_count,
        ))
    }

    pub fn matches(&self, f: &Filter) -> bool {
        let p = self.provenance.as_ref().ok();
        let eq = |want: &Option<String>, have: Option<&str>| {
            want.as_deref().is_none_or(|w| have == Some(w))
        };
        let failed_at = self.failed_at();
        eq(&f.group, p.map(|p| p.group.as_str()))
            && eq(&f.class, p.map(|p| p.error_class.as_str()))
            && eq(&f.kind, p.map(|p| p.error_kind.as_str()))
            && eq(&f.event_type, self.event_type())
            && eq(&f.order, self.order_id())
            && f.since.is_none_or(|t| failed_at >= t)
            && f.until.is_none_or(|t| failed_at < t)
    }
}

/// Every dead letter in the DLQ topic, with the ledger's marks and duplicates found, in
/// (partition, offset) order.
pub async fn load(ctx: &Ctx, pool: &deadpool_postgres::Pool) -> Result<Vec<DeadLetter>, CtlError> {
    let reader = LogReader::new(&ctx.kafka, &ctx.kafka.dlq_topic)?;
    let mut records = Vec::new();
    reader
        .read_all(|r| {
            records.push(r);
            true
        })
        .await?;
    let mut handled = ledger::load(pool, &ctx.db.schema, &ctx.kafka.dlq_topic).await?;
    let mut letters: Vec<DeadLetter> = records.into_iter().map(DeadLetter::new).collect();
    letters.sort_by_key(DeadLetter::key);
    for letter in &mut letters {
        letter.handled = handled.remove(&letter.key());
    }
    mark_duplicates(&mut letters);
    Ok(letters)
}

/// Marks every dead letter that repeats an earlier one's failure.
pub fn mark_duplicates(letters: &mut [DeadLetter]) {
    let mut first: HashMap<Failure, (i32, i64)> = HashMap::new();
    for letter in letters.iter_mut() {
        if let Some(id) = letter.identity() {
            match first.get(&id) {
                Some(pos) => letter.duplicate_of = Some(*pos),
                None => {
                    first.insert(id, letter.key());
                }
            }
        }
    }
}

/// Who runs this: `--actor`, else $ORDERS_ACTOR, else $USER.
pub fn actor(given: Option<String>) -> String {
    given
        .or_else(|| std::env::var("ORDERS_ACTOR").ok())
        .or_else(|| std::env::var("USER").ok())
        .filter(|a| !a.trim().is_empty())
        .unwrap_or_else(|| "unknown".into())
}

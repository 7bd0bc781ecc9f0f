//! `dlq redrive`: sends dead letters back to the topic they came from, to the group that failed them
//! only (header `redrive.group`; the worker loop skips records redriven to another group).
//!
//! Exactly once across interruptions: before each send the dead letter is recorded as pending with
//! the target partition's end offset; after the ack it is recorded as done. A run killed between
//! the two leaves it pending, and the next run looks for its `redrive.id` in the target partition
//! from that offset on before sending it again.
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::Serialize;
use serde_json::json;

use super::{DeadLetter, Filter, actor, archive, ledger, load, mark_duplicates};
use crate::log::{LogReader, Range};
use crate::output::{self, emit_one, table};
use crate::{CtlError, Ctx};
use orders_runtime::dlq::names;

#[derive(Debug, Args)]
pub struct RedriveArgs {
    #[command(flatten)]
    pub filter: Filter,
    /// Send the records. Without it nothing is sent or recorded: a dry run that prints what would be
    /// redriven, counted by group and error.
    #[arg(long)]
    pub execute: bool,
    /// Records sent per second at most.
    #[arg(long, default_value_t = 20.0)]
    pub rate: f64,
    /// Refuse dead letters already redriven this many times (the failure repeats: look at it).
    #[arg(long, default_value_t = 3)]
    pub max_redrives: u32,
    /// Why (required with --execute); kept in the ledger with who ran it.
    #[arg(long)]
    pub reason: Option<String>,
    /// Who runs this (default $ORDERS_ACTOR, else $USER).
    #[arg(long)]
    pub actor: Option<String>,
    /// Redrive the dead letters of an archive written by `dlq purge --archive` instead.
    #[arg(long)]
    pub from_archive: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct Count {
    group: String,
    kind: String,
    class: String,
    count: usize,
}

#[derive(Debug, Serialize)]
struct Report {
    dry_run: bool,
    /// Sent (or, in a dry run, would be sent).
    redriven: usize,
    /// Found already in the log from an interrupted run, so not sent again.
    resumed: usize,
    refused: BTreeMap<String, usize>,
    by: Vec<Count>,
    run_id: Option<uuid::Uuid>,
}

pub async fn run(ctx: &Ctx, args: RedriveArgs) -> Result<(), CtlError> {
    if !(args.rate > 0.0 && args.rate.is_finite()) {
        return Err(CtlError::Usage(
            "--rate must be a positive number of records per second".into(),
        ));
    }
    let reason = match (&args.reason, args.execute) {
        (Some(r), _) if !r.trim().is_empty() => r.clone(),
        (_, true) => {
            return Err(CtlError::Usage(
                "--execute needs --reason: say why these records are redriven (it is recorded)"
                    .into(),
            ));
        }
        _ => String::new(),
    };
    let pool = ctx.pool()?;
    let letters = match &args.from_archive {
        None => load(ctx, &pool).await?,
        Some(path) => from_archive(ctx, &pool, path).await?,
    };
    let eligible = |d: &DeadLetter| {
        let redriven = d
            .handled
            .as_ref()
            .is_some_and(|h| h.action == "redrive" && h.state == "done");
        let open = match args.from_archive {
            Some(_) => !redriven && d.duplicate_of.is_none(),
            None => d.is_open(),
        };
        open && d.matches(&args.filter)
    };
    let mut refused: BTreeMap<String, usize> = BTreeMap::new();
    let mut chosen = Vec::new();
    for d in letters.iter().filter(|d| eligible(d)) {
        match &d.provenance {
            Err(_) => *refused.entry("unreadable provenance".into()).or_default() += 1,
            Ok(p) if p.redrive_count >= args.max_redrives => {
                *refused
                    .entry(format!("over --max-redrives {}", args.max_redrives))
                    .or_default() += 1
            }
            Ok(_) => chosen.push(d),
        }
    }
    let mut by: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    for d in &chosen {
        let p = d.provenance.as_ref().expect("chosen ones have provenance");
        *by.entry((
            p.group.clone(),
            p.error_kind.clone(),
            p.error_class.as_str().to_owned(),
        ))
        .or_default() += 1;
    }
    let mut report = Report {
        dry_run: !args.execute,
        redriven: 0,
        resumed: 0,
        refused,
        by: by
            .into_iter()
            .map(|((group, kind, class), count)| Count {
                group,
                kind,
                class,
                count,
            })
            .collect(),
        run_id: None,
    };
    if !args.execute {
        report.redriven = chosen.len();
        print(ctx, &report);
        output::note("dry run: nothing was sent; add --execute --reason '...' to redrive");
        return Ok(());
    }

    let actor = actor(args.actor.clone());
    let run = ledger::start_run(
        &pool,
        "redrive",
        &actor,
        &reason,
        &json!({ "filter": args.filter, "max_redrives": args.max_redrives, "rate": args.rate,
                 "from_archive": args.from_archive }),
    )
    .await?;
    report.run_id = Some(run.id);
    let interrupt = crate::Interrupt::watch();
    let sender = Sender {
        producer: orders_runtime::kafka::producer(&ctx.kafka, "ordersctl")?,
        run_id: run.id.to_string(),
    };
    let bar = output::progress(chosen.len() as u64, "redriving");
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut readers: BTreeMap<String, LogReader> = BTreeMap::new();
    let result: Result<(), CtlError> = async {
        for d in &chosen {
            if interrupt.requested() {
                break;
            }
            let p = d.provenance.as_ref().expect("chosen ones have provenance");
            if !readers.contains_key(&p.original_topic) {
                readers.insert(
                    p.original_topic.clone(),
                    LogReader::new(&ctx.kafka, &p.original_topic)?,
                );
            }
            let reader = &readers[&p.original_topic];
            let dlq_topic = d.record.topic.as_str();
            let redrive_id = format!("{dlq_topic}/{}@{}", d.record.partition, d.record.offset);
            if let Some(h) = d.handled.as_ref().filter(|h| h.action == "redrive")
                && let (Some(partition), Some(from)) = (h.target_partition, h.scan_from)
                && let Some(offset) = find(reader, partition, from, &redrive_id).await?
            {
                ledger::redrive_done(&pool, dlq_topic, d.key(), offset).await?;
                mark_duplicates_of(&pool, &letters, d, &run).await?;
                report.resumed += 1;
                bar.inc(1);
                continue;
            }
            tick.tick().await;
            let target = ledger::Target {
                topic: &p.original_topic,
                partition: p.original_partition,
                scan_from: reader.high_watermark(p.original_partition)?,
            };
            ledger::redrive_pending(&pool, dlq_topic, d.key(), &run, &target).await?;
            let offset = sender.send(d, &target, &redrive_id).await?;
            ledger::redrive_done(&pool, dlq_topic, d.key(), offset).await?;
            mark_duplicates_of(&pool, &letters, d, &run).await?;
            report.redriven += 1;
            bar.inc(1);
        }
        Ok(())
    }
    .await;
    bar.finish_and_clear();
    let was_interrupted = interrupt.requested();
    let outcome = match (&result, was_interrupted) {
        (Err(_), _) => "failed",
        (Ok(()), true) => "interrupted",
        (Ok(()), false) => "done",
    };
    ledger::finish_run(&pool, &run, outcome, report.redriven + report.resumed).await?;
    result?;
    print(ctx, &report);
    let done = report.redriven + report.resumed;
    if was_interrupted {
        return Err(CtlError::Interrupted(format!(
            "interrupted after {done} of {}; run the same command again to resume (nothing is sent twice)",
            chosen.len()
        )));
    }
    let refused: usize = report.refused.values().sum();
    if refused > 0 {
        return Err(CtlError::Refused(format!(
            "{refused} dead letters were not redriven (see 'refused' above); inspect them with \
             `ordersctl dlq list`, fix the cause, or purge them"
        )));
    }
    Ok(())
}

/// The archive's dead letters with the ledger's marks.
async fn from_archive(
    ctx: &Ctx,
    pool: &deadpool_postgres::Pool,
    path: &std::path::Path,
) -> Result<Vec<DeadLetter>, CtlError> {
    let mut letters = archive::read(path)?;
    let mut handled = ledger::load(pool, &ctx.db.schema, &ctx.kafka.dlq_topic).await?;
    for d in &mut letters {
        if d.record.topic == ctx.kafka.dlq_topic {
            d.handled = handled.remove(&d.key());
        }
    }
    letters.sort_by_key(DeadLetter::key);
    mark_duplicates(&mut letters);
    Ok(letters)
}

async fn mark_duplicates_of(
    pool: &deadpool_postgres::Pool,
    letters: &[DeadLetter],
    first: &DeadLetter,
    run: &ledger::Run,
) -> Result<(), CtlError> {
    let dups: Vec<(i32, i64)> = letters
        .iter()
        .filter(|d| d.duplicate_of == Some(first.key()) && !d.is_handled())
        .map(DeadLetter::key)
        .collect();
    if dups.is_empty() {
        return Ok(());
    }
    let reason = format!("duplicate of {}, redriven with it", first.position());
    let client = pool.get().await?;
    ledger::mark_done(
        &client,
        &first.record.topic,
        &dups,
        "redrive",
        run,
        &reason,
        None,
    )
    .await
}

/// The offset of the record carrying `redrive.id` = `id` in `partition` from `from` on, if any.
async fn find(
    reader: &LogReader,
    partition: i32,
    from: i64,
    id: &str,
) -> Result<Option<i64>, CtlError> {
    let to = reader.high_watermark(partition)?;
    let mut found = None;
    reader
        .read(
            &[Range {
                partition,
                from,
                to,
            }],
            |r| {
                if r.header(names::REDRIVE_ID) == Some(id) {
                    found = Some(r.offset);
                    return false;
                }
                true
            },
        )
        .await?;
    Ok(found)
}

struct Sender {
    producer: FutureProducer,
    run_id: String,
}

impl Sender {
    /// Sends the original key, value and headers (without provenance and earlier redrive headers)
    /// plus the redrive headers, to the partition the record came from; returns its offset.
    async fn send(
        &self,
        d: &DeadLetter,
        target: &ledger::Target<'_>,
        redrive_id: &str,
    ) -> Result<i64, CtlError> {
        let p = d.provenance.as_ref().expect("chosen ones have provenance");
        let count = (p.redrive_count + 1).to_string();
        let mut headers = OwnedHeaders::new_with_capacity(d.record.headers.len() + 4);
        for (key, value) in d
            .record
            .headers
            .iter()
            .filter(|(k, _)| !k.starts_with("dlq.") && !k.starts_with("redrive."))
        {
            headers = headers.insert(Header {
                key,
                value: Some(value.as_slice()),
            });
        }
        for (key, value) in [
            (names::REDRIVE, count.as_str()),
            (names::REDRIVE_GROUP, p.group.as_str()),
            (names::REDRIVE_ID, redrive_id),
            (names::REDRIVE_RUN, self.run_id.as_str()),
        ] {
            headers = headers.insert(Header {
                key,
                value: Some(value.as_bytes()),
            });
        }
        let mut out: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(target.topic)
            .partition(target.partition)
            .headers(headers);
        if let Some(key) = &d.record.key {
            out = out.key(key.as_slice());
        }
        if let Some(value) = &d.record.value {
            out = out.payload(value.as_slice());
        }
        match self.producer.send(out, Duration::from_secs(30)).await {
            Ok(delivery) => Ok(delivery.offset),
            Err((e, _)) => Err(CtlError::Failed(anyhow::anyhow!(
                "sending {redrive_id} to {} failed: {e}; nothing else was sent after it — run the \
                 same command again to resume",
                target.topic
            ))),
        }
    }
}

fn print(ctx: &Ctx, report: &Report) {
    emit_one(ctx.format, report, || {
        let verb = if report.dry_run {
            "would redrive"
        } else {
            "redriven"
        };
        let mut t = table(&["group", "kind", "class", "count"]);
        for c in &report.by {
            t.add_row(vec![
                c.group.clone(),
                c.kind.clone(),
                c.class.clone(),
                c.count.to_string(),
            ]);
        }
        let mut s = format!("{}\n\n{verb}: {}", t.trim_fmt(), report.redriven);
        if report.resumed > 0 {
            s.push_str(&format!(
                "\nalready sent by an interrupted run (not sent again): {}",
                report.resumed
            ));
        }
        for (why, n) in &report.refused {
            s.push_str(&format!("\nrefused ({why}): {n}"));
        }
        if let Some(id) = report.run_id {
            s.push_str(&format!("\nrun: {id}"));
        }
        s
    });
}

//! `ordersctl projection rebuild --into <schema>`: the projection's own code applied to the whole log
//! in a shadow schema. It emits nothing and dead-letters nothing (undecodable records only go to the
//! shadow's `projection_rejects`); its offsets are stored with its effects, so a run that stops
//! resumes where it stopped.
use clap::Args;
use deadpool_postgres::Pool;
use orders_projections::Projection;
use orders_runtime::batch::BatchHandler;
use serde_json::json;

use crate::log::{LogReader, Range};
use crate::output::{self, emit_one};
use crate::{CtlError, Ctx, Interrupt};

#[derive(Debug, Args)]
pub struct RebuildArgs {
    /// Shadow schema to build into (created when missing); not the live ORDERS_DB_SCHEMA.
    #[arg(long)]
    pub into: String,
    /// The projection's name, which keys its offsets: the live projector's consumer group.
    #[arg(long, default_value = "orders-projector")]
    pub projection: String,
    /// Records applied per transaction.
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
}

/// A shadow schema with its projection.
pub struct Shadow {
    pub schema: String,
    pub pool: Pool,
    pub projection: Projection,
}

/// Opens (and migrates) the shadow schema `schema`.
pub async fn open(ctx: &Ctx, schema: &str, projection: &str) -> Result<Shadow, CtlError> {
    orders_projections::db::check_schema_name(schema)
        .map_err(|e| CtlError::Usage(format!("{schema:?} is not a usable schema name: {e}")))?;
    if schema == ctx.db.schema {
        return Err(CtlError::Usage(format!(
            "{schema} is the live schema (ORDERS_DB_SCHEMA); rebuild into another one, e.g. {}_rebuild",
            ctx.db.schema
        )));
    }
    let mut db = ctx.db.clone();
    db.schema = schema.to_owned();
    let pool = db.pool()?;
    orders_projections::migrate_read_models(&pool, schema).await?;
    Ok(Shadow {
        schema: schema.to_owned(),
        projection: Projection::new(pool.clone(), projection),
        pool,
    })
}

/// Applies the records of `ranges` to `projection` in transactions of `batch` records.
pub async fn apply_ranges(
    projection: &Projection,
    reader: &LogReader,
    mut ranges: Vec<Range>,
    batch: usize,
    bar: &indicatif::ProgressBar,
    interrupt: &Interrupt,
) -> Result<u64, CtlError> {
    let mut applied = 0u64;
    loop {
        if interrupt.requested() {
            return Err(CtlError::Interrupted(format!(
                "interrupted after {applied} records; run the same command again to resume"
            )));
        }
        let chunk = reader.read_chunk(&ranges, batch.max(1)).await?;
        if chunk.is_empty() {
            return Ok(applied);
        }
        projection.apply(&chunk).await.map_err(|e| {
            CtlError::Failed(anyhow::anyhow!(
                "applying records {}..: {}; run the same command again to resume",
                chunk[0].position(),
                e.message
            ))
        })?;
        for r in &chunk {
            if let Some(range) = ranges.iter_mut().find(|x| x.partition == r.partition) {
                range.from = range.from.max(r.offset + 1);
            }
        }
        applied += chunk.len() as u64;
        bar.inc(chunk.len() as u64);
    }
}

pub async fn run(ctx: &Ctx, args: RebuildArgs) -> Result<(), CtlError> {
    let shadow = open(ctx, &args.into, &args.projection).await?;
    let topic = &ctx.kafka.events_topic;
    let reader = LogReader::new(&ctx.kafka, topic)?;
    let marks = reader.watermarks()?;
    let partitions: Vec<i32> = marks.iter().map(|w| w.partition).collect();
    let stored = shadow.projection.offsets(topic, &partitions).await?;
    let ranges: Vec<Range> = marks
        .iter()
        .map(|w| Range {
            partition: w.partition,
            from: stored
                .get(&w.partition)
                .copied()
                .unwrap_or(w.low)
                .max(w.low),
            to: w.high,
        })
        .collect();
    let already: u64 = marks
        .iter()
        .map(|w| (stored.get(&w.partition).copied().unwrap_or(w.low) - w.low).max(0) as u64)
        .sum();
    let todo: u64 = ranges.iter().map(Range::len).sum();
    if already > 0 {
        output::note(&format!(
            "resuming: {already} records were applied by an earlier run"
        ));
    }
    let bar = output::progress(todo, "rebuilding");
    let interrupt = Interrupt::watch();
    let applied = apply_ranges(
        &shadow.projection,
        &reader,
        ranges,
        args.batch,
        &bar,
        &interrupt,
    )
    .await;
    bar.finish_and_clear();
    let applied = applied?;
    let doc = json!({
        "schema": shadow.schema,
        "projection": args.projection,
        "applied": applied,
        "resumed_after": already,
    });
    emit_one(ctx.format, &doc, || {
        format!(
            "rebuilt {}: {applied} records applied now, {already} before; it is at the log end as of \
             the start of this run.\nNext: ordersctl projection cutover --to {} --check-only",
            shadow.schema, shadow.schema
        )
    });
    Ok(())
}

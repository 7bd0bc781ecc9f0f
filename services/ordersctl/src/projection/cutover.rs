//! `ordersctl projection cutover --to <schema>`: makes a rebuilt shadow's read models the live ones.
//!
//! 1. Catch up: the shadow applies the log up to the live projection's stored offsets, so both
//!    describe the same prefix of the log.
//! 2. Check: per table, row count and a digest of the rows (clock-set columns left out) in both,
//!    while a SHARE lock on the live offsets table holds the live projector's commits (for the
//!    seconds the check takes; queries go on), so both sides describe the same prefix of the log.
//! 3. Swap, in one transaction holding both sets of tables locked: the live read-model tables move
//!    to a retired schema and the shadow's move into the live schema. Queries wait for the lock for
//!    milliseconds and then read the new tables (PostgreSQL resolves names again after a lock
//!    wait, and re-plans cached statements on such a change). The live projector's next batch finds
//!    another `projection_offsets` table, rolls back, and continues from the shadow's offsets.
use chrono::Utc;
use clap::Args;
use deadpool_postgres::{GenericClient, Pool};
use orders_projections::READ_MODEL_TABLES;
use serde::Serialize;
use serde_json::json;
use std::collections::HashMap;

use super::rebuild::{self, Shadow, apply_ranges};
use crate::log::{LogReader, Range};
use crate::output::{self, emit_one, table};
use crate::{CtlError, Ctx, Interrupt};

#[derive(Debug, Args)]
pub struct CutoverArgs {
    /// The rebuilt shadow schema whose read models become the live ones.
    #[arg(long)]
    pub to: String,
    /// The projection's name (the live projector's consumer group).
    #[arg(long, default_value = "orders-projector")]
    pub projection: String,
    /// Catch up and compare only; change nothing.
    #[arg(long)]
    pub check_only: bool,
    /// Cut over even when the comparison found differences.
    #[arg(long)]
    pub force: bool,
    /// Schema that receives the replaced read models (default `<live>_before_<UTC time>`).
    #[arg(long)]
    pub retire_into: Option<String>,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Serialize)]
pub struct TableCheck {
    pub table: String,
    pub live_rows: i64,
    pub shadow_rows: i64,
    pub same: bool,
}

pub async fn run(ctx: &Ctx, args: CutoverArgs) -> Result<(), CtlError> {
    let shadow = rebuild::open(ctx, &args.to, &args.projection).await?;
    let live = ctx.pool()?;
    let live_schema = ctx.db.schema.clone();
    let retire = args
        .retire_into
        .clone()
        .unwrap_or_else(|| format!("{live_schema}_before_{}", Utc::now().format("%Y%m%d%H%M%S")));
    orders_projections::db::check_schema_name(&retire)
        .map_err(|e| CtlError::Usage(format!("--retire-into {retire:?}: {e}")))?;
    let topic = &ctx.kafka.events_topic;
    let reader = LogReader::new(&ctx.kafka, topic)?;
    let partitions = reader.partitions()?;
    if shadow
        .projection
        .offsets(topic, &partitions)
        .await?
        .is_empty()
    {
        return Err(CtlError::NotFound(format!(
            "schema {} holds no rebuilt projection {}; run `ordersctl projection rebuild --into {}` first",
            shadow.schema, args.projection, shadow.schema
        )));
    }

    let interrupt = Interrupt::watch();
    // Hold the live projection still for the comparison: a SHARE lock on its offsets table makes
    // the live projector's next commit wait (queries are not affected), so the catch-up and the
    // digests describe the same prefix of the log on both sides. Under load the live projection
    // would otherwise move between reading its offsets and comparing.
    let mut holder = live.get().await?;
    let hold = holder.transaction().await?;
    hold.batch_execute(
        "SET LOCAL lock_timeout = '30s'; LOCK TABLE projection_offsets IN SHARE MODE",
    )
    .await?;
    let live_at = live_offsets(&hold, &args.projection, topic, &partitions).await;
    let checked = match live_at {
        Ok(live_at) => {
            match catch_up(&shadow, &reader, &live_at, topic, &partitions, &interrupt).await {
                Ok(()) => compare(&live, &live_schema, &shadow.schema).await,
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    };
    hold.rollback().await?;
    let checks = checked?;
    let differ = checks.iter().filter(|c| !c.same).count();
    let doc = json!({
        "live": live_schema,
        "shadow": shadow.schema,
        "tables": checks,
        "differences": differ,
    });
    emit_one(ctx.format, &doc, || {
        let mut t = table(&["table", "live rows", "shadow rows", "same"]);
        for c in &checks {
            t.add_row(vec![
                c.table.clone(),
                c.live_rows.to_string(),
                c.shadow_rows.to_string(),
                if c.same { "yes" } else { "NO" }.into(),
            ]);
        }
        t.trim_fmt()
    });
    if differ > 0 && !args.force {
        return Err(CtlError::Refused(format!(
            "{differ} tables differ between {live_schema} and {}; nothing was switched (look at the \
             differences, rebuild again, or pass --force)",
            shadow.schema
        )));
    }
    if args.check_only {
        output::note("check only: nothing was switched");
        return Ok(());
    }
    if !args.yes
        && !output::confirm(&format!(
            "Switch the read models of {live_schema} to those rebuilt in {} (the current ones move to {retire})?",
            shadow.schema
        ))
    {
        return Err(CtlError::Refused(
            "not confirmed; nothing was switched (pass --yes in scripts)".into(),
        ));
    }
    let started = std::time::Instant::now();
    swap(&live, &live_schema, &shadow.schema, &retire).await?;
    output::note(&format!(
        "cut over in {} ms: {live_schema} now holds the read models rebuilt in {}; the replaced ones \
         are in {retire} (drop them when satisfied: DROP SCHEMA {retire} CASCADE). The live projector \
         carries on from the rebuilt offsets.",
        started.elapsed().as_millis(),
        shadow.schema
    ));
    Ok(())
}

async fn live_offsets(
    live: &impl GenericClient,
    projection: &str,
    topic: &str,
    partitions: &[i32],
) -> Result<HashMap<i32, i64>, CtlError> {
    let rows = live
        .query(
            "SELECT kafka_partition, next_offset FROM projection_offsets \
             WHERE projection = $1 AND topic = $2 AND kafka_partition = ANY($3)",
            &[&projection, &topic, &partitions],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Applies to the shadow what the live projection has applied and the shadow has not.
async fn catch_up(
    shadow: &Shadow,
    reader: &LogReader,
    live_at: &HashMap<i32, i64>,
    topic: &str,
    partitions: &[i32],
    interrupt: &Interrupt,
) -> Result<(), CtlError> {
    let shadow_at = shadow.projection.offsets(topic, partitions).await?;
    let ranges: Vec<Range> = partitions
        .iter()
        .map(|p| Range {
            partition: *p,
            from: shadow_at.get(p).copied().unwrap_or(0),
            to: live_at.get(p).copied().unwrap_or(0),
        })
        .filter(|r| !r.is_empty())
        .collect();
    let total = ranges.iter().map(Range::len).sum();
    let bar = output::progress(total, "catching up");
    let result = apply_ranges(&shadow.projection, reader, ranges, 1000, &bar, interrupt).await;
    bar.finish_and_clear();
    result.map(|_| ())
}

/// Row counts and digests of every read-model table in both schemas.
pub async fn compare(live: &Pool, a: &str, b: &str) -> Result<Vec<TableCheck>, CtlError> {
    let client = live.get().await?;
    let mut out = Vec::new();
    for t in READ_MODEL_TABLES {
        let clock: Vec<String> = t.clock_columns.iter().map(|c| c.to_string()).collect();
        let digest = |schema: &str| {
            format!(
                "SELECT count(*), coalesce(md5(string_agg(h, '' ORDER BY h)), '') FROM \
                 (SELECT md5((to_jsonb(x) - $1::text[])::text) AS h FROM \"{schema}\".\"{}\" x) d",
                t.name
            )
        };
        let la = client.query_one(&digest(a), &[&clock]).await?;
        let lb = client.query_one(&digest(b), &[&clock]).await?;
        let (ca, da): (i64, String) = (la.get(0), la.get(1));
        let (cb, db): (i64, String) = (lb.get(0), lb.get(1));
        out.push(TableCheck {
            table: t.name.to_owned(),
            live_rows: ca,
            shadow_rows: cb,
            same: ca == cb && da == db,
        });
    }
    Ok(out)
}

/// Partitions of `schema.orders`.
async fn partitions_of(client: &impl GenericClient, schema: &str) -> Result<Vec<String>, CtlError> {
    let rows = client
        .query(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n ON n.oid = p.relnamespace \
             WHERE n.nspname = $1 AND p.relname = 'orders' ORDER BY c.relname",
            &[&schema],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Moves the live read models to `retire` and the shadow's into `live`, atomically. Tables are
/// locked timeline first, the order the projector writes in, to keep deadlocks with it rare; a
/// deadlock or lock timeout aborts the swap as a whole and it is tried again.
async fn swap(pool: &Pool, live: &str, shadow: &str, retire: &str) -> Result<(), CtlError> {
    let mut last = None;
    for _ in 0..3 {
        match try_swap(pool, live, shadow, retire).await {
            Ok(()) => return Ok(()),
            Err(e) => {
                tracing::warn!(error = %e, "cutover attempt failed; trying again");
                last = Some(e);
            }
        }
    }
    Err(last.expect("three attempts"))
}

async fn try_swap(pool: &Pool, live: &str, shadow: &str, retire: &str) -> Result<(), CtlError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.batch_execute("SET LOCAL lock_timeout = '10s'").await?;
    let mut names: Vec<&str> = READ_MODEL_TABLES.iter().map(|t| t.name).collect();
    names.sort_by_key(|n| *n != "order_timeline");
    let locks: Vec<String> = [live, shadow]
        .iter()
        .flat_map(|s| names.iter().map(move |t| format!("\"{s}\".\"{t}\"")))
        .collect();
    tx.batch_execute(&format!(
        "LOCK TABLE {} IN ACCESS EXCLUSIVE MODE",
        locks.join(", ")
    ))
    .await?;
    tx.batch_execute(&format!("CREATE SCHEMA \"{retire}\""))
        .await?;
    for (from, to) in [(live, retire), (shadow, live)] {
        let mut tables: Vec<String> = names.iter().map(|t| t.to_string()).collect();
        tables.extend(partitions_of(&tx, from).await?);
        for t in tables {
            tx.batch_execute(&format!(
                "ALTER TABLE \"{from}\".\"{t}\" SET SCHEMA \"{to}\""
            ))
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

//! The ledger of handled dead letters (`dlq_runs`, `dlq_handled`; migration 0001_dlq_ledger.sql).
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use serde::Serialize;
use uuid::Uuid;

use crate::CtlError;

/// What was done with one dead letter.
#[derive(Debug, Clone, Serialize)]
pub struct Handled {
    /// `redrive` or `purge`.
    pub action: String,
    /// `pending` (a redrive sent but not known to be acknowledged) or `done`.
    pub state: String,
    pub run_id: Uuid,
    pub actor: String,
    pub reason: String,
    pub handled_at: DateTime<Utc>,
    pub target_partition: Option<i32>,
    pub scan_from: Option<i64>,
    pub target_offset: Option<i64>,
    pub archive: Option<String>,
}

/// The ledger rows of `dlq_topic`, by (partition, offset). Creates the ledger's tables in `schema`
/// on first use (the services do not; `ordersctl migrate` does too).
pub async fn load(
    pool: &Pool,
    schema: &str,
    dlq_topic: &str,
) -> Result<HashMap<(i32, i64), Handled>, CtlError> {
    orders_projections::migrate::run(pool, schema, "ordersctl", crate::CTL_MIGRATIONS).await?;
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT dlq_partition, dlq_offset, action, state, run_id, actor, reason, handled_at, \
             target_partition, scan_from, target_offset, archive FROM dlq_handled WHERE dlq_topic = $1",
            &[&dlq_topic],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                (r.get(0), r.get(1)),
                Handled {
                    action: r.get(2),
                    state: r.get(3),
                    run_id: r.get(4),
                    actor: r.get(5),
                    reason: r.get(6),
                    handled_at: r.get(7),
                    target_partition: r.get(8),
                    scan_from: r.get(9),
                    target_offset: r.get(10),
                    archive: r.get(11),
                },
            )
        })
        .collect())
}

/// One run of a redrive or purge.
pub struct Run {
    pub id: Uuid,
    pub actor: String,
    pub reason: String,
}

pub async fn start_run(
    pool: &Pool,
    action: &str,
    actor: &str,
    reason: &str,
    filters: &serde_json::Value,
) -> Result<Run, CtlError> {
    let id = Uuid::new_v4();
    pool.get()
        .await?
        .execute(
            "INSERT INTO dlq_runs (run_id, action, actor, reason, filters) VALUES ($1, $2, $3, $4, $5)",
            &[&id, &action, &actor, &reason, filters],
        )
        .await?;
    Ok(Run {
        id,
        actor: actor.to_owned(),
        reason: reason.to_owned(),
    })
}

pub async fn finish_run(
    pool: &Pool,
    run: &Run,
    outcome: &str,
    records: usize,
) -> Result<(), CtlError> {
    pool.get()
        .await?
        .execute(
            "UPDATE dlq_runs SET finished_at = now(), outcome = $2, records = $3 WHERE run_id = $1",
            &[&run.id, &outcome, &(records as i32)],
        )
        .await?;
    Ok(())
}

/// Where a redriven record goes and where a resumed run looks for it.
pub struct Target<'a> {
    pub topic: &'a str,
    pub partition: i32,
    /// The target partition's end before the send: the record, if it was written, is at or after it.
    pub scan_from: i64,
}

/// Records a redrive as pending just before its send. A row still pending from an interrupted run
/// keeps the lower of the two scan starts.
pub async fn redrive_pending(
    pool: &Pool,
    dlq_topic: &str,
    at: (i32, i64),
    run: &Run,
    target: &Target<'_>,
) -> Result<(), CtlError> {
    pool.get()
        .await?
        .execute(
            "INSERT INTO dlq_handled (dlq_topic, dlq_partition, dlq_offset, action, state, run_id, actor, \
             reason, target_topic, target_partition, scan_from) \
             VALUES ($1, $2, $3, 'redrive', 'pending', $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (dlq_topic, dlq_partition, dlq_offset) DO UPDATE SET action = 'redrive', \
             state = 'pending', run_id = EXCLUDED.run_id, actor = EXCLUDED.actor, reason = EXCLUDED.reason, \
             target_topic = EXCLUDED.target_topic, target_partition = EXCLUDED.target_partition, \
             scan_from = CASE WHEN dlq_handled.state = 'pending' AND dlq_handled.action = 'redrive' \
                 THEN LEAST(dlq_handled.scan_from, EXCLUDED.scan_from) ELSE EXCLUDED.scan_from END, \
             target_offset = NULL, handled_at = now()",
            &[&dlq_topic, &at.0, &at.1, &run.id, &run.actor, &run.reason, &target.topic, &target.partition, &target.scan_from],
        )
        .await?;
    Ok(())
}

/// Records a redrive as acknowledged at `target_offset`.
pub async fn redrive_done(
    pool: &Pool,
    dlq_topic: &str,
    at: (i32, i64),
    target_offset: i64,
) -> Result<(), CtlError> {
    pool.get()
        .await?
        .execute(
            "UPDATE dlq_handled SET state = 'done', target_offset = $4, handled_at = now() \
             WHERE dlq_topic = $1 AND dlq_partition = $2 AND dlq_offset = $3",
            &[&dlq_topic, &at.0, &at.1, &target_offset],
        )
        .await?;
    Ok(())
}

/// Marks dead letters handled by `action` without a send of their own: purged ones, and duplicates
/// of a redriven one (`reason` then names the one that was sent).
pub async fn mark_done(
    client: &impl deadpool_postgres::GenericClient,
    dlq_topic: &str,
    at: &[(i32, i64)],
    action: &str,
    run: &Run,
    reason: &str,
    archive: Option<&str>,
) -> Result<(), CtlError> {
    let stmt = client
        .prepare(
            "INSERT INTO dlq_handled (dlq_topic, dlq_partition, dlq_offset, action, state, run_id, actor, \
             reason, archive) VALUES ($1, $2, $3, $4, 'done', $5, $6, $7, $8) \
             ON CONFLICT (dlq_topic, dlq_partition, dlq_offset) DO UPDATE SET action = EXCLUDED.action, \
             state = 'done', run_id = EXCLUDED.run_id, actor = EXCLUDED.actor, reason = EXCLUDED.reason, \
             archive = COALESCE(EXCLUDED.archive, dlq_handled.archive), handled_at = now()",
        )
        .await?;
    for (partition, offset) in at {
        client
            .execute(
                &stmt,
                &[
                    &dlq_topic, partition, offset, &action, &run.id, &run.actor, &reason, &archive,
                ],
            )
            .await?;
    }
    Ok(())
}

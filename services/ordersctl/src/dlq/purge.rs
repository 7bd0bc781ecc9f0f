//! `dlq purge`: archive, then mark handled. Nothing leaves the stats before it is on disk.
use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use super::{DeadLetter, Filter, actor, archive, ledger, load};
use crate::output::{self, emit_one};
use crate::{CtlError, Ctx};

#[derive(Debug, Args)]
pub struct PurgeArgs {
    #[command(flatten)]
    pub filter: Filter,
    /// New file the dead letters are written to first (JSON Lines, redrivable with
    /// `dlq redrive --from-archive`).
    #[arg(long)]
    pub archive: PathBuf,
    /// Why they are purged; kept in the ledger with who ran it.
    #[arg(long)]
    pub reason: String,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
    /// Who runs this (default $ORDERS_ACTOR, else $USER).
    #[arg(long)]
    pub actor: Option<String>,
}

pub async fn run(ctx: &Ctx, args: PurgeArgs) -> Result<(), CtlError> {
    if args.reason.trim().is_empty() {
        return Err(CtlError::Usage(
            "--reason must say why the dead letters are purged".into(),
        ));
    }
    let pool = ctx.pool()?;
    let letters = load(ctx, &pool).await?;
    let chosen: Vec<&DeadLetter> = letters
        .iter()
        .filter(|d| d.is_open() && d.matches(&args.filter))
        .collect();
    // Duplicates of a chosen dead letter are the same failure: they go with it.
    let chosen_keys: Vec<(i32, i64)> = chosen.iter().map(|d| d.key()).collect();
    let duplicates: Vec<&DeadLetter> = letters
        .iter()
        .filter(|d| {
            !d.is_handled()
                && d.duplicate_of
                    .is_some_and(|first| chosen_keys.contains(&first))
        })
        .collect();
    if chosen.is_empty() {
        output::note("no open dead letters match; nothing purged");
        return Ok(());
    }
    if !args.yes
        && !output::confirm(&format!(
            "Purge {} dead letters (archive: {})?",
            chosen.len(),
            args.archive.display()
        ))
    {
        return Err(CtlError::Refused(
            "not confirmed; nothing purged (pass --yes in scripts)".into(),
        ));
    }
    let all: Vec<&DeadLetter> = chosen.iter().chain(&duplicates).copied().collect();
    archive::write(&args.archive, &all)?;
    let archive_path = std::fs::canonicalize(&args.archive)
        .unwrap_or_else(|_| args.archive.clone())
        .display()
        .to_string();
    let actor = actor(args.actor);
    let run = ledger::start_run(
        &pool,
        "purge",
        &actor,
        &args.reason,
        &json!({ "filter": args.filter, "archive": archive_path }),
    )
    .await?;
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let keys: Vec<(i32, i64)> = all.iter().map(|d| d.key()).collect();
    ledger::mark_done(
        &tx,
        &ctx.kafka.dlq_topic,
        &keys,
        "purge",
        &run,
        &args.reason,
        Some(&archive_path),
    )
    .await?;
    tx.commit().await?;
    ledger::finish_run(&pool, &run, "done", all.len()).await?;
    let doc = json!({
        "purged": chosen.len(),
        "duplicates": duplicates.len(),
        "archive": archive_path,
        "run_id": run.id,
    });
    emit_one(ctx.format, &doc, || {
        format!(
            "purged {} dead letters ({} duplicates with them); archived in {archive_path}; run {}",
            chosen.len(),
            duplicates.len(),
            run.id
        )
    });
    Ok(())
}

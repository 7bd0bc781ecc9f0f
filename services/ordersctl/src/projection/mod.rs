//! `ordersctl projection`: the read-model projections.
//!
//! - [`status`]: stored offsets, log end and lag.
//! - [`rebuild`]: replays the log into a shadow schema (no events emitted, no dead letters),
//!   resumable from the offsets it stores there.
//! - [`cutover`]: catches the shadow up to the live offsets, compares it with the live models, and
//!   swaps the tables in one transaction; the live projector notices and carries on from the
//!   shadow's offsets.
pub mod cutover;
pub mod rebuild;
pub mod status;

use clap::Subcommand;

use crate::{CtlError, Ctx};

#[derive(Debug, Subcommand)]
pub enum ProjectionCommand {
    /// Stored offset, log end and lag per projection and partition.
    Status,
    /// Replay the log from the beginning into a shadow schema; run it again to resume.
    Rebuild(rebuild::RebuildArgs),
    /// Switch the live schema's read models to a rebuilt shadow's, after comparing them.
    Cutover(cutover::CutoverArgs),
}

pub async fn run(ctx: &Ctx, cmd: ProjectionCommand) -> Result<(), CtlError> {
    match cmd {
        ProjectionCommand::Status => status::run(ctx).await,
        ProjectionCommand::Rebuild(args) => rebuild::run(ctx, args).await,
        ProjectionCommand::Cutover(args) => cutover::run(ctx, args).await,
    }
}

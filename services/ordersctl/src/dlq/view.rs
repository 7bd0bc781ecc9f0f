//! `dlq stats`, `dlq list`, `dlq show`: read-only views.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};
use serde::Serialize;
use serde_json::{Value, json};

use super::{DeadLetter, Filter, load};
use crate::output::{self, Format, age, cut, emit, emit_one, table};
use crate::{CtlError, Ctx};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Ord, PartialOrd, ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Group,
    Kind,
    Class,
    Type,
}

impl Dimension {
    fn of(self, d: &DeadLetter) -> String {
        let p = d.provenance.as_ref().ok();
        match self {
            Dimension::Group => p.map(|p| p.group.clone()),
            Dimension::Kind => p.map(|p| p.error_kind.clone()),
            Dimension::Class => p.map(|p| p.error_class.as_str().to_owned()),
            Dimension::Type => d.event_type().map(str::to_owned),
        }
        .unwrap_or_else(|| "(unknown)".into())
    }
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    #[command(flatten)]
    pub filter: Filter,
    /// Count by these (comma separated); all four when not given.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub by: Vec<Dimension>,
}

#[derive(Debug, Serialize)]
struct Stats {
    /// Open dead letters (not redriven, not purged, not a duplicate).
    depth: usize,
    oldest_failed_at: Option<DateTime<Utc>>,
    oldest_age_seconds: Option<i64>,
    redriven: usize,
    purged: usize,
    duplicates: usize,
    by: BTreeMap<Dimension, BTreeMap<String, usize>>,
}

pub async fn stats(ctx: &Ctx, args: StatsArgs) -> Result<(), CtlError> {
    let pool = ctx.pool()?;
    let letters = load(ctx, &pool).await?;
    let matching: Vec<&DeadLetter> = letters.iter().filter(|d| d.matches(&args.filter)).collect();
    let open: Vec<&DeadLetter> = matching.iter().copied().filter(|d| d.is_open()).collect();
    let handled_by = |action: &str| {
        matching
            .iter()
            .filter(|d| d.is_handled() && d.handled.as_ref().is_some_and(|h| h.action == action))
            .count()
    };
    let dims = if args.by.is_empty() {
        vec![
            Dimension::Group,
            Dimension::Kind,
            Dimension::Class,
            Dimension::Type,
        ]
    } else {
        args.by
    };
    let now = Utc::now();
    let oldest = open.iter().map(|d| d.failed_at()).min();
    let stats = Stats {
        depth: open.len(),
        oldest_failed_at: oldest,
        oldest_age_seconds: oldest.map(|t| (now - t).num_seconds()),
        redriven: handled_by("redrive"),
        purged: handled_by("purge"),
        duplicates: matching
            .iter()
            .filter(|d| d.duplicate_of.is_some() && !d.is_handled())
            .count(),
        by: dims
            .iter()
            .map(|dim| {
                let mut counts = BTreeMap::new();
                for d in &open {
                    *counts.entry(dim.of(d)).or_insert(0) += 1;
                }
                (*dim, counts)
            })
            .collect(),
    };
    emit_one(ctx.format, &stats, || {
        let mut t = table(&["depth", "oldest", "redriven", "purged", "duplicates"]);
        t.add_row(vec![
            stats.depth.to_string(),
            oldest.map(|o| age(o, now)).unwrap_or_else(|| "-".into()),
            stats.redriven.to_string(),
            stats.purged.to_string(),
            stats.duplicates.to_string(),
        ]);
        let mut text = t.trim_fmt();
        for (dim, counts) in &stats.by {
            let name = serde_json::to_value(dim).expect("dimension");
            let mut t = table(&[name.as_str().unwrap_or("by"), "open"]);
            let mut sorted: Vec<_> = counts.iter().collect();
            sorted.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            for (value, n) in sorted {
                t.add_row(vec![value.clone(), n.to_string()]);
            }
            text.push_str("\n\n");
            text.push_str(&t.trim_fmt());
        }
        text
    });
    Ok(())
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub filter: Filter,
    /// Show at most this many.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// Include redriven, purged and duplicate dead letters (with their state).
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Serialize)]
struct Row {
    position: String,
    state: String,
    failed_at: DateTime<Utc>,
    group: Option<String>,
    class: Option<String>,
    kind: Option<String>,
    event_type: Option<String>,
    order_id: Option<String>,
    attempts: Option<u32>,
    redrive_count: Option<u32>,
    message: String,
}

fn state(d: &DeadLetter) -> String {
    match (&d.handled, d.duplicate_of) {
        (Some(h), _) if h.state == "done" && h.action == "purge" => "purged".into(),
        (Some(h), _) if h.state == "done" => "redriven".into(),
        (Some(h), _) => format!("{} {}", h.action, h.state),
        (None, Some((p, o))) => format!("duplicate of {p}:{o}"),
        (None, None) => "open".into(),
    }
}

fn row(d: &DeadLetter) -> Row {
    let p = d.provenance.as_ref().ok();
    Row {
        position: d.position(),
        state: state(d),
        failed_at: d.failed_at(),
        group: p.map(|p| p.group.clone()),
        class: p.map(|p| p.error_class.as_str().to_owned()),
        kind: p.map(|p| p.error_kind.clone()),
        event_type: d.event_type().map(str::to_owned),
        order_id: d.order_id().map(str::to_owned),
        attempts: p.map(|p| p.attempts),
        redrive_count: p.map(|p| p.redrive_count),
        message: match &d.provenance {
            Ok(p) => p.error_message.clone(),
            Err(e) => format!("unreadable provenance: {e}"),
        },
    }
}

pub async fn list(ctx: &Ctx, args: ListArgs) -> Result<(), CtlError> {
    let pool = ctx.pool()?;
    let letters = load(ctx, &pool).await?;
    let mut shown: Vec<&DeadLetter> = letters
        .iter()
        .filter(|d| (args.all || d.is_open()) && d.matches(&args.filter))
        .collect();
    shown.sort_by_key(|d| d.failed_at());
    let total = shown.len();
    shown.truncate(args.limit);
    let rows: Vec<Row> = shown.iter().map(|d| row(d)).collect();
    let now = Utc::now();
    emit(ctx.format, &rows, || {
        let mut t = table(&[
            "position", "state", "age", "group", "class", "kind", "type", "order", "attempts",
            "redrives", "message",
        ]);
        for r in &rows {
            t.add_row(vec![
                r.position.clone(),
                r.state.clone(),
                age(r.failed_at, now),
                r.group.clone().unwrap_or_default(),
                r.class.clone().unwrap_or_default(),
                r.kind.clone().unwrap_or_default(),
                r.event_type.clone().unwrap_or_default(),
                r.order_id.clone().unwrap_or_default(),
                r.attempts.map(|a| a.to_string()).unwrap_or_default(),
                r.redrive_count.map(|a| a.to_string()).unwrap_or_default(),
                cut(&r.message, 60),
            ]);
        }
        t
    });
    if total > rows.len() {
        output::note(&format!(
            "showing {} of {total}; use --limit or filters to see more",
            rows.len()
        ));
    } else if total == 0 && ctx.format == Format::Table {
        output::note("no dead letters match");
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The dead letter's position in the DLQ topic, `partition:offset` (as `dlq list` prints it).
    pub position: String,
}

fn parse_position(s: &str) -> Result<(i32, i64), CtlError> {
    s.split_once(':')
        .and_then(|(p, o)| Some((p.parse().ok()?, o.parse().ok()?)))
        .ok_or_else(|| {
            CtlError::Usage(format!(
                "{s:?} is not a position; give partition:offset as `ordersctl dlq list` prints it, e.g. 3:17"
            ))
        })
}

/// The value as JSON when it is JSON, else as text, else base64.
pub fn readable(bytes: Option<&[u8]>) -> Value {
    use base64::Engine;
    let Some(bytes) = bytes else {
        return Value::Null;
    };
    if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
        return v;
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => Value::String(s.to_owned()),
        Err(_) => json!({ "base64": base64::engine::general_purpose::STANDARD.encode(bytes) }),
    }
}

/// The trace id of a W3C `traceparent` (version-traceid-parentid-flags).
pub fn trace_id(traceparent: Option<&str>) -> Option<String> {
    traceparent
        .and_then(|t| t.split('-').nth(1))
        .map(str::to_owned)
}

pub async fn show(ctx: &Ctx, args: ShowArgs) -> Result<(), CtlError> {
    let at = parse_position(&args.position)?;
    let pool = ctx.pool()?;
    let letters = load(ctx, &pool).await?;
    let d = letters.iter().find(|d| d.key() == at).ok_or_else(|| {
        CtlError::NotFound(format!(
            "no dead letter at {}:{} in {}; `ordersctl dlq list --all` shows the positions",
            at.0, at.1, ctx.kafka.dlq_topic
        ))
    })?;
    let decoded = d
        .record
        .value
        .as_deref()
        .map(orders_events::Event::from_json);
    let headers: Vec<(String, String)> = d
        .record
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned()))
        .collect();
    let original_headers: Vec<&(String, String)> = headers
        .iter()
        .filter(|(k, _)| !k.starts_with("dlq."))
        .collect();
    let doc = json!({
        "position": d.position(),
        "state": state(d),
        "handled": d.handled,
        "provenance": d.provenance.as_ref().map(provenance_json).unwrap_or_else(|e| json!({"error": e})),
        "trace_id": trace_id(d.record.header(orders_events::headers::names::TRACEPARENT)),
        "key": readable(d.record.key.as_deref()),
        "headers": original_headers.iter().map(|(k, v)| json!({"name": k, "value": v})).collect::<Vec<_>>(),
        "event": match &decoded {
            Some(Ok(e)) => e.to_value(),
            _ => Value::Null,
        },
        "decode_error": match &decoded {
            Some(Err(e)) => Some(e.to_string()),
            _ => None,
        },
        "value": match &decoded {
            Some(Ok(_)) => Value::Null,
            _ => readable(d.record.value.as_deref()),
        },
    });
    emit_one(ctx.format, &doc, || {
        let mut s = String::new();
        s.push_str(&format!(
            "Position:   {} ({})\n",
            d.position(),
            ctx.kafka.dlq_topic
        ));
        s.push_str(&format!("State:      {}\n", state(d)));
        if let Some(h) = &d.handled {
            s.push_str(&format!(
                "Handled:    {} by {} at {} ({}){}\n",
                h.action,
                h.actor,
                h.handled_at.to_rfc3339(),
                h.reason,
                h.archive
                    .as_deref()
                    .map(|a| format!(", archived in {a}"))
                    .unwrap_or_default()
            ));
        }
        match &d.provenance {
            Ok(p) => {
                s.push_str(&format!(
                    "Original:   {}/{}@{}\nGroup:      {}\nError:      {} {} (exhausted: {})\nMessage:    {}\n\
                     Attempts:   {} (first failure {}, last {})\nRedrives:   {}\n",
                    p.original_topic, p.original_partition, p.original_offset, p.group,
                    p.error_class.as_str(), p.error_kind, p.exhausted, p.error_message,
                    p.attempts, p.first_failure_at.to_rfc3339(), p.last_failure_at.to_rfc3339(),
                    p.redrive_count
                ));
            }
            Err(e) => s.push_str(&format!("Provenance: unreadable: {e}\n")),
        }
        s.push_str(&format!(
            "Trace id:   {}\n",
            doc["trace_id"].as_str().unwrap_or("-")
        ));
        s.push_str("Headers:\n");
        for (k, v) in &original_headers {
            s.push_str(&format!("  {k}: {}\n", cut(v, 100)));
        }
        s.push_str("Record:\n");
        let body = match &decoded {
            Some(Ok(e)) => serde_json::to_string_pretty(&e.to_value()).unwrap_or_default(),
            Some(Err(e)) => format!(
                "(not a valid order event: {e})\n{}",
                serde_json::to_string_pretty(&doc["value"]).unwrap_or_default()
            ),
            None => "(no value)".into(),
        };
        for line in body.lines() {
            s.push_str(&format!("  {line}\n"));
        }
        s
    });
    Ok(())
}

pub fn provenance_json(p: &orders_runtime::dlq::Provenance) -> Value {
    json!({
        "original_topic": p.original_topic,
        "original_partition": p.original_partition,
        "original_offset": p.original_offset,
        "original_timestamp_ms": p.original_timestamp_ms,
        "group": p.group,
        "error_class": p.error_class.as_str(),
        "error_kind": p.error_kind,
        "error_message": p.error_message,
        "exhausted": p.exhausted,
        "attempts": p.attempts,
        "first_failure_at": p.first_failure_at,
        "last_failure_at": p.last_failure_at,
        "redrive_count": p.redrive_count,
    })
}

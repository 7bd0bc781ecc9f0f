//! `ordersctl order timeline`: an order's events in log order from the read model, each with what
//! it decided (provider, risk reasons, hub, review) and its trace id.
use chrono::{DateTime, Utc};
use clap::Subcommand;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::dlq::view::trace_id;
use crate::output::{emit, table};
use crate::{CtlError, Ctx};

#[derive(Debug, Subcommand)]
pub enum OrderCommand {
    /// The order's events in order, with the provider, reasons, and trace id.
    Timeline {
        /// The order id (a UUID, as PlaceOrder answered it).
        order_id: String,
    },
}

#[derive(Debug, Serialize)]
pub struct Step {
    pub occurred_at: DateTime<Utc>,
    pub event_type: String,
    pub event_version: i32,
    pub producer: String,
    pub detail: String,
    pub trace_id: Option<String>,
    pub event_id: Uuid,
    pub partition: i32,
    pub offset: i64,
    pub payload: Value,
}

pub async fn run(ctx: &Ctx, cmd: OrderCommand) -> Result<(), CtlError> {
    let OrderCommand::Timeline { order_id } = cmd;
    let id = Uuid::parse_str(order_id.trim()).map_err(|_| {
        CtlError::Usage(format!(
            "{order_id:?} is not an order id; give the UUID that PlaceOrder answered"
        ))
    })?;
    let pool = ctx.pool()?;
    let entries = orders_projections::queries::timeline(&pool, id).await?;
    if entries.is_empty() {
        return Err(CtlError::NotFound(format!(
            "order {id} has no events in the read model (schema {}); check the id, or whether the \
             projector is behind (`ordersctl projection status`)",
            ctx.db.schema
        )));
    }
    let steps: Vec<Step> = entries
        .into_iter()
        .map(|e| Step {
            detail: detail(&e.event_type, &e.payload),
            trace_id: trace_id(e.traceparent.as_deref()),
            occurred_at: e.occurred_at,
            event_type: e.event_type,
            event_version: e.event_version,
            producer: e.producer,
            event_id: e.event_id,
            partition: e.partition,
            offset: e.offset,
            payload: e.payload,
        })
        .collect();
    emit(ctx.format, &steps, || {
        let mut t = table(&["occurred at", "event", "producer", "detail", "trace id"]);
        for s in &steps {
            t.add_row(vec![
                s.occurred_at.format("%Y-%m-%d %H:%M:%S%.3f").to_string(),
                s.event_type.clone(),
                s.producer.clone(),
                crate::output::cut(&s.detail, 100),
                s.trace_id.clone().unwrap_or_else(|| "-".into()),
            ]);
        }
        t
    });
    Ok(())
}

/// One line saying what the event decided.
pub fn detail(event_type: &str, p: &Value) -> String {
    let s = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    match event_type {
        "OrderPlaced" => format!(
            "{} lines for {} via {}",
            p.get("lines").and_then(Value::as_array).map_or(0, Vec::len),
            s("customer_id"),
            s("channel")
        ),
        "OrderEnriched" => {
            let others: Vec<String> = p
                .get("attempts")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|a| a.get("outcome").and_then(Value::as_str) != Some("answered"))
                .map(|a| {
                    format!(
                        "{} {}",
                        a.get("provider").and_then(Value::as_str).unwrap_or("?"),
                        a.get("reason")
                            .and_then(Value::as_str)
                            .or_else(|| a.get("outcome").and_then(Value::as_str))
                            .unwrap_or("")
                    )
                })
                .collect();
            let matched = p
                .get("lines")
                .and_then(Value::as_array)
                .map(|ls| {
                    let m = ls
                        .iter()
                        .filter(|l| l.get("matched").and_then(Value::as_bool) == Some(true))
                        .count();
                    format!("{m}/{} lines matched", ls.len())
                })
                .unwrap_or_default();
            let mut d = format!("by {}, {matched}", s("provider"));
            if !others.is_empty() {
                d.push_str(&format!(" (skipped: {})", others.join("; ")));
            }
            d
        }
        "OrderRiskAssessed" => {
            let reasons: Vec<String> = p
                .get("reasons")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|r| r.get("code").and_then(Value::as_str).map(str::to_owned))
                .collect();
            format!(
                "{} (score {}){}",
                s("decision"),
                p.get("score").and_then(Value::as_u64).unwrap_or(0),
                if reasons.is_empty() {
                    String::new()
                } else {
                    format!(": {}", reasons.join(", "))
                }
            )
        }
        "OrderRouted" => format!(
            "to {} ({:.1} km, ETA {} min): {}",
            s("hub_name"),
            p.get("distance_km").and_then(Value::as_f64).unwrap_or(0.0),
            p.get("eta_minutes").and_then(Value::as_u64).unwrap_or(0),
            s("reason")
        ),
        "OrderReviewed" => format!("{} by {}: {}", s("decision"), s("reviewer"), s("comment")),
        "OrderCancellationRequested" => format!("by {}: {}", s("requested_by"), s("reason")),
        _ => s("reason"),
    }
}

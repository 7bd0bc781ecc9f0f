//! What each event after OrderPlaced does to the read models.
//!
//! Status moves only forward: each event names the statuses it may move an order from, so an event
//! that arrives after a later decision (an enrichment landing after the order was cancelled) records
//! its details without undoing the decision. CANCELLED and REJECTED are final.
use chrono::{DateTime, Utc};
use deadpool_postgres::Transaction;
use orders_events::{
    Event, OrderEnriched, OrderPlaced, OrderReviewed, OrderRiskAssessed, OrderRouted, Payload,
    ReviewDecision, RiskDecision,
};

use crate::apply::status::*;
use crate::db::DbError;

/// Statuses that mean the pipeline reached its decision (HELD waits for a person).
pub const DECIDED: &[&str] = &[ROUTED, HELD, REJECTED, CANCELLED];

/// Statuses an order may still leave (everything but the final ones).
const OPEN: &[&str] = &[PLACED, ENRICHED, ASSESSED, HELD, ROUTED];

fn json<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, DbError> {
    serde_json::to_value(value)
        .map_err(|e| DbError::Config(format!("value does not serialise: {e}")))
}

/// Counts the order for its customer.
pub(crate) async fn order_placed(
    tx: &Transaction<'_>,
    placed: &OrderPlaced,
    at: DateTime<Utc>,
) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO customer_stats (customer_id, orders_count, first_order_at, last_order_at) \
         VALUES ($1, 1, $2, $2) ON CONFLICT (customer_id) DO UPDATE SET \
         orders_count = customer_stats.orders_count + 1, \
         first_order_at = LEAST(customer_stats.first_order_at, EXCLUDED.first_order_at), \
         last_order_at = GREATEST(customer_stats.last_order_at, EXCLUDED.last_order_at)",
        &[&placed.customer_id, &at],
    )
    .await?;
    Ok(())
}

/// Applies an event other than OrderPlaced (whose order row exists unless the OrderPlaced was
/// dead-lettered; then the updates find no row and only the detail tables are written).
pub(crate) async fn follow_up(tx: &Transaction<'_>, event: &Event) -> Result<(), DbError> {
    let env = &event.envelope;
    match &event.payload {
        Payload::OrderPlaced(_) => {}
        Payload::OrderEnriched(e) => enriched(tx, event, e).await?,
        Payload::OrderRiskAssessed(a) => assessed(tx, event, a).await?,
        Payload::OrderRouted(r) => routed(tx, event, r).await?,
        Payload::OrderRoutingFailed(f) => {
            move_status(tx, event, HELD, &[PLACED, ENRICHED, ASSESSED]).await?;
            set_hold_reason(tx, event, &f.reason).await?;
        }
        Payload::OrderReviewed(r) => reviewed(tx, event, r).await?,
        Payload::OrderCancellationRequested(_) => {
            tx.execute(
                "UPDATE orders SET cancellation_requested = true WHERE order_id = $1",
                &[&env.order_id],
            )
            .await?;
        }
        Payload::OrderCancelled(_) => {
            if move_status(tx, event, CANCELLED, OPEN).await? {
                tx.execute(
                    "UPDATE orders SET cancellation_requested = false WHERE order_id = $1",
                    &[&env.order_id],
                )
                .await?;
                count_for_customer(tx, event, "cancelled_count").await?;
                // A routed order's slot at its hub is freed.
                tx.execute(
                    "UPDATE hub_load SET cancelled = cancelled + 1 FROM order_routes r \
                     WHERE r.order_id = $1 AND hub_load.hub_id = r.hub_id \
                     AND hub_load.day = (r.routed_at AT TIME ZONE 'UTC')::date",
                    &[&env.order_id],
                )
                .await?;
            }
        }
        Payload::OrderCancellationRejected(_) => {
            tx.execute(
                "UPDATE orders SET cancellation_requested = false WHERE order_id = $1",
                &[&env.order_id],
            )
            .await?;
        }
    }
    tx.execute(
        "UPDATE orders SET version = version + 1, last_event_id = $2, \
         updated_at = GREATEST(updated_at, $3), projected_at = clock_timestamp() \
         WHERE order_id = $1",
        &[&env.order_id, &env.event_id, &env.occurred_at],
    )
    .await?;
    Ok(())
}

/// Moves the order to `to` if its status is one of `from`; true if it moved.
async fn move_status(
    tx: &Transaction<'_>,
    event: &Event,
    to: &str,
    from: &[&str],
) -> Result<bool, DbError> {
    let moved = tx
        .execute(
            "UPDATE orders SET status = $2, decided_at = CASE WHEN $2 = ANY($4) \
             THEN coalesce(decided_at, clock_timestamp()) ELSE decided_at END \
             WHERE order_id = $1 AND status = ANY($3)",
            &[&event.envelope.order_id, &to, &from, &DECIDED],
        )
        .await?;
    Ok(moved > 0)
}

async fn set_hold_reason(tx: &Transaction<'_>, event: &Event, reason: &str) -> Result<(), DbError> {
    tx.execute(
        "UPDATE orders SET hold_reason = $2 WHERE order_id = $1 AND status = 'HELD'",
        &[&event.envelope.order_id, &reason],
    )
    .await?;
    Ok(())
}

async fn count_for_customer(
    tx: &Transaction<'_>,
    event: &Event,
    column: &'static str,
) -> Result<(), DbError> {
    tx.execute(
        &format!(
            "UPDATE customer_stats SET {column} = {column} + 1 FROM orders o \
             WHERE o.order_id = $1 AND customer_stats.customer_id = o.customer_id"
        ),
        &[&event.envelope.order_id],
    )
    .await?;
    Ok(())
}

async fn enriched(tx: &Transaction<'_>, event: &Event, e: &OrderEnriched) -> Result<(), DbError> {
    let env = &event.envelope;
    let total = e.estimated_total.as_ref().map(|m| m.amount_minor);
    let currency = e.estimated_total.as_ref().map(|m| m.currency.as_str());
    let matched = e.lines.iter().filter(|l| l.matched).count() as i32;
    let inserted = tx
        .execute(
            "INSERT INTO order_enrichments (order_id, event_id, provider, language, confidence, \
             estimated_total_minor, currency, attempts, lines, matched_lines, unmatched_lines, \
             enriched_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) \
             ON CONFLICT (order_id) DO NOTHING",
            &[
                &env.order_id,
                &env.event_id,
                &e.provider,
                &e.language,
                &e.confidence,
                &total,
                &currency,
                &json(&e.attempts)?,
                &json(&e.lines)?,
                &matched,
                &(e.lines.len() as i32 - matched),
                &env.occurred_at,
            ],
        )
        .await?;
    if inserted == 0 {
        // A second enrichment of the same order (another event id) changes nothing.
        return Ok(());
    }
    tx.execute(
        "UPDATE orders SET enrichment_provider = $2, estimated_total_minor = $3 WHERE order_id = $1",
        &[&env.order_id, &e.provider, &total],
    )
    .await?;
    move_status(tx, event, ENRICHED, &[PLACED]).await?;
    if let Some(total) = total {
        tx.execute(
            "UPDATE customer_stats SET valued_orders = valued_orders + 1, \
             total_value_minor = total_value_minor + $2 FROM orders o \
             WHERE o.order_id = $1 AND customer_stats.customer_id = o.customer_id",
            &[&env.order_id, &total],
        )
        .await?;
    }
    Ok(())
}

async fn assessed(
    tx: &Transaction<'_>,
    event: &Event,
    a: &OrderRiskAssessed,
) -> Result<(), DbError> {
    let env = &event.envelope;
    let decision = match a.decision {
        RiskDecision::Approve => "approve",
        RiskDecision::Review => "review",
        RiskDecision::Reject => "reject",
    };
    let inserted = tx
        .execute(
            "INSERT INTO order_risk (order_id, event_id, score, decision, reasons, assessed_at) \
             VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (order_id) DO NOTHING",
            &[
                &env.order_id,
                &env.event_id,
                &(a.score as i16),
                &decision,
                &json(&a.reasons)?,
                &env.occurred_at,
            ],
        )
        .await?;
    if inserted == 0 {
        return Ok(());
    }
    tx.execute(
        "UPDATE orders SET risk_score = $2, risk_decision = $3 WHERE order_id = $1",
        &[&env.order_id, &(a.score as i16), &decision],
    )
    .await?;
    let from = &[PLACED, ENRICHED];
    match a.decision {
        RiskDecision::Approve => {
            move_status(tx, event, ASSESSED, from).await?;
        }
        RiskDecision::Review => {
            if move_status(tx, event, HELD, from).await? {
                let codes: Vec<&str> = a.reasons.iter().map(|r| r.code.as_str()).collect();
                let reason = format!("risk review (score {}: {})", a.score, codes.join(", "));
                set_hold_reason(tx, event, &reason).await?;
            }
        }
        RiskDecision::Reject => {
            if move_status(tx, event, REJECTED, from).await? {
                count_for_customer(tx, event, "rejected_count").await?;
            }
        }
    }
    Ok(())
}

async fn routed(tx: &Transaction<'_>, event: &Event, r: &OrderRouted) -> Result<(), DbError> {
    let env = &event.envelope;
    let inserted = tx
        .execute(
            "INSERT INTO order_routes (order_id, event_id, hub_id, hub_name, distance_km, \
             eta_minutes, reason, routed_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8) \
             ON CONFLICT (order_id) DO NOTHING",
            &[
                &env.order_id,
                &env.event_id,
                &r.hub_id,
                &r.hub_name,
                &r.distance_km,
                &(r.eta_minutes as i32),
                &r.reason,
                &env.occurred_at,
            ],
        )
        .await?;
    if inserted == 0 {
        return Ok(());
    }
    if move_status(tx, event, ROUTED, &[PLACED, ENRICHED, ASSESSED, HELD]).await? {
        tx.execute(
            "UPDATE orders SET hub_id = $2, hold_reason = NULL WHERE order_id = $1",
            &[&env.order_id, &r.hub_id],
        )
        .await?;
    }
    tx.execute(
        "INSERT INTO hub_load (hub_id, day, routed) VALUES ($1, ($2 AT TIME ZONE 'UTC')::date, 1) \
         ON CONFLICT (hub_id, day) DO UPDATE SET routed = hub_load.routed + 1",
        &[&r.hub_id, &env.occurred_at],
    )
    .await?;
    Ok(())
}

async fn reviewed(tx: &Transaction<'_>, event: &Event, r: &OrderReviewed) -> Result<(), DbError> {
    let env = &event.envelope;
    let decision = match r.decision {
        ReviewDecision::Approve => "approve",
        ReviewDecision::Reject => "reject",
    };
    tx.execute(
        "INSERT INTO order_reviews (event_id, order_id, reviewer, decision, comment, reviewed_at) \
         VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT DO NOTHING",
        &[
            &env.event_id,
            &env.order_id,
            &r.reviewer,
            &decision,
            &r.comment,
            &env.occurred_at,
        ],
    )
    .await?;
    match r.decision {
        ReviewDecision::Approve => {
            if move_status(tx, event, ASSESSED, &[HELD]).await? {
                tx.execute(
                    "UPDATE orders SET hold_reason = NULL WHERE order_id = $1",
                    &[&env.order_id],
                )
                .await?;
            }
        }
        ReviewDecision::Reject => {
            if move_status(tx, event, REJECTED, &[HELD]).await? {
                count_for_customer(tx, event, "rejected_count").await?;
            }
        }
    }
    Ok(())
}

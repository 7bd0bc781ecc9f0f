//! The risk scorer's handler: `OrderEnriched` in, `OrderRiskAssessed` out.
use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use orders_events::{Event, EventType, OrderEnriched, OrderFacts, Payload};
use orders_projections::DbError;
use orders_runtime::worker::{Handler, HandlerError};
use uuid::Uuid;

use crate::rules::{self, CustomerHistory, RiskConfig, RiskInput};

/// Scores enriched orders against the customer's history in the read models.
pub struct RiskScorer {
    pub pool: Pool,
    pub config: RiskConfig,
}

impl Handler for RiskScorer {
    fn stage(&self) -> &'static str {
        "risk"
    }

    fn handles(&self, event_type: EventType) -> bool {
        event_type == EventType::OrderEnriched
    }

    async fn handle(&self, event: &Event) -> Result<Option<Payload>, HandlerError> {
        let Payload::OrderEnriched(enriched) = &event.payload else {
            return Ok(None);
        };
        let order_id = event.envelope.order_id;
        let facts = match &enriched.order {
            Some(facts) => facts.clone(),
            None => facts_from_read_model(&self.pool, order_id).await?,
        };
        let history = customer_history(&self.pool, &facts, order_id).await?;
        let mut assessed = rules::assess(&self.config, &input(enriched, &facts, &history, event));
        assessed.order = Some(facts);
        Ok(Some(Payload::OrderRiskAssessed(assessed)))
    }
}

fn input<'a>(
    enriched: &'a OrderEnriched,
    facts: &'a OrderFacts,
    history: &'a CustomerHistory,
    event: &Event,
) -> RiskInput<'a> {
    RiskInput {
        customer_id: &facts.customer_id,
        contact_phone: facts.contact_phone.as_deref(),
        lines: &enriched.lines,
        estimated_total: enriched.estimated_total.as_ref(),
        history,
        // The enrichment's time, not the wall clock, so that a replay scores the same way.
        now: event.envelope.occurred_at,
    }
}

/// For `OrderEnriched` v1 records, which did not carry the order's facts.
async fn facts_from_read_model(pool: &Pool, order_id: Uuid) -> Result<OrderFacts, HandlerError> {
    match orders_projections::queries::order_facts(pool, order_id).await {
        Ok(Some(facts)) => Ok(facts),
        // The projector may not have caught up yet: worth retrying, then a dead letter.
        Ok(None) => Err(HandlerError::transient(
            "order_not_projected",
            format!(
                "OrderEnriched v1 for order {order_id} carries no order facts and the read model does not have the order yet"
            ),
        )),
        Err(e) => Err(e.into()),
    }
}

/// The customer's orders before this one: lifetime totals from `customer_stats`, minus this order
/// when the projector has already counted it, and recent counts from `orders`. One statement, so
/// one snapshot.
pub async fn customer_history(
    pool: &Pool,
    facts: &OrderFacts,
    order_id: Uuid,
) -> Result<CustomerHistory, DbError> {
    let client = pool.get().await?;
    let row = client
        .query_one(
            "SELECT coalesce(cs.orders_count, 0), coalesce(cs.total_value_minor, 0), cs.first_order_at, \
               coalesce(cs.valued_orders, 0), \
               o.order_id IS NOT NULL, o.estimated_total_minor, \
               (SELECT count(*) FROM orders r WHERE r.customer_id = $1 \
                  AND r.placed_at >= $2 - interval '1 hour' AND r.placed_at < $2), \
               (SELECT count(*) FROM orders r WHERE r.customer_id = $1 \
                  AND r.placed_at >= $2 - interval '1 day' AND r.placed_at < $2) \
             FROM (SELECT 1) one \
             LEFT JOIN customer_stats cs ON cs.customer_id = $1 \
             LEFT JOIN orders o ON o.order_id = $3 AND o.placed_at = $2",
            &[&facts.customer_id, &facts.placed_at, &order_id],
        )
        .await?;
    let mut orders: i64 = row.get(0);
    let mut total: i64 = row.get(1);
    let first: Option<DateTime<Utc>> = row.get(2);
    let mut valued: i64 = row.get(3);
    if row.get::<_, bool>(4) {
        orders -= 1;
        if let Some(value) = row.get::<_, Option<i64>>(5) {
            total -= value;
            valued -= 1;
        }
    }
    // The rules average over `orders`; orders without an estimate (nothing matched) must not
    // dilute it, so the total is scaled to the average of the valued ones.
    if valued > 0 && valued < orders {
        total = ((total as i128 * orders as i128) / valued as i128) as i64;
    }
    Ok(CustomerHistory {
        orders: orders.max(0) as u64,
        total_minor: total.max(0),
        // With this order the only one counted, the first order is this one: no history.
        first_order_at: first.filter(|_| orders > 0),
        orders_last_hour: row.get::<_, i64>(6) as u32,
        orders_last_day: row.get::<_, i64>(7) as u32,
    })
}

//! The router's handler: decides routing for assessed and reviewed orders, and cancellations.
//!
//! | event in | router state | follow-up |
//! |---|---|---|
//! | OrderRiskAssessed approve | — | OrderRouted (slot reserved) or OrderRoutingFailed |
//! | OrderRiskAssessed review / reject | — | none (state held / rejected) |
//! | OrderReviewed approve | held, unroutable | OrderRouted or OrderRoutingFailed |
//! | OrderReviewed reject | held, unroutable | none (state rejected) |
//! | OrderCancellationRequested | none yet, held, unroutable, routed | OrderCancelled (a routed order's slot is freed) |
//! | OrderCancellationRequested | cancelled, rejected | OrderCancellationRejected |
//!
//! An order cancelled before its assessment arrives is never routed. Each decision is stored with
//! its source event id in the same transaction as the state change, so a source read again gets the
//! stored answer instead of a second reservation.
use std::collections::HashMap;

use chrono::NaiveDate;
use deadpool_postgres::{Pool, Transaction};
use orders_events::{
    Event, EventType, GeoPoint, OrderCancellationRejected, OrderCancelled, OrderRoutingFailed,
    Payload, ReviewDecision, RiskDecision,
};
use orders_projections::DbError;
use orders_runtime::worker::{Handler, HandlerError};
use uuid::Uuid;

use crate::hubs::{self, Choice, HubsConfig};

/// Routes orders to hubs and decides cancellations.
pub struct Router {
    pub pool: Pool,
    pub hubs: HubsConfig,
}

/// The router's row for an order.
struct OrderState {
    state: String,
    location: Option<GeoPoint>,
    categories: Option<Vec<String>>,
    hub_id: Option<String>,
    day: Option<NaiveDate>,
}

impl Handler for Router {
    fn stage(&self) -> &'static str {
        "router"
    }

    fn handles(&self, event_type: EventType) -> bool {
        matches!(
            event_type,
            EventType::OrderRiskAssessed
                | EventType::OrderReviewed
                | EventType::OrderCancellationRequested
        )
    }

    async fn handle(&self, event: &Event) -> Result<Option<Payload>, HandlerError> {
        let mut client = self.pool.get().await.map_err(DbError::from)?;
        let tx = client.transaction().await.map_err(DbError::from)?;
        let env = &event.envelope;
        if let Some(answer) = stored_answer(&tx, env.event_id).await? {
            return Ok(answer);
        }
        let state = load_state(&tx, env.order_id).await?;
        let answer = self.decide(&tx, event, state).await?;
        let (event_type, payload) = match &answer {
            Some(p) => (
                Some(p.event_type().as_str()),
                Some(serde_json::to_value(p).map_err(|e| {
                    HandlerError::permanent(
                        "invariant",
                        format!("follow-up does not serialise: {e}"),
                    )
                })?),
            ),
            None => (None, None),
        };
        tx.execute(
            "INSERT INTO router_decisions (source_event_id, order_id, event_type, payload, decided_at) \
             VALUES ($1, $2, $3, $4, now())",
            &[&env.event_id, &env.order_id, &event_type, &payload],
        )
        .await
        .map_err(DbError::from)?;
        tx.commit().await.map_err(DbError::from)?;
        Ok(answer)
    }
}

impl Router {
    async fn decide(
        &self,
        tx: &Transaction<'_>,
        event: &Event,
        state: Option<OrderState>,
    ) -> Result<Option<Payload>, HandlerError> {
        let order_id = event.envelope.order_id;
        let day = event.envelope.occurred_at.date_naive();
        match (&event.payload, state) {
            (Payload::OrderRiskAssessed(_), Some(s)) => {
                // Cancelled before its assessment arrived, or assessed twice: nothing to route.
                tracing::info!(%order_id, state = %s.state, "assessment for a decided order ignored");
                Ok(None)
            }
            (Payload::OrderRiskAssessed(a), None) => {
                let location = match &a.order {
                    Some(facts) => facts.delivery_location,
                    None => self.location_from_read_model(order_id).await?,
                };
                let categories = match &a.categories {
                    Some(c) => c.clone(),
                    None => orders_projections::queries::order_categories(&self.pool, order_id)
                        .await?
                        .unwrap_or_default(),
                };
                match a.decision {
                    RiskDecision::Approve => {
                        self.route(tx, order_id, location, &categories, day).await
                    }
                    RiskDecision::Review => {
                        save(
                            tx,
                            order_id,
                            "held",
                            Some(location),
                            &categories,
                            None,
                            None,
                        )
                        .await?;
                        Ok(None)
                    }
                    RiskDecision::Reject => {
                        save(
                            tx,
                            order_id,
                            "rejected",
                            Some(location),
                            &categories,
                            None,
                            None,
                        )
                        .await?;
                        Ok(None)
                    }
                }
            }
            (Payload::OrderReviewed(r), Some(s))
                if s.state == "held" || s.state == "unroutable" =>
            {
                match r.decision {
                    ReviewDecision::Approve => {
                        let location = match s.location {
                            Some(l) => l,
                            None => self.location_from_read_model(order_id).await?,
                        };
                        let categories = s.categories.unwrap_or_default();
                        self.route(tx, order_id, location, &categories, day).await
                    }
                    ReviewDecision::Reject => {
                        set_state(tx, order_id, "rejected").await?;
                        Ok(None)
                    }
                }
            }
            // Cancelled or decided meanwhile (the ingress checked HELD against the read model,
            // which trails the router): the review lost the race and changes nothing.
            (Payload::OrderReviewed(_), Some(s)) => {
                tracing::info!(%order_id, state = %s.state, "review of an order no longer held ignored");
                Ok(None)
            }
            (Payload::OrderReviewed(_), None) => Err(HandlerError::permanent(
                "invariant",
                format!("review of order {order_id}, whose assessment the router never saw"),
            )),
            (Payload::OrderCancellationRequested(_), s) => self.cancel(tx, order_id, s).await,
            _ => Ok(None),
        }
    }

    /// Reserves a slot at the nearest eligible hub, or records that none can take the order.
    async fn route(
        &self,
        tx: &Transaction<'_>,
        order_id: Uuid,
        location: GeoPoint,
        categories: &[String],
        day: NaiveDate,
    ) -> Result<Option<Payload>, HandlerError> {
        let mut loads = loads(tx, day).await?;
        loop {
            match hubs::choose(&self.hubs, location, categories, &loads) {
                Choice::Routed(routed) => {
                    let capacity = self
                        .hubs
                        .get(&routed.hub_id)
                        .map(|h| h.daily_capacity)
                        .unwrap_or(0);
                    if reserve(tx, &routed.hub_id, day, capacity).await? {
                        save(
                            tx,
                            order_id,
                            "routed",
                            Some(location),
                            categories,
                            Some(&routed.hub_id),
                            Some(day),
                        )
                        .await?;
                        return Ok(Some(Payload::OrderRouted(routed)));
                    }
                    // Another router took the last slot meanwhile: count the hub as full, choose again.
                    loads.insert(routed.hub_id, capacity);
                }
                Choice::NoHub { reason } => {
                    save(
                        tx,
                        order_id,
                        "unroutable",
                        Some(location),
                        categories,
                        None,
                        None,
                    )
                    .await?;
                    return Ok(Some(Payload::OrderRoutingFailed(OrderRoutingFailed {
                        reason,
                    })));
                }
            }
        }
    }

    async fn cancel(
        &self,
        tx: &Transaction<'_>,
        order_id: Uuid,
        state: Option<OrderState>,
    ) -> Result<Option<Payload>, HandlerError> {
        let reason = match &state {
            None => "cancelled before routing".to_owned(),
            Some(s) if s.state == "cancelled" => {
                return Ok(Some(Payload::OrderCancellationRejected(
                    OrderCancellationRejected {
                        reason: "the order is already cancelled".into(),
                    },
                )));
            }
            Some(s) if s.state == "rejected" => {
                return Ok(Some(Payload::OrderCancellationRejected(
                    OrderCancellationRejected {
                        reason: "the order was rejected; there is nothing to cancel".into(),
                    },
                )));
            }
            Some(s) if s.state == "routed" => {
                if let (Some(hub), Some(day)) = (&s.hub_id, s.day) {
                    release(tx, hub, day).await?;
                }
                format!(
                    "cancelled after routing; the slot at hub {} was released",
                    s.hub_id.as_deref().unwrap_or("?")
                )
            }
            Some(s) => format!("cancelled while {}", s.state),
        };
        match state {
            None => save(tx, order_id, "cancelled", None, &[], None, None).await?,
            Some(_) => set_state(tx, order_id, "cancelled").await?,
        }
        Ok(Some(Payload::OrderCancelled(OrderCancelled { reason })))
    }

    async fn location_from_read_model(&self, order_id: Uuid) -> Result<GeoPoint, HandlerError> {
        match orders_projections::queries::order_facts(&self.pool, order_id).await {
            Ok(Some(facts)) => Ok(facts.delivery_location),
            Ok(None) => Err(HandlerError::transient(
                "order_not_projected",
                format!(
                    "order {order_id} carries no delivery location and the read model does not have it yet"
                ),
            )),
            Err(e) => Err(e.into()),
        }
    }
}

async fn stored_answer(
    tx: &Transaction<'_>,
    source: Uuid,
) -> Result<Option<Option<Payload>>, DbError> {
    let Some(row) = tx
        .query_opt(
            "SELECT event_type, payload FROM router_decisions WHERE source_event_id = $1",
            &[&source],
        )
        .await?
    else {
        return Ok(None);
    };
    let event_type: Option<String> = row.get(0);
    let payload: Option<serde_json::Value> = row.get(1);
    match (event_type.as_deref().and_then(EventType::parse), payload) {
        (Some(t), Some(p)) => Payload::from_value(t, p)
            .map(|p| Some(Some(p)))
            .map_err(|e| DbError::Config(format!("stored router decision does not decode: {e}"))),
        _ => Ok(Some(None)),
    }
}

async fn load_state(tx: &Transaction<'_>, order_id: Uuid) -> Result<Option<OrderState>, DbError> {
    let row = tx
        .query_opt(
            "SELECT state, delivery_location, categories, hub_id, day FROM router_orders \
             WHERE order_id = $1 FOR UPDATE",
            &[&order_id],
        )
        .await?;
    Ok(row.map(|r| OrderState {
        state: r.get(0),
        location: r
            .get::<_, Option<serde_json::Value>>(1)
            .and_then(|v| serde_json::from_value(v).ok()),
        categories: r.get(2),
        hub_id: r.get(3),
        day: r.get(4),
    }))
}

async fn save(
    tx: &Transaction<'_>,
    order_id: Uuid,
    state: &str,
    location: Option<GeoPoint>,
    categories: &[String],
    hub_id: Option<&str>,
    day: Option<NaiveDate>,
) -> Result<(), HandlerError> {
    let location =
        location.map(|l| serde_json::json!({"latitude": l.latitude, "longitude": l.longitude}));
    tx.execute(
        "INSERT INTO router_orders (order_id, state, delivery_location, categories, hub_id, day, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, now()) ON CONFLICT (order_id) DO UPDATE SET \
         state = EXCLUDED.state, delivery_location = coalesce(EXCLUDED.delivery_location, router_orders.delivery_location), \
         categories = coalesce(EXCLUDED.categories, router_orders.categories), hub_id = EXCLUDED.hub_id, \
         day = EXCLUDED.day, updated_at = now()",
        &[&order_id, &state, &location, &categories, &hub_id, &day],
    )
    .await
    .map_err(DbError::from)?;
    Ok(())
}

async fn set_state(tx: &Transaction<'_>, order_id: Uuid, state: &str) -> Result<(), HandlerError> {
    tx.execute(
        "UPDATE router_orders SET state = $2, updated_at = now() WHERE order_id = $1",
        &[&order_id, &state],
    )
    .await
    .map_err(DbError::from)?;
    Ok(())
}

async fn loads(tx: &Transaction<'_>, day: NaiveDate) -> Result<HashMap<String, u32>, DbError> {
    let rows = tx
        .query(
            "SELECT hub_id, used FROM router_hub_capacity WHERE day = $1",
            &[&day],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, i32>(1).max(0) as u32))
        .collect())
}

/// Takes a slot at `hub` on `day` unless it is full; false when full.
async fn reserve(
    tx: &Transaction<'_>,
    hub: &str,
    day: NaiveDate,
    capacity: u32,
) -> Result<bool, DbError> {
    let n = tx
        .execute(
            "INSERT INTO router_hub_capacity (hub_id, day, used) VALUES ($1, $2, 1) \
             ON CONFLICT (hub_id, day) DO UPDATE SET used = router_hub_capacity.used + 1 \
             WHERE router_hub_capacity.used < $3",
            &[&hub, &day, &(capacity as i32)],
        )
        .await?;
    Ok(n == 1)
}

async fn release(tx: &Transaction<'_>, hub: &str, day: NaiveDate) -> Result<(), DbError> {
    tx.execute(
        "UPDATE router_hub_capacity SET used = used - 1 WHERE hub_id = $1 AND day = $2 AND used > 0",
        &[&hub, &day],
    )
    .await?;
    Ok(())
}

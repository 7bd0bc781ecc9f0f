//! `ReviewOrder`: a person's decision on a HELD order, appended as `OrderReviewed`.
use orders_events::{OrderReviewed, Payload, ReviewDecision};
use orders_projections::apply::status;
use orders_projections::queries;
use orders_proto::v1;
use tonic::{Request, Response, Status};

use crate::requests::{self, Kind, Submission};
use crate::service::{OrderApi, caller, db_error, trace_context};
use crate::validate;

/// Longest reviewer name.
const MAX_REVIEWER: usize = 100;

impl OrderApi {
    pub(crate) async fn review(
        &self,
        request: Request<v1::ReviewOrderRequest>,
    ) -> Result<Response<v1::ReviewOrderResponse>, Status> {
        let caller = caller(&request, &self.default_caller)?;
        let (traceparent, tracestate) = trace_context(&request);
        let req = request.into_inner();
        let mut v = validate::Violations::default();
        v.idempotency_key(&req.idempotency_key);
        let order_id = v.order_id("order_id", &req.order_id);
        let decision = match v1::ReviewDecision::try_from(req.decision) {
            Ok(v1::ReviewDecision::Approve) => Some(ReviewDecision::Approve),
            Ok(v1::ReviewDecision::Reject) => Some(ReviewDecision::Reject),
            _ => {
                v.add(
                    "decision",
                    format!(
                        "{} is not a decision; send REVIEW_DECISION_APPROVE or REVIEW_DECISION_REJECT",
                        req.decision
                    ),
                );
                None
            }
        };
        let reviewer = v.text("reviewer", &req.reviewer, true, MAX_REVIEWER);
        let comment = v.text("comment", &req.comment, false, validate::MAX_REASON);
        let (order_id, decision) = v.finish((order_id, decision))?;
        let (order_id, decision) = (order_id.expect("validated"), decision.expect("validated"));
        let payload = OrderReviewed {
            reviewer: reviewer.expect("validated"),
            decision,
            comment: comment.unwrap_or_default(),
        };
        let hash = requests::request_hash(
            &serde_json::to_vec(&(order_id, &payload))
                .map_err(|e| Status::internal(e.to_string()))?,
        );
        let sub = Submission::new(
            &caller,
            &req.idempotency_key,
            Kind::Review,
            hash,
            order_id,
            Payload::OrderReviewed(payload),
            (traceparent, tracestate),
        );
        // A retry of an accepted review must answer the same even though the order is no longer
        // HELD, so the state is checked only for a key not seen before.
        if !requests::known_request(&self.pool, &caller, &req.idempotency_key)
            .await
            .map_err(db_error)?
        {
            check_held(self, order_id).await?;
        }
        let (order_id, event_id, replayed) = self.submit(&sub, &req.idempotency_key).await?;
        tracing::info!(%order_id, %event_id, replayed, ?decision, "order reviewed");
        Ok(Response::new(v1::ReviewOrderResponse {
            order_id: order_id.to_string(),
            event_id: event_id.to_string(),
            replayed,
        }))
    }
}

async fn check_held(api: &OrderApi, order_id: uuid::Uuid) -> Result<(), Status> {
    match queries::get_order(&api.pool, order_id)
        .await
        .map_err(db_error)?
    {
        Some(order) if order.status == status::HELD => Ok(()),
        Some(order) => Err(Status::failed_precondition(format!(
            "order {order_id} is {}, not HELD; only held orders can be reviewed",
            order.status
        ))),
        None if requests::order_accepted(&api.pool, order_id)
            .await
            .map_err(db_error)? =>
        {
            Err(Status::failed_precondition(format!(
                "order {order_id} is still being processed (not HELD yet); retry later"
            )))
        }
        None => Err(Status::not_found(format!(
            "order {order_id} does not exist"
        ))),
    }
}

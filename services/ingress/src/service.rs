//! `orders.v1.OrderService`: writes append events through the idempotency store, reads query the
//! read models.
use std::sync::Arc;

use deadpool_postgres::Pool;
use orders_events::{OrderCancellationRequested, Payload, ids};
use orders_projections::queries::{self, Cursor, ListFilter};
use orders_proto::v1::{self, order_service_server::OrderService};
use rdkafka::producer::FutureProducer;
use tonic::{Request, Response, Status};

use crate::requests::{self, Kind, Submission, SubmitError, Submitted};
use crate::{convert, validate};

pub(crate) const PRODUCER: &str = "orders-ingress";

/// The API's state; cheap to clone.
#[derive(Clone)]
pub struct OrderApi {
    pub producer: FutureProducer,
    pub topic: String,
    /// Primary: the idempotency store.
    pub pool: Pool,
    /// Queries: the replica when configured.
    pub read_pool: Pool,
    pub default_caller: Arc<str>,
    /// Permits for writes in flight; a write that finds none is refused at once with
    /// RESOURCE_EXHAUSTED instead of queueing (and holding memory) behind a slow broker.
    pub writes: Arc<tokio::sync::Semaphore>,
}

/// Who is calling: the `x-caller` metadata (until token authentication names the caller).
pub(crate) fn caller<T>(req: &Request<T>, default: &str) -> Result<String, Status> {
    let Some(value) = req.metadata().get("x-caller") else {
        return Ok(default.to_owned());
    };
    let caller = value
        .to_str()
        .ok()
        .filter(|c| !c.is_empty() && c.len() <= 64 && c.chars().all(|ch| ch.is_ascii_graphic()))
        .ok_or_else(|| {
            Status::invalid_argument("x-caller metadata must be 1 to 64 printable ASCII characters")
        })?;
    Ok(caller.to_owned())
}

/// W3C trace context of the call, carried into the event so the trace continues downstream.
pub(crate) fn trace_context<T>(req: &Request<T>) -> (Option<String>, Option<String>) {
    let get = |name: &str| {
        req.metadata()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let traceparent = get("traceparent").filter(|t| t.len() == 55 && t.split('-').count() == 4);
    let tracestate = traceparent.as_ref().and_then(|_| get("tracestate"));
    (traceparent, tracestate)
}

/// Runs one RPC in a server span (a child of the caller's W3C trace context, when it sent one)
/// and records it: `orders_grpc_requests_total{method, code}` and
/// `orders_grpc_request_duration_seconds{method, code}` (by code, so calls refused at once under
/// load do not pull the latency of accepted ones down).
async fn observed<T>(
    method: &'static str,
    (traceparent, tracestate): (Option<String>, Option<String>),
    call: impl std::future::Future<Output = Result<Response<T>, Status>>,
) -> Result<Response<T>, Status> {
    use tracing::Instrument;
    let span = tracing::info_span!(
        "rpc",
        otel.name = format!("orders.v1.OrderService/{method}"),
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.service = "orders.v1.OrderService",
        rpc.method = method,
        rpc.grpc.status_code = tracing::field::Empty,
        trace_id = tracing::field::Empty,
        span_id = tracing::field::Empty,
    );
    orders_runtime::telemetry::set_parent(&span, traceparent.as_deref(), tracestate.as_deref());
    let started = std::time::Instant::now();
    let result = call.instrument(span.clone()).await;
    span.record(
        "rpc.grpc.status_code",
        match &result {
            Ok(_) => 0,
            Err(s) => s.code() as i32,
        },
    );
    let code = match &result {
        Ok(_) => tonic::Code::Ok,
        Err(status) => status.code(),
    };
    let code = format!("{code:?}");
    metrics::histogram!("orders_grpc_request_duration_seconds", "method" => method,
        "code" => code.clone())
    .record(started.elapsed().as_secs_f64());
    metrics::counter!("orders_grpc_requests_total", "method" => method, "code" => code)
        .increment(1);
    result
}

pub(crate) fn submit_error(e: SubmitError) -> Status {
    match e {
        SubmitError::Append(e) => {
            tracing::error!(error = %e, "append failed");
            Status::unavailable(
                "the order log did not acknowledge the write in time; retry with the same \
                 idempotency key (a retry never creates a second order)",
            )
        }
        SubmitError::Db(e) => db_error(e),
    }
}

pub(crate) fn db_error(e: orders_projections::DbError) -> Status {
    if let orders_projections::DbError::Busy = e {
        tracing::warn!("shedding a call: every database connection is held by a write in flight");
        return Status::resource_exhausted(
            "the ingress is at capacity: every connection is held by a write waiting for the order \
             log; retry with the same idempotency key after a short backoff",
        );
    }
    tracing::error!(error = %e, "database error");
    if e.is_retryable() {
        Status::unavailable("the database is unavailable; retry shortly")
    } else {
        Status::internal("internal database error; the operators have it in the logs")
    }
}

impl OrderApi {
    /// Submits through the idempotency store: the ids and whether an earlier call had appended it,
    /// or the status a conflict or failure answers with.
    pub(crate) async fn submit(
        &self,
        sub: &Submission<'_>,
        key: &str,
    ) -> Result<(uuid::Uuid, uuid::Uuid, bool), Status> {
        let Ok(_permit) = self.writes.try_acquire() else {
            tracing::warn!("shedding a write: the limit of writes in flight is reached");
            return Err(Status::resource_exhausted(
                "the ingress is at capacity (ORDERS_MAX_WRITES_IN_FLIGHT writes are waiting for the \
                 order log); retry with the same idempotency key after a short backoff",
            ));
        };
        match requests::submit(&self.pool, &self.producer, &self.topic, sub).await {
            Ok(Submitted::Appended {
                order_id,
                event_id,
                replayed,
            }) => Ok((order_id, event_id, replayed)),
            Ok(Submitted::Conflict { order_id, kind }) => Err(conflict(key, order_id, kind)),
            Err(e) => Err(submit_error(e)),
        }
    }
}

pub(crate) fn conflict(key: &str, order_id: uuid::Uuid, kind: &str) -> Status {
    Status::already_exists(format!(
        "idempotency key {key:?} was already used by this caller for a different {kind} request \
         (order {order_id}); use a new key for a new request, or resend the original request unchanged"
    ))
}

#[tonic::async_trait]
impl OrderService for OrderApi {
    async fn place_order(
        &self,
        request: Request<v1::PlaceOrderRequest>,
    ) -> Result<Response<v1::PlaceOrderResponse>, Status> {
        observed("PlaceOrder", trace_context(&request), async move {
            let caller = caller(&request, &self.default_caller)?;
            let (traceparent, tracestate) = trace_context(&request);
            let req = request.into_inner();
            let placed = validate::place_order(&req, &caller)?;
            let order_id = ids::order_id_for(&caller, &req.idempotency_key);
            // The hash covers the normalised payload: retries that differ only in whitespace still match.
            let hash = requests::request_hash(
                &serde_json::to_vec(&placed).map_err(|e| Status::internal(e.to_string()))?,
            );
            let sub = Submission::new(
                &caller,
                &req.idempotency_key,
                Kind::Place,
                hash,
                order_id,
                Payload::OrderPlaced(placed),
                (traceparent, tracestate),
            );
            let (order_id, event_id, replayed) = self.submit(&sub, &req.idempotency_key).await?;
            tracing::info!(%order_id, %event_id, replayed, "order accepted");
            Ok(Response::new(v1::PlaceOrderResponse {
                order_id: order_id.to_string(),
                event_id: event_id.to_string(),
                status: v1::place_order_response::Status::Accepted as i32,
                replayed,
            }))
        })
        .await
    }

    async fn cancel_order(
        &self,
        request: Request<v1::CancelOrderRequest>,
    ) -> Result<Response<v1::CancelOrderResponse>, Status> {
        observed("CancelOrder", trace_context(&request), async move {
            let caller = caller(&request, &self.default_caller)?;
            let (traceparent, tracestate) = trace_context(&request);
            let req = request.into_inner();
            let mut v = validate::Violations::default();
            v.idempotency_key(&req.idempotency_key);
            let order_id = v.order_id("order_id", &req.order_id);
            let reason = v.text("reason", &req.reason, false, validate::MAX_REASON);
            let order_id = v.finish(order_id)?.expect("validated");
            if !requests::order_accepted(&self.pool, order_id)
                .await
                .map_err(db_error)?
            {
                return Err(Status::not_found(format!(
                    "order {order_id} does not exist"
                )));
            }
            let payload = OrderCancellationRequested {
                requested_by: caller.clone(),
                reason: reason.unwrap_or_default(),
            };
            let hash = requests::request_hash(format!("{order_id}\n{}", payload.reason).as_bytes());
            let sub = Submission::new(
                &caller,
                &req.idempotency_key,
                Kind::Cancel,
                hash,
                order_id,
                Payload::OrderCancellationRequested(payload),
                (traceparent, tracestate),
            );
            let (order_id, event_id, replayed) = self.submit(&sub, &req.idempotency_key).await?;
            tracing::info!(%order_id, %event_id, replayed, "cancellation requested");
            Ok(Response::new(v1::CancelOrderResponse {
                order_id: order_id.to_string(),
                event_id: event_id.to_string(),
                replayed,
            }))
        })
        .await
    }

    async fn review_order(
        &self,
        request: Request<v1::ReviewOrderRequest>,
    ) -> Result<Response<v1::ReviewOrderResponse>, Status> {
        observed("ReviewOrder", trace_context(&request), async move {
            self.review(request).await
        })
        .await
    }

    async fn get_order(
        &self,
        request: Request<v1::GetOrderRequest>,
    ) -> Result<Response<v1::GetOrderResponse>, Status> {
        observed("GetOrder", trace_context(&request), async move {
            let req = request.into_inner();
            let mut v = validate::Violations::default();
            let order_id = v.order_id("order_id", &req.order_id);
            let order_id = v.finish(order_id)?.expect("validated");
            match queries::get_order(&self.read_pool, order_id)
                .await
                .map_err(db_error)?
            {
                Some(order) => Ok(Response::new(v1::GetOrderResponse {
                    order: Some(convert::order(&order)),
                })),
                None => Err(self.not_projected(order_id).await),
            }
        })
        .await
    }

    async fn list_orders(
        &self,
        request: Request<v1::ListOrdersRequest>,
    ) -> Result<Response<v1::ListOrdersResponse>, Status> {
        observed("ListOrders", trace_context(&request), async move {
            let filter = list_filter(&request.into_inner())?;
            let (orders, next) = queries::list_orders(&self.read_pool, &filter)
                .await
                .map_err(db_error)?;
            Ok(Response::new(v1::ListOrdersResponse {
                orders: orders.iter().map(convert::order).collect(),
                next_page_token: next.map(|c| c.encode()).unwrap_or_default(),
            }))
        })
        .await
    }

    async fn get_order_timeline(
        &self,
        request: Request<v1::GetOrderTimelineRequest>,
    ) -> Result<Response<v1::GetOrderTimelineResponse>, Status> {
        observed("GetOrderTimeline", trace_context(&request), async move {
            let req = request.into_inner();
            let mut v = validate::Violations::default();
            let order_id = v.order_id("order_id", &req.order_id);
            let order_id = v.finish(order_id)?.expect("validated");
            let events = queries::timeline(&self.read_pool, order_id)
                .await
                .map_err(db_error)?;
            if events.is_empty() {
                return Err(self.not_projected(order_id).await);
            }
            Ok(Response::new(v1::GetOrderTimelineResponse {
                order_id: order_id.to_string(),
                events: events.iter().map(convert::timeline_event).collect(),
            }))
        })
        .await
    }
}

impl OrderApi {
    /// NOT_FOUND for an unknown order; UNAVAILABLE (retryable) for one accepted but not projected yet.
    async fn not_projected(&self, order_id: uuid::Uuid) -> Status {
        match requests::order_accepted(&self.pool, order_id).await {
            Ok(true) => Status::unavailable(format!(
                "order {order_id} was accepted but is not in the read model yet; retry in a moment"
            )),
            Ok(false) => Status::not_found(format!("order {order_id} does not exist")),
            Err(e) => db_error(e),
        }
    }
}

fn list_filter(req: &v1::ListOrdersRequest) -> Result<ListFilter, Status> {
    let mut v = validate::Violations::default();
    let mut filter = ListFilter {
        page_size: 50,
        ..ListFilter::default()
    };
    if !req.customer_id.is_empty() {
        v.ident(
            "customer_id",
            &req.customer_id,
            validate::MAX_ID_LEN,
            |c| c.is_ascii_graphic(),
            "printable ASCII",
        );
        filter.customer_id = Some(req.customer_id.clone());
    }
    for (i, raw) in req.statuses.iter().enumerate() {
        match v1::OrderStatus::try_from(*raw)
            .ok()
            .and_then(convert::status_name)
        {
            Some(name) => filter.statuses.push(name.to_owned()),
            None => v.add(
                format!("statuses[{i}]"),
                format!("{raw} is not an order status"),
            ),
        }
    }
    filter.placed_after = req.placed_after.as_ref().and_then(|t| {
        let at = convert::from_timestamp(t);
        if at.is_none() {
            v.add("placed_after", "is not a valid timestamp");
        }
        at
    });
    filter.placed_before = req.placed_before.as_ref().and_then(|t| {
        let at = convert::from_timestamp(t);
        if at.is_none() {
            v.add("placed_before", "is not a valid timestamp");
        }
        at
    });
    if let (Some(a), Some(b)) = (filter.placed_after, filter.placed_before)
        && a >= b
    {
        v.add("placed_before", "must be later than placed_after");
    }
    match req.page_size {
        0 => {}
        n if (1..=validate::MAX_PAGE_SIZE).contains(&n) => filter.page_size = i64::from(n),
        n => v.add(
            "page_size",
            format!("is {n}; use 1 to {} (0 means 50)", validate::MAX_PAGE_SIZE),
        ),
    }
    if !req.page_token.is_empty() {
        filter.cursor = Cursor::decode(&req.page_token);
        if filter.cursor.is_none() {
            v.add(
                "page_token",
                "is not a token from a previous ListOrders response; start without one",
            );
        }
    }
    v.finish(filter)
}

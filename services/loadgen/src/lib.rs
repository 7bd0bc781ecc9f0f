//! Open-loop load generator. Orders are sent on a fixed schedule (`--rate` per second) whatever the
//! server does, and ack latency is measured from each order's scheduled send time, so a slow server
//! shows up as latency instead of silently lowering the rate (no coordinated omission). A call the
//! ingress sheds with UNAVAILABLE is retried with the same idempotency key (`--attempts`), as a
//! shop's app would; the ack latency includes the retries and the summary counts them.
//!
//! - [`orders`]: the orders sent, a realistic mix of kinds ([`orders::Kind`]) built from the real
//!   catalogue; [`orders::Kind::Cancelled`] orders are cancelled right after their ack.
//! - [`report`]: the summary.
//!
//! Once every order is acknowledged it waits until each is decided (`decided_at` set: ROUTED, HELD,
//! REJECTED or CANCELLED), or only until each is in the read model with `--until projected` (a stack
//! without workers). Latencies come from the read model's own timestamps: placed-to-projected from
//! the OrderPlaced row of `order_timeline` (`orders.projected_at` moves with every later event),
//! placed-to-decided from `orders.decided_at`. Dead letters are counted from the dead-letter
//! topic's high watermarks before and after the run.
pub mod orders;
pub mod report;

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use orders_projections::DbConfig;
use orders_proto::v1::order_service_client::OrderServiceClient;
use orders_runtime::KafkaConfig;
use serde::Serialize;
use tokio::task::JoinSet;
use tonic::transport::Channel;
use uuid::Uuid;

use crate::orders::Kind;
pub use report::Summary;

/// Options of a load run.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "orders-loadgen",
    version,
    about = "Places a realistic mix of orders over gRPC at a fixed rate and reports ack, \
             placed-to-projected and placed-to-decided latency"
)]
pub struct LoadConfig {
    /// Number of orders to place.
    #[arg(long, default_value_t = 1000)]
    pub orders: u64,
    /// Orders per second, open loop.
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// Print the summary as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Ingress address.
    #[arg(long, env = "ORDERS_GRPC_ADDR", default_value = "127.0.0.1:50051")]
    pub grpc_addr: String,
    /// Seconds to wait for every order to be decided (or projected) after the last ack.
    #[arg(long, default_value_t = 120)]
    pub wait_secs: u64,
    /// What to wait for: every order decided (ROUTED, HELD, REJECTED or CANCELLED), or only in the
    /// read model (`projected`, for a stack without workers).
    #[arg(long, value_enum, default_value_t = Until::Decided)]
    pub until: Until,
    /// gRPC connections to spread calls over.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Attempts per PlaceOrder or CancelOrder call. A call refused with UNAVAILABLE (nothing was
    /// accepted; the ingress asks to retry with the same idempotency key) is sent again after a
    /// backoff, as a real client would; 1 sends every call once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub attempts: u32,
    #[command(flatten)]
    pub db: DbConfig,
    /// The broker and the dead-letter topic, whose growth during the run is reported.
    #[command(flatten)]
    pub kafka: KafkaConfig,
}

/// What a run waits for after the last acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Until {
    /// Every order is in the read model (its OrderPlaced projected).
    Projected,
    /// Every order is decided; an order the run cancelled once its cancellation is decided too.
    Decided,
}

impl Until {
    pub fn as_str(self) -> &'static str {
        match self {
            Until::Projected => "projected",
            Until::Decided => "decided",
        }
    }
}

struct Sent {
    kind: Kind,
    /// Calls sent again after UNAVAILABLE (PlaceOrder and CancelOrder).
    retries: u64,
    order_id: Option<Uuid>,
    ack_micros: u64,
    error: Option<String>,
    /// The CancelOrder call of a [`Kind::Cancelled`] order: `None` when none was sent.
    cancel: Option<Result<(), String>>,
}

/// Runs the load and returns its summary.
pub async fn run(cfg: &LoadConfig) -> anyhow::Result<Summary> {
    anyhow::ensure!(cfg.rate > 0.0, "--rate must be above 0");
    anyhow::ensure!(cfg.orders > 0, "--orders must be above 0");
    let endpoint = format!("http://{}", cfg.grpc_addr);
    let mut clients = Vec::new();
    for _ in 0..cfg.connections.max(1) {
        let channel = tonic::transport::Endpoint::from_shared(endpoint.clone())?
            .tcp_nodelay(true)
            .connect()
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach the ingress at {endpoint} (ORDERS_GRPC_ADDR): {e}; is `make up` running?"))?;
        clients.push(OrderServiceClient::new(channel));
    }
    let pool = cfg.db.read_pool()?;
    let dlq_before = dead_letter_records(&cfg.kafka).await;
    let run_id = Uuid::new_v4().simple().to_string()[..12].to_owned();
    let progress = bar(cfg.orders, cfg.json, "placing");
    let interval = Duration::from_secs_f64(1.0 / cfg.rate);
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    let mut sent = Vec::with_capacity(cfg.orders as usize);
    for i in 0..cfg.orders {
        let scheduled = start + interval.mul_f64(i as f64);
        tokio::time::sleep_until(scheduled.into()).await;
        let client = clients[i as usize % clients.len()].clone();
        let run_id = run_id.clone();
        let attempts = cfg.attempts;
        tasks.spawn(async move { place(client, &run_id, i, scheduled, attempts).await });
        while let Some(done) = tasks.try_join_next() {
            sent.push(done?);
            progress.inc(1);
        }
    }
    while let Some(done) = tasks.join_next().await {
        sent.push(done?);
        progress.inc(1);
    }
    let placing_secs = start.elapsed().as_secs_f64();
    progress.finish_and_clear();

    let mut ack = micros_histogram()?;
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_kind: BTreeMap<Kind, u64> = BTreeMap::new();
    let mut cancels = report::CancelRequests::default();
    let mut acked: Vec<Uuid> = Vec::new();
    let mut cancelled: Vec<Uuid> = Vec::new();
    let mut retries = 0;
    for s in &sent {
        retries += s.retries;
        match (&s.order_id, &s.error) {
            (Some(id), None) => {
                ack.saturating_record(s.ack_micros.max(1));
                acked.push(*id);
                *by_kind.entry(s.kind).or_default() += 1;
            }
            (_, err) => {
                *errors
                    .entry(err.clone().unwrap_or_else(|| "bad order id".into()))
                    .or_default() += 1
            }
        }
        match (&s.cancel, s.order_id) {
            (Some(Ok(())), Some(id)) => {
                cancels.sent += 1;
                cancelled.push(id);
            }
            (Some(Err(e)), _) => {
                cancels.sent += 1;
                cancels.failed += 1;
                *cancels.errors.entry(e.clone()).or_default() += 1;
            }
            _ => {}
        }
    }
    let placed = acked.len() as u64;
    let waited = wait(&pool, &acked, &cancelled, cfg).await?;
    let duration_s = start.elapsed().as_secs_f64();
    let by_status = count_by(&pool, "status", &waited.projected).await?;
    let by_final_status = count_by(&pool, "status", &waited.decided).await?;
    let by_provider = count_by(&pool, "enrichment_provider", &acked).await?;
    let dlq_after = dead_letter_records(&cfg.kafka).await;
    let dead_letters = match (dlq_before, dlq_after) {
        (Ok(before), Ok(after)) => Some(after.saturating_sub(before).max(0) as u64),
        (Err(e), _) | (_, Err(e)) => {
            // Stderr, so that `--json` output stays one object.
            eprintln!(
                "orders-loadgen: dead letters not counted: {e:#} (check KAFKA_BROKERS and ORDERS_DLQ_TOPIC)"
            );
            None
        }
    };
    Ok(Summary::new(report::Inputs {
        run_id,
        until: cfg.until,
        requested: cfg.orders,
        rate: cfg.rate,
        placed,
        projected: waited.projected.len() as u64,
        decided: waited.decided.len() as u64,
        errors,
        retries,
        by_status,
        by_final_status,
        by_provider,
        by_kind,
        cancel_requests: cancels,
        dead_letters,
        ack: &ack,
        e2e: &waited.projected_micros,
        decided_latency: &waited.decided_micros,
        placing_secs,
        duration_s,
    }))
}

/// Places order `i` at its scheduled time and, for a [`Kind::Cancelled`] order, cancels it as soon
/// as the ack is in. Ack latency runs from the scheduled time to the PlaceOrder ack, retries
/// included: that is what the shop waits.
async fn place(
    client: OrderServiceClient<Channel>,
    run_id: &str,
    i: u64,
    scheduled: Instant,
    attempts: u32,
) -> Sent {
    let kind = orders::kind(i);
    let mut retries = 0;
    let order = orders::order(run_id, i);
    let result = with_retries(attempts, &mut retries, || {
        let mut client = client.clone();
        let order = order.clone();
        async move { client.place_order(request(order)).await }
    })
    .await;
    let ack_micros = scheduled.elapsed().as_micros() as u64;
    let resp = match result {
        Ok(resp) => resp.into_inner(),
        Err(status) => {
            return Sent {
                kind,
                retries,
                order_id: None,
                ack_micros,
                error: Some(describe(&status)),
                cancel: None,
            };
        }
    };
    let order_id = resp.order_id.parse().ok();
    let cancel = match (kind, order_id) {
        (Kind::Cancelled, Some(_)) => {
            let cancellation = orders::cancellation(run_id, i, &resp.order_id);
            let result = with_retries(attempts, &mut retries, || {
                let mut client = client.clone();
                let cancellation = cancellation.clone();
                async move { client.cancel_order(request(cancellation)).await }
            })
            .await;
            Some(result.map(|_| ()).map_err(|status| describe(&status)))
        }
        _ => None,
    };
    Sent {
        kind,
        retries,
        order_id,
        ack_micros,
        error: None,
        cancel,
    }
}

/// Calls `call` until it answers, fails with another status than UNAVAILABLE, or `attempts` are
/// used up; backs off 100 ms, 200 ms, 400 ms … (at most 5 s, full jitter) in between, and counts
/// the calls sent again in `retries`.
async fn with_retries<T, F, Fut>(
    attempts: u32,
    retries: &mut u64,
    mut call: F,
) -> Result<T, tonic::Status>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, tonic::Status>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Err(status)
                if matches!(
                    status.code(),
                    tonic::Code::Unavailable | tonic::Code::ResourceExhausted
                ) && attempt < attempts =>
            {
                let backoff = Duration::from_millis(100 << (attempt - 1).min(5)).min(MAX_BACKOFF);
                tokio::time::sleep(backoff.mul_f64(fastrand::f64())).await;
                attempt += 1;
                *retries += 1;
            }
            result => return result,
        }
    }
}

const MAX_BACKOFF: Duration = Duration::from_secs(5);

fn describe(status: &tonic::Status) -> String {
    format!("{:?}: {}", status.code(), status.message())
}

fn request<T>(message: T) -> tonic::Request<T> {
    let mut req = tonic::Request::new(message);
    req.metadata_mut()
        .insert("x-caller", orders::CALLER.parse().expect("ascii"));
    req
}

/// Microseconds from 1 µs to one hour at 3 significant digits. Fixed bounds: an auto-resizing
/// histogram would clamp `saturating_record` to its initial tiny range.
fn micros_histogram() -> anyhow::Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, 3_600_000_000, 3)?)
}

fn bar(len: u64, hidden: bool, what: &'static str) -> ProgressBar {
    if hidden {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>10} [{bar:40}] {pos}/{len} {per_sec} eta {eta}")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_prefix(what);
    bar
}

/// What the read model showed by the end of the wait.
struct Waited {
    /// Orders whose OrderPlaced is projected, and placed-to-projected of each (microseconds).
    projected: Vec<Uuid>,
    projected_micros: Histogram<u64>,
    /// Orders decided, and placed-to-decided of each (microseconds).
    decided: Vec<Uuid>,
    decided_micros: Histogram<u64>,
}

/// Polls the read model until every order is projected and, with `--until decided`, decided, or
/// the wait runs out. An order whose cancellation was acknowledged counts as decided only once
/// the cancellation is decided too (CANCELLED, or REJECTED when the scorer rejected it first): its
/// first decision may be a routing that the cancellation then undoes.
///
/// With `--until projected` the orders decided by then are still counted, without waiting.
async fn wait(
    pool: &deadpool_postgres::Pool,
    acked: &[Uuid],
    cancelled: &[Uuid],
    cfg: &LoadConfig,
) -> anyhow::Result<Waited> {
    let mut waited = Waited {
        projected: Vec::with_capacity(acked.len()),
        projected_micros: micros_histogram()?,
        decided: Vec::with_capacity(acked.len()),
        decided_micros: micros_histogram()?,
    };
    let progress = bar(acked.len() as u64, cfg.json, cfg.until.as_str());
    let mut unprojected: Vec<Uuid> = acked.to_vec();
    let mut undecided: Vec<Uuid> = acked.to_vec();
    let deadline = Instant::now() + Duration::from_secs(cfg.wait_secs);
    loop {
        let client = pool.get().await?;
        if !unprojected.is_empty() {
            // The OrderPlaced row of the timeline keeps the time the projector wrote the order;
            // `orders.projected_at` is overwritten by every later event.
            let rows = client
                .query(
                    "SELECT order_id, \
                     (EXTRACT(EPOCH FROM (projected_at - occurred_at)) * 1000000)::bigint \
                     FROM order_timeline WHERE order_id = ANY($1) AND event_type = 'OrderPlaced'",
                    &[&unprojected],
                )
                .await?;
            let seen = take_seen(&rows, &mut unprojected, &mut waited.projected_micros);
            waited.projected.extend(seen);
        }
        if !undecided.is_empty() {
            let rows = client
                .query(
                    "SELECT order_id, \
                     (EXTRACT(EPOCH FROM (decided_at - placed_at)) * 1000000)::bigint \
                     FROM orders WHERE order_id = ANY($1) AND decided_at IS NOT NULL \
                     AND (NOT order_id = ANY($2) OR status IN ('CANCELLED', 'REJECTED'))",
                    &[&undecided, &cancelled],
                )
                .await?;
            let seen = take_seen(&rows, &mut undecided, &mut waited.decided_micros);
            waited.decided.extend(seen);
        }
        drop(client);
        let done = match cfg.until {
            Until::Projected => waited.projected.len(),
            Until::Decided => waited.decided.len().min(waited.projected.len()),
        };
        progress.set_position(done as u64);
        let finished = match cfg.until {
            Until::Projected => unprojected.is_empty(),
            Until::Decided => unprojected.is_empty() && undecided.is_empty(),
        };
        if finished || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    progress.finish_and_clear();
    Ok(waited)
}

/// Removes the orders in `rows` (order id, microseconds) from `pending`, records their latency, and
/// returns them.
fn take_seen(
    rows: &[deadpool_postgres::tokio_postgres::Row],
    pending: &mut Vec<Uuid>,
    latency: &mut Histogram<u64>,
) -> Vec<Uuid> {
    let mut seen = Vec::with_capacity(rows.len());
    let mut found = HashSet::with_capacity(rows.len());
    for row in rows {
        let id: Uuid = row.get(0);
        // An order has one OrderPlaced and one decided_at; a duplicate row would be a bug upstream,
        // and counting it once keeps the counts honest.
        if found.insert(id) {
            let micros: i64 = row.get(1);
            latency.saturating_record(micros.max(1) as u64);
            seen.push(id);
        }
    }
    pending.retain(|id| !found.contains(id));
    seen
}

/// Orders among `ids` counted by the value of `column` (rows where it is NULL are left out).
async fn count_by(
    pool: &deadpool_postgres::Pool,
    column: &'static str,
    ids: &[Uuid],
) -> anyhow::Result<BTreeMap<String, u64>> {
    let client = pool.get().await?;
    let rows = client
        .query(
            &format!(
                "SELECT {column}, count(*) FROM orders WHERE order_id = ANY($1) \
                 AND {column} IS NOT NULL GROUP BY 1"
            ),
            &[&ids],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1) as u64))
        .collect())
}

/// Records ever appended to the dead-letter topic: the sum of its partitions' high watermarks. A
/// plain client reads them from the broker's metadata; it never joins a consumer group, so no
/// service is disturbed.
async fn dead_letter_records(kafka: &KafkaConfig) -> anyhow::Result<i64> {
    let kafka = kafka.clone();
    tokio::task::spawn_blocking(move || watermarks(&kafka)).await?
}

fn watermarks(kafka: &KafkaConfig) -> anyhow::Result<i64> {
    use rdkafka::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &kafka.brokers)
        .set("client.id", orders::CALLER)
        .set("log_level", "3");
    for (k, v) in kafka.extra_pairs()? {
        config.set(k, v);
    }
    let consumer: BaseConsumer = config.create()?;
    let topic = &kafka.dlq_topic;
    let timeout = Duration::from_secs(10);
    let metadata = consumer.fetch_metadata(Some(topic), timeout)?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none())
        .map(|t| t.partitions().iter().map(|p| p.id()).collect())
        .unwrap_or_default();
    anyhow::ensure!(
        !partitions.is_empty(),
        "topic {topic} does not exist on {}",
        kafka.brokers
    );
    let mut total = 0;
    for p in partitions {
        let (_, high) = consumer.fetch_watermarks(topic, p, timeout)?;
        total += high;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_unavailable_is_retried_and_at_most_attempts_times() {
        let (mut retries, mut calls) = (0, 0);
        let result: Result<(), _> = with_retries(3, &mut retries, || {
            calls += 1;
            async { Err(tonic::Status::unavailable("shed")) }
        })
        .await;
        assert_eq!(result.unwrap_err().code(), tonic::Code::Unavailable);
        assert_eq!((calls, retries), (3, 2));

        let (mut retries, mut calls) = (0, 0);
        let result: Result<(), _> = with_retries(3, &mut retries, || {
            calls += 1;
            async { Err(tonic::Status::invalid_argument("bad line")) }
        })
        .await;
        assert_eq!(result.unwrap_err().code(), tonic::Code::InvalidArgument);
        assert_eq!((calls, retries), (1, 0));

        let (mut retries, mut calls) = (0, 0);
        let result = with_retries(4, &mut retries, || {
            calls += 1;
            let answer = if calls < 3 {
                Err(tonic::Status::unavailable("shed"))
            } else {
                Ok(calls)
            };
            async move { answer }
        })
        .await;
        assert_eq!(result.unwrap(), 3);
        assert_eq!(retries, 2);
    }
}

//! Open-loop load generator. Orders are sent on a fixed schedule (`--rate` per second) whatever the
//! server does, and ack latency is measured from each order's scheduled send time, so a slow server
//! shows up as latency instead of silently lowering the rate (no coordinated omission). Once every
//! order is acknowledged it waits until each is in the read model and reads placed-to-projected
//! latency from the read model's own timestamps.
pub mod orders;
pub mod report;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use clap::Parser;
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use orders_projections::DbConfig;
use orders_proto::v1::order_service_client::OrderServiceClient;
use tokio::task::JoinSet;
use uuid::Uuid;

pub use report::Summary;

/// Options of a load run.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "orders-loadgen",
    version,
    about = "Places orders over gRPC at a fixed rate and reports ack and placed-to-projected latency"
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
    /// Seconds to wait for every order to reach the read model after the last ack.
    #[arg(long, default_value_t = 120)]
    pub wait_secs: u64,
    /// gRPC connections to spread calls over.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    #[command(flatten)]
    pub db: DbConfig,
}

struct Sent {
    order_id: Option<Uuid>,
    ack_micros: u64,
    error: Option<String>,
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
    let run_id = Uuid::new_v4().simple().to_string()[..12].to_owned();
    let progress = bar(cfg.orders, cfg.json, "placing");
    let interval = Duration::from_secs_f64(1.0 / cfg.rate);
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    let mut sent = Vec::with_capacity(cfg.orders as usize);
    for i in 0..cfg.orders {
        let scheduled = start + interval.mul_f64(i as f64);
        tokio::time::sleep_until(scheduled.into()).await;
        let mut client = clients[i as usize % clients.len()].clone();
        let request = orders::order(&run_id, i);
        tasks.spawn(async move {
            let mut req = tonic::Request::new(request);
            req.metadata_mut()
                .insert("x-caller", "orders-loadgen".parse().expect("ascii"));
            let result = client.place_order(req).await;
            let ack_micros = scheduled.elapsed().as_micros() as u64;
            match result {
                Ok(resp) => Sent {
                    order_id: resp.into_inner().order_id.parse().ok(),
                    ack_micros,
                    error: None,
                },
                Err(status) => Sent {
                    order_id: None,
                    ack_micros,
                    error: Some(format!("{:?}: {}", status.code(), status.message())),
                },
            }
        });
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
    let mut pending: Vec<Uuid> = Vec::new();
    for s in &sent {
        match (&s.order_id, &s.error) {
            (Some(id), None) => {
                ack.saturating_record(s.ack_micros.max(1));
                pending.push(*id);
            }
            (_, err) => {
                *errors
                    .entry(err.clone().unwrap_or_else(|| "bad order id".into()))
                    .or_default() += 1
            }
        }
    }
    let placed = pending.len() as u64;
    let (projected, e2e) = wait_projected(&pool, pending, cfg).await?;
    let duration_s = start.elapsed().as_secs_f64();
    let by_status = count_statuses(&pool, &projected).await?;
    Ok(Summary::new(report::Inputs {
        requested: cfg.orders,
        rate: cfg.rate,
        placed,
        projected: projected.len() as u64,
        errors,
        by_status,
        ack: &ack,
        e2e: &e2e,
        placing_secs,
        duration_s,
    }))
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

/// Polls the read model until every id is there or the wait runs out; returns the ids found and the
/// placed-to-projected histogram (microseconds).
async fn wait_projected(
    pool: &deadpool_postgres::Pool,
    mut pending: Vec<Uuid>,
    cfg: &LoadConfig,
) -> anyhow::Result<(Vec<Uuid>, Histogram<u64>)> {
    let progress = bar(pending.len() as u64, cfg.json, "projected");
    let mut e2e = micros_histogram()?;
    let mut found = Vec::with_capacity(pending.len());
    let deadline = Instant::now() + Duration::from_secs(cfg.wait_secs);
    while !pending.is_empty() && Instant::now() < deadline {
        let client = pool.get().await?;
        let rows = client
            .query(
                "SELECT order_id, (EXTRACT(EPOCH FROM (projected_at - placed_at)) * 1000000)::bigint \
                 FROM orders WHERE order_id = ANY($1) AND version >= 1",
                &[&pending],
            )
            .await?;
        let mut seen: HashMap<Uuid, i64> = HashMap::with_capacity(rows.len());
        for row in &rows {
            seen.insert(row.get(0), row.get(1));
        }
        pending.retain(|id| match seen.get(id) {
            Some(micros) => {
                // Placed-to-projected of the OrderPlaced row: first time this order is seen.
                e2e.saturating_record((*micros).max(1) as u64);
                found.push(*id);
                progress.inc(1);
                false
            }
            None => true,
        });
        if !pending.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    progress.finish_and_clear();
    Ok((found, e2e))
}

async fn count_statuses(
    pool: &deadpool_postgres::Pool,
    ids: &[Uuid],
) -> anyhow::Result<BTreeMap<String, u64>> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT status, count(*) FROM orders WHERE order_id = ANY($1) GROUP BY status",
            &[&ids],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1) as u64))
        .collect())
}

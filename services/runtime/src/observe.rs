//! What the outside sees of a service: `/healthz` (alive), `/readyz` (able to do its work) and
//! `/metrics` (Prometheus text format) on `ORDERS_HTTP_ADDR`.
//!
//! Readiness is a set of named checks that the service's parts keep up to date: the consumer loops
//! report their partitions and lag ([`crate::context::RebalanceLog`]), [`probe_database`] and
//! [`probe_broker`] test the connections every few seconds. `/readyz` answers 200 when every check
//! passes and 503 with the failing ones otherwise, as JSON.
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use clap::Args;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde::Serialize;
use tokio::net::TcpListener;

use crate::worker::parse_duration;
use crate::{RuntimeError, Shutdown};

/// Where the health and metrics endpoints listen, and what readiness tolerates.
#[derive(Debug, Clone, Args)]
pub struct ObserveConfig {
    /// Address of the HTTP server for /healthz, /readyz and /metrics. Each service has its own
    /// default port on 127.0.0.1 (ingress 9100, projector 9101, enricher 9102, risk 9103, router
    /// 9104); containers set 0.0.0.0:9100.
    #[arg(long = "http-addr", env = "ORDERS_HTTP_ADDR")]
    pub http_addr: Option<String>,
    /// /readyz fails while the oldest record not yet processed is older than this (0 = never
    /// for lag). Alert on lag well before this: an unready pod stalls a rollout.
    #[arg(long = "ready-max-lag", env = "ORDERS_READY_MAX_LAG", default_value = "5m", value_parser = parse_duration)]
    pub ready_max_lag: Duration,
}

impl ObserveConfig {
    /// Settings for tests: a free port, lag never failing readiness.
    pub fn ephemeral() -> Self {
        Self {
            http_addr: Some("127.0.0.1:0".into()),
            ready_max_lag: Duration::ZERO,
        }
    }

    /// The configured address, or 127.0.0.1 with the service's default port.
    pub fn addr(&self, default_port: u16) -> String {
        self.http_addr
            .clone()
            .unwrap_or_else(|| format!("127.0.0.1:{default_port}"))
    }
}

/// One readiness check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub ok: bool,
    pub detail: String,
}

/// The readiness checks of one service.
#[derive(Debug, Default)]
pub struct Health {
    checks: Mutex<BTreeMap<String, Check>>,
    /// See [`ObserveConfig::ready_max_lag`]; zero disables the lag check.
    pub max_lag: Duration,
}

impl Health {
    pub fn new(max_lag: Duration) -> Arc<Health> {
        Arc::new(Health {
            checks: Mutex::default(),
            max_lag,
        })
    }

    /// Records the state of check `name`; a no-op when nothing changed.
    pub fn set(&self, name: &str, ok: bool, detail: impl Into<String>) {
        let mut checks = self.checks.lock().expect("health poisoned");
        let detail = detail.into();
        match checks.get_mut(name) {
            Some(c) if c.ok == ok && c.detail == detail => {}
            Some(c) => {
                if c.ok != ok {
                    tracing::info!(check = name, ok, detail = %detail, "readiness changed");
                }
                *c = Check { ok, detail };
            }
            None => {
                checks.insert(name.to_owned(), Check { ok, detail });
            }
        }
    }

    /// Ready when there is at least one check and every check passes.
    pub fn ready(&self) -> (bool, BTreeMap<String, Check>) {
        let checks = self.checks.lock().expect("health poisoned").clone();
        (!checks.is_empty() && checks.values().all(|c| c.ok), checks)
    }
}

/// The process's metrics recorder, installed on first use. Histograms of seconds get buckets from
/// 1 ms to 30 s, record counts from 1 to 5,000.
pub fn metrics() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let seconds = [
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
        ];
        let records = [1.0, 5.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 5000.0];
        PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &seconds)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("_records".into()), &records))
            .expect("static buckets are valid")
            .install_recorder()
            .expect("the metrics recorder is installed once per process")
    })
}

/// Serves /healthz, /readyz and /metrics on `listener` until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    health: Arc<Health>,
    shutdown: Shutdown,
) -> Result<(), RuntimeError> {
    let handle = metrics();
    let app = axum::Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route(
            "/metrics",
            get(move || async move {
                (
                    [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    handle.render(),
                )
            }),
        )
        .with_state(health);
    let addr = listener.local_addr().ok();
    tracing::info!(?addr, "health and metrics serving");
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
        .map_err(|e| RuntimeError::Config(format!("health and metrics server failed: {e}")))
}

async fn readyz(State(health): State<Arc<Health>>) -> impl IntoResponse {
    let (ready, checks) = health.ready();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(serde_json::json!({ "ready": ready, "checks": checks })),
    )
}

/// Binds `addr` and serves the endpoints in the background; the error names the setting.
pub async fn start(
    addr: &str,
    health: Arc<Health>,
    shutdown: Shutdown,
) -> Result<std::net::SocketAddr, RuntimeError> {
    let listener = TcpListener::bind(addr).await.map_err(|e| {
        RuntimeError::Config(format!(
            "cannot listen on {addr} for /healthz, /readyz and /metrics (ORDERS_HTTP_ADDR): {e}"
        ))
    })?;
    let bound = listener
        .local_addr()
        .map_err(|e| RuntimeError::Config(e.to_string()))?;
    tokio::spawn(async move {
        if let Err(e) = serve(listener, health, shutdown).await {
            tracing::error!(error = %e, "health and metrics server stopped");
        }
    });
    Ok(bound)
}

/// How often the probes run.
pub const PROBE_EVERY: Duration = Duration::from_secs(5);

/// Keeps check `database` up to date by running `SELECT 1` on `pool` every [`PROBE_EVERY`], and
/// exports the pool's size, idle connections and waiters as `orders_db_pool_connections`.
pub fn probe_database(pool: deadpool_postgres::Pool, health: Arc<Health>, shutdown: Shutdown) {
    every_probe(shutdown, move || {
        let (pool, health) = (pool.clone(), health.clone());
        async move {
            let result = tokio::time::timeout(PROBE_EVERY, async {
                let client = pool.get().await.map_err(|e| e.to_string())?;
                client
                    .simple_query("SELECT 1")
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
            .await
            .unwrap_or_else(|_| Err("no answer within 5 s".into()));
            match result {
                Ok(()) => health.set("database", true, "SELECT 1 answered"),
                Err(e) => health.set("database", false, e),
            }
            let status = pool.status();
            for (state, n) in [
                ("max", status.max_size),
                ("open", status.size),
                ("idle", status.available),
                ("waiting", status.waiting),
            ] {
                metrics::gauge!("orders_db_pool_connections", "state" => state).set(n as f64);
            }
        }
    });
}

/// Runs `probe` every [`PROBE_EVERY`] until `shutdown`.
fn every_probe<F, Fut>(shutdown: Shutdown, probe: F)
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PROBE_EVERY);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => probe().await,
            }
        }
    });
}

/// Keeps check `broker` up to date by asking the brokers for the topic's metadata every
/// [`PROBE_EVERY`] with the client of `producer`.
pub fn probe_broker(
    producer: rdkafka::producer::FutureProducer,
    topic: String,
    health: Arc<Health>,
    shutdown: Shutdown,
) {
    use rdkafka::producer::Producer;
    every_probe(shutdown, move || {
        let (producer, topic, health) = (producer.clone(), topic.clone(), health.clone());
        async move {
            let (p, t) = (producer.clone(), topic.clone());
            let result = tokio::task::spawn_blocking(move || {
                p.client().fetch_metadata(Some(&t), PROBE_EVERY).map(|_| ())
            })
            .await;
            match result {
                Ok(Ok(())) => health.set("broker", true, format!("metadata of {topic} answered")),
                Ok(Err(e)) => health.set("broker", false, e.to_string()),
                Err(e) => health.set("broker", false, e.to_string()),
            }
        }
    });
}

/// Starts a service's endpoints on its address (`default_port` when ORDERS_HTTP_ADDR is unset) and
/// its probes (the broker always, the database when it has one). Returns the health its loops
/// report into.
pub async fn start_service(
    cfg: &ObserveConfig,
    default_port: u16,
    kafka_cfg: &crate::KafkaConfig,
    pool: Option<&deadpool_postgres::Pool>,
    shutdown: &Shutdown,
) -> Result<Arc<Health>, RuntimeError> {
    let health = Health::new(cfg.ready_max_lag);
    start(&cfg.addr(default_port), health.clone(), shutdown.clone()).await?;
    if let Some(pool) = pool {
        probe_database(pool.clone(), health.clone(), shutdown.clone());
    }
    probe_broker(
        crate::kafka::producer(kafka_cfg, "orders-probe")?,
        kafka_cfg.events_topic.clone(),
        health.clone(),
        shutdown.clone(),
    );
    Ok(health)
}

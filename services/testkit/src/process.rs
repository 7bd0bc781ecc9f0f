//! Services as real processes, for tests that signal or kill them, and the SIGTERM-under-load
//! scenario every service's `tests/sigterm.rs` runs.
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::{Running, TestEnv, count, free_addr, order_request, topic_records, wait_for};

/// Which service a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Ingress,
    Projector,
    Enricher,
    Risk,
    Router,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Service::Ingress => "ingress",
            Service::Projector => "projector",
            Service::Enricher => "enricher",
            Service::Risk => "risk",
            Service::Router => "router",
        }
    }

    /// The variable naming its consumer group, set to the group the in-process services use.
    fn group_var(self) -> Option<&'static str> {
        match self {
            Service::Ingress => None,
            Service::Projector => Some("ORDERS_PROJECTOR_GROUP"),
            Service::Enricher => Some("ORDERS_ENRICHER_GROUP"),
            Service::Risk => Some("ORDERS_RISK_GROUP"),
            Service::Router => Some("ORDERS_ROUTER_GROUP"),
        }
    }
}

/// A service binary running as a child process on the test's topics, schema and groups; killed
/// when dropped so a failing test leaves nothing behind.
pub struct ServiceProcess {
    child: Child,
    pub log: PathBuf,
    /// The ingress's gRPC address (fixed across restarts, so clients can retry).
    pub grpc_addr: String,
}

impl ServiceProcess {
    /// Starts `bin` (a path from `env!("CARGO_BIN_EXE_...")`) as `service`. `grpc_addr` is where an
    /// ingress listens.
    pub fn start(bin: &str, service: Service, env: &TestEnv, grpc_addr: &str) -> ServiceProcess {
        let log = std::env::temp_dir().join(format!("orders-{}-{}.log", service.name(), env.id));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("service log file");
        let mut cmd = Command::new(bin);
        cmd.env("KAFKA_BROKERS", &env.kafka.brokers)
            .env("ORDERS_EVENTS_TOPIC", &env.kafka.events_topic)
            .env("ORDERS_DLQ_TOPIC", &env.kafka.dlq_topic)
            .env("ORDERS_PARTITIONS", env.kafka.partitions.to_string())
            .env("DATABASE_URL", &env.db.url)
            .env("ORDERS_DB_SCHEMA", &env.db.schema)
            .env("ORDERS_DB_POOL_SIZE", "6")
            .env("ORDERS_RETRY_BASE", "20ms")
            .env("ORDERS_RETRY_CAP", "200ms")
            .env("ORDERS_HTTP_ADDR", free_addr())
            .env("ORDERS_GRPC_ADDR", grpc_addr)
            .env("ORDERS_DEFAULT_CALLER", "test")
            .env("RUST_LOG", "info")
            .env("ORDERS_LOG_FORMAT", "text")
            .stdout(Stdio::null())
            .stderr(file);
        if let Some(var) = service.group_var() {
            cmd.env(var, format!("t-{}-{}", env.id, service.name()));
        }
        let child = cmd.spawn().unwrap_or_else(|e| panic!("start {bin}: {e}"));
        ServiceProcess {
            child,
            log,
            grpc_addr: grpc_addr.to_owned(),
        }
    }

    /// Sends SIGTERM, as Kubernetes does before stopping a pod.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// SIGKILL, no drain.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the process to exit, failing the test after `within`.
    pub async fn exited(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the service") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the service did not exit within {within:?} of SIGTERM; log: {}",
                self.log.display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

const ORDERS: usize = 120;

/// The scenario of issue 5: the pipeline under load with `service` as a real process; SIGTERM it
/// mid-stream, check it drains and exits 0 within its deadline, start it again, and check that
/// every order is decided exactly once (one enrichment, one assessment, at most one routing each,
/// no dead letter).
pub async fn sigterm_under_load(bin: &str, service: Service) {
    let env = TestEnv::new().await;
    let in_process = |s: Service| service != s;
    let grpc = free_addr();
    let mut started: Vec<Running> = Vec::new();
    let ingress = if in_process(Service::Ingress) {
        let running = env.spawn_ingress().await;
        let addr = running.addr.expect("ingress address").to_string();
        started.push(running);
        addr
    } else {
        grpc.clone()
    };
    for (s, spawn) in [
        (
            Service::Projector,
            TestEnv::spawn_projector as fn(&TestEnv) -> Running,
        ),
        (Service::Enricher, TestEnv::spawn_enricher),
        (Service::Risk, TestEnv::spawn_risk),
        (Service::Router, TestEnv::spawn_router),
    ] {
        if in_process(s) {
            started.push(spawn(&env));
        }
    }
    let mut process = ServiceProcess::start(bin, service, &env, &grpc);

    // Callers retry with the same key until they get an answer, as the API asks them to: a call
    // refused or cut by the ingress's shutdown is placed by its retry, once.
    let placing = {
        let ingress = ingress.clone();
        tokio::spawn(async move {
            for i in 0..ORDERS {
                let req = order_request(&format!("sigterm-{i}"));
                let deadline = Instant::now() + Duration::from_secs(60);
                loop {
                    let placed = async {
                        let mut c =
                            orders_proto::v1::order_service_client::OrderServiceClient::connect(
                                format!("http://{ingress}"),
                            )
                            .await
                            .ok()?;
                        c.place_order(req.clone()).await.ok()
                    }
                    .await;
                    if placed.is_some() {
                        break;
                    }
                    assert!(Instant::now() < deadline, "order {i} never accepted");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };

    wait_for(
        "a third of the orders decided before the signal",
        || async {
            (count(
                &env,
                "SELECT count(*) FROM orders WHERE decided_at IS NOT NULL",
            )
            .await
                >= (ORDERS / 3) as i64)
                .then_some(())
        },
    )
    .await;
    process.terminate();
    let status = process.exited(Duration::from_secs(30)).await;
    assert!(
        status.success(),
        "SIGTERM must drain and exit 0, got {status}; log: {}",
        process.log.display()
    );
    let log = std::fs::read_to_string(&process.log).unwrap_or_default();
    assert!(
        log.contains("shutdown requested"),
        "the signal was handled: {log}"
    );
    let process = ServiceProcess::start(bin, service, &env, &grpc);

    placing.await.expect("placing task");
    wait_for("every order decided", || async {
        (count(
            &env,
            "SELECT count(*) FROM orders WHERE decided_at IS NOT NULL",
        )
        .await
            == ORDERS as i64)
            .then_some(())
    })
    .await;
    assert_eq!(
        count(&env, "SELECT count(*) FROM orders").await,
        ORDERS as i64
    );
    for (event_type, at_most_one) in [
        ("OrderPlaced", false),
        ("OrderEnriched", false),
        ("OrderRiskAssessed", false),
        ("OrderRouted", true),
    ] {
        let per_order = format!(
            "SELECT count(*) FROM (SELECT o.order_id FROM orders o LEFT JOIN order_timeline t \
             ON t.order_id = o.order_id AND t.event_type = '{event_type}' GROUP BY o.order_id \
             HAVING count(t.event_id) {}) d",
            if at_most_one { "> 1" } else { "<> 1" }
        );
        assert_eq!(
            count(&env, &per_order).await,
            0,
            "{event_type}: {} per order",
            if at_most_one {
                "at most one"
            } else {
                "exactly one"
            }
        );
    }
    assert_eq!(
        count(&env, "SELECT count(*) FROM order_enrichments").await,
        ORDERS as i64
    );
    assert_eq!(
        count(&env, "SELECT count(*) FROM order_risk").await,
        ORDERS as i64
    );
    assert!(
        topic_records(&env.kafka, &env.kafka.dlq_topic)
            .await
            .is_empty(),
        "no dead letter"
    );

    drop(process);
    for running in started {
        running.stop().await;
    }
    let _ = std::fs::remove_file(std::env::temp_dir().join(format!(
        "orders-{}-{}.log",
        service.name(),
        env.id
    )));
}

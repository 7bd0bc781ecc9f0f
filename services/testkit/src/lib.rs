//! Test harness for integration tests against the real broker and the real PostgreSQL.
//!
//! Each [`TestEnv`] has its own topics (`t.<id>.events`, `t.<id>.dlq`) and its own schema (`t_<id>`),
//! so tests run in parallel without seeing each other. Services run in-process on port 0 and stop
//! through their shutdown token. Broker and database come from `KAFKA_BROKERS` and
//! `ORDERS_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/orders_test`); `make test`
//! starts both.
pub mod process;
pub mod proxy;

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use orders_enricher::EnricherConfig;
use orders_ingress::IngressConfig;
use orders_projections::DbConfig;
use orders_projector::ProjectorConfig;
use orders_proto::v1;
use orders_proto::v1::order_service_client::OrderServiceClient;
use orders_risk::RiskServiceConfig;
use orders_router::RouterConfig;
use orders_runtime::observe::ObserveConfig;
use orders_runtime::worker::{RetryConfig, WorkerConfig};
use orders_runtime::{KafkaConfig, Shutdown};
use tokio::task::JoinHandle;
use tonic::transport::Channel;

/// Default wait for conditions in tests.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// Topics and schema of one test.
#[derive(Debug, Clone)]
pub struct TestEnv {
    pub id: String,
    pub kafka: KafkaConfig,
    pub db: DbConfig,
}

impl TestEnv {
    /// Creates the test's topics (3 partitions) and names its schema; the schema is created by the
    /// services' migrations.
    pub async fn new() -> TestEnv {
        init_logs();
        let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        let brokers = std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
        let mut kafka = KafkaConfig::new(brokers);
        kafka.events_topic = format!("t.{id}.events");
        kafka.dlq_topic = format!("t.{id}.dlq");
        kafka.partitions = 3;
        let url = database_url().await;
        let db = DbConfig::new(url, format!("t_{id}"));
        orders_runtime::topics::ensure(&kafka, &[&kafka.events_topic, &kafka.dlq_topic])
            .await
            .unwrap_or_else(|e| {
                panic!("cannot create test topics on {}: {e}; start the broker with `make up` or `make test`", kafka.brokers)
            });
        TestEnv { id, kafka, db }
    }

    /// A pool on the test's schema.
    pub fn pool(&self) -> deadpool_postgres::Pool {
        self.db.pool().expect("test pool")
    }

    /// Starts the ingress on 127.0.0.1:0 and waits until its health check answers SERVING.
    pub async fn spawn_ingress(&self) -> Running {
        self.spawn_ingress_with(|_| {}).await
    }

    /// [`TestEnv::spawn_ingress`] with the configuration changed by `adjust` first.
    pub async fn spawn_ingress_with(&self, adjust: impl FnOnce(&mut IngressConfig)) -> Running {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind port 0");
        let addr = listener.local_addr().expect("local addr");
        let mut config = IngressConfig {
            grpc_addr: addr.to_string(),
            max_message_bytes: 256 * 1024,
            max_writes_in_flight: 256,
            default_caller: "test".into(),
            print_config: false,
            kafka: self.kafka.clone(),
            db: self.db.clone(),
            observe: ObserveConfig::ephemeral(),
        };
        adjust(&mut config);
        let shutdown = Shutdown::new();
        let token = shutdown.clone();
        let task = tokio::spawn(async move {
            orders_ingress::run(config, listener, token)
                .await
                .map_err(|e| e.to_string())
        });
        let running = Running {
            addr: Some(addr),
            shutdown,
            task,
        };
        wait_serving(addr).await;
        running
    }

    /// Worker settings for tests: fast retries so that exhausted retries take well under a second.
    pub fn worker_config() -> WorkerConfig {
        WorkerConfig {
            max_in_flight: 256,
            drain_timeout: Duration::from_secs(5),
            retry: RetryConfig {
                base: Duration::from_millis(20),
                cap: Duration::from_millis(200),
                attempts: 5,
            },
            health: Default::default(),
        }
    }

    /// Starts the enricher in group `t-<id>-enricher` with the given AI providers (none: local only).
    pub fn spawn_enricher_with(&self, ai: orders_enricher::config::AiConfig) -> Running {
        let config = EnricherConfig {
            group: format!("t-{}-enricher", self.id),
            catalogue: None,
            print_config: false,
            ai,
            worker: Self::worker_config(),
            kafka: self.kafka.clone(),
            observe: ObserveConfig::ephemeral(),
        };
        Running::spawn(|token| orders_enricher::run(config, token))
    }

    /// Starts the enricher with no AI provider configured (the local matcher answers).
    pub fn spawn_enricher(&self) -> Running {
        self.spawn_enricher_with(no_ai())
    }

    /// Starts the risk scorer in group `t-<id>-risk` with the default rules.
    pub fn spawn_risk(&self) -> Running {
        let config = RiskServiceConfig {
            group: format!("t-{}-risk", self.id),
            rules: None,
            print_config: false,
            worker: Self::worker_config(),
            kafka: self.kafka.clone(),
            db: self.db.clone(),
            observe: ObserveConfig::ephemeral(),
        };
        Running::spawn(|token| orders_risk::run(config, token))
    }

    /// Starts the router in group `t-<id>-router` with the built-in hubs.
    pub fn spawn_router(&self) -> Running {
        let config = RouterConfig {
            group: format!("t-{}-router", self.id),
            hubs: None,
            print_config: false,
            worker: Self::worker_config(),
            kafka: self.kafka.clone(),
            db: self.db.clone(),
            observe: ObserveConfig::ephemeral(),
        };
        Running::spawn(|token| orders_router::run(config, token))
    }

    /// The whole pipeline: ingress, projector, enricher (local only), risk scorer and router.
    pub async fn spawn_pipeline(&self) -> Pipeline {
        Pipeline {
            ingress: self.spawn_ingress().await,
            projector: self.spawn_projector(),
            enricher: self.spawn_enricher(),
            risk: self.spawn_risk(),
            router: self.spawn_router(),
        }
    }

    /// Starts the projector in group `t-<id>-projector`.
    pub fn spawn_projector(&self) -> Running {
        let config = ProjectorConfig {
            group: format!("t-{}-projector", self.id),
            max_batch: 200,
            print_config: false,
            kafka: self.kafka.clone(),
            db: self.db.clone(),
            observe: ObserveConfig::ephemeral(),
        };
        Running::spawn(|token| orders_projector::run(config, token))
    }
}

/// AI settings with no provider: the enricher's local matcher answers every order.
pub fn no_ai() -> orders_enricher::config::AiConfig {
    orders_enricher::config::AiConfig {
        primary_url: None,
        primary_model: "test-model".into(),
        primary_api_key: None,
        secondary_url: None,
        secondary_model: "test-model".into(),
        secondary_api_key: None,
        timeout: Duration::from_millis(500),
        breaker_failures: 3,
        breaker_open_for: Duration::from_secs(30),
        breaker_trials: 1,
    }
}

impl Running {
    /// Runs the service `start` returns (given its shutdown token) on its own task.
    pub fn spawn<S, F, E>(start: S) -> Running
    where
        S: FnOnce(Shutdown) -> F,
        F: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display,
    {
        let shutdown = Shutdown::new();
        let service = start(shutdown.clone());
        let task = tokio::spawn(async move { service.await.map_err(|e| e.to_string()) });
        Running {
            addr: None,
            shutdown,
            task,
        }
    }
}

/// Every service of the pipeline, running in this process.
pub struct Pipeline {
    pub ingress: Running,
    pub projector: Running,
    pub enricher: Running,
    pub risk: Running,
    pub router: Running,
}

impl Pipeline {
    /// Stops every service (workers first, then the projector, then the ingress).
    pub async fn stop(self) {
        self.router.stop().await;
        self.risk.stop().await;
        self.enricher.stop().await;
        self.projector.stop().await;
        self.ingress.stop().await;
    }
}

/// A service running in this process.
pub struct Running {
    pub addr: Option<SocketAddr>,
    pub shutdown: Shutdown,
    pub task: JoinHandle<Result<(), String>>,
}

impl Running {
    /// A gRPC client of this ingress.
    pub async fn client(&self) -> OrderServiceClient<Channel> {
        let addr = self.addr.expect("not a server");
        OrderServiceClient::connect(format!("http://{addr}"))
            .await
            .expect("connect to ingress")
    }

    /// Cancels the shutdown token and waits (with a deadline) for the service to return cleanly.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let result = tokio::time::timeout(DEADLINE, self.task)
            .await
            .expect("service did not stop within the deadline")
            .expect("service task panicked");
        result.expect("service returned an error");
    }
}

/// Polls `check` every 50 ms until it returns `Some`, panicking with `what` after `DEADLINE`.
pub async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {DEADLINE:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_serving(addr: SocketAddr) {
    wait_for(
        "the ingress health check to answer SERVING",
        || async move {
            let channel = Channel::from_shared(format!("http://{addr}"))
                .ok()?
                .connect()
                .await
                .ok()?;
            let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
            let resp = health
                .check(tonic_health::pb::HealthCheckRequest {
                    service: "orders.v1.OrderService".into(),
                })
                .await
                .ok()?;
            (resp.into_inner().status
                == tonic_health::pb::health_check_response::ServingStatus::Serving as i32)
                .then_some(())
        },
    )
    .await
}

/// The first column of the first row of `sql` (a count) in the test's schema; -1 on an error (e.g.
/// a table not created yet), so that a wait simply goes on.
pub async fn count(env: &TestEnv, sql: &str) -> i64 {
    let pool = env.pool();
    let Ok(db) = pool.get().await else {
        return -1;
    };
    db.query_one(sql, &[]).await.map(|r| r.get(0)).unwrap_or(-1)
}

/// Polls GetOrder until the order read back satisfies `accept`, and returns it.
pub async fn wait_order(
    client: &OrderServiceClient<Channel>,
    order_id: &str,
    what: &str,
    accept: impl Fn(&v1::Order) -> bool,
) -> v1::Order {
    let accept = &accept;
    wait_for(what, || {
        let mut c = client.clone();
        let id = order_id.to_owned();
        async move {
            let o = c
                .get_order(v1::GetOrderRequest { order_id: id })
                .await
                .ok()?
                .into_inner()
                .order?;
            accept(&o).then_some(o)
        }
    })
    .await
}

/// A local address that was free a moment ago, for a server whose address a test must know.
pub fn free_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    listener.local_addr().expect("local addr").to_string()
}

/// GET `http://<addr><path>`: the status and body, or `None` when nothing answers.
pub async fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    let resp = reqwest::get(format!("http://{addr}{path}")).await.ok()?;
    let status = resp.status().as_u16();
    Some((status, resp.text().await.ok()?))
}

/// The test database's URL with its host and port replaced by `addr` (e.g. a [`proxy::TcpProxy`]).
pub fn database_url_via(url: &str, addr: SocketAddr) -> String {
    let config: tokio_postgres::Config = url.parse().expect("a PostgreSQL URL");
    let user = config.get_user().unwrap_or("postgres");
    let db = config.get_dbname().unwrap_or("orders_test");
    format!("postgres://{user}@{addr}/{db}")
}

/// The test database's URL, creating the database if it is missing.
pub async fn database_url() -> String {
    let url = std::env::var("ORDERS_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/orders_test".into());
    let config: tokio_postgres::Config = url
        .parse()
        .expect("ORDERS_TEST_DATABASE_URL is a PostgreSQL URL");
    let dbname = config.get_dbname().unwrap_or("orders_test").to_owned();
    let mut admin = config.clone();
    admin.dbname("postgres");
    let (client, conn) = admin
        .connect(tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| {
            panic!("cannot connect to PostgreSQL for tests ({e}); run `make test`, which starts it")
        });
    tokio::spawn(conn);
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&dbname])
        .await
        .expect("query pg_database")
        .is_some();
    if !exists {
        // Another test binary may create it at the same moment; that is fine.
        if let Err(e) = client
            .batch_execute(&format!("CREATE DATABASE \"{dbname}\""))
            .await
        {
            let duplicate = e.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE)
                || e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION);
            assert!(duplicate, "cannot create test database {dbname}: {e}");
        }
    }
    url
}

/// An `OrderPlaced` event of `order_id` for `customer` (one text line), for tests that write to the
/// log directly rather than through the ingress.
pub fn placed_event(customer: &str, order_id: uuid::Uuid) -> orders_events::Event {
    use orders_events::{
        Address, Channel, Event, EventMeta, GeoPoint, LineItem, OrderPlaced, Payload, PlacedLine,
    };
    let payload = OrderPlaced {
        customer_id: customer.into(),
        caller: "test".into(),
        channel: Channel::Api,
        currency: "NPR".into(),
        lines: vec![PlacedLine {
            line_no: 1,
            item: LineItem::Text {
                text: "1 kg rice".into(),
            },
        }],
        delivery_address: Address {
            contact_name: None,
            contact_phone: None,
            line1: "Main Road".into(),
            line2: None,
            city: "Kathmandu".into(),
            district: None,
            postal_code: None,
            country_code: "NP".into(),
            location: GeoPoint {
                latitude: 27.7,
                longitude: 85.3,
            },
        },
        notes: None,
    };
    Event::new(
        order_id,
        Payload::OrderPlaced(payload),
        EventMeta {
            occurred_at: chrono::Utc::now(),
            causation_id: None,
            correlation_id: None,
            idempotency_key: format!("place:test:{}", uuid::Uuid::new_v4()),
            producer: "test".into(),
            traceparent: None,
            tracestate: None,
        },
    )
}

/// A valid PlaceOrder request; tests change what they need.
pub fn order_request(key: &str) -> v1::PlaceOrderRequest {
    v1::PlaceOrderRequest {
        idempotency_key: key.to_owned(),
        customer_id: "shop-0042".into(),
        lines: vec![
            v1::OrderLine {
                item: Some(v1::order_line::Item::Text("5 kg basmati rice".into())),
            },
            v1::OrderLine {
                item: Some(v1::order_line::Item::Sku(v1::SkuItem {
                    sku: "OIL-SUN-1L".into(),
                    quantity: 6,
                    unit: "bottle".into(),
                })),
            },
        ],
        delivery_address: Some(v1::DeliveryAddress {
            contact_name: "Sita Sharma".into(),
            contact_phone: "+977 9800000000".into(),
            line1: "Ward 4, Jhamsikhel Road".into(),
            line2: String::new(),
            city: "Lalitpur".into(),
            district: "Lalitpur".into(),
            postal_code: "44700".into(),
            country_code: "NP".into(),
            location: Some(v1::GeoPoint {
                latitude: 27.6795,
                longitude: 85.3070,
            }),
        }),
        channel: v1::Channel::App as i32,
        notes: "deliver before 10am".into(),
        currency: "NPR".into(),
    }
}

fn init_logs() {
    // Silent unless asked for: TEST_LOG=1 (or RUST_LOG) shows the services' logs.
    if std::env::var_os("TEST_LOG").is_some() || std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// Every record currently in `topic`, read with a plain consumer outside any group (so it disturbs
/// no service), partition by partition up to the high watermarks seen at the start.
pub async fn topic_records(kafka: &KafkaConfig, topic: &str) -> Vec<orders_runtime::Record> {
    let kafka = kafka.clone();
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || read_topic(&kafka, &topic))
        .await
        .expect("reader task")
}

fn read_topic(kafka: &KafkaConfig, topic: &str) -> Vec<orders_runtime::Record> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::{ClientConfig, Offset, TopicPartitionList};
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &kafka.brokers)
        .set("group.id", "orders-testkit-reader")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "10")
        .create()
        .expect("reader consumer");
    let timeout = Duration::from_secs(10);
    let md = consumer
        .fetch_metadata(Some(topic), timeout)
        .expect("topic metadata");
    let partitions: Vec<i32> = md.topics()[0].partitions().iter().map(|p| p.id()).collect();
    let mut tpl = TopicPartitionList::new();
    let mut ends = std::collections::HashMap::new();
    for p in &partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, *p, timeout)
            .expect("watermarks");
        if high > low {
            tpl.add_partition_offset(topic, *p, Offset::Beginning)
                .expect("add partition");
            ends.insert(*p, high);
        }
    }
    let mut records = Vec::new();
    if ends.is_empty() {
        return records;
    }
    consumer.assign(&tpl).expect("assign");
    let deadline = Instant::now() + DEADLINE;
    while !ends.is_empty() {
        assert!(Instant::now() < deadline, "timed out reading {topic}");
        if let Some(msg) = consumer.poll(Duration::from_millis(100)) {
            let msg = msg.expect("read record");
            let record = orders_runtime::Record::from_message(&msg);
            if let Some(end) = ends.get(&record.partition)
                && record.offset + 1 >= *end
            {
                ends.remove(&record.partition);
            }
            records.push(record);
        }
    }
    records
}

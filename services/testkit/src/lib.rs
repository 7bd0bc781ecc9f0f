//! Test harness for integration tests against the real broker and the real PostgreSQL.
//!
//! Each [`TestEnv`] has its own topics (`t.<id>.events`, `t.<id>.dlq`) and its own schema (`t_<id>`),
//! so tests run in parallel without seeing each other. Services run in-process on port 0 and stop
//! through their shutdown token. Broker and database come from `KAFKA_BROKERS` and
//! `ORDERS_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/orders_test`); `make test`
//! starts both.
use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use orders_ingress::IngressConfig;
use orders_projections::DbConfig;
use orders_projector::ProjectorConfig;
use orders_proto::v1;
use orders_proto::v1::order_service_client::OrderServiceClient;
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
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind port 0");
        let addr = listener.local_addr().expect("local addr");
        let config = IngressConfig {
            grpc_addr: addr.to_string(),
            max_message_bytes: 256 * 1024,
            default_caller: "test".into(),
            print_config: false,
            kafka: self.kafka.clone(),
            db: self.db.clone(),
        };
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

    /// Starts the projector in group `t-<id>-projector`.
    pub fn spawn_projector(&self) -> Running {
        let config = ProjectorConfig {
            group: format!("t-{}-projector", self.id),
            max_batch: 200,
            print_config: false,
            kafka: self.kafka.clone(),
            db: self.db.clone(),
        };
        let shutdown = Shutdown::new();
        let token = shutdown.clone();
        let task = tokio::spawn(async move {
            orders_projector::run(config, token)
                .await
                .map_err(|e| e.to_string())
        });
        Running {
            addr: None,
            shutdown,
            task,
        }
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

//! One PlaceOrder gives one trace that reaches the projector: the pipeline exports its spans over
//! OTLP/gRPC to a receiver running in this test, and the server span of the call, the appends, each
//! worker's handling and the projector's apply share one trace id, linked through the W3C trace
//! context carried in the events.
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use orders_proto::v1;
use orders_testkit::{TestEnv, order_request, wait_for, wait_order};
use tonic::{Request, Response, Status};

/// An OTLP trace receiver that keeps every span it is sent.
#[derive(Clone, Default)]
struct Receiver(Arc<Mutex<Vec<Span>>>);

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let mut spans = self.0.lock().unwrap();
        for resource in request.into_inner().resource_spans {
            for scope in resource.scope_spans {
                spans.extend(scope.spans);
            }
        }
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes.iter().find(|a| a.key == key).and_then(|a| {
        match a.value.as_ref()?.value.as_ref()? {
            Value::StringValue(s) => Some(s.clone()),
            Value::IntValue(i) => Some(i.to_string()),
            _ => None,
        }
    })
}

const SERVER: i32 = 2;
const PRODUCER: i32 = 4;
const CONSUMER: i32 = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_place_order_is_one_trace_that_reaches_the_projector() {
    let receiver = Receiver::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = receiver.clone();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(server))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
    });
    let telemetry =
        orders_runtime::telemetry::init_with("orders-test", Some(&format!("http://{addr}")));

    let env = TestEnv::new().await;
    let pipeline = env.spawn_pipeline().await;
    let mut client = pipeline.ingress.client().await;
    let placed = client
        .place_order(order_request("traced"))
        .await
        .expect("placed")
        .into_inner();
    wait_order(&client, &placed.order_id, "the order routed", |o| {
        o.status == v1::OrderStatus::Routed as i32
    })
    .await;

    let groups: Vec<String> = ["enricher", "risk", "router", "projector"]
        .iter()
        .map(|s| format!("t-{}-{s}", env.id))
        .collect();
    let trace = wait_for("the order's spans at the receiver", || {
        telemetry.flush();
        let spans = receiver.0.lock().unwrap().clone();
        let groups = groups.clone();
        let order_id = placed.order_id.clone();
        async move {
            let call = spans.iter().find(|s| {
                s.name == "orders.v1.OrderService/PlaceOrder"
                    && s.kind == SERVER
                    && spans.iter().any(|p| {
                        p.trace_id == s.trace_id
                            && attribute(p, "order_id") == Some(order_id.clone())
                    })
            })?;
            let trace: Vec<Span> = spans
                .iter()
                .filter(|s| s.trace_id == call.trace_id)
                .cloned()
                .collect();
            let consumed_by = |group: &str| {
                trace.iter().any(|s| {
                    s.kind == CONSUMER
                        && attribute(s, "messaging.consumer.group.name").as_deref() == Some(group)
                })
            };
            groups.iter().all(|g| consumed_by(g)).then_some(trace)
        }
    })
    .await;

    let call = trace
        .iter()
        .find(|s| s.name == "orders.v1.OrderService/PlaceOrder")
        .unwrap();
    assert!(
        call.parent_span_id.is_empty(),
        "the call is the trace's root"
    );
    assert_eq!(attribute(call, "rpc.system").as_deref(), Some("grpc"));
    assert_eq!(attribute(call, "rpc.method").as_deref(), Some("PlaceOrder"));
    let publishes = trace.iter().filter(|s| s.kind == PRODUCER).count();
    assert!(
        publishes >= 4,
        "the placement and the three follow-ups are appended in the trace ({publishes})"
    );
    let projected = trace
        .iter()
        .filter(|s| {
            s.kind == CONSUMER
                && attribute(s, "messaging.consumer.group.name").as_deref() == Some(&groups[3])
        })
        .count();
    assert!(
        projected >= 4,
        "the projector applied each event in the trace ({projected})"
    );
    for s in &trace {
        if s.kind == CONSUMER {
            assert_eq!(attribute(s, "messaging.system").as_deref(), Some("kafka"));
            assert!(!s.parent_span_id.is_empty(), "{} has a parent", s.name);
        }
    }
    pipeline.stop().await;
}

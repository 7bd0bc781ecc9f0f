//! Bad input is refused with INVALID_ARGUMENT, a google.rpc.BadRequest naming each bad field, and
//! nothing appended to the log.
use orders_proto::v1;
use orders_testkit::{TestEnv, order_request, topic_records};
use tonic::Code;
use tonic_types::StatusExt;

type Mutation = fn(&mut v1::PlaceOrderRequest);

fn cases() -> Vec<(&'static str, Mutation, &'static str)> {
    vec![
        (
            "missing idempotency key",
            |r| r.idempotency_key.clear(),
            "idempotency_key",
        ),
        (
            "idempotency key with spaces",
            |r| r.idempotency_key = "my key".into(),
            "idempotency_key",
        ),
        (
            "oversize idempotency key",
            |r| r.idempotency_key = "k".repeat(129),
            "idempotency_key",
        ),
        ("missing customer", |r| r.customer_id.clear(), "customer_id"),
        (
            "customer id with bad characters",
            |r| r.customer_id = "shop 42; drop".into(),
            "customer_id",
        ),
        ("empty lines", |r| r.lines.clear(), "lines"),
        (
            "too many lines",
            |r| r.lines = vec![r.lines[0].clone(); 101],
            "lines",
        ),
        (
            "line with nothing set",
            |r| r.lines[1].item = None,
            "lines[1]",
        ),
        (
            "blank free-text line",
            |r| r.lines[0].item = Some(v1::order_line::Item::Text("   ".into())),
            "lines[0].text",
        ),
        (
            "oversize free-text line",
            |r| r.lines[0].item = Some(v1::order_line::Item::Text("x".repeat(201))),
            "lines[0].text",
        ),
        (
            "negative quantity",
            |r| {
                r.lines[1].item = Some(v1::order_line::Item::Sku(v1::SkuItem {
                    sku: "OIL-SUN-1L".into(),
                    quantity: -3,
                    unit: String::new(),
                }))
            },
            "lines[1].sku.quantity",
        ),
        (
            "zero quantity",
            |r| {
                r.lines[1].item = Some(v1::order_line::Item::Sku(v1::SkuItem {
                    sku: "OIL-SUN-1L".into(),
                    quantity: 0,
                    unit: String::new(),
                }))
            },
            "lines[1].sku.quantity",
        ),
        (
            "lower-case sku",
            |r| {
                r.lines[1].item = Some(v1::order_line::Item::Sku(v1::SkuItem {
                    sku: "oil".into(),
                    quantity: 1,
                    unit: String::new(),
                }))
            },
            "lines[1].sku.sku",
        ),
        (
            "missing address",
            |r| r.delivery_address = None,
            "delivery_address",
        ),
        (
            "latitude out of range",
            |r| {
                r.delivery_address
                    .as_mut()
                    .unwrap()
                    .location
                    .as_mut()
                    .unwrap()
                    .latitude = 91.5
            },
            "delivery_address.location.latitude",
        ),
        (
            "longitude not a number",
            |r| {
                r.delivery_address
                    .as_mut()
                    .unwrap()
                    .location
                    .as_mut()
                    .unwrap()
                    .longitude = f64::NAN
            },
            "delivery_address.location.longitude",
        ),
        (
            "missing coordinates",
            |r| r.delivery_address.as_mut().unwrap().location = None,
            "delivery_address.location",
        ),
        (
            "missing street",
            |r| r.delivery_address.as_mut().unwrap().line1.clear(),
            "delivery_address.line1",
        ),
        (
            "bad country code",
            |r| r.delivery_address.as_mut().unwrap().country_code = "Nepal".into(),
            "delivery_address.country_code",
        ),
        (
            "letters in phone",
            |r| r.delivery_address.as_mut().unwrap().contact_phone = "call me".into(),
            "delivery_address.contact_phone",
        ),
        (
            "unspecified channel",
            |r| r.channel = v1::Channel::Unspecified as i32,
            "channel",
        ),
        ("unknown channel value", |r| r.channel = 99, "channel"),
        ("oversize notes", |r| r.notes = "n".repeat(1001), "notes"),
        ("bad currency", |r| r.currency = "rupees".into(), "currency"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_of_bad_input_is_refused_naming_the_field_and_nothing_is_appended() {
    let env = TestEnv::new().await;
    let ingress = env.spawn_ingress().await;
    let mut client = ingress.client().await;

    for (what, mutate, field) in cases() {
        let mut req = order_request(&format!("bad-{what}").replace(' ', "-"));
        mutate(&mut req);
        let err = client.place_order(req).await.expect_err(what);
        assert_eq!(err.code(), Code::InvalidArgument, "{what}: {err:?}");
        let details = err
            .get_details_bad_request()
            .unwrap_or_else(|| panic!("{what}: no BadRequest details"));
        let fields: Vec<&str> = details
            .field_violations
            .iter()
            .map(|v| v.field.as_str())
            .collect();
        assert!(
            fields.contains(&field),
            "{what}: expected a violation of {field}, got {fields:?}"
        );
        assert!(
            err.message().contains(field),
            "{what}: message names the field: {}",
            err.message()
        );
        assert!(
            details
                .field_violations
                .iter()
                .all(|v| !v.description.is_empty())
        );
    }

    // Several problems at once are all reported.
    let mut req = order_request("bad-many");
    req.customer_id.clear();
    req.channel = 0;
    req.delivery_address
        .as_mut()
        .unwrap()
        .location
        .as_mut()
        .unwrap()
        .latitude = -100.0;
    let err = client.place_order(req).await.unwrap_err();
    let details = err.get_details_bad_request().unwrap();
    assert_eq!(
        details.field_violations.len(),
        3,
        "{:?}",
        details.field_violations
    );

    // A message over the size limit is refused before it is decoded.
    let mut huge = order_request("bad-huge");
    huge.notes = "x".repeat(300 * 1024);
    let err = client.place_order(huge).await.unwrap_err();
    assert_ne!(err.code(), Code::Ok);

    assert!(
        topic_records(&env.kafka, &env.kafka.events_topic)
            .await
            .is_empty(),
        "nothing was appended"
    );
    ingress.stop().await;
}

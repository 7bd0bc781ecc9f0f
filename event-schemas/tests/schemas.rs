//! What a user of the event log checks: every schema file is a valid JSON Schema for a known type and
//! version, the Rust types round-trip through JSON that the schemas accept, bad records are refused
//! with a message naming the field, and published schemas are never edited.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use orders_events::schema::{self, SCHEMA_FILES};
use orders_events::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// (file name, text) of every file in `dir`, sorted by name.
fn files_in(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            (name, text)
        })
        .collect();
    files.sort();
    files
}

/// `<EventType>.v<N>.json` → (type, N).
fn parse_file_name(name: &str) -> Option<(EventType, u32)> {
    let stem = name.strip_suffix(".json")?;
    let (type_name, version) = stem.rsplit_once(".v")?;
    Some((EventType::parse(type_name)?, version.parse().ok()?))
}

fn at(minute: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 10, minute, 0).unwrap()
        + chrono::Duration::milliseconds(i64::from(minute) * 7)
}

fn npr(amount_minor: i64) -> Money {
    Money {
        amount_minor,
        currency: "NPR".into(),
    }
}

/// A realistic order's life: one event of each type, each caused by the previous one.
fn samples() -> Vec<Event> {
    let order_id = ids::order_id_for("shop-app", "req-2025-03-01-0001");
    let placed = Event::new(
        order_id,
        OrderPlaced {
            customer_id: "shop-4411".into(),
            caller: "shop-app".into(),
            channel: Channel::Whatsapp,
            currency: "NPR".into(),
            lines: vec![
                PlacedLine {
                    line_no: 1,
                    item: LineItem::Text {
                        text: "५ केजी चामल".into(),
                    },
                },
                PlacedLine {
                    line_no: 2,
                    item: LineItem::Sku {
                        sku: "OIL-SUNFLOWER-1L".into(),
                        quantity: 3,
                        unit: Some("bottle".into()),
                    },
                },
                PlacedLine {
                    line_no: 3,
                    item: LineItem::Sku {
                        sku: "SALT-1KG".into(),
                        quantity: 1,
                        unit: None,
                    },
                },
            ],
            delivery_address: Address {
                contact_name: Some("Sita Sharma".into()),
                contact_phone: Some("+977-9800000000".into()),
                line1: "Ward 4, Lakeside Road".into(),
                line2: None,
                city: "Pokhara".into(),
                district: Some("Kaski".into()),
                postal_code: None,
                country_code: "NP".into(),
                location: GeoPoint {
                    latitude: 28.209_583,
                    longitude: 83.959_518,
                },
            },
            notes: Some("deliver before 9am".into()),
        }
        .into(),
        EventMeta {
            occurred_at: at(0),
            causation_id: None,
            correlation_id: None,
            idempotency_key: format!("place:{order_id}"),
            producer: "ingress".into(),
            traceparent: Some(TRACEPARENT.into()),
            tracestate: Some("vendor=abc".into()),
        },
    );
    let Payload::OrderPlaced(placed_payload) = &placed.payload else {
        unreachable!("built above")
    };
    let facts = OrderFacts::of(placed_payload, placed.envelope.occurred_at);
    let enriched = Event::new(
        order_id,
        OrderEnriched {
            order: Some(facts.clone()),
            lines: vec![
                EnrichedLine {
                    line_no: 1,
                    raw: "५ केजी चामल".into(),
                    matched: true,
                    sku: Some("RICE-JEERA-1KG".into()),
                    name: Some("Jeera Masino Rice".into()),
                    category: Some("rice".into()),
                    quantity: 5.0,
                    unit: "kg".into(),
                    unit_price: Some(npr(14_500)),
                    line_total: Some(npr(72_500)),
                    confidence: 0.93,
                },
                EnrichedLine {
                    line_no: 2,
                    raw: "OIL-SUNFLOWER-1L x3 bottle".into(),
                    matched: true,
                    sku: Some("OIL-SUNFLOWER-1L".into()),
                    name: Some("Sunflower Oil 1 L".into()),
                    category: Some("oil".into()),
                    quantity: 3.0,
                    unit: "bottle".into(),
                    unit_price: Some(npr(32_000)),
                    line_total: Some(npr(96_000)),
                    confidence: 1.0,
                },
                EnrichedLine {
                    line_no: 3,
                    raw: "SALT-1KG".into(),
                    matched: false,
                    sku: None,
                    name: None,
                    category: None,
                    quantity: 0.5,
                    unit: "kg".into(),
                    unit_price: None,
                    line_total: None,
                    confidence: 0.2,
                },
            ],
            language: "ne".into(),
            provider: "rules-fallback".into(),
            confidence: 0.71,
            attempts: vec![
                ProviderAttempt {
                    provider: "llm-primary".into(),
                    outcome: "failed".into(),
                    reason: Some("timeout after 2s".into()),
                },
                ProviderAttempt {
                    provider: "rules-fallback".into(),
                    outcome: "answered".into(),
                    reason: None,
                },
            ],
            estimated_total: Some(npr(168_500)),
        }
        .into(),
        EventMeta::follow_up(&placed.envelope, "enricher", "enricher", at(1)),
    );
    let assessed = Event::new(
        order_id,
        OrderRiskAssessed {
            order: Some(facts),
            categories: Some(vec!["oil".into(), "rice".into()]),
            estimated_total: Some(npr(168_500)),
            score: 62,
            decision: RiskDecision::Review,
            reasons: vec![
                RiskReason {
                    code: "NEW_CUSTOMER".into(),
                    description: "first order from this shop".into(),
                    weight: 40,
                },
                RiskReason {
                    code: "KNOWN_ADDRESS".into(),
                    description: "address verified before".into(),
                    weight: -10,
                },
            ],
        }
        .into(),
        EventMeta::follow_up(&enriched.envelope, "risk", "risk-scorer", at(2)),
    );
    let reviewed = Event::new(
        order_id,
        OrderReviewed {
            reviewer: "ops@example.com".into(),
            decision: ReviewDecision::Approve,
            comment: String::new(),
        }
        .into(),
        EventMeta {
            occurred_at: at(3),
            causation_id: Some(assessed.envelope.event_id),
            correlation_id: Some(assessed.envelope.correlation_id),
            idempotency_key: "review:ops:7781".into(),
            producer: "ingress".into(),
            traceparent: None,
            tracestate: None,
        },
    );
    let routed = Event::new(
        order_id,
        OrderRouted {
            hub_id: "hub-pokhara-1".into(),
            hub_name: "Pokhara Lakeside Hub".into(),
            distance_km: 3.4,
            eta_minutes: 95,
            reason: "nearest hub with stock for all lines".into(),
        }
        .into(),
        EventMeta::follow_up(&reviewed.envelope, "router", "router", at(4)),
    );
    // What the router writes instead of OrderRouted when no hub can take the approved order.
    let routing_failed = Event::new(
        order_id,
        OrderRoutingFailed {
            reason: "every hub in range is full today: Pokhara Lakeside Hub (3.4 km)".into(),
        }
        .into(),
        EventMeta::follow_up(&reviewed.envelope, "router", "router", at(4)),
    );
    let cancel_requested = Event::new(
        order_id,
        OrderCancellationRequested {
            requested_by: "shop-4411".into(),
            reason: "ordered twice".into(),
        }
        .into(),
        EventMeta {
            occurred_at: at(5),
            causation_id: None,
            correlation_id: None,
            idempotency_key: "cancel:shop-app:req-2025-03-01-0002".into(),
            producer: "ingress".into(),
            traceparent: None,
            tracestate: None,
        },
    );
    let cancelled = Event::new(
        order_id,
        OrderCancelled {
            reason: "not dispatched yet".into(),
        }
        .into(),
        EventMeta::follow_up(&cancel_requested.envelope, "router", "router", at(6)),
    );
    let rejected = Event::new(
        order_id,
        OrderCancellationRejected {
            reason: "already dispatched".into(),
        }
        .into(),
        EventMeta::follow_up(&cancel_requested.envelope, "router-late", "router", at(7)),
    );
    vec![
        placed,
        enriched,
        assessed,
        reviewed,
        routed,
        routing_failed,
        cancel_requested,
        cancelled,
        rejected,
    ]
}

fn sample(event_type: EventType) -> Event {
    samples()
        .into_iter()
        .find(|e| e.event_type() == event_type)
        .unwrap()
}

fn sample_value(event_type: EventType) -> Value {
    serde_json::from_slice(&sample(event_type).to_json()).unwrap()
}

/// Decodes `value` and returns the schema violations, failing if it is anything else.
fn violations(value: &Value) -> Vec<String> {
    match Event::from_json(&serde_json::to_vec(value).unwrap()) {
        Err(DecodeError::SchemaViolation { errors, .. }) => errors,
        other => panic!("expected a schema violation for {value}, got {other:?}"),
    }
}

fn assert_violation_names(value: &Value, field: &str) {
    let errors = violations(value);
    assert!(
        errors.iter().any(|e| e.contains(field)),
        "expected an error naming {field}, got {errors:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Schema files

#[test]
fn every_schema_file_is_a_json_schema_for_a_known_type_and_version() {
    let files = files_in(&crate_dir().join("schemas"));
    assert!(!files.is_empty());
    for (name, text) in &files {
        let (event_type, version) = parse_file_name(name)
            .unwrap_or_else(|| panic!("{name}: not <known EventType>.v<N>.json"));
        let schema: Value =
            serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: not JSON: {e}"));
        jsonschema::meta::validate(&schema)
            .unwrap_or_else(|e| panic!("{name}: not a valid JSON Schema: {e}"));
        schema::compile(text).unwrap_or_else(|e| panic!("{name}: {e}"));

        assert_eq!(
            schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{name}"
        );
        assert!(
            schema["$id"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/{name}")),
            "{name}: $id must end with the file name"
        );
        assert!(schema["title"].is_string(), "{name}: title");
        assert_eq!(schema["additionalProperties"], false, "{name}");
        assert_eq!(
            schema["properties"]["event_type"]["const"],
            event_type.as_str(),
            "{name}"
        );
        assert_eq!(
            schema["properties"]["event_version"]["const"], version,
            "{name}"
        );

        let embedded = schema::schema_file(event_type, version)
            .unwrap_or_else(|| panic!("{name} is not listed in schema.rs SCHEMA_FILES"));
        assert_eq!(embedded.source, text, "{name}");
        assert!(
            version <= event_type.current_version(),
            "{name}: newer than {event_type}::current_version()"
        );
    }
    assert_eq!(files.len(), SCHEMA_FILES.len(), "schemas/ vs SCHEMA_FILES");
}

#[test]
fn every_event_type_has_a_schema_for_its_current_version() {
    for t in EventType::ALL {
        let file = crate_dir()
            .join("schemas")
            .join(format!("{t}.v{}.json", t.current_version()));
        assert!(file.is_file(), "missing {}", file.display());
    }
}

/// Every property, at any depth, says what it is, and every object is closed.
#[test]
fn every_field_is_described_and_every_object_is_closed() {
    fn walk(name: &str, path: &str, node: &Value) {
        match node {
            Value::Object(map) => {
                let is_object = match map.get("type") {
                    Some(Value::String(t)) => t == "object",
                    Some(Value::Array(ts)) => ts.contains(&json!("object")),
                    _ => false,
                };
                if is_object {
                    assert_eq!(
                        map.get("additionalProperties"),
                        Some(&json!(false)),
                        "{name} {path}: additionalProperties must be false"
                    );
                    assert!(map.contains_key("required"), "{name} {path}: required");
                }
                if let Some(Value::Object(props)) = map.get("properties") {
                    for (field, schema) in props {
                        // `false` forbids a field (e.g. `text` on a SKU line); nothing to describe.
                        if schema.is_boolean() {
                            continue;
                        }
                        assert!(
                            schema.get("description").is_some_and(Value::is_string),
                            "{name} {path}/{field}: missing description"
                        );
                    }
                }
                // `if` only tests a discriminator (`kind`); the fields are described beside it.
                for (key, child) in map.iter().filter(|(k, _)| *k != "if") {
                    walk(name, &format!("{path}/{key}"), child);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(name, &format!("{path}/{i}"), child);
                }
            }
            _ => {}
        }
    }
    for f in SCHEMA_FILES {
        walk(f.file_name, "", &serde_json::from_str(f.source).unwrap());
    }
}

/// `schemas.lock` pins every published schema by SHA-256 (`sha256sum` format).
#[test]
fn published_schemas_are_never_edited() {
    let lock = std::fs::read_to_string(crate_dir().join("schemas.lock")).unwrap();
    let mut locked = BTreeMap::new();
    for line in lock.lines().filter(|l| !l.trim().is_empty()) {
        let (hash, name) = line
            .split_once("  ")
            .unwrap_or_else(|| panic!("schemas.lock: bad line {line:?}, want `<sha256>  <file>`"));
        assert!(
            locked.insert(name.to_owned(), hash.to_owned()).is_none(),
            "schemas.lock lists {name} twice"
        );
    }
    let files = files_in(&crate_dir().join("schemas"));
    for (name, text) in &files {
        let actual: String = Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let (event_type, version) = parse_file_name(name).unwrap_or((EventType::OrderPlaced, 0));
        match locked.get(name) {
            None => panic!(
                "{name} is not in schemas.lock: add the line `{actual}  {name}` \
                 (run `sha256sum {name}` in event-schemas/schemas)"
            ),
            Some(expected) => assert_eq!(
                expected,
                &actual,
                "{name}: a published schema was edited: add a new version file \
                 ({event_type}.v{}.json) and an upcaster instead",
                version + 1
            ),
        }
    }
    let on_disk: BTreeSet<_> = files.iter().map(|(n, _)| n.clone()).collect();
    for name in locked.keys() {
        assert!(
            on_disk.contains(name),
            "schemas.lock lists {name} but the file is gone: a published schema must stay readable"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Round trips

#[test]
fn samples_cover_every_event_type() {
    let covered: BTreeSet<_> = samples().iter().map(|e| e.event_type().as_str()).collect();
    let all: BTreeSet<_> = EventType::ALL.iter().map(|t| t.as_str()).collect();
    assert_eq!(covered, all);
}

#[test]
fn every_sample_validates_against_its_schema() {
    for e in samples() {
        let value: Value = serde_json::from_slice(&e.to_json()).unwrap();
        assert_eq!(value["event_type"], e.event_type().as_str());
        assert_eq!(value["event_version"], e.event_type().current_version());
        schema::validate(&value).unwrap_or_else(|err| panic!("{}: {err}", e.event_type()));
    }
}

#[test]
fn event_to_json_and_back_is_the_same_event() {
    for e in samples() {
        let decoded = Event::from_json(&e.to_json())
            .unwrap_or_else(|err| panic!("{}: {err}", e.event_type()));
        assert_eq!(decoded, e);
    }
}

#[test]
fn json_to_event_to_json_is_byte_stable() {
    for e in samples() {
        let bytes = e.to_json();
        let again = Event::from_json(&bytes).unwrap().to_json();
        assert_eq!(
            String::from_utf8(again).unwrap(),
            String::from_utf8(bytes).unwrap(),
            "{}",
            e.event_type()
        );
    }
}

#[test]
fn wire_shape_is_envelope_fields_plus_payload() {
    let e = sample(EventType::OrderPlaced);
    let value = e.to_value();
    let keys: BTreeSet<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let expected: BTreeSet<&str> = [
        "event_id",
        "event_type",
        "event_version",
        "order_id",
        "occurred_at",
        "causation_id",
        "correlation_id",
        "idempotency_key",
        "producer",
        "traceparent",
        "tracestate",
        "payload",
    ]
    .into();
    assert_eq!(keys, expected);
    assert_eq!(value["causation_id"], Value::Null);
    assert_eq!(value["occurred_at"], "2025-03-01T10:00:00Z");
    assert_eq!(value["payload"]["channel"], "whatsapp");
    assert_eq!(value["payload"]["lines"][0]["item"]["kind"], "text");
    assert_eq!(value["payload"]["notes"], "deliver before 9am");
    let text = String::from_utf8(e.to_json()).unwrap();
    assert!(
        text.starts_with(&format!("{{\"event_id\":\"{}\"", e.envelope.event_id)),
        "{text}"
    );

    // Unset trace context is omitted, not null.
    let reviewed = sample(EventType::OrderReviewed).to_value();
    assert!(reviewed.get("traceparent").is_none());
    assert!(reviewed.get("tracestate").is_none());
}

#[test]
fn follow_ups_carry_causation_correlation_and_a_stable_id() {
    let all = samples();
    let (placed, enriched) = (&all[0], &all[1]);
    assert_eq!(placed.envelope.correlation_id, placed.envelope.event_id);
    assert_eq!(
        enriched.envelope.causation_id,
        Some(placed.envelope.event_id)
    );
    assert_eq!(
        enriched.envelope.correlation_id,
        placed.envelope.correlation_id
    );
    assert_eq!(
        enriched.envelope.idempotency_key,
        format!("enricher:{}", placed.envelope.event_id)
    );
    assert_eq!(enriched.envelope.traceparent.as_deref(), Some(TRACEPARENT));
    // Reprocessing the same source event yields the same event id.
    assert_eq!(samples()[1].envelope.event_id, enriched.envelope.event_id);
}

/// Records exactly as stored in the log keep decoding. When a type gets a new version, keep its old
/// fixture: it must then decode (through the upcaster) into the new struct.
#[test]
fn stored_records_still_decode() {
    let files = files_in(&crate_dir().join("tests/fixtures"));
    let mut seen = BTreeSet::new();
    for (name, text) in &files {
        let (event_type, version) = parse_file_name(name)
            .unwrap_or_else(|| panic!("fixture {name}: not <EventType>.v<N>.json"));
        let event =
            Event::from_json(text.as_bytes()).unwrap_or_else(|e| panic!("fixture {name}: {e}"));
        assert_eq!(event.event_type(), event_type);
        assert_eq!(event.envelope.event_version, event_type.current_version());
        if version == event_type.current_version() {
            let stored: Value = serde_json::from_str(text).unwrap();
            assert_eq!(
                event.to_value(),
                stored,
                "fixture {name}: re-encoding changed it"
            );
        }
        seen.insert(event_type.as_str());
    }
    assert_eq!(seen.len(), EventType::ALL.len(), "a fixture per event type");
}

fn fixture(name: &str) -> String {
    let path = crate_dir().join("tests/fixtures").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Decodes the stored v1 record of `event_type`, checking that it was upcast to v2 and kept its
/// envelope (the fixture is the sample of its type as it was written in v1).
fn decode_v1_fixture(event_type: EventType) -> Event {
    let text = fixture(&format!("{event_type}.v1.json"));
    let stored: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(stored["event_version"], 1, "{event_type}.v1.json");
    let event = Event::from_json(text.as_bytes()).unwrap_or_else(|e| panic!("{event_type}: {e}"));
    assert_eq!(event.event_type(), event_type);
    assert_eq!(
        event.envelope.event_version, 2,
        "{event_type}: upcast to v2"
    );
    assert_eq!(
        event.envelope,
        sample(event_type).envelope,
        "{event_type}: the envelope is kept"
    );
    event
}

/// An upcast record is a valid v2 record: re-encoding it writes v2 with the new fields null.
fn assert_reencodes_as_v2(event: &Event, new_fields: &[&str]) {
    let value = event.to_value();
    assert_eq!(value["event_version"], 2);
    for field in new_fields {
        assert_eq!(value["payload"][field], Value::Null, "{field}");
    }
    schema::validate(&value).unwrap_or_else(|e| panic!("{}: {e}", event.event_type()));
    assert_eq!(&Event::from_json(&event.to_json()).unwrap(), event);
}

#[test]
fn order_enriched_v1_records_upcast_to_v2_without_order_facts() {
    let event = decode_v1_fixture(EventType::OrderEnriched);
    let Payload::OrderEnriched(expected) = sample(EventType::OrderEnriched).payload else {
        unreachable!()
    };
    let expected = OrderEnriched {
        order: None,
        ..expected
    };
    assert_eq!(event.payload, Payload::OrderEnriched(expected));
    assert_reencodes_as_v2(&event, &["order"]);
}

#[test]
fn order_risk_assessed_v1_records_upcast_to_v2_without_facts_categories_or_estimate() {
    let event = decode_v1_fixture(EventType::OrderRiskAssessed);
    let Payload::OrderRiskAssessed(expected) = sample(EventType::OrderRiskAssessed).payload else {
        unreachable!()
    };
    let expected = OrderRiskAssessed {
        order: None,
        categories: None,
        estimated_total: None,
        ..expected
    };
    assert_eq!(event.payload, Payload::OrderRiskAssessed(expected));
    assert_reencodes_as_v2(&event, &["order", "categories", "estimated_total"]);
}

#[test]
fn v2_samples_carry_the_placed_orders_facts() {
    let placed = sample(EventType::OrderPlaced);
    let Payload::OrderPlaced(p) = &placed.payload else {
        unreachable!()
    };
    let facts = OrderFacts::of(p, placed.envelope.occurred_at);
    for t in [EventType::OrderEnriched, EventType::OrderRiskAssessed] {
        let v = sample_value(t);
        assert_eq!(v["event_version"], 2, "{t}");
        assert_eq!(
            v["payload"]["order"],
            serde_json::to_value(&facts).unwrap(),
            "{t}"
        );
        assert_eq!(
            v["payload"]["order"]["placed_at"], "2025-03-01T10:00:00Z",
            "{t}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Refusals

#[test]
fn v2_records_without_the_new_fields_are_refused() {
    let cases = [
        (EventType::OrderEnriched, "order"),
        (EventType::OrderRiskAssessed, "order"),
        (EventType::OrderRiskAssessed, "categories"),
        (EventType::OrderRiskAssessed, "estimated_total"),
    ];
    for (event_type, field) in cases {
        let mut v = sample_value(event_type);
        assert!(
            v["payload"]
                .as_object_mut()
                .unwrap()
                .remove(field)
                .is_some()
        );
        assert_violation_names(&v, &format!("\"{field}\""));
    }
}

/// A v1 record is checked against the v1 schema: it cannot carry fields that came with v2.
#[test]
fn v1_records_with_v2_fields_are_refused() {
    let cases = [
        (EventType::OrderEnriched, "order"),
        (EventType::OrderRiskAssessed, "categories"),
    ];
    for (event_type, field) in cases {
        let mut v: Value =
            serde_json::from_str(&fixture(&format!("{event_type}.v1.json"))).unwrap();
        v["payload"][field] = sample_value(event_type)["payload"][field].clone();
        assert_violation_names(&v, field);
    }
}

#[test]
fn risk_score_above_100_is_refused() {
    let mut v = sample_value(EventType::OrderRiskAssessed);
    v["payload"]["score"] = json!(101);
    assert_violation_names(&v, "/payload/score");
}

#[test]
fn missing_customer_id_is_refused() {
    let mut v = sample_value(EventType::OrderPlaced);
    v["payload"].as_object_mut().unwrap().remove("customer_id");
    assert_violation_names(&v, "customer_id");
}

#[test]
fn latitude_out_of_range_is_refused() {
    let mut v = sample_value(EventType::OrderPlaced);
    v["payload"]["delivery_address"]["location"]["latitude"] = json!(200);
    assert_violation_names(&v, "/payload/delivery_address/location/latitude");
    let mut v = sample_value(EventType::OrderPlaced);
    v["payload"]["delivery_address"]["location"]["longitude"] = json!(-180.5);
    assert_violation_names(&v, "/payload/delivery_address/location/longitude");
}

#[test]
fn unknown_fields_are_refused() {
    let mut v = sample_value(EventType::OrderCancelled);
    v["payload"]["refund_amount"] = json!(100);
    assert_violation_names(&v, "refund_amount");
    let mut v = sample_value(EventType::OrderCancelled);
    v["tenant"] = json!("x");
    assert_violation_names(&v, "tenant");
}

#[test]
fn other_schema_violations_name_the_field() {
    let cases: Vec<(EventType, &str, Value, &str)> = vec![
        (
            EventType::OrderPlaced,
            "/event_id",
            json!("not-a-uuid"),
            "/event_id",
        ),
        (
            EventType::OrderPlaced,
            "/occurred_at",
            json!("2025-03-01T16:15:00+05:45"),
            "/occurred_at",
        ),
        (
            EventType::OrderPlaced,
            "/occurred_at",
            json!("yesterday"),
            "/occurred_at",
        ),
        (
            EventType::OrderPlaced,
            "/payload/channel",
            json!("fax"),
            "/payload/channel",
        ),
        (
            EventType::OrderPlaced,
            "/payload/currency",
            json!("rupees"),
            "/payload/currency",
        ),
        (
            EventType::OrderPlaced,
            "/payload/lines",
            json!([]),
            "/payload/lines",
        ),
        (
            EventType::OrderPlaced,
            "/payload/lines/1/item/quantity",
            json!(0),
            "/payload/lines/1/item/quantity",
        ),
        (
            EventType::OrderEnriched,
            "/payload/estimated_total/amount_minor",
            json!(1685.5),
            "/payload/estimated_total/amount_minor",
        ),
        (
            EventType::OrderEnriched,
            "/payload/lines/0/unit_price/currency",
            json!("npr"),
            "/payload/lines/0/unit_price/currency",
        ),
        (
            EventType::OrderEnriched,
            "/payload/confidence",
            json!(1.5),
            "/payload/confidence",
        ),
        (
            EventType::OrderEnriched,
            "/payload/attempts/0/outcome",
            json!("maybe"),
            "/payload/attempts/0/outcome",
        ),
        (
            EventType::OrderEnriched,
            "/payload/order/placed_at",
            json!("2025-03-01T15:45:00+05:45"),
            "/payload/order/placed_at",
        ),
        (
            EventType::OrderEnriched,
            "/payload/order/customer_id",
            json!(""),
            "/payload/order/customer_id",
        ),
        (
            EventType::OrderRiskAssessed,
            "/payload/decision",
            json!("approved"),
            "/payload/decision",
        ),
        (
            EventType::OrderRiskAssessed,
            "/payload/order/channel",
            json!("fax"),
            "/payload/order/channel",
        ),
        (
            EventType::OrderRiskAssessed,
            "/payload/order/delivery_location/latitude",
            json!(91),
            "/payload/order/delivery_location/latitude",
        ),
        (
            EventType::OrderRiskAssessed,
            "/payload/categories",
            json!(["rice", "rice"]),
            "/payload/categories",
        ),
        (
            EventType::OrderRiskAssessed,
            "/payload/estimated_total/amount_minor",
            json!(-1),
            "/payload/estimated_total/amount_minor",
        ),
        (
            EventType::OrderRoutingFailed,
            "/payload/reason",
            json!(""),
            "/payload/reason",
        ),
        (
            EventType::OrderRouted,
            "/payload/distance_km",
            json!(-1),
            "/payload/distance_km",
        ),
        (
            EventType::OrderReviewed,
            "/causation_id",
            json!(42),
            "/causation_id",
        ),
    ];
    for (event_type, pointer, bad, field) in cases {
        let mut v = sample_value(event_type);
        *v.pointer_mut(pointer)
            .unwrap_or_else(|| panic!("{event_type} sample has no {pointer}")) = bad;
        assert_violation_names(&v, field);
    }
}

#[test]
fn line_items_must_match_their_kind() {
    let mut v = sample_value(EventType::OrderPlaced);
    v["payload"]["lines"][0]["item"]["sku"] = json!("RICE-5KG");
    assert_violation_names(&v, "/payload/lines/0/item/sku");

    let mut v = sample_value(EventType::OrderPlaced);
    v["payload"]["lines"][1]["item"]
        .as_object_mut()
        .unwrap()
        .remove("quantity");
    assert_violation_names(&v, "quantity");

    let mut v = sample_value(EventType::OrderPlaced);
    v["payload"]["lines"][1]["item"]["kind"] = json!("bundle");
    assert_violation_names(&v, "/payload/lines/1/item/kind");
}

#[test]
fn schema_violation_message_says_what_and_where() {
    let mut v = sample_value(EventType::OrderRiskAssessed);
    v["payload"]["score"] = json!(101);
    let err = Event::from_json(&serde_json::to_vec(&v).unwrap()).unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with(
            "OrderRiskAssessed v2 does not match its JSON Schema: /payload/score: 101"
        ),
        "{message}"
    );
}

#[test]
fn garbage_is_not_json() {
    for bytes in [&b"\x00\x9f garbage"[..], b"{\"event_type\":", b""] {
        let err = Event::from_json(bytes).unwrap_err();
        assert!(matches!(err, DecodeError::NotJson(_)), "{err:?}");
        assert!(
            err.to_string().starts_with("record value is not JSON"),
            "{err}"
        );
    }
}

#[test]
fn unknown_event_type_is_named() {
    let mut v = sample_value(EventType::OrderCancelled);
    v["event_type"] = json!("OrderShipped");
    let err = Event::from_json(&serde_json::to_vec(&v).unwrap()).unwrap_err();
    assert!(
        matches!(&err, DecodeError::UnknownEventType(t) if t == "OrderShipped"),
        "{err:?}"
    );
    assert!(err.to_string().contains("\"OrderShipped\""), "{err}");
}

#[test]
fn future_event_version_is_unsupported() {
    let mut v = sample_value(EventType::OrderRouted);
    v["event_version"] = json!(99);
    let err = Event::from_json(&serde_json::to_vec(&v).unwrap()).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::UnsupportedVersion {
                event_type: EventType::OrderRouted,
                version: 99
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("event_version 99 of OrderRouted"),
        "{err}"
    );
}

#[test]
fn records_without_a_usable_envelope_are_bad_envelopes() {
    let cases = [
        (json!([1, 2, 3]), "must be a JSON object"),
        (json!({"event_version": 1}), "missing field event_type"),
        (
            json!({"event_type": 7, "event_version": 1}),
            "event_type must be a string",
        ),
        (
            json!({"event_type": "OrderCancelled"}),
            "missing field event_version",
        ),
        (
            json!({"event_type": "OrderCancelled", "event_version": "1"}),
            "event_version must be",
        ),
    ];
    for (value, message) in cases {
        let err = Event::from_json(&serde_json::to_vec(&value).unwrap()).unwrap_err();
        assert!(
            matches!(err, DecodeError::BadEnvelope(_)),
            "{value}: {err:?}"
        );
        assert!(err.to_string().contains(message), "{value}: {err}");
    }
}

#[test]
fn event_ids_come_from_the_idempotency_key() {
    for e in samples() {
        assert_eq!(
            e.envelope.event_id,
            ids::event_id_for(&e.envelope.idempotency_key)
        );
    }
}

use std::path::Path;

use super::*;
use chrono::TimeZone;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 14, 9, 30, 0).unwrap()
}

fn npr(minor: i64) -> Money {
    Money {
        amount_minor: minor,
        currency: "NPR".into(),
    }
}

fn line(line_no: u32, matched: bool, quantity: f64, unit: &str) -> EnrichedLine {
    EnrichedLine {
        line_no,
        raw: format!("{quantity} {unit} item {line_no}"),
        matched,
        sku: matched.then(|| format!("SKU-{line_no}")),
        name: matched.then(|| format!("Item {line_no}")),
        category: matched.then(|| "rice_grains".to_owned()),
        quantity,
        unit: unit.into(),
        unit_price: None,
        line_total: None,
        confidence: if matched { 0.9 } else { 0.2 },
    }
}

fn matched_lines(n: u32) -> Vec<EnrichedLine> {
    (1..=n).map(|i| line(i, true, 5.0, "kg")).collect()
}

/// A repeat customer with an unremarkable record: 10 orders averaging NPR 5,000.00, the first
/// 30 days ago, nothing recent.
fn repeat_customer() -> CustomerHistory {
    CustomerHistory {
        orders: 10,
        total_minor: 5_000_000,
        first_order_at: Some(now() - Duration::days(30)),
        orders_last_hour: 0,
        orders_last_day: 1,
    }
}

/// An order to score; tests change what they are about and leave the rest unremarkable.
struct Order {
    customer_id: &'static str,
    phone: Option<&'static str>,
    lines: Vec<EnrichedLine>,
    total: Option<Money>,
    history: CustomerHistory,
}

impl Order {
    fn new() -> Order {
        Order {
            customer_id: "shop-0042",
            phone: Some("9801234567"),
            lines: matched_lines(3),
            total: Some(npr(600_000)),
            history: repeat_customer(),
        }
    }

    fn assess(&self, cfg: &RiskConfig) -> OrderRiskAssessed {
        assess(
            cfg,
            &RiskInput {
                customer_id: self.customer_id,
                contact_phone: self.phone,
                lines: &self.lines,
                estimated_total: self.total.as_ref(),
                history: &self.history,
                now: now(),
            },
        )
    }

    fn codes(&self, cfg: &RiskConfig) -> Vec<String> {
        self.assess(cfg)
            .reasons
            .into_iter()
            .map(|r| r.code)
            .collect()
    }
}

fn find<'a>(a: &'a OrderRiskAssessed, code: &str) -> &'a RiskReason {
    a.reasons
        .iter()
        .find(|r| r.code == code)
        .unwrap_or_else(|| panic!("no {code} reason in {:#?}", a.reasons))
}

#[test]
fn clean_repeat_customer_is_approved_with_score_zero_and_no_reasons() {
    // Given a repeat customer ordering about their average
    let order = Order::new();
    // When scored
    let a = order.assess(&RiskConfig::default());
    // Then
    assert_eq!(a.score, 0);
    assert_eq!(a.decision, RiskDecision::Approve);
    assert!(a.reasons.is_empty(), "{:#?}", a.reasons);
}

#[test]
fn the_event_carries_categories_of_matched_lines_and_the_estimate() {
    // Given lines in two categories, one repeated, and an unmatched line with a guess
    let mut order = Order::new();
    order.lines[1].category = Some("dairy_eggs".into());
    order.lines.push(EnrichedLine {
        category: Some("frozen".into()),
        ..line(4, false, 1.0, "kg")
    });
    // When scored
    let a = order.assess(&RiskConfig::default());
    // Then categories are sorted, without repeats, from matched lines only
    assert_eq!(
        a.categories,
        Some(vec!["dairy_eggs".to_owned(), "rice_grains".to_owned()])
    );
    assert_eq!(a.estimated_total, Some(npr(600_000)));
    assert_eq!(a.order, None, "left for the caller");
}

#[test]
fn established_customer_gets_only_the_credit_and_score_stays_at_zero() {
    let mut order = Order::new();
    order.history.orders = 20;
    order.history.total_minor = 20 * 500_000;
    order.history.first_order_at = Some(now() - Duration::days(90));
    let a = order.assess(&RiskConfig::default());
    assert_eq!(a.score, 0);
    assert_eq!(a.decision, RiskDecision::Approve);
    assert_eq!(a.reasons.len(), 1);
    let r = &a.reasons[0];
    assert_eq!(
        (r.code.as_str(), r.weight),
        (codes::ESTABLISHED_CUSTOMER, -10)
    );
    assert_eq!(
        r.description,
        "established customer: 20 orders since 2024-12-14 (90 days; established from 20 \
         orders and 90 days)"
    );
}

#[test]
fn established_customer_needs_both_orders_and_age() {
    let cfg = RiskConfig::default();
    let mut order = Order::new();
    order.history.orders = 19;
    order.history.first_order_at = Some(now() - Duration::days(400));
    assert!(order.codes(&cfg).is_empty(), "19 orders");
    order.history.orders = 20;
    order.history.first_order_at = Some(now() - Duration::days(90) + Duration::seconds(1));
    assert!(order.codes(&cfg).is_empty(), "one second short of 90 days");
    order.history.first_order_at = None;
    assert!(order.codes(&cfg).is_empty(), "no first order date");
}

#[test]
fn established_credit_offsets_a_mild_sign() {
    // Given an established customer whose order is 3.2× their average
    let mut order = Order::new();
    order.history.orders = 40;
    order.history.total_minor = 40 * 500_000;
    order.history.first_order_at = Some(now() - Duration::days(365));
    order.total = Some(npr(1_600_000));
    // When scored, then the credit is subtracted from the rule's weight
    let a = order.assess(&RiskConfig::default());
    assert_eq!(a.score, 20);
    assert_eq!(a.decision, RiskDecision::Approve);
}

#[test]
fn value_vs_history_fires_above_the_ratio_not_at_it() {
    let cfg = RiskConfig::default();
    let mut order = Order::new();
    // Given an average of NPR 5,000.00, when the order is exactly 3× that, then nothing fires
    order.total = Some(npr(1_500_000));
    assert!(order.codes(&cfg).is_empty());
    // When it is one paisa more, then the rule fires and the order goes to review
    order.total = Some(npr(1_500_001));
    let a = order.assess(&cfg);
    assert_eq!(find(&a, codes::VALUE_VS_HISTORY).weight, 30);
    assert_eq!((a.score, a.decision), (30, RiskDecision::Review));
}

#[test]
fn value_vs_history_describes_the_numbers() {
    let mut order = Order::new();
    order.history.orders = 4;
    order.history.total_minor = 2_900_000;
    order.total = Some(npr(4_500_000));
    let a = order.assess(&RiskConfig::default());
    assert_eq!(
        find(&a, codes::VALUE_VS_HISTORY).description,
        "order value NPR 45,000.00 is 6.2× the customer's average of NPR 7,250.00 over 4 \
         orders (threshold 3×)"
    );
}

#[test]
fn value_vs_history_needs_enough_history_and_a_known_value() {
    let cfg = RiskConfig::default();
    let mut order = Order::new();
    order.history.orders = 2;
    order.history.total_minor = 200_000;
    order.total = Some(npr(10_000_000));
    assert!(
        !order
            .codes(&cfg)
            .contains(&codes::VALUE_VS_HISTORY.to_owned())
    );
    order.history.orders = 3;
    order.history.total_minor = 300_000;
    assert!(
        order
            .codes(&cfg)
            .contains(&codes::VALUE_VS_HISTORY.to_owned())
    );
    order.total = None;
    assert!(order.codes(&cfg).is_empty(), "no estimate, no value rule");
    order.total = Some(Money {
        amount_minor: 10_000_000,
        currency: "INR".into(),
    });
    assert!(
        order.codes(&cfg).is_empty(),
        "another currency is not compared"
    );
}

#[test]
fn velocity_fires_above_the_hourly_or_daily_limit_not_at_it() {
    let cfg = RiskConfig::default();
    let mut order = Order::new();
    order.history.orders_last_hour = 3;
    order.history.orders_last_day = 10;
    assert!(order.codes(&cfg).is_empty(), "at both limits");

    order.history.orders_last_hour = 4;
    let a = order.assess(&cfg);
    let r = find(&a, codes::VELOCITY);
    assert_eq!(r.weight, 40);
    assert_eq!(
        r.description,
        "customer placed 4 orders in the last hour (limit 3) before this order"
    );

    order.history.orders_last_hour = 0;
    order.history.orders_last_day = 11;
    let a = order.assess(&cfg);
    assert_eq!(
        find(&a, codes::VELOCITY).description,
        "customer placed 11 orders in the last 24 hours (limit 10) before this order"
    );

    order.history.orders_last_hour = 5;
    let a = order.assess(&cfg);
    assert_eq!(
        a.reasons.len(),
        1,
        "one reason, counted once: {:#?}",
        a.reasons
    );
    assert_eq!(a.score, 40);
    assert!(
        a.reasons[0]
            .description
            .contains(" and 11 orders in the last 24 hours")
    );
}

#[test]
fn new_customer_high_value_fires_at_the_limit_not_below() {
    let cfg = RiskConfig::default();
    let mut order = Order::new();
    order.history = CustomerHistory::default();
    order.total = Some(npr(2_499_999));
    assert!(order.codes(&cfg).is_empty());

    order.total = Some(npr(2_500_000));
    let a = order.assess(&cfg);
    let r = find(&a, codes::NEW_CUSTOMER_HIGH_VALUE);
    assert_eq!(r.weight, 40);
    assert_eq!(
        r.description,
        "first order from this customer is worth NPR 25,000.00, at or above the new-customer \
         limit of NPR 25,000.00"
    );
    assert_eq!((a.score, a.decision), (40, RiskDecision::Review));

    // A customer with one previous order is not new.
    order.history.orders = 1;
    order.history.total_minor = 100_000;
    assert!(
        !order
            .codes(&cfg)
            .contains(&codes::NEW_CUSTOMER_HIGH_VALUE.to_owned())
    );
}

#[test]
fn unmatched_lines_fires_at_the_share_not_below() {
    let cfg = RiskConfig::default();
    let mut order = Order::new();
    order.lines = matched_lines(5);
    order.lines[0].matched = false;
    order.lines[1].matched = false;
    assert!(order.codes(&cfg).is_empty(), "2 of 5 is below half");

    order.lines[4].matched = false;
    let a = order.assess(&cfg);
    let r = find(&a, codes::UNMATCHED_LINES);
    assert_eq!(r.weight, 30);
    assert_eq!(
        r.description,
        "3 of 5 lines (60%) could not be matched to the catalogue (threshold 50%)"
    );

    order.lines = matched_lines(4);
    order.lines[0].matched = false;
    order.lines[3].matched = false;
    assert_eq!(
        order.codes(&cfg),
        vec![codes::UNMATCHED_LINES],
        "2 of 4 is exactly half"
    );

    order.lines.clear();
    assert!(order.codes(&cfg).is_empty(), "no lines, nothing to judge");
}

#[test]
fn quantity_anomaly_fires_above_the_unit_limit_not_at_it() {
    let cfg = RiskConfig::default();
    let mut order = Order::new();
    order.lines[1].quantity = 500.0;
    assert!(order.codes(&cfg).is_empty(), "500 kg is the limit");

    order.lines[1].quantity = 500.5;
    let a = order.assess(&cfg);
    let r = find(&a, codes::QUANTITY_ANOMALY);
    assert_eq!(r.weight, 30);
    assert_eq!(
        r.description,
        "line 2 (\"Item 2\"): 500.5 kg is above the 500 kg limit per line"
    );

    // Units are compared case-insensitively; units without a limit have none.
    order.lines[1] = line(2, false, 2001.0, " Piece");
    assert_eq!(order.codes(&cfg), vec![codes::QUANTITY_ANOMALY]);
    order.lines[1] = line(2, true, 1_000_000.0, "sack");
    assert!(order.codes(&cfg).is_empty());
}

#[test]
fn quantity_anomaly_fires_for_a_line_total_above_the_limit() {
    let cfg = RiskConfig::default();
    let mut order = Order::new();
    order.lines[2].line_total = Some(npr(20_000_000));
    assert!(order.codes(&cfg).is_empty(), "NPR 200,000.00 is the limit");

    order.lines[2].line_total = Some(npr(25_000_000));
    order.lines[2].unit = "dozen".into();
    order.lines[2].quantity = 250.0;
    let a = order.assess(&cfg);
    assert_eq!(
        find(&a, codes::QUANTITY_ANOMALY).description,
        "line 3 (\"Item 3\"): 250 dozen is above the 200 dozen limit per line and line total \
         NPR 250,000.00 is above the NPR 200,000.00 limit per line"
    );
}

#[test]
fn blocked_phone_in_another_format_is_rejected_with_score_100() {
    let mut cfg = RiskConfig::default();
    cfg.blocked.phones = vec!["9801234567".into(), "01-4123456".into()];
    for phone in [
        "+977 980-123 4567",
        "00977 9801234567",
        "980 123 4567",
        "+977-1-4123456",
        "014123456",
    ] {
        // Given an otherwise clean order from a blocked phone
        let mut order = Order::new();
        order.phone = Some(phone);
        // When scored
        let a = order.assess(&cfg);
        // Then it is rejected outright
        assert_eq!(
            (a.score, a.decision),
            (100, RiskDecision::Reject),
            "{phone}"
        );
        let r = find(&a, codes::BLOCKED);
        assert_eq!(r.weight, BLOCKED_WEIGHT);
        assert_eq!(
            r.description,
            format!("contact phone {phone} is on the block list")
        );
    }
    // A different number, or one that only shares a suffix, is not blocked.
    let mut order = Order::new();
    for phone in ["9801234568", "4123456", "n/a"] {
        order.phone = Some(phone);
        assert!(order.codes(&cfg).is_empty(), "{phone}");
    }
}

#[test]
fn blocked_customer_is_rejected_even_with_the_established_credit() {
    let mut cfg = RiskConfig::default();
    cfg.blocked.customer_ids = vec!["shop-0042".into()];
    cfg.blocked.phones = vec!["+9779801234567".into()];
    let mut order = Order::new();
    order.history.orders = 50;
    order.history.total_minor = 50 * 500_000;
    order.history.first_order_at = Some(now() - Duration::days(500));
    let a = order.assess(&cfg);
    assert_eq!((a.score, a.decision), (100, RiskDecision::Reject));
    assert_eq!(
        a.reasons
            .iter()
            .map(|r| r.code.as_str())
            .collect::<Vec<_>>(),
        vec![codes::BLOCKED, codes::ESTABLISHED_CUSTOMER]
    );
    assert_eq!(
        a.reasons[0].description,
        "customer shop-0042 and contact phone 9801234567 are on the block list"
    );
}

#[test]
fn decision_follows_the_thresholds() {
    // Given only the unmatched-lines rule firing, with its weight set to each boundary
    let mut order = Order::new();
    order.lines[0].matched = false;
    order.lines[1].matched = false;
    let cfg = RiskConfig::default();
    for (weight, score, decision) in [
        (29, 29, RiskDecision::Approve),
        (30, 30, RiskDecision::Review),
        (79, 79, RiskDecision::Review),
        (80, 80, RiskDecision::Reject),
        (100, 100, RiskDecision::Reject),
    ] {
        let mut cfg = cfg.clone();
        cfg.unmatched_lines.weight = weight;
        let a = order.assess(&cfg);
        assert_eq!((a.score, a.decision), (score, decision), "weight {weight}");
    }
}

#[test]
fn score_is_clamped_and_two_strong_signs_reject() {
    // Given a brand-new customer placing a burst of large, implausible orders
    let mut order = Order::new();
    order.history = CustomerHistory {
        orders_last_hour: 6,
        orders_last_day: 6,
        ..CustomerHistory::default()
    };
    order.total = Some(npr(30_000_000));
    order.lines[0].quantity = 900.0;
    order.lines[1].matched = false;
    order.lines[2].matched = false;
    // When scored, then 40 + 40 + 30 + 30 = 140 is clamped to 100
    let a = order.assess(&RiskConfig::default());
    assert_eq!((a.score, a.decision), (100, RiskDecision::Reject));
    assert_eq!(a.reasons.iter().map(|r| r.weight).sum::<i32>(), 140);

    // Velocity and a high first order alone are enough to reject by default.
    order.lines = matched_lines(3);
    let a = order.assess(&RiskConfig::default());
    assert_eq!((a.score, a.decision), (80, RiskDecision::Reject));
}

#[test]
fn reasons_are_sorted_by_weight_then_code_and_output_is_deterministic() {
    let mut cfg = RiskConfig::default();
    cfg.unmatched_lines.weight = 40; // ties with velocity and new_customer_high_value
    let mut order = Order::new();
    order.history = CustomerHistory {
        orders_last_hour: 9,
        orders_last_day: 9,
        ..CustomerHistory::default()
    };
    order.total = Some(npr(5_000_000));
    order.lines[0] = line(1, false, 900.0, "kg");
    order.lines[1].matched = false;
    let first = order.assess(&cfg);
    assert_eq!(
        first
            .reasons
            .iter()
            .map(|r| (r.code.as_str(), r.weight))
            .collect::<Vec<_>>(),
        vec![
            (codes::NEW_CUSTOMER_HIGH_VALUE, 40),
            (codes::UNMATCHED_LINES, 40),
            (codes::VELOCITY, 40),
            (codes::QUANTITY_ANOMALY, 30),
        ]
    );
    for _ in 0..3 {
        assert_eq!(
            serde_json::to_string(&order.assess(&cfg)).unwrap(),
            serde_json::to_string(&first).unwrap()
        );
    }
}

#[test]
fn a_rule_with_weight_zero_is_switched_off() {
    let mut cfg = RiskConfig::default();
    cfg.velocity.weight = 0;
    let mut order = Order::new();
    order.history.orders_last_hour = 50;
    order.history.orders_last_day = 50;
    assert!(order.codes(&cfg).is_empty());
}

#[test]
fn money_is_formatted_with_separators_and_two_decimals() {
    assert_eq!(format_money("NPR", 0), "NPR 0.00");
    assert_eq!(format_money("NPR", 5), "NPR 0.05");
    assert_eq!(format_money("NPR", 100_000), "NPR 1,000.00");
    assert_eq!(format_money("NPR", 72_500), "NPR 725.00");
    assert_eq!(format_money("NPR", 123_456_789), "NPR 1,234,567.89");
    assert_eq!(format_money("NPR", -4_500_050), "NPR -45,000.50");
    assert_eq!(
        format_money("NPR", i64::MIN),
        "NPR -92,233,720,368,547,758.08"
    );
}

#[test]
fn phones_normalize_to_the_national_number() {
    for (raw, want) in [
        ("+977 980-123 4567", "9801234567"),
        ("009779801234567", "9801234567"),
        ("9801234567", "9801234567"),
        ("977-1-4123456", "14123456"),
        ("01-4123456", "14123456"),
        ("(061) 520 123", "61520123"),
        ("n/a", ""),
    ] {
        assert_eq!(normalize_phone(raw), want, "{raw}");
    }
}

#[test]
fn shipped_risk_json_is_exactly_the_default() {
    let shipped = RiskConfig::from_json(include_bytes!("../../risk.json")).unwrap();
    assert_eq!(shipped, RiskConfig::default());
    RiskConfig::default().validate().unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("risk.json");
    assert_eq!(RiskConfig::load(&path).unwrap(), RiskConfig::default());
}

#[test]
fn missing_fields_take_their_defaults() {
    let cfg =
        RiskConfig::from_json(br#"{"review_at": 40, "velocity": {"max_orders_per_hour": 5}}"#)
            .unwrap();
    assert_eq!(cfg.review_at, 40);
    assert_eq!(cfg.velocity.max_orders_per_hour, 5);
    assert_eq!(cfg.velocity.weight, VelocityRule::default().weight);
    assert_eq!(cfg.reject_at, RiskConfig::default().reject_at);
}

#[test]
fn invalid_configs_say_which_field_and_what_to_fix() {
    let cases: &[(&str, &str, &str)] = &[
        (
            r#"{"review_at": 80, "reject_at": 80}"#,
            "review_at",
            "must be below reject_at, got review_at 80 and reject_at 80",
        ),
        (
            r#"{"reject_at": 101}"#,
            "reject_at",
            "must be 0..=100, got 101",
        ),
        (r#"{"currency": "npr"}"#, "currency", "ISO 4217"),
        (
            r#"{"value_vs_history": {"value_ratio": 0}}"#,
            "value_vs_history.value_ratio",
            "must be a number above 0",
        ),
        (
            r#"{"value_vs_history": {"min_history_orders": 0}}"#,
            "value_vs_history.min_history_orders",
            "at least 1",
        ),
        (
            r#"{"velocity": {"max_orders_per_hour": 5, "max_orders_per_day": 4}}"#,
            "velocity.max_orders_per_day",
            "must be at least max_orders_per_hour (5), got 4",
        ),
        (
            r#"{"unmatched_lines": {"min_share": 1.5}}"#,
            "unmatched_lines.min_share",
            "at most 1",
        ),
        (
            r#"{"velocity": {"weight": -5}}"#,
            "velocity.weight",
            "must be 0..=100",
        ),
        (
            r#"{"established_customer": {"weight": 10}}"#,
            "established_customer.weight",
            "must be -100..=0",
        ),
        (
            r#"{"quantity_anomaly": {"max_quantity_per_unit": {"kg": 0}}}"#,
            "quantity_anomaly.max_quantity_per_unit.kg",
            "must be above 0",
        ),
        (
            r#"{"quantity_anomaly": {"max_quantity_per_unit": {"KG": 5}}}"#,
            "quantity_anomaly.max_quantity_per_unit",
            "lowercase",
        ),
        (
            r#"{"new_customer_high_value": {"min_value_minor": 0}}"#,
            "new_customer_high_value.min_value_minor",
            "must be above 0",
        ),
        (
            r#"{"blocked": {"phones": ["unknown"]}}"#,
            "blocked.phones",
            "has no digits",
        ),
    ];
    for (json, field, problem) in cases {
        let err = RiskConfig::from_json(json.as_bytes()).unwrap_err();
        let RiskConfigError::Invalid { field: got, .. } = &err else {
            panic!("{json}: expected Invalid, got {err}");
        };
        assert_eq!(got, field, "{json}");
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!("risk config: `{field}` ")),
            "{msg}"
        );
        assert!(msg.contains(problem), "{json}: {msg}");
    }
}

#[test]
fn unknown_fields_and_unreadable_files_are_explained() {
    let err = RiskConfig::from_json(br#"{"velocity": {"max_per_hour": 3}}"#).unwrap_err();
    assert!(matches!(err, RiskConfigError::Parse { .. }), "{err}");
    assert!(
        err.to_string().contains("unknown field `max_per_hour`"),
        "{err}"
    );

    let err = RiskConfig::load(Path::new("/nonexistent/risk.json")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot read risk config /nonexistent/risk.json:"),
        "{err}"
    );
}

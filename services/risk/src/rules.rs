//! Explainable risk scoring: weighted rules over an enriched order and the customer's history.
//!
//! Every rule that fires adds a [`RiskReason`] with a stable snake_case `code` (see [`codes`]), a
//! description with the actual numbers, and the rule's weight. The score is the sum of the weights
//! clamped to 0..=100; [`RiskConfig::review_at`] and [`RiskConfig::reject_at`] turn it into a
//! decision. A blocked customer id or phone is rejected with score 100 whatever the other rules say.
//!
//! [`assess`] is pure: the caller passes the history and the clock, so the same input always gives
//! the same assessment, and replaying the log scores orders the same way.
//!
//! Money is integer minor units (paisa for NPR) throughout; the only floats are ratios, shares and
//! line quantities (which the enricher reports as `f64`).

mod config;

use chrono::{DateTime, Duration, Utc};
use orders_events::{EnrichedLine, Money, OrderRiskAssessed, RiskDecision, RiskReason};

pub use config::*;

/// What the scorer knows about a customer's orders *before* the one being scored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerHistory {
    /// Orders placed before this one.
    pub orders: u64,
    /// Sum of their values, minor units in [`RiskConfig::currency`].
    pub total_minor: i64,
    /// When the first of them was placed.
    pub first_order_at: Option<DateTime<Utc>>,
    /// Orders placed in the hour before this one.
    pub orders_last_hour: u32,
    /// Orders placed in the 24 hours before this one.
    pub orders_last_day: u32,
}

/// One order to score.
#[derive(Debug, Clone, Copy)]
pub struct RiskInput<'a> {
    pub customer_id: &'a str,
    pub contact_phone: Option<&'a str>,
    pub lines: &'a [EnrichedLine],
    /// The enricher's estimate; without it (or in another currency) the value rules stay silent.
    pub estimated_total: Option<&'a Money>,
    pub history: &'a CustomerHistory,
    /// The time the order is scored at (the event time, so that replays agree).
    pub now: DateTime<Utc>,
}

/// Scores one order. Reasons are sorted by weight (highest first), then by code, so the same input
/// always gives byte-identical output.
///
/// The event also carries what the router needs: `categories` (of the matched lines, sorted,
/// without repeats) and `estimated_total` (as given). `order` is left `None`: the caller sets it
/// from the `OrderFacts` it received with `OrderEnriched`.
pub fn assess(cfg: &RiskConfig, input: &RiskInput<'_>) -> OrderRiskAssessed {
    let value = input
        .estimated_total
        .filter(|m| m.currency == cfg.currency)
        .map(|m| m.amount_minor);

    let blocked = blocked(cfg, input);
    let is_blocked = blocked.is_some();
    let mut reasons: Vec<RiskReason> = [
        blocked,
        value_vs_history(cfg, input.history, value),
        velocity(cfg, input.history),
        new_customer_high_value(cfg, input.history, value),
        unmatched_lines(cfg, input.lines),
        quantity_anomaly(cfg, input.lines),
        established_customer(cfg, input.history, input.now),
    ]
    .into_iter()
    .flatten()
    .collect();
    reasons.sort_by(|a, b| b.weight.cmp(&a.weight).then_with(|| a.code.cmp(&b.code)));

    let score = if is_blocked {
        100
    } else {
        let sum = reasons
            .iter()
            .fold(0i32, |sum, r| sum.saturating_add(r.weight));
        u8::try_from(sum.clamp(0, 100)).unwrap_or(100)
    };
    let decision = if is_blocked || score >= cfg.reject_at {
        RiskDecision::Reject
    } else if score >= cfg.review_at {
        RiskDecision::Review
    } else {
        RiskDecision::Approve
    };
    let mut categories: Vec<String> = input
        .lines
        .iter()
        .filter(|l| l.matched)
        .filter_map(|l| l.category.clone())
        .collect();
    categories.sort();
    categories.dedup();
    OrderRiskAssessed {
        // The caller holds the order's facts (this function only sees what the rules need) and
        // must set them before publishing: `None` means "upcast from v1" to readers.
        order: None,
        categories: Some(categories),
        estimated_total: input.estimated_total.cloned(),
        score,
        decision,
        reasons,
    }
}

fn reason(code: &str, weight: i32, description: String) -> RiskReason {
    RiskReason {
        code: code.to_owned(),
        description,
        weight,
    }
}

fn value_vs_history(
    cfg: &RiskConfig,
    history: &CustomerHistory,
    value: Option<i64>,
) -> Option<RiskReason> {
    let rule = &cfg.value_vs_history;
    let value = value?;
    if rule.weight == 0 || history.orders < rule.min_history_orders || history.total_minor <= 0 {
        return None;
    }
    // value > ratio × (total / orders), multiplied out so that the boundary is exact for whole
    // ratios: an order of exactly 3× the average does not fire.
    let orders = history.orders as f64;
    if (value as f64) * orders <= rule.value_ratio * history.total_minor as f64 {
        return None;
    }
    let average = average_minor(history.total_minor, history.orders);
    let ratio = value as f64 * orders / history.total_minor as f64;
    Some(reason(
        codes::VALUE_VS_HISTORY,
        rule.weight,
        format!(
            "order value {} is {}× the customer's average of {} over {} orders (threshold {}×)",
            format_money(&cfg.currency, value),
            format_decimal(ratio, 1),
            format_money(&cfg.currency, average),
            history.orders,
            format_decimal(rule.value_ratio, 2),
        ),
    ))
}

/// `total / orders` rounded half up, without overflow.
fn average_minor(total: i64, orders: u64) -> i64 {
    let (total, orders) = (i128::from(total), i128::from(orders.max(1)));
    i64::try_from((total + orders / 2) / orders).unwrap_or(i64::MAX)
}

fn velocity(cfg: &RiskConfig, history: &CustomerHistory) -> Option<RiskReason> {
    let rule = &cfg.velocity;
    if rule.weight == 0 {
        return None;
    }
    let mut parts = Vec::new();
    if history.orders_last_hour > rule.max_orders_per_hour {
        parts.push(format!(
            "{} orders in the last hour (limit {})",
            history.orders_last_hour, rule.max_orders_per_hour
        ));
    }
    if history.orders_last_day > rule.max_orders_per_day {
        parts.push(format!(
            "{} orders in the last 24 hours (limit {})",
            history.orders_last_day, rule.max_orders_per_day
        ));
    }
    if parts.is_empty() {
        return None;
    }
    Some(reason(
        codes::VELOCITY,
        rule.weight,
        format!("customer placed {} before this order", parts.join(" and ")),
    ))
}

fn new_customer_high_value(
    cfg: &RiskConfig,
    history: &CustomerHistory,
    value: Option<i64>,
) -> Option<RiskReason> {
    let rule = &cfg.new_customer_high_value;
    let value = value?;
    if rule.weight == 0 || history.orders > 0 || value < rule.min_value_minor {
        return None;
    }
    Some(reason(
        codes::NEW_CUSTOMER_HIGH_VALUE,
        rule.weight,
        format!(
            "first order from this customer is worth {}, at or above the new-customer limit of {}",
            format_money(&cfg.currency, value),
            format_money(&cfg.currency, rule.min_value_minor),
        ),
    ))
}

fn unmatched_lines(cfg: &RiskConfig, lines: &[EnrichedLine]) -> Option<RiskReason> {
    let rule = &cfg.unmatched_lines;
    if rule.weight == 0 || lines.is_empty() {
        return None;
    }
    let unmatched = lines.iter().filter(|l| !l.matched).count();
    let share = unmatched as f64 / lines.len() as f64;
    // Compared multiplied out so that 2 of 4 lines is exactly the 0.5 threshold.
    if (unmatched as f64) < rule.min_share * lines.len() as f64 {
        return None;
    }
    Some(reason(
        codes::UNMATCHED_LINES,
        rule.weight,
        format!(
            "{unmatched} of {} lines ({}%) could not be matched to the catalogue (threshold {}%)",
            lines.len(),
            format_decimal(share * 100.0, 0),
            format_decimal(rule.min_share * 100.0, 1),
        ),
    ))
}

fn quantity_anomaly(cfg: &RiskConfig, lines: &[EnrichedLine]) -> Option<RiskReason> {
    let rule = &cfg.quantity_anomaly;
    if rule.weight == 0 {
        return None;
    }
    let mut findings = Vec::new();
    for line in lines {
        let unit = line.unit.trim().to_lowercase();
        let mut problems = Vec::new();
        if let Some(&max) = rule.max_quantity_per_unit.get(&unit)
            && line.quantity > max
        {
            problems.push(format!(
                "{} {unit} is above the {} {unit} limit per line",
                format_decimal(line.quantity, 3),
                format_decimal(max, 3),
            ));
        }
        if let Some(total) = &line.line_total
            && total.currency == cfg.currency
            && total.amount_minor > rule.max_line_total_minor
        {
            problems.push(format!(
                "line total {} is above the {} limit per line",
                format_money(&cfg.currency, total.amount_minor),
                format_money(&cfg.currency, rule.max_line_total_minor),
            ));
        }
        if !problems.is_empty() {
            let label = line.name.as_deref().unwrap_or(&line.raw);
            findings.push(format!(
                "line {} ({label:?}): {}",
                line.line_no,
                problems.join(" and ")
            ));
        }
    }
    if findings.is_empty() {
        return None;
    }
    Some(reason(
        codes::QUANTITY_ANOMALY,
        rule.weight,
        findings.join("; "),
    ))
}

fn blocked(cfg: &RiskConfig, input: &RiskInput<'_>) -> Option<RiskReason> {
    let list = &cfg.blocked;
    let mut hits = Vec::new();
    if list.customer_ids.iter().any(|id| id == input.customer_id) {
        hits.push(format!("customer {}", input.customer_id));
    }
    if let Some(phone) = input.contact_phone {
        let digits = normalize_phone(phone);
        if !digits.is_empty() && list.phones.iter().any(|p| normalize_phone(p) == digits) {
            hits.push(format!("contact phone {phone}"));
        }
    }
    let verb = match hits.len() {
        0 => return None,
        1 => "is",
        _ => "are",
    };
    Some(reason(
        codes::BLOCKED,
        BLOCKED_WEIGHT,
        format!("{} {verb} on the block list", hits.join(" and ")),
    ))
}

/// The national significant number: digits only, without a 00977/+977 country prefix or a
/// leading trunk 0, so "+977 1-4123456", "01-4123456" and "014123456" all read "14123456".
///
/// "977" is only taken for a country prefix when more than 10 digits follow from it: Nepali
/// mobile numbers are 10 digits, so a domestic number is never shortened.
pub(crate) fn normalize_phone(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.strip_prefix("00").unwrap_or(&digits);
    let digits = match digits.strip_prefix("977") {
        Some(rest) if digits.len() > 10 => rest,
        _ => digits,
    };
    digits.trim_start_matches('0').to_owned()
}

fn established_customer(
    cfg: &RiskConfig,
    history: &CustomerHistory,
    now: DateTime<Utc>,
) -> Option<RiskReason> {
    let rule = &cfg.established_customer;
    let first = history.first_order_at?;
    let age = now.signed_duration_since(first);
    if rule.weight == 0
        || history.orders < rule.min_orders
        || age < Duration::days(i64::from(rule.min_days))
    {
        return None;
    }
    Some(reason(
        codes::ESTABLISHED_CUSTOMER,
        rule.weight,
        format!(
            "established customer: {} orders since {} ({} days; established from {} orders and {} days)",
            history.orders,
            first.format("%Y-%m-%d"),
            age.num_days(),
            rule.min_orders,
            rule.min_days,
        ),
    ))
}

/// "NPR 1,234,567.89": the currency code, thousands separators and two decimals (every currency
/// the platform handles has 100 minor units). Western grouping, not lakh (1,00,000), because the
/// descriptions are read on dashboards alongside other western-grouped figures.
pub fn format_money(currency: &str, minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let digits = (abs / 100).to_string();
    let mut out = String::with_capacity(currency.len() + digits.len() * 4 / 3 + 5);
    out.push_str(currency);
    out.push(' ');
    out.push_str(sign);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out.push_str(&format!(".{:02}", abs % 100));
    out
}

/// `x` with at most `decimals` decimals and no trailing zeros: 3.0 → "3", 6.2069 → "6.2" (1).
fn format_decimal(x: f64, decimals: usize) -> String {
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

#[cfg(test)]
mod tests;

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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use orders_events::{EnrichedLine, Money, OrderRiskAssessed, RiskDecision, RiskReason};
use serde::{Deserialize, Serialize};

/// The reason codes [`assess`] emits. Review queues, dashboards and the read models filter on them:
/// renaming one is a breaking change.
pub mod codes {
    /// Order value far above the customer's own average.
    pub const VALUE_VS_HISTORY: &str = "value_vs_history";
    /// Too many orders in the last hour or day.
    pub const VELOCITY: &str = "velocity";
    /// A first order of high value.
    pub const NEW_CUSTOMER_HIGH_VALUE: &str = "new_customer_high_value";
    /// Many lines not matched to the catalogue.
    pub const UNMATCHED_LINES: &str = "unmatched_lines";
    /// A line with an implausible quantity or total.
    pub const QUANTITY_ANOMALY: &str = "quantity_anomaly";
    /// Customer id or contact phone on the block list.
    pub const BLOCKED: &str = "blocked";
    /// A long-standing customer (negative weight).
    pub const ESTABLISHED_CUSTOMER: &str = "established_customer";
}

/// The weight reported on a `blocked` reason. Not configurable: a block forces score 100 and a
/// rejection on its own, so the weight only tells a reader that this reason decided the order.
pub const BLOCKED_WEIGHT: i32 = 100;

/// Thresholds and weights of the risk rules.
///
/// Every field has a default (see `services/risk/risk.json`, which spells them out), so a config
/// file only needs the fields it changes. A rule whose weight is 0 is switched off.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RiskConfig {
    /// Score (0..=100) at or above which an order goes to manual review; must be below `reject_at`.
    pub review_at: u8,
    /// Score (0..=100) at or above which an order is rejected automatically.
    pub reject_at: u8,
    /// ISO 4217 code of every amount in this config and in the customer history. Order values and
    /// line totals in another currency are not compared with them.
    pub currency: String,
    /// `value_vs_history`: an order much larger than the customer's average.
    pub value_vs_history: ValueVsHistoryRule,
    /// `velocity`: many orders in a short time.
    pub velocity: VelocityRule,
    /// `new_customer_high_value`: a first order of high value.
    pub new_customer_high_value: NewCustomerHighValueRule,
    /// `unmatched_lines`: a large share of lines the enricher could not match.
    pub unmatched_lines: UnmatchedLinesRule,
    /// `quantity_anomaly`: a line with an implausible quantity or total.
    pub quantity_anomaly: QuantityAnomalyRule,
    /// `blocked`: customers and phones that are always rejected.
    pub blocked: BlockList,
    /// `established_customer`: a credit for long-standing customers.
    pub established_customer: EstablishedCustomerRule,
}

/// Settings of the `value_vs_history` rule.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ValueVsHistoryRule {
    /// Score added when the rule fires (0..=100; 0 switches it off).
    pub weight: i32,
    /// Previous orders needed before the average means anything (at least 1).
    pub min_history_orders: u64,
    /// The rule fires when the order value is more than this many times the average (> 0).
    pub value_ratio: f64,
}

/// Settings of the `velocity` rule. Counts are of the customer's orders *before* this one.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct VelocityRule {
    /// Score added when the rule fires (0..=100; 0 switches it off).
    pub weight: i32,
    /// The rule fires when more orders than this were placed in the last hour.
    pub max_orders_per_hour: u32,
    /// The rule fires when more orders than this were placed in the last 24 hours (≥ the hourly limit).
    pub max_orders_per_day: u32,
}

/// Settings of the `new_customer_high_value` rule.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct NewCustomerHighValueRule {
    /// Score added when the rule fires (0..=100; 0 switches it off).
    pub weight: i32,
    /// A first order worth this much or more (minor units, > 0) fires the rule.
    pub min_value_minor: i64,
}

/// Settings of the `unmatched_lines` rule.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct UnmatchedLinesRule {
    /// Score added when the rule fires (0..=100; 0 switches it off).
    pub weight: i32,
    /// The rule fires when at least this share of the lines (0 < share ≤ 1) is unmatched.
    pub min_share: f64,
}

/// Settings of the `quantity_anomaly` rule.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuantityAnomalyRule {
    /// Score added when the rule fires (0..=100; 0 switches it off).
    pub weight: i32,
    /// Largest plausible quantity on one line, per unit (lowercase unit as the enricher writes it
    /// → maximum, > 0). Units not listed have no quantity limit.
    pub max_quantity_per_unit: BTreeMap<String, f64>,
    /// Largest plausible total of one line (minor units, > 0).
    pub max_line_total_minor: i64,
}

/// Customers and phones whose orders are always rejected.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlockList {
    /// Customer ids, compared exactly.
    pub customer_ids: Vec<String>,
    /// Phone numbers in any format; compared by digits only, ignoring a +977/00977 country prefix
    /// and a leading trunk 0, so "+977 980-123 4567" matches "9801234567".
    pub phones: Vec<String>,
}

/// Settings of the `established_customer` rule.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EstablishedCustomerRule {
    /// Score added when the rule fires: a credit, so -100..=0 (0 switches it off).
    pub weight: i32,
    /// Previous orders needed to count as established (at least 1).
    pub min_orders: u64,
    /// Days since the first order needed to count as established.
    pub min_days: u32,
}

/// Defaults are chosen so that any single warning sign sends an order to review (every positive
/// weight is at least `review_at`; only an established customer's credit lets one 30-point sign
/// through), while an automatic rejection needs two strong signs that agree (e.g. velocity + new
/// high-value customer = 80), three signs, or a block: a wrong rejection loses a shop's order, a
/// review costs a few minutes of someone's time.
impl Default for RiskConfig {
    fn default() -> Self {
        RiskConfig {
            review_at: 30,
            reject_at: 80,
            currency: "NPR".to_owned(),
            value_vs_history: ValueVsHistoryRule::default(),
            velocity: VelocityRule::default(),
            new_customer_high_value: NewCustomerHighValueRule::default(),
            unmatched_lines: UnmatchedLinesRule::default(),
            quantity_anomaly: QuantityAnomalyRule::default(),
            blocked: BlockList::default(),
            established_customer: EstablishedCustomerRule::default(),
        }
    }
}

/// A shop's order swings with the season, so only a tripling of its usual value is suspicious, and
/// only once three orders make the average worth trusting.
impl Default for ValueVsHistoryRule {
    fn default() -> Self {
        ValueVsHistoryRule {
            weight: 30,
            min_history_orders: 3,
            value_ratio: 3.0,
        }
    }
}

/// Shops restock once or twice a day; a few quick corrections are normal, a burst is not.
impl Default for VelocityRule {
    fn default() -> Self {
        VelocityRule {
            weight: 40,
            max_orders_per_hour: 3,
            max_orders_per_day: 10,
        }
    }
}

/// NPR 25,000 is several times a typical first order of a small kirana shop.
impl Default for NewCustomerHighValueRule {
    fn default() -> Self {
        NewCustomerHighValueRule {
            weight: 40,
            min_value_minor: 2_500_000,
        }
    }
}

/// When half the lines could not be matched, the price and the picking list are guesses.
impl Default for UnmatchedLinesRule {
    fn default() -> Self {
        UnmatchedLinesRule {
            weight: 30,
            min_share: 0.5,
        }
    }
}

/// Limits well above what a shop sells between deliveries; a line above them is usually a typo
/// (an extra zero) or a unit mix-up (g read as kg).
impl Default for QuantityAnomalyRule {
    fn default() -> Self {
        let limits = [
            ("kg", 500.0),
            ("g", 500_000.0),
            ("l", 300.0),
            ("ml", 300_000.0),
            ("piece", 2000.0),
            ("dozen", 200.0),
            ("packet", 1000.0),
        ];
        QuantityAnomalyRule {
            weight: 30,
            max_quantity_per_unit: limits.iter().map(|&(u, m)| (u.to_owned(), m)).collect(),
            max_line_total_minor: 20_000_000,
        }
    }
}

/// Twenty orders over three months is a shop that pays and comes back.
impl Default for EstablishedCustomerRule {
    fn default() -> Self {
        EstablishedCustomerRule {
            weight: -10,
            min_orders: 20,
            min_days: 90,
        }
    }
}

/// A risk config that cannot be used; the message names the file or field and what to change.
#[derive(Debug, thiserror::Error)]
pub enum RiskConfigError {
    #[error("cannot read risk config {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{origin} is not a valid risk config: {source} \
         (see services/risk/risk.json for every field and its default)"
    )]
    Parse {
        /// "risk config" or "risk config <path>".
        origin: String,
        source: serde_json::Error,
    },
    #[error("{origin}: `{field}` {problem}")]
    Invalid {
        /// "risk config" or "risk config <path>".
        origin: String,
        /// Dotted path of the field, e.g. `value_vs_history.value_ratio`.
        field: String,
        /// What is wrong and how to fix it.
        problem: String,
    },
}

const ORIGIN: &str = "risk config";

impl RiskConfig {
    /// Parses a JSON config (missing fields take their defaults) and validates it.
    pub fn from_json(bytes: &[u8]) -> Result<RiskConfig, RiskConfigError> {
        Self::parse(bytes, ORIGIN)
    }

    /// Reads, parses and validates the JSON config at `path`.
    pub fn load(path: &Path) -> Result<RiskConfig, RiskConfigError> {
        let bytes = std::fs::read(path).map_err(|source| RiskConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&bytes, &format!("{ORIGIN} {}", path.display()))
    }

    fn parse(bytes: &[u8], origin: &str) -> Result<RiskConfig, RiskConfigError> {
        let cfg: RiskConfig =
            serde_json::from_slice(bytes).map_err(|source| RiskConfigError::Parse {
                origin: origin.to_owned(),
                source,
            })?;
        cfg.check()
            .map_err(|(field, problem)| RiskConfigError::Invalid {
                origin: origin.to_owned(),
                field,
                problem,
            })?;
        Ok(cfg)
    }

    /// Checks ranges and relations between fields; the error names the first bad field.
    pub fn validate(&self) -> Result<(), RiskConfigError> {
        self.check()
            .map_err(|(field, problem)| RiskConfigError::Invalid {
                origin: ORIGIN.to_owned(),
                field,
                problem,
            })
    }

    fn check(&self) -> Result<(), (String, String)> {
        let bad = |field: &str, problem: String| Err((field.to_owned(), problem));
        if self.review_at > 100 {
            return bad(
                "review_at",
                format!("must be 0..=100, got {}", self.review_at),
            );
        }
        if self.reject_at > 100 {
            return bad(
                "reject_at",
                format!("must be 0..=100, got {}", self.reject_at),
            );
        }
        if self.review_at >= self.reject_at {
            return bad(
                "review_at",
                format!(
                    "must be below reject_at, got review_at {} and reject_at {}; \
                     lower review_at or raise reject_at",
                    self.review_at, self.reject_at
                ),
            );
        }
        if self.currency.len() != 3 || !self.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return bad(
                "currency",
                format!(
                    "must be an ISO 4217 code such as \"NPR\", got {:?}",
                    self.currency
                ),
            );
        }
        for (field, weight) in [
            ("value_vs_history.weight", self.value_vs_history.weight),
            ("velocity.weight", self.velocity.weight),
            (
                "new_customer_high_value.weight",
                self.new_customer_high_value.weight,
            ),
            ("unmatched_lines.weight", self.unmatched_lines.weight),
            ("quantity_anomaly.weight", self.quantity_anomaly.weight),
        ] {
            if !(0..=100).contains(&weight) {
                return bad(
                    field,
                    format!("must be 0..=100 (0 switches the rule off), got {weight}"),
                );
            }
        }
        let established = &self.established_customer;
        if !(-100..=0).contains(&established.weight) {
            return bad(
                "established_customer.weight",
                format!(
                    "must be -100..=0 (it lowers the score; 0 switches the rule off), got {}",
                    established.weight
                ),
            );
        }
        if established.min_orders == 0 {
            return bad(
                "established_customer.min_orders",
                "must be at least 1".to_owned(),
            );
        }

        let value = &self.value_vs_history;
        if value.min_history_orders == 0 {
            return bad(
                "value_vs_history.min_history_orders",
                "must be at least 1: an average needs an order".to_owned(),
            );
        }
        if !(value.value_ratio.is_finite() && value.value_ratio > 0.0) {
            return bad(
                "value_vs_history.value_ratio",
                format!(
                    "must be a number above 0 (e.g. 3 for three times the average), got {}",
                    value.value_ratio
                ),
            );
        }
        let velocity = &self.velocity;
        if velocity.max_orders_per_day < velocity.max_orders_per_hour {
            return bad(
                "velocity.max_orders_per_day",
                format!(
                    "must be at least max_orders_per_hour ({}), got {}",
                    velocity.max_orders_per_hour, velocity.max_orders_per_day
                ),
            );
        }
        if self.new_customer_high_value.min_value_minor <= 0 {
            return bad(
                "new_customer_high_value.min_value_minor",
                format!(
                    "must be above 0 (minor units: 2500000 is {}), got {}",
                    format_money(&self.currency, 2_500_000),
                    self.new_customer_high_value.min_value_minor
                ),
            );
        }
        let share = self.unmatched_lines.min_share;
        if !(share > 0.0 && share <= 1.0) {
            return bad(
                "unmatched_lines.min_share",
                format!("must be above 0 and at most 1 (0.5 is half the lines), got {share}"),
            );
        }
        let quantity = &self.quantity_anomaly;
        for (unit, max) in &quantity.max_quantity_per_unit {
            if unit.is_empty() || unit.trim() != unit || unit.to_lowercase() != *unit {
                return bad(
                    "quantity_anomaly.max_quantity_per_unit",
                    format!(
                        "unit {unit:?} must be lowercase without spaces, as the enricher writes units"
                    ),
                );
            }
            if !(max.is_finite() && *max > 0.0) {
                return bad(
                    &format!("quantity_anomaly.max_quantity_per_unit.{unit}"),
                    format!("must be above 0 (remove the unit for no limit), got {max}"),
                );
            }
        }
        if quantity.max_line_total_minor <= 0 {
            return bad(
                "quantity_anomaly.max_line_total_minor",
                format!(
                    "must be above 0 (minor units), got {}",
                    quantity.max_line_total_minor
                ),
            );
        }
        if let Some(id) = self.blocked.customer_ids.iter().find(|id| id.is_empty()) {
            return bad(
                "blocked.customer_ids",
                format!("contains an empty id ({id:?}); remove it"),
            );
        }
        if let Some(phone) = self
            .blocked
            .phones
            .iter()
            .find(|p| normalize_phone(p).is_empty())
        {
            return bad(
                "blocked.phones",
                format!("entry {phone:?} has no digits; write the number, e.g. \"9801234567\""),
            );
        }
        Ok(())
    }
}

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
fn normalize_phone(phone: &str) -> String {
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

//! The rules' configuration (`risk.json`): weights, thresholds, the block list, and its validation.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{format_money, normalize_phone};

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

//! The product catalogue: what shops can order, in which unit, at what price.
//!
//! The shipped catalogue is `catalogue/catalogue.json`, compiled into the binary and read once
//! ([`Catalogue::builtin`]); [`Catalogue::load`] reads another file with the same shape:
//!
//! ```json
//! {"currency": "NPR", "products": [
//!   {"sku": "RICE-BAS", "name": "Basmati Rice", "aliases": ["basmati chamal"],
//!    "category": "rice_grains", "unit": "kg", "price_minor": 19800},
//!   {"sku": "RICE-BAS-5KG", "name": "Basmati Rice 5 kg Bag", "aliases": ["basmati chamal"],
//!    "category": "rice_grains", "unit": "bag", "price_minor": 98500, "pack": "5 kg"}
//! ]}
//! ```
//!
//! - SKUs read `FAMILY[-VARIANT…][-PACK]`, upper case: `RICE-BAS` (basmati sold loose per kg),
//!   `RICE-BAS-5KG` (the 5 kg bag), `OIL-SUN-1L`, `NOODLE-WAI-75G`, `FRZ-MOM-CHK-20` (a pack of
//!   20), `NOODLE-WAI-CTN` (a carton). Loose goods (sold per kg, l, piece, dozen or bundle) have
//!   no pack suffix; packaged goods do, and say what one unit holds in `pack`.
//! - `price_minor` is the wholesale price of one `unit` in minor units (paisa for NPR).
//! - `aliases` are the lower-case names shops use: romanised Nepali, Devanagari, other English
//!   spellings. A generic word ("chamal", "dal", "tel") is given to the variant most shops mean.
//! - Among equally good matches, the product listed first wins, so the usual variant comes first.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use orders_events::{EnrichedLine, Money};
use serde::Deserialize;

use crate::units::{self, Dimension, Unit};

/// The categories a product can be in.
pub const CATEGORIES: &[&str] = &[
    "rice_grains",
    "pulses",
    "flour",
    "oil_ghee",
    "spices",
    "sugar_salt",
    "tea_coffee",
    "dairy_eggs",
    "vegetables",
    "fruits",
    "snacks",
    "noodles",
    "beverages",
    "bakery",
    "household",
    "personal_care",
    "baby_care",
    "frozen",
];

/// The largest amount a `Money` in an event may hold: JSON numbers above 2^53 − 1 lose precision
/// in many readers, and the event schemas cap amounts there.
pub const MAX_AMOUNT_MINOR: i64 = (1 << 53) - 1;

const BUILTIN_JSON: &str = include_str!("../catalogue/catalogue.json");

/// One product as listed in the catalogue file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    /// Upper-case, unique, e.g. `"RICE-BAS-5KG"`.
    pub sku: String,
    /// English name as printed on invoices.
    pub name: String,
    /// Lower-case names shops use for it: romanised Nepali, Devanagari, other spellings.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// One of [`CATEGORIES`].
    pub category: String,
    /// The unit `price_minor` is per, by its canonical name ([`Unit::as_str`]).
    pub unit: String,
    /// Price of one `unit` in minor units of the catalogue's currency.
    pub price_minor: i64,
    /// What one `unit` holds, for packaged goods only: `"75 g"`, `"1 l"`, `"30 piece"`,
    /// `"30 packet"`. Lets "3 l sunflower oil" be priced as 3 one-litre bottles.
    #[serde(default)]
    pub pack: Option<String>,
}

impl Product {
    /// The unit the price is per (always `Some` in a validated catalogue).
    pub fn unit(&self) -> Option<Unit> {
        Unit::parse(&self.unit)
    }

    /// What one unit holds, e.g. `(75.0, Unit::G)` for a 75 g packet.
    pub fn pack_size(&self) -> Option<(f64, Unit)> {
        let parsed = units::parse_line(self.pack.as_deref()?);
        match (parsed.quantity, parsed.unit) {
            (Some(q), Some(u)) if q > 0.0 && q.is_finite() && parsed.rest.is_empty() => {
                Some((q, u))
            }
            _ => None,
        }
    }
}

/// A validated catalogue, indexed by SKU.
#[derive(Debug)]
pub struct Catalogue {
    currency: String,
    products: Vec<Product>,
    /// Upper-cased SKU → position in `products`.
    by_sku: HashMap<String, usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    currency: String,
    products: Vec<Product>,
}

/// Why a catalogue was refused. Each message says what to change in the file.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("cannot read the catalogue file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("catalogue file {path}: {source}")]
    InFile {
        path: PathBuf,
        #[source]
        source: Box<CatalogueError>,
    },
    #[error(
        "the catalogue is not JSON of the form {{\"currency\": \"NPR\", \"products\": [...]}} with \
         the fields sku, name, aliases, category, unit, price_minor and optional pack: {0}"
    )]
    Json(#[from] serde_json::Error),
    #[error(
        "currency {0:?} is not an ISO 4217 code; write three upper-case letters such as \"NPR\""
    )]
    Currency(String),
    #[error("the catalogue lists no products; add at least one to \"products\"")]
    Empty,
    #[error("{} invalid product(s): {}", .0.len(), join_problems(.0))]
    Invalid(Vec<ProductProblem>),
}

/// One thing wrong with one product of a catalogue file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductProblem {
    /// 1-based position in `products`.
    pub position: usize,
    pub sku: String,
    /// What is wrong and how to fix it.
    pub problem: String,
}

impl fmt::Display for ProductProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "product #{} ({}): {}",
            self.position,
            if self.sku.is_empty() {
                "no SKU"
            } else {
                &self.sku
            },
            self.problem
        )
    }
}

fn join_problems(problems: &[ProductProblem]) -> String {
    problems
        .iter()
        .map(ProductProblem::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl Catalogue {
    /// The catalogue shipped in `catalogue/catalogue.json`, parsed on first use.
    ///
    /// # Panics
    /// If the shipped file is invalid, which the tests of this module rule out.
    pub fn builtin() -> Arc<Catalogue> {
        static BUILTIN: OnceLock<Arc<Catalogue>> = OnceLock::new();
        BUILTIN
            .get_or_init(|| {
                Arc::new(
                    Catalogue::from_json(BUILTIN_JSON.as_bytes())
                        .unwrap_or_else(|e| panic!("the shipped catalogue is invalid: {e}")),
                )
            })
            .clone()
    }

    /// Reads a catalogue file (same shape as the shipped one) and validates it.
    pub fn load(path: &Path) -> Result<Catalogue, CatalogueError> {
        let bytes = std::fs::read(path).map_err(|source| CatalogueError::Read {
            path: path.to_owned(),
            source,
        })?;
        Catalogue::from_json(&bytes).map_err(|e| CatalogueError::InFile {
            path: path.to_owned(),
            source: Box::new(e),
        })
    }

    /// Parses and validates a catalogue: unique SKUs, known units and categories, positive
    /// prices, non-empty names, well-formed aliases and pack sizes. Every problem is reported,
    /// not just the first.
    pub fn from_json(bytes: &[u8]) -> Result<Catalogue, CatalogueError> {
        let file: CatalogueFile = serde_json::from_slice(bytes)?;
        if file.currency.len() != 3 || !file.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(CatalogueError::Currency(file.currency));
        }
        if file.products.is_empty() {
            return Err(CatalogueError::Empty);
        }
        let mut problems = Vec::new();
        let mut by_sku: HashMap<String, usize> = HashMap::with_capacity(file.products.len());
        for (i, product) in file.products.iter().enumerate() {
            let mut problem = |problem: String| {
                problems.push(ProductProblem {
                    position: i + 1,
                    sku: product.sku.clone(),
                    problem,
                })
            };
            if let Some(p) = sku_problem(&product.sku) {
                problem(p);
            } else if let Some(&first) = by_sku.get(&product.sku.to_ascii_uppercase()) {
                problem(format!(
                    "SKU is already used by product #{}; give each product its own SKU",
                    first + 1
                ));
            } else {
                by_sku.insert(product.sku.to_ascii_uppercase(), i);
            }
            for p in product_problems(product) {
                problem(p);
            }
        }
        if !problems.is_empty() {
            return Err(CatalogueError::Invalid(problems));
        }
        Ok(Catalogue {
            currency: file.currency,
            products: file.products,
            by_sku,
        })
    }

    /// The product with this SKU, ignoring ASCII case.
    pub fn get(&self, sku: &str) -> Option<&Product> {
        self.by_sku
            .get(&sku.trim().to_ascii_uppercase())
            .map(|&i| &self.products[i])
    }

    /// Every product, in file order (which is also the preference order among equal matches).
    pub fn products(&self) -> &[Product] {
        &self.products
    }

    /// ISO 4217 code of every price, e.g. `"NPR"`.
    pub fn currency(&self) -> &str {
        &self.currency
    }

    /// One compact line per product, `SKU | name | aliases | unit`, for prompts to AI
    /// providers. Packaged goods show what one unit holds: `bag (5 kg)`.
    pub fn prompt_listing(&self) -> String {
        let mut out = String::with_capacity(self.products.len() * 96);
        for p in &self.products {
            let aliases = if p.aliases.is_empty() {
                "-".to_owned()
            } else {
                p.aliases.join(", ")
            };
            out.push_str(&format!(
                "{} | {} | {} | {}",
                p.sku, p.name, aliases, p.unit
            ));
            if let Some(pack) = &p.pack {
                out.push_str(&format!(" ({pack})"));
            }
            out.push('\n');
        }
        out
    }
}

fn sku_problem(sku: &str) -> Option<String> {
    let well_formed = !sku.is_empty()
        && sku
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
        && !sku.starts_with('-')
        && !sku.ends_with('-')
        && !sku.contains("--");
    (!well_formed).then(|| {
        format!(
            "SKU {sku:?} is not of the form FAMILY-VARIANT-PACK; use upper-case letters, digits \
             and single dashes, e.g. \"RICE-BAS-5KG\""
        )
    })
}

fn product_problems(p: &Product) -> Vec<String> {
    let mut problems = Vec::new();
    if p.name.trim().is_empty() {
        problems.push("name is empty; give the English name printed on invoices".to_owned());
    }
    if !CATEGORIES.contains(&p.category.as_str()) {
        problems.push(format!(
            "unknown category {:?}; use one of {}",
            p.category,
            CATEGORIES.join(", ")
        ));
    }
    let unit = Unit::parse(&p.unit);
    match unit {
        None => problems.push(format!(
            "unknown unit {:?}; use one of {}",
            p.unit,
            Unit::ALL.map(Unit::as_str).join(", ")
        )),
        Some(u) if u.as_str() != p.unit => problems.push(format!(
            "unit {:?} should be written {:?}, as in events",
            p.unit,
            u.as_str()
        )),
        Some(_) => {}
    }
    if p.price_minor <= 0 {
        problems.push(format!(
            "price_minor is {}; it must be the positive price of one {} in minor units (paisa)",
            p.price_minor, p.unit
        ));
    } else if p.price_minor > MAX_AMOUNT_MINOR {
        problems.push(format!(
            "price_minor {} is larger than an event can carry ({MAX_AMOUNT_MINOR})",
            p.price_minor
        ));
    }
    let mut seen = HashSet::new();
    for alias in &p.aliases {
        if alias.trim().is_empty() {
            problems.push("an alias is empty; remove it".to_owned());
        } else if *alias != alias.to_lowercase() || alias.trim() != alias {
            problems.push(format!(
                "alias {alias:?} must be lower-case without surrounding spaces: {:?}",
                alias.trim().to_lowercase()
            ));
        } else if !seen.insert(alias.as_str()) {
            problems.push(format!("alias {alias:?} is listed twice; remove one"));
        }
    }
    if let Some(pack) = &p.pack {
        match (unit, p.pack_size()) {
            (Some(u), _) if u.dimension() != Dimension::Packaging => problems.push(format!(
                "pack {pack:?} is only for packaged goods; a product sold per {} needs none",
                p.unit
            )),
            (_, None) => problems.push(format!(
                "pack {pack:?} is not a quantity and a unit; write what one {} holds, e.g. \
                 \"75 g\", \"1 l\" or \"30 piece\"",
                p.unit
            )),
            (Some(u), Some((_, pack_unit))) if pack_unit == u => problems.push(format!(
                "pack {pack:?} is in the product's own unit; write what one {} holds in another \
                 unit, e.g. \"75 g\"",
                p.unit
            )),
            _ => {}
        }
    }
    problems
}

/// Prices `quantity` `unit` of `product` as an order line (matched = true).
///
/// The quantity is first expressed in the product's unit: 500 g of a per-kg product is 0.5 kg,
/// 10 pieces of a per-dozen one are 0.83 dozen, and 3 l of a product sold in 1 l bottles are
/// 3 bottles (only whole packs count: 2.5 l of 1 l bottles is not a number of bottles). When
/// that is not possible the line keeps the given quantity and unit and has no prices.
///
/// `line_total` is `quantity × unit price` rounded half up to a whole minor unit, computed in
/// integers when the quantity has at most three decimals; it is `None` (with `unit_price` kept)
/// when the quantity is not positive or the total does not fit an event.
pub fn price_line(
    product: &Product,
    currency: &str,
    line_no: u32,
    raw: &str,
    quantity: f64,
    unit: Unit,
    confidence: f64,
) -> EnrichedLine {
    let mut line = EnrichedLine {
        line_no,
        raw: raw.to_owned(),
        matched: true,
        sku: Some(product.sku.clone()),
        name: Some(product.name.clone()),
        category: Some(product.category.clone()),
        quantity,
        unit: unit.as_str().to_owned(),
        unit_price: None,
        line_total: None,
        confidence: clamp_confidence(confidence),
    };
    let Some(conversion) = to_product_unit(product, quantity, unit) else {
        return line;
    };
    let (num, den) = (conversion.num, conversion.den);
    line.quantity = quantity * num as f64 / den as f64;
    if conversion.whole_packs {
        // 3 × 1000 / 1000 can come out as 2.9999999999999996.
        line.quantity = line.quantity.round();
    }
    let product_unit = conversion.unit;
    line.unit = product_unit.as_str().to_owned();
    let money = |amount_minor| Money {
        amount_minor,
        currency: currency.to_owned(),
    };
    line.unit_price = Some(money(product.price_minor));
    line.line_total = total_minor(quantity, num, den, product.price_minor).map(money);
    line
}

/// How a quantity becomes one in the product's unit: `quantity × num / den`.
struct Conversion {
    unit: Unit,
    num: u128,
    den: u128,
    /// Converted through the pack size, into a whole number of packs.
    whole_packs: bool,
}

/// The conversion into the product's unit, if the units convert directly or through whole packs.
fn to_product_unit(product: &Product, quantity: f64, unit: Unit) -> Option<Conversion> {
    let product_unit = product.unit()?;
    if let Some((num, den)) = units::ratio(unit, product_unit) {
        return Some(Conversion {
            unit: product_unit,
            num: num.into(),
            den: den.into(),
            whole_packs: false,
        });
    }
    let (pack_quantity, pack_unit) = product.pack_size()?;
    let (num, den) = units::ratio(unit, pack_unit)?;
    // Pack sizes have at most three decimals ("2.25 l"), so they are exact in thousandths.
    let pack_milli = (pack_quantity * 1000.0).round();
    if !(1.0..=1e12).contains(&pack_milli) {
        return None;
    }
    let (num, den) = (u128::from(num) * 1000, u128::from(den) * pack_milli as u128);
    let packs = quantity * num as f64 / den as f64;
    let whole = packs >= 1.0 && (packs - packs.round()).abs() <= 1e-9 * packs;
    whole.then_some(Conversion {
        unit: product_unit,
        num,
        den,
        whole_packs: true,
    })
}

/// `quantity × num / den × price`, rounded half up; `None` when not positive or too large.
fn total_minor(quantity: f64, num: u128, den: u128, price: i64) -> Option<i64> {
    if !(quantity > 0.0 && quantity.is_finite()) || price < 0 || den == 0 {
        return None;
    }
    let milli = quantity * 1000.0;
    let total = if milli <= 1e15 && (milli - milli.round()).abs() < 1e-6 {
        let numerator = (milli.round() as u128)
            .checked_mul(u128::try_from(price).ok()?)?
            .checked_mul(num)?;
        let denominator = den.checked_mul(1000)?;
        i64::try_from((numerator + denominator / 2) / denominator).ok()?
    } else {
        let f = quantity * price as f64 * num as f64 / den as f64;
        if !f.is_finite() || f > MAX_AMOUNT_MINOR as f64 {
            return None;
        }
        f.round() as i64
    };
    (total <= MAX_AMOUNT_MINOR).then_some(total)
}

pub(crate) fn clamp_confidence(c: f64) -> f64 {
    if c.is_nan() { 0.0 } else { c.clamp(0.0, 1.0) }
}

#[cfg(test)]
mod tests;

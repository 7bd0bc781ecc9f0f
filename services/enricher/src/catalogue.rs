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
mod tests {
    use super::*;

    fn product(json: serde_json::Value) -> Product {
        serde_json::from_value(json).unwrap()
    }

    fn catalogue_with(products: serde_json::Value) -> Result<Catalogue, CatalogueError> {
        Catalogue::from_json(
            serde_json::json!({"currency": "NPR", "products": products})
                .to_string()
                .as_bytes(),
        )
    }

    fn rice() -> serde_json::Value {
        serde_json::json!({"sku": "RICE-BAS", "name": "Basmati Rice", "aliases": ["basmati"],
            "category": "rice_grains", "unit": "kg", "price_minor": 19800})
    }

    #[test]
    fn the_builtin_catalogue_is_valid_and_complete() {
        let catalogue = Catalogue::builtin();
        assert_eq!(catalogue.currency(), "NPR");
        assert!(
            catalogue.products().len() >= 250,
            "{}",
            catalogue.products().len()
        );
        for category in CATEGORIES {
            assert!(
                catalogue.products().iter().any(|p| p.category == *category),
                "no product in {category}"
            );
        }
        for p in catalogue.products() {
            let unit = p
                .unit()
                .unwrap_or_else(|| panic!("{}: unit {}", p.sku, p.unit));
            assert_eq!(unit.as_str(), p.unit);
            if p.pack.is_some() {
                assert!(p.pack_size().is_some(), "{}", p.sku);
            }
            assert!(!p.aliases.is_empty(), "{} has no aliases", p.sku);
        }
        assert!(
            Arc::ptr_eq(&catalogue, &Catalogue::builtin()),
            "parsed once"
        );
    }

    #[test]
    fn the_builtin_catalogue_knows_the_skus_the_load_generator_sends() {
        let catalogue = Catalogue::builtin();
        for (sku, unit) in [
            ("RICE-BAS-5KG", "bag"),
            ("DAL-MAS-1KG", "packet"),
            ("OIL-SUN-1L", "bottle"),
            ("SUGAR-1KG", "packet"),
            ("NOODLE-WAI-75G", "packet"),
            ("SALT-1KG", "packet"),
        ] {
            assert_eq!(
                catalogue.get(sku).map(|p| p.unit.as_str()),
                Some(unit),
                "{sku}"
            );
        }
    }

    #[test]
    fn the_builtin_prices_are_plausible_wholesale_prices() {
        let catalogue = Catalogue::builtin();
        let basmati = catalogue.get("RICE-BAS").unwrap();
        assert_eq!(basmati.unit, "kg");
        assert!((18_000..=22_000).contains(&basmati.price_minor));
        // A 5 kg bag costs about five loose kilos.
        let bag = catalogue.get("RICE-BAS-5KG").unwrap();
        assert!(
            bag.price_minor > 4 * basmati.price_minor && bag.price_minor < 6 * basmati.price_minor
        );
    }

    #[test]
    fn lookups_ignore_case() {
        let catalogue = Catalogue::builtin();
        assert_eq!(catalogue.get("rice-bas-5kg").unwrap().sku, "RICE-BAS-5KG");
        assert_eq!(catalogue.get(" Rice-Bas ").unwrap().sku, "RICE-BAS");
        assert!(catalogue.get("RICE-UNKNOWN").is_none());
        assert!(catalogue.get("").is_none());
    }

    #[test]
    fn the_prompt_listing_has_one_line_of_four_fields_per_product() {
        let catalogue = Catalogue::builtin();
        let listing = catalogue.prompt_listing();
        assert_eq!(listing.lines().count(), catalogue.products().len());
        for line in listing.lines() {
            assert_eq!(line.split(" | ").count(), 4, "{line}");
        }
        assert!(
            listing.contains("RICE-BAS-5KG | Basmati Rice 5 kg Bag | basmati, basmati rice"),
            "{listing}"
        );
        assert!(listing.contains("| bag (5 kg)\n"));
    }

    #[test]
    fn a_minimal_catalogue_loads() {
        let catalogue = catalogue_with(serde_json::json!([rice()])).unwrap();
        assert_eq!(catalogue.products().len(), 1);
        assert_eq!(catalogue.get("rice-bas").unwrap().name, "Basmati Rice");
    }

    #[test]
    fn every_problem_names_the_product_and_the_fix() {
        let err = catalogue_with(serde_json::json!([
            rice(),
            {"sku": "RICE-BAS", "name": "Basmati again", "aliases": [], "category": "rice_grains",
             "unit": "kg", "price_minor": 100},
            {"sku": "OIL-X", "name": " ", "aliases": ["Tel", "tel", "tel"], "category": "oils",
             "unit": "litre", "price_minor": 0},
            {"sku": "bad sku", "name": "X", "aliases": [], "category": "snacks",
             "unit": "crate of 12", "price_minor": 5},
            {"sku": "EGG-X", "name": "Eggs", "aliases": [], "category": "dairy_eggs",
             "unit": "dozen", "price_minor": 5, "pack": "12 piece"},
            {"sku": "MILK-X", "name": "Milk", "aliases": [], "category": "dairy_eggs",
             "unit": "pouch", "price_minor": 5, "pack": "half a litre"},
        ]))
        .unwrap_err();
        let CatalogueError::Invalid(problems) = &err else {
            panic!("{err}")
        };
        let message = err.to_string();
        let expect = |position: usize, needle: &str| {
            assert!(
                problems
                    .iter()
                    .any(|p| p.position == position && p.problem.contains(needle)),
                "no problem for #{position} containing {needle:?} in: {message}"
            )
        };
        expect(2, "already used by product #1");
        expect(3, "name is empty");
        expect(3, "unknown category \"oils\"; use one of rice_grains");
        expect(3, "unit \"litre\" should be written \"l\"");
        expect(3, "price_minor is 0");
        expect(3, "alias \"Tel\" must be lower-case");
        expect(3, "alias \"tel\" is listed twice");
        expect(4, "not of the form FAMILY-VARIANT-PACK");
        expect(4, "unknown unit \"crate of 12\"; use one of kg, g, l");
        expect(5, "only for packaged goods");
        expect(6, "not a quantity and a unit");
        assert!(message.contains("product #3 (OIL-X):"), "{message}");
        assert!(!message.contains("product #1 "), "{message}");
    }

    #[test]
    fn malformed_files_are_refused_with_the_expected_shape() {
        let err = Catalogue::from_json(b"{\"currency\": \"NPR\"}").unwrap_err();
        assert!(matches!(err, CatalogueError::Json(_)));
        assert!(
            err.to_string().contains("missing field `products`"),
            "{err}"
        );

        let err = catalogue_with(
            serde_json::json!([{"sku": "A", "name": "A", "category": "snacks",
            "unit": "kg", "price_minor": 1, "colour": "red"}]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown field `colour`"), "{err}");

        let err = Catalogue::from_json(b"{\"currency\": \"rs\", \"products\": []}").unwrap_err();
        assert!(
            err.to_string().contains("three upper-case letters"),
            "{err}"
        );

        let err = catalogue_with(serde_json::json!([])).unwrap_err();
        assert!(matches!(err, CatalogueError::Empty));
    }

    #[test]
    fn loading_a_missing_file_names_it() {
        let err = Catalogue::load(Path::new("/nonexistent/catalogue.json")).unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/catalogue.json"),
            "{err}"
        );
    }

    #[test]
    fn loading_a_file_validates_it() {
        let path = std::env::temp_dir().join(format!("catalogue-test-{}.json", std::process::id()));
        std::fs::write(&path, b"{\"currency\": \"NPR\", \"products\": []}").unwrap();
        let err = Catalogue::load(&path).unwrap_err();
        std::fs::remove_file(&path).ok();
        assert!(matches!(err, CatalogueError::InFile { .. }));
        assert!(err.to_string().contains("lists no products"), "{err}");
    }

    fn priced(p: &Product, quantity: f64, unit: Unit) -> (f64, String, Option<i64>, Option<i64>) {
        let line = price_line(p, "NPR", 1, "raw", quantity, unit, 0.9);
        assert!(line.matched);
        assert_eq!(line.sku.as_deref(), Some(p.sku.as_str()));
        (
            line.quantity,
            line.unit,
            line.unit_price.map(|m| m.amount_minor),
            line.line_total.map(|m| m.amount_minor),
        )
    }

    #[test]
    fn prices_in_the_products_own_unit() {
        let basmati = product(rice());
        assert_eq!(
            priced(&basmati, 5.0, Unit::Kg),
            (5.0, "kg".into(), Some(19_800), Some(99_000))
        );
        let line = price_line(&basmati, "NPR", 3, "5 kg basmati", 5.0, Unit::Kg, 0.97);
        assert_eq!(line.line_no, 3);
        assert_eq!(line.raw, "5 kg basmati");
        assert_eq!(line.name.as_deref(), Some("Basmati Rice"));
        assert_eq!(line.category.as_deref(), Some("rice_grains"));
        assert_eq!(line.confidence, 0.97);
        assert_eq!(line.line_total.unwrap().currency, "NPR");
    }

    #[test]
    fn converts_into_the_products_unit() {
        let basmati = product(rice());
        assert_eq!(
            priced(&basmati, 500.0, Unit::G),
            (0.5, "kg".into(), Some(19_800), Some(9_900))
        );
        assert_eq!(
            priced(&basmati, 1.5, Unit::Kg),
            (1.5, "kg".into(), Some(19_800), Some(29_700))
        );
        let eggs = Catalogue::builtin().get("EGG-WHT").unwrap().clone();
        let (quantity, unit, price, total) = priced(&eggs, 10.0, Unit::Piece);
        assert!((quantity - 10.0 / 12.0).abs() < 1e-12);
        assert_eq!(unit, "dozen");
        // 10 × 18600 / 12 = 15500 exactly.
        assert_eq!((price, total), (Some(18_600), Some(15_500)));
        assert_eq!(priced(&eggs, 2.0, Unit::Dozen).3, Some(37_200));
    }

    #[test]
    fn converts_into_whole_packs_only() {
        let oil = Catalogue::builtin().get("OIL-SUN-1L").unwrap().clone();
        assert_eq!(
            priced(&oil, 3.0, Unit::L),
            (3.0, "bottle".into(), Some(27_200), Some(81_600))
        );
        assert_eq!(
            priced(&oil, 2000.0, Unit::Ml),
            (2.0, "bottle".into(), Some(27_200), Some(54_400))
        );
        assert_eq!(priced(&oil, 2.5, Unit::L), (2.5, "l".into(), None, None));
        assert_eq!(priced(&oil, 0.5, Unit::L), (0.5, "l".into(), None, None));
        let coke = Catalogue::builtin().get("BEV-COK-1500ML").unwrap().clone();
        assert_eq!(priced(&coke, 4.5, Unit::L).0, 3.0);
        let carton = Catalogue::builtin().get("NOODLE-WAI-CTN").unwrap().clone();
        assert_eq!(
            priced(&carton, 60.0, Unit::Packet),
            (2.0, "carton".into(), Some(65_500), Some(131_000))
        );
    }

    #[test]
    fn keeps_the_given_unit_when_it_cannot_convert() {
        let basmati = product(rice());
        assert_eq!(
            priced(&basmati, 2.0, Unit::Packet),
            (2.0, "packet".into(), None, None)
        );
        assert_eq!(
            priced(&basmati, 2.0, Unit::L),
            (2.0, "l".into(), None, None)
        );
    }

    #[test]
    fn totals_round_half_up_to_whole_paisa() {
        let p = product(
            serde_json::json!({"sku": "X", "name": "X", "category": "spices",
            "unit": "kg", "price_minor": 333}),
        );
        // 0.5 × 333 = 166.5 → 167
        assert_eq!(priced(&p, 500.0, Unit::G).3, Some(167));
        // 0.001 kg × 333 = 0.333 → 0
        assert_eq!(priced(&p, 1.0, Unit::G).3, Some(0));
        // A quantity with more decimals goes through floats: 1/3 kg × 333 = 111.
        assert_eq!(priced(&p, 1.0 / 3.0, Unit::Kg).3, Some(111));
    }

    #[test]
    fn absurd_quantities_keep_the_unit_price_but_no_total() {
        let basmati = product(rice());
        let (_, _, price, total) = priced(&basmati, 1e15, Unit::Kg);
        assert_eq!((price, total), (Some(19_800), None));
        assert_eq!(priced(&basmati, f64::INFINITY, Unit::Kg).3, None);
        assert_eq!(priced(&basmati, 0.0, Unit::Kg).3, None);
        assert_eq!(priced(&basmati, -1.0, Unit::Kg).3, None);
        assert_eq!(priced(&basmati, f64::NAN, Unit::Kg).3, None);
        // Large but representable: 1 000 000 kg.
        assert_eq!(priced(&basmati, 1e6, Unit::Kg).3, Some(19_800_000_000));
    }

    #[test]
    fn confidence_is_clamped() {
        let basmati = product(rice());
        assert_eq!(
            price_line(&basmati, "NPR", 1, "", 1.0, Unit::Kg, 1.7).confidence,
            1.0
        );
        assert_eq!(
            price_line(&basmati, "NPR", 1, "", 1.0, Unit::Kg, f64::NAN).confidence,
            0.0
        );
    }
}

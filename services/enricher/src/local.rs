//! The local enricher: matches order lines to the catalogue without any outside service, so the
//! pipeline always has an answer when every AI provider is down or unsure.
//!
//! A text line is split by [`parse_line`] into quantity, unit and product words; the words are
//! matched against every product's name and aliases:
//!
//! 1. *Exact*: the words, folded (see [`fold`]), equal a name or alias ("chini", "basmati rice",
//!    "tori ko tel"). Confidence 0.95–0.98.
//! 2. *Token overlap*: the words share tokens with a name or alias, each token weighted by how
//!    rare it is in the catalogue (so "basmati" counts more than "rice"), scored by how much of
//!    the line is explained times how much of the name is covered, so the most specific product
//!    wins ("basmati rice" beats "rice") and a line with unknown words ("khasi ko masu") scores
//!    low. Confidence up to 0.92.
//! 3. *Fuzzy*: tokens a letter or two off ("sugur", "chawal", "basmathi") count through
//!    Jaro–Winkler similarity, at a reduced weight; two words run together ("moongdal") are
//!    split.
//!
//! Among near-equal matches the one whose unit fits the line wins ("3 l sunflower oil" → the
//! loose oil sold per litre, "2 bottle sunflower oil" → the 1 l bottle), then the one listed
//! first in the catalogue. Lines scoring below [`MATCH_THRESHOLD`] are reported unmatched.
//!
//! Everything that depends only on the catalogue (token weights, similar-token lists, the exact
//! phrase map) is computed once in [`LocalEnricher::new`], so a line costs a few hash lookups.

use std::sync::Arc;

use orders_events::{EnrichedLine, LineItem, Money, PlacedLine};

use crate::catalogue::{self, Catalogue, MAX_AMOUNT_MINOR, price_line};
use crate::units::{self, Dimension, Unit, parse_line};

mod index;

pub use index::fold;
use index::*;

/// Lines whose match confidence is below this are reported unmatched.
pub const MATCH_THRESHOLD: f64 = 0.5;

/// Confidence of an exact name/alias match that the line's unit singles out, and of one that
/// leaves several variants to choose from (by catalogue order).
const EXACT_CONFIDENCE: f64 = 0.98;
const EXACT_AMBIGUOUS_CONFIDENCE: f64 = 0.95;
/// Confidence of a perfect token-overlap score; partial and fuzzy scores scale down from it.
const OVERLAP_CONFIDENCE: f64 = 0.92;
/// Applied when the product is right but the line's unit does not convert into its unit (the
/// line is then not priced).
const UNIT_MISMATCH_FACTOR: f64 = 0.85;
/// The most a line with an unusable quantity (zero) can score: a reviewer has to look at it.
const BAD_QUANTITY_CONFIDENCE: f64 = 0.3;
/// Matches scoring within this of the best are considered equally good.
const TIE_WINDOW: f64 = 0.05;
/// Jaro–Winkler similarity from which two tokens count as the same word misspelt.
const FUZZY_MIN_SIMILARITY: f64 = 0.87;
/// Shorter tokens ("tel", "nun", "dal") must match exactly: at that length a one-letter typo is
/// another word.
const FUZZY_MIN_CHARS: usize = 4;

/// Words that carry no product meaning, in English and romanised Nepali; ignored on both sides.
const STOP_WORDS: &str = "
of the a an and for with some brand please pls plz send ko ka ki ra wala wali pathaunus dinus
chahiyo
";

fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.split_whitespace().any(|w| w == word)
}

/// Romanised Nepali words shops use in orders (including units and number words); an order is
/// tagged "ne" when more of its words come from here than from English.
const NEPALI_WORDS: &str = "
chamal chawal chini nun noon tel anda phul daal aalu alu pyaj pyaaj ota wota wata goti kilo
aadha adha poka darjan bora dudh chiya pitho masu kukhura ghiu sakhar golbheda lasun aduwa
saag khursani besar jira dhaniya kagati kera syau suntala sabun salai kucho dhup mainbatti
pani makai gahu kodo phapar chiura bhatmas maas musuro rahar mugi kerau tori bhanta kauli
banda mula kakro lauka pharsi simi chyau palungo mewa anar angur amba nariwal badam kaju
okhar kismis khajur nauni dahi machha chauchau pauroti ko ra ek dui char panch das dedh ani
pathaunu pathaunus chahiyo dinus hajur thulo sano hariyo rato kalo seto sukeko wala
";

/// English words that are not product names but still tell the language (product names count
/// as English too).
const ENGLISH_WORDS: &str = "
please send and of half dozen packet packets piece pieces bottle bottles litre litres liter
liters box boxes bag bags tray sack the with
";

/// The local enricher's answer for one order.
#[derive(Debug, Clone, PartialEq)]
pub struct Enrichment {
    /// One per placed line, in order.
    pub lines: Vec<EnrichedLine>,
    /// "ne" or "en", for the whole order.
    pub language: String,
    /// Mean of the line confidences (0 for an order without lines).
    pub confidence: f64,
    /// Sum of the priced lines' totals; `None` when no line is priced.
    pub estimated_total: Option<Money>,
}

/// Matches order lines to a catalogue; see the module documentation.
pub struct LocalEnricher {
    catalogue: Arc<Catalogue>,
    index: Index,
}

impl std::fmt::Debug for LocalEnricher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalEnricher")
            .field("products", &self.catalogue.products().len())
            .field("tokens", &self.index.tokens.len())
            .field("phrases", &self.index.phrases.len())
            .finish()
    }
}

impl LocalEnricher {
    /// Builds the match index of `catalogue` (a few milliseconds for the shipped one).
    pub fn new(catalogue: Arc<Catalogue>) -> Self {
        let index = Index::build(&catalogue);
        LocalEnricher { catalogue, index }
    }

    pub fn catalogue(&self) -> &Arc<Catalogue> {
        &self.catalogue
    }

    /// Enriches every line of an order. Always answers; unknown lines come back unmatched.
    pub fn enrich(&self, lines: &[PlacedLine]) -> Enrichment {
        let enriched: Vec<EnrichedLine> = lines.iter().map(|l| self.enrich_line(l)).collect();
        let confidence = if enriched.is_empty() {
            0.0
        } else {
            enriched.iter().map(|l| l.confidence).sum::<f64>() / enriched.len() as f64
        };
        let mut total: Option<i64> = None;
        for amount in enriched
            .iter()
            .filter_map(|l| l.line_total.as_ref())
            .map(|m| m.amount_minor)
        {
            total = Some(
                total
                    .unwrap_or(0)
                    .saturating_add(amount)
                    .min(MAX_AMOUNT_MINOR),
            );
        }
        Enrichment {
            language: self.language(lines).to_owned(),
            confidence: catalogue::clamp_confidence(confidence),
            estimated_total: total.map(|amount_minor| Money {
                amount_minor,
                currency: self.catalogue.currency().to_owned(),
            }),
            lines: enriched,
        }
    }

    /// Enriches one placed line.
    pub fn enrich_line(&self, line: &PlacedLine) -> EnrichedLine {
        match &line.item {
            LineItem::Sku {
                sku,
                quantity,
                unit,
            } => self.enrich_sku(line.line_no, sku, *quantity, unit.as_deref()),
            LineItem::Text { text } => self.enrich_text(line.line_no, text),
        }
    }

    fn enrich_sku(
        &self,
        line_no: u32,
        sku: &str,
        quantity: u32,
        unit: Option<&str>,
    ) -> EnrichedLine {
        let unit = unit.map(str::trim).filter(|u| !u.is_empty());
        let raw = match unit {
            Some(u) => format!("{quantity} × {sku} ({u})"),
            None => format!("{quantity} × {sku}"),
        };
        let product = self.catalogue.get(sku);
        let (Some(product), true) = (product, quantity > 0) else {
            return unmatched(
                line_no,
                raw,
                quantity.max(1).into(),
                &unit.map_or_else(|| "piece".to_owned(), unit_name),
                0.0,
            );
        };
        let quantity = f64::from(quantity);
        match unit.map_or(product.unit(), Unit::parse) {
            Some(unit) => price_line(
                product,
                self.catalogue.currency(),
                line_no,
                &raw,
                quantity,
                unit,
                1.0,
            ),
            // The SKU is certain; the unit is one nobody knows, so the line can't be priced.
            None => EnrichedLine {
                line_no,
                raw,
                matched: true,
                sku: Some(product.sku.clone()),
                name: Some(product.name.clone()),
                category: Some(product.category.clone()),
                quantity,
                unit: unit.map_or_else(|| product.unit.clone(), unit_name),
                unit_price: None,
                line_total: None,
                confidence: 1.0,
            },
        }
    }

    fn enrich_text(&self, line_no: u32, text: &str) -> EnrichedLine {
        let parsed = parse_line(text);
        // A second quantity left in the words is a pack size: "wai wai 75 g" × 3 packet.
        let inner = parse_line(&parsed.rest);
        let (words, pack_hint) = match inner.quantity.zip(inner.unit) {
            Some(hint) => (inner.rest.as_str(), Some(hint)),
            None => (parsed.rest.as_str(), None),
        };
        let usable_quantity = parsed.quantity.filter(|q| *q > 0.0 && q.is_finite());
        let found = self
            .index
            .find(words, usable_quantity, parsed.unit, pack_hint);
        match found {
            Some(Found {
                product,
                confidence,
            }) if confidence >= MATCH_THRESHOLD
                && (parsed.quantity.is_none() || usable_quantity.is_some()) =>
            {
                let product = &self.catalogue.products()[product];
                let unit = parsed.unit.or(product.unit()).unwrap_or(Unit::Piece);
                price_line(
                    product,
                    self.catalogue.currency(),
                    line_no,
                    text,
                    usable_quantity.unwrap_or(1.0),
                    unit,
                    confidence,
                )
            }
            _ => {
                let mut confidence = found.map_or(0.0, |f| f.confidence);
                if parsed.quantity.is_some() && usable_quantity.is_none() {
                    confidence = confidence.min(BAD_QUANTITY_CONFIDENCE);
                }
                unmatched(
                    line_no,
                    text.to_owned(),
                    usable_quantity.unwrap_or(1.0),
                    parsed.unit.map_or("piece", Unit::as_str),
                    confidence,
                )
            }
        }
    }

    /// "ne" when any text line has Devanagari, or when more of the order's words are romanised
    /// Nepali than English; otherwise "en".
    fn language(&self, lines: &[PlacedLine]) -> &'static str {
        let (mut nepali, mut english) = (0usize, 0usize);
        for line in lines {
            let LineItem::Text { text } = &line.item else {
                continue;
            };
            if text.chars().any(is_devanagari) {
                return "ne";
            }
            for word in words(text) {
                let word = fold(&word);
                if self.index.nepali.contains(&word) {
                    nepali += 1;
                } else if self.index.english.contains(&word) {
                    english += 1;
                }
            }
        }
        if nepali > english { "ne" } else { "en" }
    }
}

/// The canonical name of a unit given as text ("KGS" → "kg"), or the text lower-cased.
fn unit_name(given: &str) -> String {
    Unit::parse(given).map_or_else(|| given.to_lowercase(), |u| u.as_str().to_owned())
}

fn unmatched(
    line_no: u32,
    raw: String,
    quantity: f64,
    unit: &str,
    confidence: f64,
) -> EnrichedLine {
    EnrichedLine {
        line_no,
        raw,
        matched: false,
        sku: None,
        name: None,
        category: None,
        quantity,
        unit: unit.to_owned(),
        unit_price: None,
        line_total: None,
        confidence: catalogue::clamp_confidence(confidence),
    }
}

/// How well a line's unit suits a product, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum UnitFit {
    /// Cannot be converted: the line will not be priced.
    None,
    /// Converts through the pack size ("3 l" of 1 l bottles).
    Pack,
    /// The line names no unit.
    Unknown,
    /// Converts directly (g → kg).
    Converts,
    Same,
}

fn unit_fit(unit: Option<Unit>, product_unit: Option<Unit>, pack: Option<(f64, Unit)>) -> UnitFit {
    let (Some(unit), Some(product_unit)) = (unit, product_unit) else {
        return UnitFit::Unknown;
    };
    if unit == product_unit {
        UnitFit::Same
    } else if units::ratio(unit, product_unit).is_some() {
        UnitFit::Converts
    } else if pack.is_some_and(|(_, pack_unit)| units::ratio(unit, pack_unit).is_some()) {
        UnitFit::Pack
    } else {
        UnitFit::None
    }
}

/// How many packs of `pack` make `quantity` `unit`, if that is a whole number.
fn whole_packs(quantity: f64, unit: Unit, (size, pack_unit): (f64, Unit)) -> Option<u64> {
    let packs = units::convert(quantity, unit, pack_unit)? / size;
    let whole = (1.0..1e15).contains(&packs) && (packs - packs.round()).abs() <= 1e-9 * packs;
    whole.then_some(packs.round() as u64)
}

/// Whether the pack size written in the line ("75 g") is the product's.
fn pack_matches(pack: Option<(f64, Unit)>, hint: Option<(f64, Unit)>) -> bool {
    let (Some((size, unit)), Some((hint_size, hint_unit))) = (pack, hint) else {
        return false;
    };
    units::convert(hint_size, hint_unit, unit).is_some_and(|h| (h - size).abs() <= 1e-9 * size)
}

#[cfg(test)]
mod tests;

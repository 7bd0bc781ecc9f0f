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

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use orders_events::{EnrichedLine, LineItem, Money, PlacedLine};

use crate::catalogue::{self, Catalogue, MAX_AMOUNT_MINOR, Product, price_line};
use crate::units::{self, Dimension, Unit, parse_line};

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

#[derive(Debug, Clone, Copy, PartialEq)]
struct Found {
    /// Position in the catalogue.
    product: usize,
    confidence: f64,
}

/// A name or alias of a product, as folded tokens.
#[derive(Debug)]
struct Phrase {
    product: usize,
    tokens: Vec<u32>,
    /// Sum of the tokens' weights.
    weight: f64,
}

/// How a product is sold: its unit and, for packaged goods, what one unit holds.
#[derive(Debug, Clone, Copy)]
struct SoldIn {
    unit: Option<Unit>,
    pack: Option<(f64, Unit)>,
}

/// Everything matching needs, computed once per catalogue.
#[derive(Debug)]
struct Index {
    /// Folded token → id.
    vocabulary: HashMap<String, u32>,
    /// By token id: the text, its length in chars, and its weight (rarer = heavier).
    tokens: Vec<(String, usize, f64)>,
    /// By token id: other tokens it is probably a misspelling of, with a match value in 0..1.
    similar: Vec<Vec<(u32, f64)>>,
    /// First char → token ids, for misspellings of words the catalogue doesn't have.
    by_first_char: HashMap<char, Vec<u32>>,
    /// By token id: the phrases containing it.
    postings: Vec<Vec<u32>>,
    phrases: Vec<Phrase>,
    /// Folded phrase text ("basmati rice") → products having it as name or alias.
    exact: HashMap<String, Vec<usize>>,
    /// The weight of a word the catalogue doesn't know.
    unknown_weight: f64,
    /// By product: unit and pack size.
    units: Vec<SoldIn>,
    /// Folded words for language detection.
    nepali: HashSet<String>,
    english: HashSet<String>,
}

impl Index {
    fn build(catalogue: &Catalogue) -> Index {
        let products = catalogue.products();
        let mut index = Index {
            vocabulary: HashMap::new(),
            tokens: Vec::new(),
            similar: Vec::new(),
            by_first_char: HashMap::new(),
            postings: Vec::new(),
            phrases: Vec::new(),
            exact: HashMap::new(),
            unknown_weight: 0.0,
            units: products
                .iter()
                .map(|p| SoldIn {
                    unit: p.unit(),
                    pack: p.pack_size(),
                })
                .collect(),
            nepali: NEPALI_WORDS.split_whitespace().map(fold).collect(),
            english: ENGLISH_WORDS.split_whitespace().map(fold).collect(),
        };

        let mut document_frequency: Vec<usize> = Vec::new();
        for (position, product) in products.iter().enumerate() {
            let mut seen_keys = HashSet::new();
            let mut product_tokens = HashSet::new();
            let texts = std::iter::once(name_words(product))
                .chain(product.aliases.iter().map(|a| phrase_words(a)));
            for folded in texts {
                if folded.is_empty() || !seen_keys.insert(folded.join(" ")) {
                    continue;
                }
                let mut tokens = Vec::with_capacity(folded.len());
                for word in folded {
                    let id = index.token_id(&word, &mut document_frequency);
                    if !tokens.contains(&id) {
                        tokens.push(id);
                    }
                    product_tokens.insert(id);
                }
                let phrase_id = index.phrases.len() as u32;
                for &id in &tokens {
                    index.postings[id as usize].push(phrase_id);
                }
                index.phrases.push(Phrase {
                    product: position,
                    tokens,
                    weight: 0.0,
                });
            }
            for key in seen_keys {
                index.exact.entry(key).or_default().push(position);
            }
            for id in product_tokens {
                document_frequency[id as usize] += 1;
            }
            for word in name_words(product) {
                if !index.nepali.contains(&word) {
                    index.english.insert(word);
                }
            }
        }

        // Inverse document frequency: a token in one product weighs ~6, in 40 products ~2.
        let n = products.len().max(1) as f64;
        for (id, df) in document_frequency.iter().enumerate() {
            index.tokens[id].2 = (1.0 + n / *df.max(&1) as f64).ln();
        }
        index.unknown_weight = (1.0 + n).ln();
        for phrase in &mut index.phrases {
            phrase.weight = phrase
                .tokens
                .iter()
                .map(|&t| index.tokens[t as usize].2)
                .sum();
        }

        index.similar = (0..index.tokens.len() as u32)
            .map(|id| {
                let (text, _, _) = &index.tokens[id as usize];
                let mut similar: Vec<(u32, f64)> = index
                    .similar_tokens(text)
                    .into_iter()
                    .filter(|&(other, _)| other != id)
                    .collect();
                similar.truncate(3);
                similar
            })
            .collect();
        index
    }

    fn token_id(&mut self, word: &str, document_frequency: &mut Vec<usize>) -> u32 {
        if let Some(&id) = self.vocabulary.get(word) {
            return id;
        }
        let id = self.tokens.len() as u32;
        self.vocabulary.insert(word.to_owned(), id);
        self.tokens
            .push((word.to_owned(), word.chars().count(), 0.0));
        self.postings.push(Vec::new());
        document_frequency.push(0);
        if let Some(first) = word.chars().next() {
            self.by_first_char.entry(first).or_default().push(id);
        }
        id
    }

    /// The folded, deduplicated words of a line's product words, without stop words and numbers,
    /// and without a last word that is a packaging ("bottle", "jar") if asked to.
    fn query_words(&self, text: &str, drop_packaging: bool) -> Vec<String> {
        let mut raw: Vec<String> = words(text)
            .into_iter()
            .filter(|w| !is_stop_word(w) && !w.chars().all(|c| c.is_ascii_digit()))
            .collect();
        if drop_packaging
            && raw
                .last()
                .and_then(|w| Unit::parse(w))
                .is_some_and(|u| u.dimension() == Dimension::Packaging)
        {
            raw.pop();
        }
        let mut query: Vec<String> = Vec::new();
        for word in raw {
            let word = fold(&word);
            if word.is_empty() {
                continue;
            }
            // "moongdal", "masoordal": two catalogue words written as one.
            let parts = match self.vocabulary.contains_key(&word) {
                true => None,
                false => self.split_compound(&word),
            };
            for part in parts.map_or_else(|| vec![word], |(a, b)| vec![a, b]) {
                if !query.contains(&part) {
                    query.push(part);
                }
            }
        }
        query
    }

    /// `word` as two catalogue words written together, if it is one ("mungdal" → "mung dal").
    fn split_compound(&self, word: &str) -> Option<(String, String)> {
        if !word.is_ascii() || word.len() < 6 {
            return None;
        }
        (3..=word.len() - 3)
            .map(|k| word.split_at(k))
            .find(|(a, b)| self.vocabulary.contains_key(*a) && self.vocabulary.contains_key(*b))
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
    }

    /// Tokens of the catalogue that `word` is probably a misspelling of, best first, with a match
    /// value (similarity squared, so a near miss counts clearly less than a hit).
    fn similar_tokens(&self, word: &str) -> Vec<(u32, f64)> {
        let chars = word.chars().count();
        let Some(first) = word.chars().next() else {
            return Vec::new();
        };
        if chars < FUZZY_MIN_CHARS {
            return Vec::new();
        }
        let mut found: Vec<(u32, f64)> = self
            .by_first_char
            .get(&first)
            .into_iter()
            .flatten()
            .filter_map(|&id| {
                let (text, len, _) = &self.tokens[id as usize];
                if *len < FUZZY_MIN_CHARS || len.abs_diff(chars) > 1 {
                    return None;
                }
                let similarity = strsim::jaro_winkler(word, text);
                (similarity >= FUZZY_MIN_SIMILARITY).then_some((id, similarity * similarity))
            })
            .collect();
        found.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        found
    }

    /// The best product for the product words of a line, if any shares a word with it.
    fn find(
        &self,
        text: &str,
        quantity: Option<f64>,
        unit: Option<Unit>,
        pack_hint: Option<(f64, Unit)>,
    ) -> Option<Found> {
        let mut query = self.query_words(text, false);
        if query.is_empty() {
            return None;
        }
        let mut exact = self.exact.get(&query.join(" "));
        if exact.is_none() {
            // "baby oil bottle", "toffees jar of 100": a packaging word last says how it is
            // packed, which the unit and pack size already match; unless it is part of a name
            // ("coffee pouch", "baby bottle"), which the exact lookup above has found.
            let without_packaging = self.query_words(text, true);
            if !without_packaging.is_empty() && without_packaging.len() < query.len() {
                query = without_packaging;
                exact = self.exact.get(&query.join(" "));
            }
        }

        // (product, score in 0..=1)
        let mut scored: Vec<(usize, f64)> = Vec::new();
        if let Some(products) = exact {
            scored.extend(products.iter().map(|&p| (p, 1.0)));
        } else {
            // Per phrase: (weighted share of the query it explains, weighted share of it matched).
            let mut phrase_scores: HashMap<u32, (f64, f64)> = HashMap::new();
            let mut query_weight = 0.0;
            for word in &query {
                let (weight, matches) = match self.vocabulary.get(word) {
                    Some(&id) => {
                        let mut matches = vec![(id, 1.0)];
                        matches.extend_from_slice(&self.similar[id as usize]);
                        (self.tokens[id as usize].2, matches)
                    }
                    None => {
                        let mut matches = self.similar_tokens(word);
                        matches.truncate(1);
                        let weight = matches
                            .first()
                            .map_or(self.unknown_weight, |&(id, _)| self.tokens[id as usize].2);
                        (weight, matches)
                    }
                };
                query_weight += weight;
                // The best way this query word matches each phrase: (value, phrase token weight).
                let mut best: HashMap<u32, (f64, f64)> = HashMap::new();
                for (token, value) in matches {
                    let token_weight = self.tokens[token as usize].2;
                    for &phrase in &self.postings[token as usize] {
                        let entry = best.entry(phrase).or_insert((0.0, 0.0));
                        if value > entry.0 {
                            *entry = (value, token_weight);
                        }
                    }
                }
                for (phrase, (value, token_weight)) in best {
                    let entry = phrase_scores.entry(phrase).or_insert((0.0, 0.0));
                    entry.0 += weight * value;
                    entry.1 += token_weight * value;
                }
            }
            let mut best_by_product: HashMap<usize, f64> = HashMap::new();
            for (phrase, (explained, covered)) in phrase_scores {
                let phrase = &self.phrases[phrase as usize];
                // Explaining the line matters most: a short name fully covered by half the line
                // ("masu" in "khasi ko masu" vs "masur") must not look like a good match.
                let explained = (explained / query_weight).min(1.0);
                let covered = (covered / phrase.weight).min(1.0);
                let score = explained * (0.5 + 0.5 * covered);
                let entry = best_by_product.entry(phrase.product).or_insert(0.0);
                *entry = entry.max(score);
            }
            scored.extend(best_by_product);
        }

        let best = scored.iter().map(|&(_, s)| s).fold(0.0, f64::max);
        if best <= 0.0 {
            return None;
        }
        // Among near-equal matches: pack size named in the line, then unit fit (for packs: a
        // whole number of them, then the fewest), then score, then catalogue order.
        let rank = |&(product, score): &(usize, f64)| {
            let SoldIn {
                unit: product_unit,
                pack,
            } = self.units[product];
            let fit = unit_fit(unit, product_unit, pack);
            let packs = match (fit, unit, pack) {
                (UnitFit::Pack, Some(unit), Some(pack)) => {
                    whole_packs(quantity.unwrap_or(1.0), unit, pack)
                }
                _ => None,
            };
            (
                (
                    pack_matches(pack, pack_hint),
                    fit,
                    packs.is_some(),
                    std::cmp::Reverse(packs.unwrap_or(0)),
                ),
                score,
                std::cmp::Reverse(product),
            )
        };
        let mut candidates: Vec<_> = scored
            .iter()
            .filter(|(_, s)| *s >= best - TIE_WINDOW)
            .map(|c| (rank(c), *c))
            .collect();
        candidates
            .sort_by(|(a, _), (b, _)| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2)));
        let &((fit_rank, _, _), (product, score)) = candidates.last()?;
        let fit = fit_rank.1;
        let mut confidence = if exact.is_some() {
            let rivals = candidates
                .iter()
                .filter(|((r, _, _), _)| *r == fit_rank)
                .count();
            if rivals == 1 {
                EXACT_CONFIDENCE
            } else {
                EXACT_AMBIGUOUS_CONFIDENCE
            }
        } else {
            OVERLAP_CONFIDENCE * score
        };
        if fit == UnitFit::None {
            confidence *= UNIT_MISMATCH_FACTOR;
        }
        Some(Found {
            product,
            confidence,
        })
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

fn is_devanagari(c: char) -> bool {
    ('\u{0900}'..='\u{097F}').contains(&c)
}

/// Lower-cased words of a text: letters, digits and Devanagari marks; apostrophes dropped
/// ("lay's" → "lays"); everything else separates.
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() || (is_devanagari(c) && !matches!(c, '\u{0964}' | '\u{0965}')) {
            current.extend(c.to_lowercase());
        } else if matches!(c, '\'' | '’' | '`') {
            continue;
        } else if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The folded words of an alias or of a line's product words, without stop words, numbers and
/// repeats ("wai wai" → "wai").
fn phrase_words(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in words(text) {
        if is_stop_word(&word) || word.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let word = fold(&word);
        if !word.is_empty() && !out.contains(&word) {
            out.push(word);
        }
    }
    out
}

/// The folded words of a product name, without its size and packaging: "Basmati Rice 5 kg Bag"
/// → "basmati rice", "Eggs, Tray of 30" → "eggs". Those are matched through the line's unit and
/// the product's pack size instead.
fn name_words(product: &Product) -> Vec<String> {
    let raw = words(&product.name);
    let mut kept: Vec<&str> = Vec::new();
    let mut after_number = false;
    for word in &raw {
        let is_number = word.chars().all(|c| c.is_ascii_digit());
        if is_number || (after_number && Unit::parse(word).is_some()) {
            after_number = is_number;
            continue;
        }
        after_number = false;
        if !is_stop_word(word) {
            kept.push(word.as_str());
        }
    }
    if kept.len() > 1
        && kept
            .last()
            .and_then(|w| Unit::parse(w))
            .is_some_and(|u| u.dimension() == Dimension::Packaging)
    {
        kept.pop();
    }
    let mut out: Vec<String> = Vec::new();
    for word in kept.into_iter().map(fold) {
        if !out.contains(&word) {
            out.push(word);
        }
    }
    out
}

/// Folds the spelling variants of romanised Nepali and English plurals onto one form, so that
/// "cheeni" = "chini", "noon" = "nun", "pyaaj" = "pyaj", "aata" = "atta", "zeera" = "jira",
/// "potatoes" = "potato". Devanagari is kept, minus the chandrabindu and nukta, which shops
/// often leave out.
pub fn fold(word: &str) -> String {
    if !word.is_ascii() {
        return word
            .chars()
            .filter(|c| !matches!(c, '\u{0901}' | '\u{093C}'))
            .collect();
    }
    let bytes = word.as_bytes();
    let mut folded = String::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i].to_ascii_lowercase();
        let next = bytes.get(i + 1).map(u8::to_ascii_lowercase);
        let (c, skip) = match (c, next) {
            (b'e', Some(b'e')) => (b'i', 2),
            (b'o', Some(b'o')) => (b'u', 2),
            (b's', Some(b'h')) => (b's', 2),
            (b'p', Some(b'h')) => (b'f', 2),
            (b'z', _) => (b'j', 1),
            _ => (c, 1),
        };
        // Doubled letters count once: "aata" = "atta" = "ata".
        if folded.as_bytes().last() != Some(&c) {
            folded.push(char::from(c));
        }
        i += skip;
    }
    if folded.len() > 4 && folded.ends_with("oes") {
        folded.truncate(folded.len() - 2);
    } else if folded.len() > 3 && folded.ends_with('s') {
        folded.pop();
    }
    folded
}

#[cfg(test)]
mod tests;

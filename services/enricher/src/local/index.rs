//! The catalogue index of the local enricher: every product's name and alias phrases, token
//! weights by rarity, similar-token lists for fuzzy matching, and the word splitting and folding
//! (romanised Nepali, Devanagari) both the index and the lines go through.
use std::collections::{HashMap, HashSet};

use crate::catalogue::Product;
use crate::units::Unit;

use super::*;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Found {
    /// Position in the catalogue.
    pub(super) product: usize,
    pub(super) confidence: f64,
}

/// A name or alias of a product, as folded tokens.
#[derive(Debug)]
pub(super) struct Phrase {
    pub(super) product: usize,
    pub(super) tokens: Vec<u32>,
    /// Sum of the tokens' weights.
    pub(super) weight: f64,
}

/// How a product is sold: its unit and, for packaged goods, what one unit holds.
#[derive(Debug, Clone, Copy)]
pub(super) struct SoldIn {
    pub(super) unit: Option<Unit>,
    pub(super) pack: Option<(f64, Unit)>,
}

/// Everything matching needs, computed once per catalogue.
#[derive(Debug)]
pub(super) struct Index {
    /// Folded token → id.
    pub(super) vocabulary: HashMap<String, u32>,
    /// By token id: the text, its length in chars, and its weight (rarer = heavier).
    pub(super) tokens: Vec<(String, usize, f64)>,
    /// By token id: other tokens it is probably a misspelling of, with a match value in 0..1.
    pub(super) similar: Vec<Vec<(u32, f64)>>,
    /// First char → token ids, for misspellings of words the catalogue doesn't have.
    pub(super) by_first_char: HashMap<char, Vec<u32>>,
    /// By token id: the phrases containing it.
    pub(super) postings: Vec<Vec<u32>>,
    pub(super) phrases: Vec<Phrase>,
    /// Folded phrase text ("basmati rice") → products having it as name or alias.
    pub(super) exact: HashMap<String, Vec<usize>>,
    /// The weight of a word the catalogue doesn't know.
    pub(super) unknown_weight: f64,
    /// By product: unit and pack size.
    pub(super) units: Vec<SoldIn>,
    /// Folded words for language detection.
    pub(super) nepali: HashSet<String>,
    pub(super) english: HashSet<String>,
}

impl Index {
    pub(super) fn build(catalogue: &Catalogue) -> Index {
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

    pub(super) fn token_id(&mut self, word: &str, document_frequency: &mut Vec<usize>) -> u32 {
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
    pub(super) fn query_words(&self, text: &str, drop_packaging: bool) -> Vec<String> {
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
    pub(super) fn split_compound(&self, word: &str) -> Option<(String, String)> {
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
    pub(super) fn similar_tokens(&self, word: &str) -> Vec<(u32, f64)> {
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
    pub(super) fn find(
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

pub(super) fn is_devanagari(c: char) -> bool {
    ('\u{0900}'..='\u{097F}').contains(&c)
}

/// Lower-cased words of a text: letters, digits and Devanagari marks; apostrophes dropped
/// ("lay's" → "lays"); everything else separates.
pub(super) fn words(text: &str) -> Vec<String> {
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
pub(super) fn phrase_words(text: &str) -> Vec<String> {
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
pub(super) fn name_words(product: &Product) -> Vec<String> {
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

//! Units of measure and the quantity in a free-text order line.
//!
//! Shops write quantities in many ways: "5 kg", "5kg", "half kg", "aadha kilo", "1/2 kg",
//! "10 ota", "३ पोका", "wai wai 3 pkt". [`parse_line`] pulls the quantity and unit out of such a
//! line wherever they are and leaves the product words; [`Unit::parse`] knows the English,
//! romanised Nepali and Devanagari names of each unit; [`convert`] moves between units of one
//! dimension (g ↔ kg, ml ↔ l, piece ↔ dozen).
//!
//! Parsing never judges a quantity: zero and absurd numbers come back as written, and the caller
//! decides what to do with them.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

/// What a unit measures. Only units of the same dimension convert into each other, and
/// packagings convert only into themselves (a "packet" has no fixed size).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dimension {
    Mass,
    Volume,
    Count,
    Packaging,
}

/// A unit an order line can be in, and that catalogue prices are per.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    Kg,
    G,
    L,
    Ml,
    Piece,
    Dozen,
    Packet,
    Bottle,
    Tray,
    Sack,
    Bag,
    Box,
    Can,
    Bar,
    Jar,
    Pouch,
    Carton,
    Bundle,
}

/// Every spelling [`Unit::parse`] accepts, compared without ASCII case. The canonical name
/// ([`Unit::as_str`]) comes first for each unit.
const ALIASES: &[(&str, Unit)] = &[
    ("kg", Unit::Kg),
    ("kgs", Unit::Kg),
    ("kilo", Unit::Kg),
    ("kilos", Unit::Kg),
    ("kilogram", Unit::Kg),
    ("kilograms", Unit::Kg),
    ("kilogramme", Unit::Kg),
    ("kilogrammes", Unit::Kg),
    ("केजी", Unit::Kg),
    ("किलो", Unit::Kg),
    ("g", Unit::G),
    ("gm", Unit::G),
    ("gms", Unit::G),
    ("gr", Unit::G),
    ("gram", Unit::G),
    ("grams", Unit::G),
    ("gramme", Unit::G),
    ("grammes", Unit::G),
    ("ग्राम", Unit::G),
    ("l", Unit::L),
    ("lt", Unit::L),
    ("ltr", Unit::L),
    ("ltrs", Unit::L),
    ("litre", Unit::L),
    ("litres", Unit::L),
    ("liter", Unit::L),
    ("liters", Unit::L),
    ("लिटर", Unit::L),
    ("ml", Unit::Ml),
    ("mls", Unit::Ml),
    ("millilitre", Unit::Ml),
    ("millilitres", Unit::Ml),
    ("milliliter", Unit::Ml),
    ("milliliters", Unit::Ml),
    ("piece", Unit::Piece),
    ("pieces", Unit::Piece),
    ("pc", Unit::Piece),
    ("pcs", Unit::Piece),
    ("nos", Unit::Piece),
    ("ota", Unit::Piece),
    ("wota", Unit::Piece),
    ("wata", Unit::Piece),
    ("wotaa", Unit::Piece),
    ("goti", Unit::Piece),
    ("gota", Unit::Piece),
    ("वटा", Unit::Piece),
    ("ओटा", Unit::Piece),
    ("गोटा", Unit::Piece),
    ("गोटी", Unit::Piece),
    ("dozen", Unit::Dozen),
    ("dozens", Unit::Dozen),
    ("doz", Unit::Dozen),
    ("dz", Unit::Dozen),
    ("darjan", Unit::Dozen),
    ("दर्जन", Unit::Dozen),
    ("packet", Unit::Packet),
    ("packets", Unit::Packet),
    ("pkt", Unit::Packet),
    ("pkts", Unit::Packet),
    ("pack", Unit::Packet),
    ("packs", Unit::Packet),
    ("poka", Unit::Packet),
    ("pokas", Unit::Packet),
    ("pyaket", Unit::Packet),
    ("पोका", Unit::Packet),
    ("प्याकेट", Unit::Packet),
    ("bottle", Unit::Bottle),
    ("bottles", Unit::Bottle),
    ("btl", Unit::Bottle),
    ("btls", Unit::Bottle),
    ("botal", Unit::Bottle),
    ("बोतल", Unit::Bottle),
    ("tray", Unit::Tray),
    ("trays", Unit::Tray),
    ("crate", Unit::Tray),
    ("crates", Unit::Tray),
    ("kret", Unit::Tray),
    ("क्रेट", Unit::Tray),
    ("ट्रे", Unit::Tray),
    ("sack", Unit::Sack),
    ("sacks", Unit::Sack),
    ("bora", Unit::Sack),
    ("boras", Unit::Sack),
    ("बोरा", Unit::Sack),
    ("bag", Unit::Bag),
    ("bags", Unit::Bag),
    ("box", Unit::Box),
    ("boxes", Unit::Box),
    ("bx", Unit::Box),
    ("can", Unit::Can),
    ("cans", Unit::Can),
    ("tin", Unit::Can),
    ("tins", Unit::Can),
    ("टिन", Unit::Can),
    ("bar", Unit::Bar),
    ("bars", Unit::Bar),
    ("jar", Unit::Jar),
    ("jars", Unit::Jar),
    ("pouch", Unit::Pouch),
    ("pouches", Unit::Pouch),
    ("carton", Unit::Carton),
    ("cartons", Unit::Carton),
    ("ctn", Unit::Carton),
    ("ctns", Unit::Carton),
    ("peti", Unit::Carton),
    ("पेटी", Unit::Carton),
    ("bundle", Unit::Bundle),
    ("bundles", Unit::Bundle),
    ("mutha", Unit::Bundle),
    ("muttha", Unit::Bundle),
    ("muta", Unit::Bundle),
    ("मुठा", Unit::Bundle),
];

impl Unit {
    /// Every unit, measures first.
    pub const ALL: [Unit; 18] = [
        Unit::Kg,
        Unit::G,
        Unit::L,
        Unit::Ml,
        Unit::Piece,
        Unit::Dozen,
        Unit::Packet,
        Unit::Bottle,
        Unit::Tray,
        Unit::Sack,
        Unit::Bag,
        Unit::Box,
        Unit::Can,
        Unit::Bar,
        Unit::Jar,
        Unit::Pouch,
        Unit::Carton,
        Unit::Bundle,
    ];

    /// The canonical lower-case name used in events and in the catalogue, e.g. `"kg"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Kg => "kg",
            Unit::G => "g",
            Unit::L => "l",
            Unit::Ml => "ml",
            Unit::Piece => "piece",
            Unit::Dozen => "dozen",
            Unit::Packet => "packet",
            Unit::Bottle => "bottle",
            Unit::Tray => "tray",
            Unit::Sack => "sack",
            Unit::Bag => "bag",
            Unit::Box => "box",
            Unit::Can => "can",
            Unit::Bar => "bar",
            Unit::Jar => "jar",
            Unit::Pouch => "pouch",
            Unit::Carton => "carton",
            Unit::Bundle => "bundle",
        }
    }

    /// The unit a word names, in English, romanised Nepali or Devanagari ("kgs", "kilo",
    /// "किलो", "ota", "poka", "bora", ...); ASCII case and trailing dots are ignored.
    pub fn parse(word: &str) -> Option<Unit> {
        static BY_ALIAS: OnceLock<HashMap<&'static str, Unit>> = OnceLock::new();
        let by_alias = BY_ALIAS.get_or_init(|| ALIASES.iter().copied().collect());
        let word = word.trim().trim_end_matches('.');
        if word.bytes().any(|b| b.is_ascii_uppercase()) {
            by_alias.get(word.to_ascii_lowercase().as_str()).copied()
        } else {
            by_alias.get(word).copied()
        }
    }

    pub fn dimension(self) -> Dimension {
        match self {
            Unit::Kg | Unit::G => Dimension::Mass,
            Unit::L | Unit::Ml => Dimension::Volume,
            Unit::Piece | Unit::Dozen => Dimension::Count,
            _ => Dimension::Packaging,
        }
    }

    /// How many of the dimension's smallest unit (g, ml, piece) one of this unit is; `None`
    /// for packagings.
    fn base(self) -> Option<u64> {
        match self {
            Unit::G | Unit::Ml | Unit::Piece => Some(1),
            Unit::Dozen => Some(12),
            Unit::Kg | Unit::L => Some(1000),
            _ => None,
        }
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The exact factor `(numerator, denominator)` that turns a quantity in `from` into one in `to`
/// (`500 g` × 1/1000 = `0.5 kg`); `None` across dimensions and between different packagings.
/// Prices are computed with it in integers, so no rounding creeps in before the last step.
pub fn ratio(from: Unit, to: Unit) -> Option<(u64, u64)> {
    if from == to {
        return Some((1, 1));
    }
    if from.dimension() != to.dimension() {
        return None;
    }
    let (f, t) = (from.base()?, to.base()?);
    let g = gcd(f, t);
    Some((f / g, t / g))
}

/// `quantity` of `from` expressed in `to`: g ↔ kg, ml ↔ l, piece ↔ dozen, or unchanged when the
/// units are equal. `None` across dimensions or between packagings.
pub fn convert(quantity: f64, from: Unit, to: Unit) -> Option<f64> {
    let (num, den) = ratio(from, to)?;
    Some(quantity * num as f64 / den as f64)
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// A free-text order line split into its quantity, unit and product words.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedLine {
    /// The number written, if any (`None` means the shop wrote none, not zero).
    pub quantity: Option<f64>,
    pub unit: Option<Unit>,
    /// The remaining words, lower-cased and without punctuation, e.g. `"basmati rice"`. A second
    /// quantity that reads like a pack size stays here ("wai wai 75 g 3 packet" → quantity 3
    /// packet, rest "wai wai 75 g").
    pub rest: String,
}

/// Pulls the quantity and unit out of a free-text line, wherever they are: "5 kg basmati rice",
/// "5kg basmati", "basmati rice 5 kg", "1/2 kg besar", "1 1/2 kg", "half kg", "aadha kilo chini",
/// "wai wai 3 pkt", "10 ota anda", "wai wai x3", "५ किलो चामल", "एक किलो चिनी".
///
/// When a line holds a weight or volume and also a count ("1 l oil 2 bottle", "2 coke 1.5 l"),
/// the count is the ordered quantity and the weight or volume stays in `rest` as a pack size;
/// otherwise the first quantity wins.
pub fn parse_line(text: &str) -> ParsedLine {
    let tokens = tokenize(text);
    let mut used = vec![false; tokens.len()];

    // Quantities followed by a unit, and bare quantities, in the order written.
    let mut with_unit: Vec<(f64, Unit, usize, usize)> = Vec::new();
    let mut bare: Vec<(f64, usize, usize)> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let Some((mut value, ambiguous)) = number_at(&tokens, i) else {
            i += 1;
            continue;
        };
        let mut end = i + 1;
        // "1 1/2 kg": a whole number followed by a written fraction.
        if let Some(Token::Num { value: frac, raw }) = tokens.get(end)
            && raw.contains('/')
            && *frac < 1.0
            && value.fract() == 0.0
        {
            value += frac;
            end += 1;
        }
        if let Some(unit) = tokens.get(end).and_then(Token::unit) {
            with_unit.push((value, unit, i, end + 1));
            i = end + 1;
        } else {
            // A word that is also a unit ("tin") counts as a number only before a unit, and
            // "a"/"an" only ever does ("a dozen eggs").
            if !ambiguous {
                bare.push((value, i, end));
            }
            i = end;
        }
    }

    let mut quantity = None;
    let mut unit = None;
    let mut span = None;
    let is_measure = |u: Unit| matches!(u.dimension(), Dimension::Mass | Dimension::Volume);
    let any_measure = with_unit.iter().any(|&(_, u, _, _)| is_measure(u));
    let any_count = with_unit.iter().any(|&(_, u, _, _)| !is_measure(u));
    let chosen = if any_measure && any_count {
        // "1 l oil 2 bottle": the count is the order, the measure the pack size.
        with_unit.iter().find(|&&(_, u, _, _)| !is_measure(u))
    } else if any_measure && !bare.is_empty() {
        // "2 coke 1.5 l", "5 sugar 1 kg": likewise with a count written without a unit.
        None
    } else {
        with_unit.first()
    };
    if let Some(&(value, u, start, end)) = chosen {
        quantity = Some(value);
        unit = Some(u);
        span = Some((start, end));
    } else if let Some(&(value, start, end)) = bare.first() {
        quantity = Some(value);
        span = Some((start, end));
    }
    if let Some((start, end)) = span {
        used[start..end].iter_mut().for_each(|u| *u = true);
        // "x3" / "3x": the multiplier sign goes with the number.
        if start > 0 && tokens[start - 1].is_times() {
            used[start - 1] = true;
        }
        if let Some(next) = tokens.get(end) {
            if next.is_times() {
                used[end] = true;
            } else if matches!(next, Token::Word(w) if w == "of") {
                // "5 kg of rice"
                used[end] = true;
            }
        }
    }
    if unit.is_none() && with_unit.is_empty() {
        // A unit written without a number: "dozen eggs", "kilo chini". Only units that are never
        // product words count here: "gram flour", "tea bags", "baby bottle", "jar pani",
        // "coffee pouch" and "chocolate bar" name products.
        if let Some(pos) = tokens
            .iter()
            .enumerate()
            .position(|(j, t)| !used[j] && t.unit().is_some_and(standalone_unit))
        {
            unit = tokens[pos].unit();
            used[pos] = true;
        }
    }

    let rest = tokens
        .iter()
        .zip(&used)
        .filter(|(t, used)| !**used && !t.is_times())
        .map(|(t, _)| t.text())
        .collect::<Vec<_>>()
        .join(" ");
    ParsedLine {
        quantity,
        unit,
        rest,
    }
}

/// Whether a unit word alone, without a number, is read as a unit.
fn standalone_unit(unit: Unit) -> bool {
    matches!(
        unit,
        Unit::Kg
            | Unit::L
            | Unit::Ml
            | Unit::Piece
            | Unit::Dozen
            | Unit::Packet
            | Unit::Tray
            | Unit::Sack
            | Unit::Carton
            | Unit::Bundle
    )
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Num { value: f64, raw: String },
    Word(String),
}

impl Token {
    fn text(&self) -> &str {
        match self {
            Token::Num { raw, .. } => raw,
            Token::Word(w) => w,
        }
    }

    fn unit(&self) -> Option<Unit> {
        match self {
            Token::Word(w) => Unit::parse(w),
            Token::Num { .. } => None,
        }
    }

    fn is_times(&self) -> bool {
        matches!(self, Token::Word(w) if w == "x" || w == "×")
    }
}

/// The number at `tokens[i]` (digits, or a number word), and whether it only counts before a
/// unit.
fn number_at(tokens: &[Token], i: usize) -> Option<(f64, bool)> {
    match &tokens[i] {
        Token::Num { value, .. } => Some((*value, false)),
        Token::Word(w) => {
            let value = number_word(w)?;
            let ambiguous = Unit::parse(w).is_some() || w == "a" || w == "an";
            Some((value, ambiguous))
        }
    }
}

/// Number words shops write instead of digits, in English, romanised Nepali and Devanagari.
fn number_word(word: &str) -> Option<f64> {
    Some(match word {
        "a" | "an" | "one" | "ek" | "एक" => 1.0,
        "half" | "aadha" | "adha" | "aadhaa" | "adhaa" | "आधा" => 0.5,
        "quarter" => 0.25,
        "dedh" | "derh" | "dhed" | "डेढ" => 1.5,
        "adhai" | "arhai" | "dhai" | "अढाई" => 2.5,
        "two" | "dui" | "दुई" => 2.0,
        "three" | "tin" | "teen" | "तीन" => 3.0,
        "four" | "char" | "chaar" | "चार" => 4.0,
        "five" | "panch" | "paanch" | "पाँच" | "पाच" => 5.0,
        "six" | "chha" | "छ" => 6.0,
        "seven" | "saat" | "सात" => 7.0,
        "eight" | "aath" | "आठ" => 8.0,
        "nine" | "nau" | "नौ" => 9.0,
        "ten" | "das" | "दस" => 10.0,
        "twelve" | "barha" | "बाह्र" => 12.0,
        "twenty" | "bis" | "बीस" => 20.0,
        "fifty" | "pachas" | "पचास" => 50.0,
        "hundred" | "saya" | "सय" => 100.0,
        _ => return None,
    })
}

/// Devanagari letters, vowel signs and viramas are all word characters (not every one of them is
/// `char::is_alphabetic`); its digits become ASCII digits, and the dandas are punctuation.
fn is_devanagari_letter(c: char) -> bool {
    ('\u{0900}'..='\u{097F}').contains(&c)
        && !matches!(c, '\u{0964}' | '\u{0965}')
        && ascii_digit(c).is_none()
}

fn ascii_digit(c: char) -> Option<char> {
    if c.is_ascii_digit() {
        Some(c)
    } else if ('\u{0966}'..='\u{096F}').contains(&c) {
        char::from_digit(c as u32 - 0x0966, 10)
    } else {
        None
    }
}

#[derive(Debug, PartialEq)]
enum Kind {
    Digits,
    Letters,
}

/// Lower-cases and splits a line into numbers and words; everything else is a separator.
/// A number glued to a unit ("5kg") becomes two tokens; glued to any other word ("7up", "2pm")
/// it stays part of that word.
fn tokenize(text: &str) -> Vec<Token> {
    // (kind, text, glued to the previous run)
    let mut runs: Vec<(Kind, String, bool)> = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut glued = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if let Some(d) = ascii_digit(c) {
            let mut s = String::from(d);
            i += 1;
            while i < chars.len() {
                if let Some(d) = ascii_digit(chars[i]) {
                    s.push(d);
                    i += 1;
                } else if matches!(chars[i], '.' | '/' | ',')
                    && chars.get(i + 1).and_then(|&c| ascii_digit(c)).is_some()
                {
                    s.push(chars[i]);
                    i += 1;
                } else {
                    break;
                }
            }
            runs.push((Kind::Digits, s, glued));
            glued = true;
        } else if c == '½' || c == '¼' || c == '¾' {
            let s = match c {
                '½' => "1/2",
                '¼' => "1/4",
                _ => "3/4",
            };
            // "1½" reads as 1 1/2.
            runs.push((Kind::Digits, s.to_owned(), false));
            glued = true;
            i += 1;
        } else if c.is_alphabetic() || is_devanagari_letter(c) {
            let mut s = String::new();
            while i < chars.len() {
                let c = chars[i];
                if c.is_alphabetic() || is_devanagari_letter(c) {
                    s.extend(c.to_lowercase());
                    i += 1;
                } else if matches!(c, '\'' | '’' | '`') {
                    // "lay's" → "lays"
                    i += 1;
                } else {
                    break;
                }
            }
            runs.push((Kind::Letters, s, glued));
            glued = true;
        } else {
            if c == '×' {
                runs.push((Kind::Letters, "×".to_owned(), false));
            }
            glued = false;
            i += 1;
        }
    }

    let mut tokens: Vec<Token> = Vec::new();
    let mut merge_next = false;
    for (idx, (kind, text, glued)) in runs.iter().enumerate() {
        match kind {
            Kind::Digits => {
                let next_word = runs
                    .get(idx + 1)
                    .filter(|(k, _, g)| *k == Kind::Letters && *g)
                    .map(|(_, t, _)| t.as_str());
                let glued_to_word = *glued
                    && matches!(tokens.last(), Some(Token::Word(w)) if w != "x" && Unit::parse(w).is_none());
                if glued_to_word {
                    // "a4", "b12": part of a word.
                    if let Some(Token::Word(w)) = tokens.last_mut() {
                        w.push_str(text);
                    }
                    merge_next = next_word.is_some_and(|w| w != "x" && Unit::parse(w).is_none());
                    continue;
                }
                if let Some(w) = next_word
                    && w != "x"
                    && Unit::parse(w).is_none()
                {
                    // "7up", "2pm": a name, not a quantity.
                    tokens.push(Token::Word(text.clone()));
                    merge_next = true;
                    continue;
                }
                match parse_number(text) {
                    Some(value) => {
                        // "1½" → 1 and 1/2, summed by the fraction rule in `parse_line`.
                        tokens.push(Token::Num {
                            value,
                            raw: text.clone(),
                        });
                    }
                    None => tokens.push(Token::Word(text.clone())),
                }
            }
            Kind::Letters => {
                if merge_next {
                    if let Some(Token::Word(w)) = tokens.last_mut() {
                        w.push_str(text);
                    }
                    merge_next = false;
                } else {
                    tokens.push(Token::Word(text.clone()));
                }
            }
        }
    }
    tokens
}

/// "12", "1.5", "1,000" (thousands), "1,5" (decimal comma), "1/2"; `None` for anything else,
/// including numbers too large for a finite `f64`.
fn parse_number(s: &str) -> Option<f64> {
    let value = if let Some((a, b)) = s.split_once('/') {
        let (a, b) = (a.parse::<f64>().ok()?, b.parse::<f64>().ok()?);
        if b == 0.0 {
            return None;
        }
        a / b
    } else if s.contains(',') {
        let groups: Vec<&str> = s.split(',').collect();
        if groups.len() > 1 && groups[1..].iter().all(|g| g.len() == 3) && !s.contains('.') {
            s.replace(',', "").parse().ok()?
        } else if groups.len() == 2 && !s.contains('.') {
            s.replace(',', ".").parse().ok()?
        } else {
            return None;
        }
    } else {
        s.parse().ok()?
    };
    value.is_finite().then_some(value)
}

#[cfg(test)]
mod tests;

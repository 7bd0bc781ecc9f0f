use super::*;

fn parsed(text: &str) -> (Option<f64>, Option<Unit>, String) {
    let p = parse_line(text);
    (p.quantity, p.unit, p.rest)
}

fn q(quantity: f64, unit: Unit, rest: &str) -> (Option<f64>, Option<Unit>, String) {
    (Some(quantity), Some(unit), rest.to_owned())
}

#[test]
fn every_unit_parses_back_from_its_canonical_name() {
    for unit in Unit::ALL {
        assert_eq!(Unit::parse(unit.as_str()), Some(unit));
        assert_eq!(unit.to_string(), unit.as_str());
    }
}

#[test]
fn aliases_are_unique_and_lower_case() {
    for (i, (alias, _)) in ALIASES.iter().enumerate() {
        assert_eq!(*alias, alias.to_lowercase());
        assert!(
            ALIASES[i + 1..].iter().all(|(other, _)| other != alias),
            "{alias} twice"
        );
    }
}

#[test]
fn units_parse_from_english_nepali_and_devanagari() {
    for (word, unit) in [
        ("KG", Unit::Kg),
        ("kgs", Unit::Kg),
        ("Kilo", Unit::Kg),
        ("kilograms", Unit::Kg),
        ("केजी", Unit::Kg),
        ("किलो", Unit::Kg),
        ("gm", Unit::G),
        ("grams", Unit::G),
        ("ltr", Unit::L),
        ("litre", Unit::L),
        ("liters", Unit::L),
        ("लिटर", Unit::L),
        ("ml", Unit::Ml),
        ("pcs", Unit::Piece),
        ("ota", Unit::Piece),
        ("wota", Unit::Piece),
        ("wata", Unit::Piece),
        ("goti", Unit::Piece),
        ("वटा", Unit::Piece),
        ("doz", Unit::Dozen),
        ("darjan", Unit::Dozen),
        ("दर्जन", Unit::Dozen),
        ("pkt", Unit::Packet),
        ("pack", Unit::Packet),
        ("poka", Unit::Packet),
        ("पोका", Unit::Packet),
        ("प्याकेट", Unit::Packet),
        ("btl", Unit::Bottle),
        ("bottles", Unit::Bottle),
        ("crate", Unit::Tray),
        ("bora", Unit::Sack),
        ("बोरा", Unit::Sack),
        ("box", Unit::Box),
        ("tin", Unit::Can),
        ("bars", Unit::Bar),
        ("mutha", Unit::Bundle),
        ("kg.", Unit::Kg),
    ] {
        assert_eq!(Unit::parse(word), Some(unit), "{word}");
    }
    for word in ["", "kgx", "chamal", "litres of", "k g"] {
        assert_eq!(Unit::parse(word), None, "{word}");
    }
}

#[test]
fn conversions_stay_within_a_dimension() {
    assert_eq!(convert(500.0, Unit::G, Unit::Kg), Some(0.5));
    assert_eq!(convert(1.5, Unit::Kg, Unit::G), Some(1500.0));
    assert_eq!(convert(250.0, Unit::Ml, Unit::L), Some(0.25));
    assert_eq!(convert(2.0, Unit::L, Unit::Ml), Some(2000.0));
    assert_eq!(convert(2.0, Unit::Dozen, Unit::Piece), Some(24.0));
    assert_eq!(convert(6.0, Unit::Piece, Unit::Dozen), Some(0.5));
    assert_eq!(convert(3.0, Unit::Packet, Unit::Packet), Some(3.0));
    assert_eq!(convert(1.0, Unit::Kg, Unit::L), None);
    assert_eq!(convert(1.0, Unit::Kg, Unit::Piece), None);
    assert_eq!(convert(1.0, Unit::Packet, Unit::Bottle), None);
    assert_eq!(convert(1.0, Unit::Packet, Unit::Kg), None);
    assert_eq!(ratio(Unit::G, Unit::Kg), Some((1, 1000)));
    assert_eq!(ratio(Unit::Dozen, Unit::Piece), Some((12, 1)));
}

#[test]
fn quantity_and_unit_before_the_product() {
    assert_eq!(
        parsed("5 kg basmati rice"),
        q(5.0, Unit::Kg, "basmati rice")
    );
    assert_eq!(parsed("5kg basmati"), q(5.0, Unit::Kg, "basmati"));
    assert_eq!(parsed("2 dozen eggs"), q(2.0, Unit::Dozen, "eggs"));
    assert_eq!(parsed("500 g jeera"), q(500.0, Unit::G, "jeera"));
    assert_eq!(parsed("1.5 l oil"), q(1.5, Unit::L, "oil"));
    assert_eq!(parsed("3 packet wai wai"), q(3.0, Unit::Packet, "wai wai"));
    assert_eq!(parsed("10 ota anda"), q(10.0, Unit::Piece, "anda"));
    assert_eq!(parsed("5 KG of Rice."), q(5.0, Unit::Kg, "rice"));
}

#[test]
fn quantity_and_unit_after_the_product() {
    assert_eq!(
        parsed("basmati rice 5 kg"),
        q(5.0, Unit::Kg, "basmati rice")
    );
    assert_eq!(parsed("wai wai 3 pkt"), q(3.0, Unit::Packet, "wai wai"));
    assert_eq!(parsed("chini - 10kg"), q(10.0, Unit::Kg, "chini"));
    assert_eq!(parsed("anda 2 darjan"), q(2.0, Unit::Dozen, "anda"));
}

#[test]
fn fractions_and_number_words() {
    assert_eq!(parsed("1/2 kg besar"), q(0.5, Unit::Kg, "besar"));
    assert_eq!(parsed("half kg besar"), q(0.5, Unit::Kg, "besar"));
    assert_eq!(parsed("aadha kilo chini"), q(0.5, Unit::Kg, "chini"));
    assert_eq!(parsed("1 1/2 kg dal"), q(1.5, Unit::Kg, "dal"));
    assert_eq!(parsed("1½ kg dal"), q(1.5, Unit::Kg, "dal"));
    assert_eq!(parsed("dedh kilo masu"), q(1.5, Unit::Kg, "masu"));
    assert_eq!(parsed("a dozen eggs"), q(1.0, Unit::Dozen, "eggs"));
    assert_eq!(parsed("two packet rara"), q(2.0, Unit::Packet, "rara"));
    assert_eq!(parsed("tin kilo chini"), q(3.0, Unit::Kg, "chini"));
    assert_eq!(parsed("3 tin ghee"), q(3.0, Unit::Can, "ghee"));
    assert_eq!(parsed("1,000 g chini"), q(1000.0, Unit::G, "chini"));
    assert_eq!(parsed("2,5 kg aalu"), q(2.5, Unit::Kg, "aalu"));
}

#[test]
fn devanagari_digits_and_words() {
    assert_eq!(parsed("५ किलो चामल"), q(5.0, Unit::Kg, "चामल"));
    assert_eq!(parsed("१२ वटा अण्डा।"), q(12.0, Unit::Piece, "अण्डा"));
    assert_eq!(parsed("एक किलो चिनी"), q(1.0, Unit::Kg, "चिनी"));
    assert_eq!(parsed("२पोका वाइवाइ"), q(2.0, Unit::Packet, "वाइवाइ"));
}

#[test]
fn a_bare_number_or_a_bare_unit() {
    assert_eq!(parsed("3 wai wai"), (Some(3.0), None, "wai wai".to_owned()));
    assert_eq!(
        parsed("wai wai x3"),
        (Some(3.0), None, "wai wai".to_owned())
    );
    assert_eq!(parsed("3x rara"), (Some(3.0), None, "rara".to_owned()));
    assert_eq!(
        parsed("dozen eggs"),
        (None, Some(Unit::Dozen), "eggs".to_owned())
    );
    // Product words that are also units stay product words.
    assert_eq!(parsed("tea bags"), (None, None, "tea bags".to_owned()));
    assert_eq!(parsed("gram flour"), (None, None, "gram flour".to_owned()));
    assert_eq!(
        parsed("baby bottle"),
        (None, None, "baby bottle".to_owned())
    );
    assert_eq!(
        parsed("2 pkt gram flour"),
        q(2.0, Unit::Packet, "gram flour")
    );
    assert_eq!(
        parsed("2 chocolate bar"),
        (Some(2.0), None, "chocolate bar".to_owned())
    );
}

#[test]
fn a_number_glued_to_a_word_is_a_name() {
    assert_eq!(parsed("6 bottle 7up"), q(6.0, Unit::Bottle, "7up"));
    assert_eq!(
        parsed("2pm noodles 5"),
        (Some(5.0), None, "2pm noodles".to_owned())
    );
}

#[test]
fn a_pack_size_stays_with_the_product() {
    assert_eq!(
        parsed("wai wai 75 g 3 packet"),
        q(3.0, Unit::Packet, "wai wai 75 g")
    );
    assert_eq!(
        parsed("sunflower oil 1 l x 2 bottle"),
        q(2.0, Unit::Bottle, "sunflower oil 1 l")
    );
    assert_eq!(
        parsed("2 coke 1.5 l"),
        (Some(2.0), None, "coke 1.5 l".to_owned())
    );
    assert_eq!(
        parsed("coke 1.5 l x 6"),
        (Some(6.0), None, "coke 1.5 l".to_owned())
    );
    assert_eq!(parsed("1 kg 500 g chini"), q(1.0, Unit::Kg, "500 g chini"));
}

#[test]
fn lines_without_a_quantity() {
    assert_eq!(
        parsed("basmati rice"),
        (None, None, "basmati rice".to_owned())
    );
    assert_eq!(parsed(""), (None, None, String::new()));
    assert_eq!(parsed("   ,;!  "), (None, None, String::new()));
    assert_eq!(
        parsed("asdf qwerty"),
        (None, None, "asdf qwerty".to_owned())
    );
    assert_eq!(parsed("kg"), (None, Some(Unit::Kg), String::new()));
}

#[test]
fn odd_quantities_are_parsed_and_left_to_the_caller() {
    assert_eq!(parsed("0 kg rice"), q(0.0, Unit::Kg, "rice"));
    assert_eq!(
        parsed("999999999 kg rice"),
        q(999_999_999.0, Unit::Kg, "rice")
    );
    assert_eq!(parsed("0.001 g jeera"), q(0.001, Unit::G, "jeera"));
    // A minus sign is punctuation: shops don't order negative amounts.
    assert_eq!(parsed("-5 kg rice"), q(5.0, Unit::Kg, "rice"));
    // Not a number: kept as a word.
    assert_eq!(
        parsed("1/0 kg rice"),
        (None, Some(Unit::Kg), "1/0 rice".to_owned())
    );
    let huge = format!("{} kg rice", "9".repeat(400));
    assert_eq!(parse_line(&huge).quantity, None);
}

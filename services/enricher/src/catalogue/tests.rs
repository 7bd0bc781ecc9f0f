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
    assert!(bag.price_minor > 4 * basmati.price_minor && bag.price_minor < 6 * basmati.price_minor);
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

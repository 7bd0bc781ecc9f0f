use super::*;

fn point(latitude: f64, longitude: f64) -> GeoPoint {
    GeoPoint {
        latitude,
        longitude,
    }
}

// Order locations.
const THAMEL: GeoPoint = GeoPoint {
    latitude: 27.7154,
    longitude: 85.3123,
};
const KIRTIPUR_TU: GeoPoint = GeoPoint {
    latitude: 27.6820,
    longitude: 85.2870,
};
const DHULIKHEL: GeoPoint = GeoPoint {
    latitude: 27.6253,
    longitude: 85.5561,
};

fn hub(
    id: &str,
    name: &str,
    at: (f64, f64),
    radius_km: f64,
    daily_capacity: u32,
    categories: &[&str],
) -> Hub {
    Hub {
        id: id.into(),
        name: name.into(),
        location: point(at.0, at.1),
        radius_km,
        daily_capacity,
        categories: categories.iter().map(|c| c.to_string()).collect(),
    }
}

/// Five valley hubs at the same places as the shipped ones (without Bhaktapur). Distances
/// below were computed independently with Python's `math` module (haversine, R = 6371 km).
fn valley() -> HubsConfig {
    HubsConfig {
        hubs: vec![
            hub("balaju", "Balaju Hub", (27.7330, 85.3040), 7.0, 400, &[]),
            hub(
                "kalimati",
                "Kalimati Hub",
                (27.6990, 85.2960),
                8.0,
                600,
                &[],
            ),
            hub(
                "koteshwor",
                "Koteshwor Hub",
                (27.6786, 85.3495),
                8.0,
                800,
                &[],
            ),
            hub(
                "patan-cold",
                "Patan Cold Chain Hub",
                (27.6655, 85.3300),
                12.0,
                250,
                &["dairy_eggs", "frozen"],
            ),
            hub(
                "kirtipur-fresh",
                "Kirtipur Fresh Produce Hub",
                (27.6786, 85.2780),
                10.0,
                350,
                &["vegetables", "fruits"],
            ),
        ],
        average_speed_kmh: 18.0,
        handling_minutes: 45,
    }
}

fn cats(c: &[&str]) -> Vec<String> {
    c.iter().map(|c| c.to_string()).collect()
}

fn load(l: &[(&str, u32)]) -> HashMap<String, u32> {
    l.iter().map(|&(id, n)| (id.to_owned(), n)).collect()
}

fn routed(choice: Choice) -> OrderRouted {
    match choice {
        Choice::Routed(r) => r,
        Choice::NoHub { reason } => panic!("expected a hub, got NoHub: {reason}"),
    }
}

fn no_hub(choice: Choice) -> String {
    match choice {
        Choice::NoHub { reason } => reason,
        Choice::Routed(r) => panic!("expected NoHub, got {r:#?}"),
    }
}

#[test]
fn haversine_matches_an_independent_computation() {
    // Kathmandu (Ratna Park) to Pokhara: 142.3937 km by Python's math module.
    let kathmandu = point(27.7172, 85.3240);
    let pokhara = point(28.2096, 83.9856);
    let d = haversine_km(kathmandu, pokhara);
    assert!((d - 142.3937).abs() < 0.001, "{d}");
    assert_eq!(d, haversine_km(pokhara, kathmandu));
    assert_eq!(haversine_km(kathmandu, kathmandu), 0.0);
    // One degree of longitude on the equator is 2πR/360 = 111.19493 km.
    let degree = haversine_km(point(0.0, 0.0), point(0.0, 1.0));
    assert!((degree - 111.19493).abs() < 0.0001, "{degree}");
    // Antipodes: half the circumference, not NaN.
    let half = haversine_km(point(0.0, 0.0), point(0.0, 180.0));
    assert!((half - std::f64::consts::PI * EARTH_RADIUS_KM).abs() < 1e-6);
}

#[test]
fn nearest_hub_wins_and_the_event_says_why() {
    // Given an order in Thamel with no load anywhere
    let cfg = valley();
    // When routed
    let r = routed(choose(&cfg, THAMEL, &[], &HashMap::new()));
    // Then Balaju (2.121 km) beats Kalimati (2.429 km)
    assert_eq!(r.hub_id, "balaju");
    assert_eq!(r.hub_name, "Balaju Hub");
    assert_eq!(r.distance_km, 2.1);
    // 45 min handling + ceil(2.121 km / 18 km/h = 7.07 min)
    assert_eq!(r.eta_minutes, 53);
    assert_eq!(
        r.reason,
        "Balaju Hub is 2.1 km away, serves every category and has 400 of 400 slots left \
         today; next nearest with capacity is Kalimati Hub (2.4 km)"
    );
}

#[test]
fn full_hub_is_skipped_and_named_in_the_reason() {
    // Given Balaju has used all 400 slots and Kalimati 388 of 600
    let cfg = valley();
    let today = load(&[("balaju", 400), ("kalimati", 388)]);
    // When an order for rice and eggs from Thamel is routed
    let r = routed(choose(
        &cfg,
        THAMEL,
        &cats(&["rice_grains", "dairy_eggs"]),
        &today,
    ));
    // Then it goes to Kalimati and the reason names the full hub and the runner-up
    assert_eq!(r.hub_id, "kalimati");
    assert_eq!(r.distance_km, 2.4);
    assert_eq!(r.eta_minutes, 45 + 9);
    assert_eq!(
        r.reason,
        "Kalimati Hub is 2.4 km away, serves rice_grains, dairy_eggs and has 212 of 600 \
         slots left today; Balaju Hub (2.1 km) is full; next nearest with capacity is \
         Koteshwor Hub (5.5 km)"
    );
}

#[test]
fn hubs_that_do_not_stock_a_category_are_skipped() {
    let cfg = valley();
    let none = HashMap::new();
    // Given an order near Kirtipur for vegetables and fruits only, the fresh hub takes it
    let r = routed(choose(
        &cfg,
        KIRTIPUR_TU,
        &cats(&["vegetables", "fruits", "vegetables"]),
        &none,
    ));
    assert_eq!(r.hub_id, "kirtipur-fresh");
    assert_eq!(
        r.reason,
        "Kirtipur Fresh Produce Hub is 1.0 km away, serves vegetables, fruits and has 350 of \
         350 slots left today; next nearest with capacity is Kalimati Hub (2.1 km)"
    );
    // When rice is added, the fresh hub cannot take the order
    let r = routed(choose(
        &cfg,
        KIRTIPUR_TU,
        &cats(&["vegetables", "rice_grains"]),
        &none,
    ));
    assert_eq!(r.hub_id, "kalimati");
    assert_eq!(
        r.reason,
        "Kalimati Hub is 2.1 km away, serves vegetables, rice_grains and has 600 of 600 \
         slots left today; Kirtipur Fresh Produce Hub (1.0 km) does not serve rice_grains; \
         next nearest with capacity is Balaju Hub (5.9 km)"
    );
}

#[test]
fn equally_near_hubs_go_to_the_lower_load_then_the_lower_id() {
    let mut cfg = valley();
    cfg.hubs = vec![
        hub("b-hub", "B Hub", (27.7330, 85.3040), 7.0, 400, &[]),
        hub("a-hub", "A Hub", (27.7330, 85.3040), 7.0, 400, &[]),
    ];
    let r = routed(choose(
        &cfg,
        THAMEL,
        &[],
        &load(&[("a-hub", 10), ("b-hub", 5)]),
    ));
    assert_eq!(r.hub_id, "b-hub");
    assert!(
        r.reason
            .ends_with("; A Hub is also 2.1 km away but busier (10 vs 5 orders today)"),
        "{}",
        r.reason
    );

    let r = routed(choose(
        &cfg,
        THAMEL,
        &[],
        &load(&[("a-hub", 7), ("b-hub", 7)]),
    ));
    assert_eq!(r.hub_id, "a-hub");
    assert!(
        r.reason
            .ends_with("; B Hub is as near and as busy; A Hub comes first by id"),
        "{}",
        r.reason
    );
}

#[test]
fn the_only_hub_says_no_other_could_take_it() {
    let mut cfg = valley();
    cfg.hubs.truncate(1);
    let r = routed(choose(&cfg, THAMEL, &[], &HashMap::new()));
    assert!(
        r.reason.ends_with("; no other hub could take it"),
        "{}",
        r.reason
    );
}

#[test]
fn outside_every_radius_is_no_hub_naming_the_nearest() {
    // Given an order from Dhulikhel, 21.2 km from Koteshwor (radius 8 km)
    let reason = no_hub(choose(&valley(), DHULIKHEL, &[], &HashMap::new()));
    assert_eq!(
        reason,
        "delivery location is outside every hub's service radius; the nearest is Koteshwor \
         Hub at 21.2 km, which delivers within 8.0 km"
    );
}

#[test]
fn in_range_but_no_hub_stocks_the_category_is_no_hub() {
    let mut cfg = valley();
    cfg.hubs.retain(|h| !h.categories.is_empty());
    let none = HashMap::new();
    let reason = no_hub(choose(&cfg, KIRTIPUR_TU, &cats(&["rice_grains"]), &none));
    assert_eq!(
        reason,
        "no hub in range serves rice_grains: Kirtipur Fresh Produce Hub (1.0 km) does not \
         serve rice_grains; Patan Cold Chain Hub (4.6 km) does not serve rice_grains"
    );
    // Each hub stocks one of the two categories, neither stocks both.
    let reason = no_hub(choose(
        &cfg,
        KIRTIPUR_TU,
        &cats(&["vegetables", "dairy_eggs"]),
        &none,
    ));
    assert_eq!(
        reason,
        "no hub in range serves all of vegetables, dairy_eggs: Kirtipur Fresh Produce Hub \
         (1.0 km) does not serve dairy_eggs; Patan Cold Chain Hub (4.6 km) does not serve \
         vegetables"
    );
}

#[test]
fn all_hubs_in_range_full_is_no_hub_listing_them() {
    let cfg = valley();
    let today: HashMap<String, u32> = cfg
        .hubs
        .iter()
        .map(|h| (h.id.clone(), h.daily_capacity))
        .collect();
    let reason = no_hub(choose(&cfg, THAMEL, &[], &today));
    assert_eq!(
        reason,
        "every hub in range is full today: Balaju Hub (2.1 km), Kalimati Hub (2.4 km), \
         Kirtipur Fresh Produce Hub (5.3 km), Koteshwor Hub (5.5 km), Patan Cold Chain Hub \
         (5.8 km)"
    );
    // With one hub lacking a category and the rest full, the reason gives each hub's cause.
    let reason = no_hub(choose(&cfg, KIRTIPUR_TU, &cats(&["frozen"]), &today));
    assert!(
        reason.starts_with(
            "no hub in range can take the order: Kirtipur Fresh Produce Hub (1.0 km) does \
             not serve frozen; Kalimati Hub (2.1 km) is full;"
        ),
        "{reason}"
    );
}

#[test]
fn invalid_delivery_location_is_no_hub() {
    let reason = no_hub(choose(
        &valley(),
        point(f64::NAN, 85.3),
        &[],
        &HashMap::new(),
    ));
    assert!(
        reason.contains("not a valid latitude/longitude"),
        "{reason}"
    );
}

#[test]
fn eta_rounds_driving_time_up_to_whole_minutes() {
    assert_eq!(eta_minutes(45, 3.0, 30.0), 51);
    assert_eq!(eta_minutes(45, 3.01, 30.0), 52);
    assert_eq!(eta_minutes(0, 0.0, 18.0), 0);
    assert_eq!(eta_minutes(u32::MAX, 1e12, 1e-12), u32::MAX);
}

#[test]
fn builtin_hubs_validate_and_route_real_places() {
    let cfg = HubsConfig::builtin();
    cfg.validate().unwrap();
    assert!(cfg.hubs.len() >= 8, "{}", cfg.hubs.len());
    assert_eq!(cfg.get("ktm-kalimati").unwrap().name, "Kalimati Hub");
    assert!(cfg.get("ktm-nowhere").is_none());
    let none = HashMap::new();
    for (place, at, want) in [
        ("Thamel", THAMEL, "ktm-balaju"),
        ("Baneshwor", point(27.6915, 85.3420), "ktm-koteshwor"),
        ("Pokhara Lakeside", point(28.2096, 83.9592), "pkr-pokhara"),
        ("Narayangarh", point(27.6950, 84.4220), "ctw-bharatpur"),
    ] {
        assert_eq!(routed(choose(&cfg, at, &[], &none)).hub_id, want, "{place}");
    }
    let r = routed(choose(
        &cfg,
        point(27.6915, 85.3420),
        &cats(&["frozen"]),
        &none,
    ));
    assert_eq!(r.hub_id, "ktm-koteshwor", "general hubs stock frozen too");
    let reason = no_hub(choose(&cfg, DHULIKHEL, &[], &none));
    assert!(
        reason.contains("the nearest is Bhaktapur Hub at 14.4 km, which delivers within 10.0 km"),
        "{reason}"
    );
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("hubs.json");
    assert_eq!(HubsConfig::load(&path).unwrap(), cfg);
}

#[test]
fn invalid_configs_name_the_hub_and_field() {
    /// Breaks one thing in a valid config.
    type Break = fn(&mut HubsConfig);
    let cases: &[(Break, &str)] = &[
        (
            |c| c.hubs.clear(),
            "hubs config: `hubs` is empty; list at least one hub",
        ),
        (
            |c| c.average_speed_kmh = 0.0,
            "hubs config: `average_speed_kmh` must be above 0 (km/h), got 0",
        ),
        (
            |c| c.hubs[2].id = "balaju".into(),
            "hubs config: hub \"balaju\" (hubs[2]): `id` is also the id of hubs[0]; give each \
             hub its own id",
        ),
        (
            |c| c.hubs[1].id = " ".into(),
            "hubs config: hub \" \" (hubs[1]): `id` must not be empty",
        ),
        (
            |c| c.hubs[1].name.clear(),
            "hubs config: hub \"kalimati\" (hubs[1]): `name` must not be empty",
        ),
        (
            |c| c.hubs[1].location.latitude = 95.0,
            "hubs config: hub \"kalimati\" (hubs[1]): `location.latitude` must be -90..=90 \
             degrees, got 95",
        ),
        (
            |c| c.hubs[1].location.longitude = f64::NAN,
            "hubs config: hub \"kalimati\" (hubs[1]): `location.longitude` must be \
             -180..=180 degrees, got NaN",
        ),
        (
            |c| c.hubs[0].radius_km = 0.0,
            "hubs config: hub \"balaju\" (hubs[0]): `radius_km` must be above 0 km, got 0",
        ),
        (
            |c| c.hubs[4].daily_capacity = 0,
            "hubs config: hub \"kirtipur-fresh\" (hubs[4]): `daily_capacity` must be above 0",
        ),
        (
            |c| c.hubs[3].categories.push("frozen".into()),
            "hubs config: hub \"patan-cold\" (hubs[3]): `categories` lists \"frozen\" twice",
        ),
        (
            |c| c.hubs[3].categories.push(String::new()),
            "hubs config: hub \"patan-cold\" (hubs[3]): `categories` contains an empty name",
        ),
    ];
    for &(breaks, want) in cases {
        let mut cfg = valley();
        breaks(&mut cfg);
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.starts_with(want), "got:  {err}\nwant: {want}");
        // The same check runs when parsing.
        let json = serde_json::to_vec(&cfg).unwrap();
        // (NaN has no JSON form, so that case stops at the parser.)
        if serde_json::from_slice::<HubsConfig>(&json).is_ok() {
            let err = HubsConfig::from_json(&json).unwrap_err().to_string();
            assert!(err.starts_with(want), "{err}");
        }
    }
    valley().validate().unwrap();
}

#[test]
fn unknown_fields_and_unreadable_files_are_explained() {
    let json = br#"{"hubs": [], "average_speed_kmh": 18, "handling_minutes": 45, "speed": 1}"#;
    let err = HubsConfig::from_json(json).unwrap_err();
    assert!(matches!(err, HubsConfigError::Parse { .. }), "{err}");
    assert!(err.to_string().contains("unknown field `speed`"), "{err}");

    let err = HubsConfig::load(Path::new("/nonexistent/hubs.json")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot read hubs config /nonexistent/hubs.json:"),
        "{err}"
    );
}

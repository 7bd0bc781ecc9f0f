//! Realistic-looking orders: shops around Kathmandu ordering groceries by free text or by SKU.
use orders_proto::v1;

const TEXT_LINES: &[&str] = &[
    "5 kg basmati rice",
    "2 dozen eggs",
    "1 packet wai wai noodles",
    "10 kg chini",
    "500 g jeera",
    "3 litre sunflower oil",
    "2 kg masoor dal",
    "1 box tea bags",
    "4 packet biscuits",
    "20 kg aata",
];

const SKUS: &[(&str, &str)] = &[
    ("RICE-BAS-5KG", "bag"),
    ("DAL-MAS-1KG", "packet"),
    ("OIL-SUN-1L", "bottle"),
    ("SUGAR-1KG", "packet"),
    ("NOODLE-WAI-75G", "packet"),
    ("SALT-1KG", "packet"),
];

const AREAS: &[(&str, f64, f64)] = &[
    ("Kathmandu", 27.7172, 85.3240),
    ("Lalitpur", 27.6644, 85.3188),
    ("Bhaktapur", 27.6710, 85.4298),
    ("Kirtipur", 27.6787, 85.2775),
];

/// A deterministic pseudo-random order number `i` of a run (no RNG crate needed for variety).
pub fn order(run_id: &str, i: u64) -> v1::PlaceOrderRequest {
    let h = splitmix(i ^ 0x9e37_79b9);
    let (city, lat, lon) = AREAS[(h % AREAS.len() as u64) as usize];
    let n_lines = 1 + (h >> 8) % 5;
    let lines = (0..n_lines)
        .map(|j| {
            let r = splitmix(h ^ j);
            let item = if r.is_multiple_of(3) {
                let (sku, unit) = SKUS[((r >> 4) % SKUS.len() as u64) as usize];
                v1::order_line::Item::Sku(v1::SkuItem {
                    sku: sku.to_owned(),
                    quantity: 1 + ((r >> 12) % 20) as i32,
                    unit: unit.to_owned(),
                })
            } else {
                v1::order_line::Item::Text(
                    TEXT_LINES[((r >> 4) % TEXT_LINES.len() as u64) as usize].to_owned(),
                )
            };
            v1::OrderLine { item: Some(item) }
        })
        .collect();
    let jitter = |x: u64| ((x % 2000) as f64 - 1000.0) / 100_000.0;
    v1::PlaceOrderRequest {
        idempotency_key: format!("{run_id}-{i}"),
        customer_id: format!("shop-{:04}", (h >> 20) % 500),
        lines,
        delivery_address: Some(v1::DeliveryAddress {
            contact_name: "Store Manager".into(),
            contact_phone: "+977 1 5550100".into(),
            line1: format!("Ward {}, Main Road", 1 + (h >> 30) % 30),
            line2: String::new(),
            city: city.into(),
            district: city.into(),
            postal_code: "44600".into(),
            country_code: "NP".into(),
            location: Some(v1::GeoPoint {
                latitude: lat + jitter(h >> 7),
                longitude: lon + jitter(h >> 17),
            }),
        }),
        channel: [
            v1::Channel::App,
            v1::Channel::Web,
            v1::Channel::Whatsapp,
            v1::Channel::SalesRep,
        ][((h >> 40) % 4) as usize] as i32,
        notes: String::new(),
        currency: "NPR".into(),
    }
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_are_deterministic_and_varied() {
        assert_eq!(order("r", 7), order("r", 7));
        let customers: std::collections::HashSet<_> =
            (0..100).map(|i| order("r", i).customer_id).collect();
        assert!(customers.len() > 50, "{}", customers.len());
        assert!((0..100).all(|i| (1..=5).contains(&order("r", i).lines.len())));
    }
}

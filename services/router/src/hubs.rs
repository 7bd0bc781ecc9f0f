//! Hubs and the choice of a hub for an approved order.
//!
//! A hub can take an order when the delivery location is within its service radius, it stocks every
//! category on the order, and it has dispatch capacity left today. [`choose`] picks the nearest such
//! hub and says why in words an operator can act on: which closer hubs were skipped and why, and
//! which hub came second. Finding no hub is a decision ([`Choice::NoHub`]), not an error.
//!
//! The shipped hubs are in `services/router/hubs.json` ([`HubsConfig::builtin`]); a deployment can
//! load its own file with [`HubsConfig::load`]. Everything here is pure: the caller passes today's
//! load per hub, so the same inputs always give the same choice.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use orders_events::{GeoPoint, OrderRouted};
use serde::{Deserialize, Serialize};

/// Mean Earth radius (km). The spherical model is within 0.5% of the ellipsoid, far less than the
/// gap between straight-line and road distance.
pub const EARTH_RADIUS_KM: f64 = 6371.0;

/// A dispatch hub.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Hub {
    /// Stable id, written into `OrderRouted` events and the hub-load read model; never reuse one.
    pub id: String,
    /// The name operators know the hub by, used in routing reasons.
    pub name: String,
    /// Where deliveries leave from (WGS 84).
    pub location: GeoPoint,
    /// The hub delivers to locations within this straight-line distance (km, > 0).
    pub radius_km: f64,
    /// Orders the hub can dispatch per day (> 0).
    pub daily_capacity: u32,
    /// Categories the hub stocks; empty = serves every category.
    #[serde(default)]
    pub categories: Vec<String>,
}

impl Hub {
    /// Whether the hub stocks `category`.
    pub fn serves(&self, category: &str) -> bool {
        self.categories.is_empty() || self.categories.iter().any(|c| c == category)
    }
}

/// The hubs and the figures used to estimate delivery time.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HubsConfig {
    /// Every hub orders can be routed to (at least one, unique ids).
    pub hubs: Vec<Hub>,
    /// Average delivery speed door to door (km/h, > 0), used for the ETA. One figure for every hub:
    /// valley traffic dominates the volume, so the estimate is pessimistic for Pokhara and Chitwan.
    pub average_speed_kmh: f64,
    /// Minutes to pick, pack and load an order before the vehicle leaves; added to every ETA.
    pub handling_minutes: u32,
}

/// A hubs config that cannot be used; the message names the hub and field and what to change.
#[derive(Debug, thiserror::Error)]
pub enum HubsConfigError {
    #[error("cannot read hubs config {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{origin} is not a valid hubs config: {source} \
         (see services/router/hubs.json for the format)"
    )]
    Parse {
        /// "hubs config" or "hubs config <path>".
        origin: String,
        source: serde_json::Error,
    },
    #[error("{origin}: {}`{field}` {problem}", hub_prefix(.hub.as_deref()))]
    Invalid {
        /// "hubs config" or "hubs config <path>".
        origin: String,
        /// The hub at fault, as `"<id>" (hubs[<index>])`; `None` for top-level fields.
        hub: Option<String>,
        /// The field at fault, e.g. `radius_km`.
        field: String,
        /// What is wrong and how to fix it.
        problem: String,
    },
}

fn hub_prefix(hub: Option<&str>) -> String {
    hub.map(|h| format!("hub {h}: ")).unwrap_or_default()
}

const ORIGIN: &str = "hubs config";

/// (hub, field, problem) of the first validation failure.
type Violation = (Option<String>, &'static str, String);

impl HubsConfig {
    /// The hubs shipped in `services/router/hubs.json`.
    pub fn builtin() -> HubsConfig {
        HubsConfig::from_json(include_str!("../hubs.json").as_bytes())
            .expect("services/router/hubs.json is valid (checked by a unit test)")
    }

    /// Parses and validates a JSON hubs config.
    pub fn from_json(bytes: &[u8]) -> Result<HubsConfig, HubsConfigError> {
        Self::parse(bytes, ORIGIN)
    }

    /// Reads, parses and validates the JSON hubs config at `path`.
    pub fn load(path: &Path) -> Result<HubsConfig, HubsConfigError> {
        let bytes = std::fs::read(path).map_err(|source| HubsConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&bytes, &format!("{ORIGIN} {}", path.display()))
    }

    fn parse(bytes: &[u8], origin: &str) -> Result<HubsConfig, HubsConfigError> {
        let cfg: HubsConfig =
            serde_json::from_slice(bytes).map_err(|source| HubsConfigError::Parse {
                origin: origin.to_owned(),
                source,
            })?;
        cfg.check().map_err(|v| invalid(origin, v))?;
        Ok(cfg)
    }

    /// Checks ranges and uniqueness; the error names the first bad hub and field.
    pub fn validate(&self) -> Result<(), HubsConfigError> {
        self.check().map_err(|v| invalid(ORIGIN, v))
    }

    fn check(&self) -> Result<(), Violation> {
        if self.hubs.is_empty() {
            return Err((
                None,
                "hubs",
                "is empty; list at least one hub to route orders to".to_owned(),
            ));
        }
        if !(self.average_speed_kmh.is_finite() && self.average_speed_kmh > 0.0) {
            return Err((
                None,
                "average_speed_kmh",
                format!("must be above 0 (km/h), got {}", self.average_speed_kmh),
            ));
        }
        let mut first_index: HashMap<&str, usize> = HashMap::new();
        for (i, hub) in self.hubs.iter().enumerate() {
            let at = || Some(format!("{:?} (hubs[{i}])", hub.id));
            if hub.id.trim().is_empty() {
                return Err((at(), "id", "must not be empty".to_owned()));
            }
            if let Some(first) = first_index.insert(hub.id.as_str(), i) {
                return Err((
                    at(),
                    "id",
                    format!("is also the id of hubs[{first}]; give each hub its own id"),
                ));
            }
            if hub.name.trim().is_empty() {
                return Err((
                    at(),
                    "name",
                    "must not be empty; operators read it in routing reasons".to_owned(),
                ));
            }
            let GeoPoint {
                latitude,
                longitude,
            } = hub.location;
            if !(-90.0..=90.0).contains(&latitude) {
                return Err((
                    at(),
                    "location.latitude",
                    format!("must be -90..=90 degrees, got {latitude}"),
                ));
            }
            if !(-180.0..=180.0).contains(&longitude) {
                return Err((
                    at(),
                    "location.longitude",
                    format!("must be -180..=180 degrees, got {longitude}"),
                ));
            }
            if !(hub.radius_km.is_finite() && hub.radius_km > 0.0) {
                return Err((
                    at(),
                    "radius_km",
                    format!("must be above 0 km, got {}", hub.radius_km),
                ));
            }
            if hub.daily_capacity == 0 {
                return Err((
                    at(),
                    "daily_capacity",
                    "must be above 0; remove the hub to stop routing to it".to_owned(),
                ));
            }
            let mut seen = HashSet::new();
            for category in &hub.categories {
                if category.trim().is_empty() {
                    return Err((
                        at(),
                        "categories",
                        "contains an empty name; leave the list empty to serve every category"
                            .to_owned(),
                    ));
                }
                if !seen.insert(category) {
                    return Err((at(), "categories", format!("lists {category:?} twice")));
                }
            }
        }
        Ok(())
    }

    /// The hub with this id.
    pub fn get(&self, id: &str) -> Option<&Hub> {
        self.hubs.iter().find(|h| h.id == id)
    }
}

fn invalid(origin: &str, (hub, field, problem): Violation) -> HubsConfigError {
    HubsConfigError::Invalid {
        origin: origin.to_owned(),
        hub,
        field: field.to_owned(),
        problem,
    }
}

/// Great-circle distance in km between two WGS 84 points (haversine formula on a sphere of
/// [`EARTH_RADIUS_KM`]).
pub fn haversine_km(a: GeoPoint, b: GeoPoint) -> f64 {
    let (lat_a, lat_b) = (a.latitude.to_radians(), b.latitude.to_radians());
    let d_lat = lat_b - lat_a;
    let d_lon = (b.longitude - a.longitude).to_radians();
    let h = (d_lat / 2.0).sin().powi(2) + lat_a.cos() * lat_b.cos() * (d_lon / 2.0).sin().powi(2);
    // Rounding can push h a hair above 1 for antipodal points; asin would return NaN.
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

/// The router's decision for one order.
#[derive(Debug, Clone, PartialEq)]
pub enum Choice {
    /// The order goes to this hub.
    Routed(OrderRouted),
    /// No hub can take the order; `reason` says why (for the ops queue).
    NoHub { reason: String },
}

/// Why a hub can or cannot take the order, in order of precedence.
#[derive(Debug)]
enum Fit<'a> {
    OutOfRange,
    /// In range, but does not stock these categories of the order.
    Lacks(Vec<&'a str>),
    /// In range and stocks everything, but today's load has reached capacity.
    Full,
    Eligible,
}

#[derive(Debug)]
struct Candidate<'a> {
    hub: &'a Hub,
    distance_km: f64,
    load: u32,
    fit: Fit<'a>,
}

impl Candidate<'_> {
    /// Distance in tenths of a km, as reported: hubs at the same reported distance count as
    /// equally near, so the less loaded one wins rather than one a few metres closer.
    fn tenths(&self) -> i64 {
        (self.distance_km * 10.0).round() as i64
    }

    fn label(&self) -> String {
        format!("{} ({} km)", self.hub.name, km(self.distance_km))
    }

    /// Why this hub could not take the order, e.g. "Balaju Hub (1.9 km) is full".
    fn skipped_because(&self) -> String {
        match &self.fit {
            Fit::OutOfRange => format!(
                "{} is beyond its {} km service radius",
                self.label(),
                km(self.hub.radius_km)
            ),
            Fit::Lacks(missing) => {
                format!("{} does not serve {}", self.label(), missing.join(", "))
            }
            Fit::Full => format!("{} is full", self.label()),
            Fit::Eligible => format!("{} could take it", self.label()),
        }
    }
}

/// Chooses the hub for an order delivered to `location` with lines in `categories` (empty: any
/// hub will do). `load_today`: orders already routed to each hub today (hub id → count; missing
/// ids count as 0).
///
/// The nearest eligible hub wins; hubs at the same distance (to 0.1 km, as reported) go to the
/// lower load, then the lower id. ETA = `handling_minutes` + driving time at
/// `average_speed_kmh`, rounded up to whole minutes.
pub fn choose(
    cfg: &HubsConfig,
    location: GeoPoint,
    categories: &[String],
    load_today: &HashMap<String, u32>,
) -> Choice {
    if !((-90.0..=90.0).contains(&location.latitude)
        && (-180.0..=180.0).contains(&location.longitude))
    {
        return Choice::NoHub {
            reason: format!(
                "delivery location ({}, {}) is not a valid latitude/longitude",
                location.latitude, location.longitude
            ),
        };
    }
    let mut wanted: Vec<&str> = Vec::with_capacity(categories.len());
    for c in categories {
        if !wanted.contains(&c.as_str()) {
            wanted.push(c);
        }
    }

    let mut candidates: Vec<Candidate<'_>> = cfg
        .hubs
        .iter()
        .map(|hub| {
            let distance_km = haversine_km(hub.location, location);
            let load = load_today.get(&hub.id).copied().unwrap_or(0);
            let missing: Vec<&str> = wanted.iter().copied().filter(|c| !hub.serves(c)).collect();
            let fit = if distance_km > hub.radius_km {
                Fit::OutOfRange
            } else if !missing.is_empty() {
                Fit::Lacks(missing)
            } else if load >= hub.daily_capacity {
                Fit::Full
            } else {
                Fit::Eligible
            };
            Candidate {
                hub,
                distance_km,
                load,
                fit,
            }
        })
        .collect();
    candidates.sort_by(|a, b| {
        a.tenths()
            .cmp(&b.tenths())
            .then(a.load.cmp(&b.load))
            .then_with(|| a.hub.id.cmp(&b.hub.id))
    });

    let mut eligible = candidates
        .iter()
        .enumerate()
        .filter(|(_, c)| matches!(c.fit, Fit::Eligible));
    match eligible.next() {
        Some((index, chosen)) => {
            let runner_up = eligible.next().map(|(_, c)| c);
            Choice::Routed(routed(
                cfg,
                chosen,
                &candidates[..index],
                runner_up,
                &wanted,
            ))
        }
        None => Choice::NoHub {
            reason: no_hub_reason(&candidates, &wanted),
        },
    }
}

fn routed(
    cfg: &HubsConfig,
    chosen: &Candidate<'_>,
    closer: &[Candidate<'_>],
    runner_up: Option<&Candidate<'_>>,
    wanted: &[&str],
) -> OrderRouted {
    let hub = chosen.hub;
    let serves = if !wanted.is_empty() {
        format!("serves {}", wanted.join(", "))
    } else if hub.categories.is_empty() {
        "serves every category".to_owned()
    } else {
        format!("serves {}", hub.categories.join(", "))
    };
    let mut parts = vec![format!(
        "{} is {} km away, {serves} and has {} of {} slots left today",
        hub.name,
        km(chosen.distance_km),
        hub.daily_capacity.saturating_sub(chosen.load),
        hub.daily_capacity,
    )];
    parts.extend(closer.iter().map(Candidate::skipped_because));
    parts.push(match runner_up {
        Some(r) if r.tenths() == chosen.tenths() && r.load > chosen.load => format!(
            "{} is also {} km away but busier ({} vs {} orders today)",
            r.hub.name,
            km(r.distance_km),
            r.load,
            chosen.load
        ),
        Some(r) if r.tenths() == chosen.tenths() => format!(
            "{} is as near and as busy; {} comes first by id",
            r.hub.name, hub.name
        ),
        Some(r) => format!("next nearest with capacity is {}", r.label()),
        None => "no other hub could take it".to_owned(),
    });
    OrderRouted {
        hub_id: hub.id.clone(),
        hub_name: hub.name.clone(),
        distance_km: (chosen.distance_km * 10.0).round() / 10.0,
        eta_minutes: eta_minutes(
            cfg.handling_minutes,
            chosen.distance_km,
            cfg.average_speed_kmh,
        ),
        reason: parts.join("; "),
    }
}

fn no_hub_reason(candidates: &[Candidate<'_>], wanted: &[&str]) -> String {
    let Some(nearest) = candidates.first() else {
        return "no hubs are configured".to_owned();
    };
    let in_range: Vec<&Candidate<'_>> = candidates
        .iter()
        .filter(|c| !matches!(c.fit, Fit::OutOfRange))
        .collect();
    if in_range.is_empty() {
        return format!(
            "delivery location is outside every hub's service radius; the nearest is {} at {} km, \
             which delivers within {} km",
            nearest.hub.name,
            km(nearest.distance_km),
            km(nearest.hub.radius_km)
        );
    }
    if in_range.iter().all(|c| matches!(c.fit, Fit::Full)) {
        let hubs: Vec<String> = in_range.iter().map(|c| c.label()).collect();
        return format!("every hub in range is full today: {}", hubs.join(", "));
    }
    let details: Vec<String> = in_range.iter().map(|c| c.skipped_because()).collect();
    let details = details.join("; ");
    if in_range.iter().all(|c| matches!(c.fit, Fit::Lacks(_))) {
        let unserved: Vec<&str> = wanted
            .iter()
            .copied()
            .filter(|w| in_range.iter().all(|c| !c.hub.serves(w)))
            .collect();
        return if unserved.is_empty() {
            format!(
                "no hub in range serves all of {}: {details}",
                wanted.join(", ")
            )
        } else {
            format!("no hub in range serves {}: {details}", unserved.join(", "))
        };
    }
    format!("no hub in range can take the order: {details}")
}

/// Handling plus driving time, rounded up to whole minutes.
fn eta_minutes(handling_minutes: u32, distance_km: f64, speed_kmh: f64) -> u32 {
    // The epsilon keeps a whole number of minutes whole: 3 km at 30 km/h is 6 minutes, though
    // 3.0 / 30.0 * 60.0 is 6.000000000000001 in floating point.
    let driving = (distance_km / speed_kmh * 60.0 - 1e-9).ceil();
    let driving = if driving.is_finite() {
        driving.clamp(0.0, f64::from(u32::MAX)) as u32
    } else {
        u32::MAX
    };
    handling_minutes.saturating_add(driving)
}

/// A distance or radius as written in reasons: one decimal.
fn km(x: f64) -> String {
    format!("{x:.1}")
}

#[cfg(test)]
mod tests;

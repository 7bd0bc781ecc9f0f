//! Times on the command line: RFC 3339, a date (midnight UTC), or an age before now (`30m`, `2h`, `7d`).
use chrono::{DateTime, NaiveDate, Utc};

pub fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    parse_at(s, Utc::now())
}

fn parse_at(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc());
    }
    let unit_at = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(unit_at);
    let seconds = match (n.parse::<i64>(), unit) {
        (Ok(n), "s") => n,
        (Ok(n), "m") => n * 60,
        (Ok(n), "h") => n * 3600,
        (Ok(n), "d") => n * 86_400,
        _ => {
            return Err(format!(
                "{s:?} is not a time: use RFC 3339 (2026-12-03T10:00:00Z), a date (2026-12-03, \
                 midnight UTC) or an age before now (90s, 30m, 2h, 7d)"
            ));
        }
    };
    Ok(now - chrono::Duration::seconds(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_instants_dates_and_ages() {
        let now = DateTime::parse_from_rfc3339("2026-12-03T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let at = |s| parse_at(s, now).unwrap().to_rfc3339();
        assert_eq!(at("2026-12-03T10:30:00+01:00"), "2026-12-03T09:30:00+00:00");
        assert_eq!(at("2026-12-01"), "2026-12-01T00:00:00+00:00");
        assert_eq!(at("90s"), "2026-12-03T11:58:30+00:00");
        assert_eq!(at("2h"), "2026-12-03T10:00:00+00:00");
        assert_eq!(at("7d"), "2026-11-26T12:00:00+00:00");
        let err = parse_at("yesterday", now).unwrap_err();
        assert!(err.contains("RFC 3339") && err.contains("7d"), "{err}");
    }
}

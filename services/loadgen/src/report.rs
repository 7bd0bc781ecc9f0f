//! The summary a load run prints.
use std::collections::BTreeMap;
use std::fmt::Write;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::Until;
use crate::orders::Kind;

/// Percentiles in milliseconds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Latency {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

impl Latency {
    fn of(h: &Histogram<u64>) -> Self {
        let ms = |micros: u64| (micros as f64 / 1000.0 * 100.0).round() / 100.0;
        Latency {
            p50: ms(h.value_at_quantile(0.50)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
        }
    }
}

/// The CancelOrder calls of a run (one per acknowledged [`Kind::Cancelled`] order).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct CancelRequests {
    /// Calls made.
    pub sent: u64,
    /// Calls the ingress refused or that failed, of `sent`.
    pub failed: u64,
    /// Failures by gRPC status and message.
    pub errors: BTreeMap<String, u64>,
}

/// Result of a run, as printed by `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Prefix of every idempotency key of the run (`<run_id>-<i>`), to find its orders.
    pub run_id: String,
    /// What the run waited for.
    pub until: Until,
    pub requested: u64,
    pub target_rate_per_s: f64,
    /// Orders acknowledged by the ingress.
    pub placed: u64,
    /// Orders refused or failed, by gRPC status.
    pub failed: BTreeMap<String, u64>,
    /// PlaceOrder and CancelOrder calls sent again after UNAVAILABLE (see `--attempts`).
    pub retries: u64,
    /// Acknowledged orders placed, by kind.
    pub by_kind: BTreeMap<Kind, u64>,
    pub cancel_requests: CancelRequests,
    /// Acknowledged orders found in the read model.
    pub projected: u64,
    /// Status of the projected orders at the end of the run.
    pub by_status: BTreeMap<String, u64>,
    /// Acknowledged orders decided (ROUTED, HELD, REJECTED or CANCELLED; an order the run
    /// cancelled once its cancellation was decided).
    pub decided: u64,
    /// Status of the decided orders at the end of the run.
    pub by_final_status: BTreeMap<String, u64>,
    /// Enriched orders by the enrichment provider that answered.
    pub by_provider: BTreeMap<String, u64>,
    /// Records added to the dead-letter topic during the run (by any producer); `null` when the
    /// broker could not be asked.
    pub dead_letters: Option<u64>,
    /// From each order's scheduled send time to its acknowledgement.
    pub ack_latency_ms: Latency,
    /// From the OrderPlaced event's time to the projector writing the order.
    pub e2e_latency_ms: Latency,
    /// From the OrderPlaced event's time to the projector recording the order's first decision.
    pub decided_latency_ms: Latency,
    /// Rate at which acknowledgements arrived while placing.
    pub achieved_rate_per_s: f64,
    /// From the first send to the end of the wait (the last order decided, or projected).
    pub duration_s: f64,
    /// Decided (with `--until projected`: projected) orders per second over `duration_s`.
    pub throughput_per_s: f64,
}

/// What [`Summary::new`] needs.
pub struct Inputs<'a> {
    pub run_id: String,
    pub until: Until,
    pub requested: u64,
    pub rate: f64,
    pub placed: u64,
    pub projected: u64,
    pub decided: u64,
    pub errors: BTreeMap<String, u64>,
    pub retries: u64,
    pub by_status: BTreeMap<String, u64>,
    pub by_final_status: BTreeMap<String, u64>,
    pub by_provider: BTreeMap<String, u64>,
    pub by_kind: BTreeMap<Kind, u64>,
    pub cancel_requests: CancelRequests,
    pub dead_letters: Option<u64>,
    pub ack: &'a Histogram<u64>,
    pub e2e: &'a Histogram<u64>,
    pub decided_latency: &'a Histogram<u64>,
    pub placing_secs: f64,
    pub duration_s: f64,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

impl Summary {
    pub fn new(i: Inputs<'_>) -> Self {
        let finished = match i.until {
            Until::Projected => i.projected,
            Until::Decided => i.decided,
        };
        Summary {
            run_id: i.run_id,
            until: i.until,
            requested: i.requested,
            target_rate_per_s: i.rate,
            placed: i.placed,
            failed: i.errors,
            retries: i.retries,
            by_kind: i.by_kind,
            cancel_requests: i.cancel_requests,
            projected: i.projected,
            by_status: i.by_status,
            decided: i.decided,
            by_final_status: i.by_final_status,
            by_provider: i.by_provider,
            dead_letters: i.dead_letters,
            ack_latency_ms: Latency::of(i.ack),
            e2e_latency_ms: Latency::of(i.e2e),
            decided_latency_ms: Latency::of(i.decided_latency),
            achieved_rate_per_s: round2(i.placed as f64 / i.placing_secs.max(1e-9)),
            duration_s: round2(i.duration_s),
            throughput_per_s: round2(finished as f64 / i.duration_s.max(1e-9)),
        }
    }

    /// Every requested order was acknowledged and decided (with `--until projected`: projected).
    pub fn complete(&self) -> bool {
        let finished = match self.until {
            Until::Projected => self.projected,
            Until::Decided => self.decided,
        };
        self.placed == self.requested && finished == self.placed
    }

    /// The human-readable summary.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "orders-loadgen summary (run {})", self.run_id);
        let row = |s: &mut String, label: &str, value: &dyn std::fmt::Display| {
            let _ = writeln!(s, "  {label:<20}{value}");
        };
        let sub = |s: &mut String, label: &str, n: u64| {
            let _ = writeln!(s, "    {label:<17} {n}");
        };
        row(
            &mut s,
            "requested",
            &format!("{} at {}/s", self.requested, self.target_rate_per_s),
        );
        row(&mut s, "placed (acked)", &self.placed);
        for (reason, n) in &self.failed {
            row(&mut s, "failed", &format!("{n}  {reason}"));
        }
        row(&mut s, "retried calls", &self.retries);
        let _ = writeln!(s, "  by kind");
        for (kind, n) in &self.by_kind {
            sub(&mut s, kind.as_str(), *n);
        }
        let c = &self.cancel_requests;
        row(
            &mut s,
            "cancel requests",
            &format!("{} sent, {} failed", c.sent, c.failed),
        );
        for (reason, n) in &c.errors {
            row(&mut s, "cancel failed", &format!("{n}  {reason}"));
        }
        row(&mut s, "projected", &self.projected);
        let _ = writeln!(s, "  by status");
        for (status, n) in &self.by_status {
            sub(&mut s, status, *n);
        }
        row(&mut s, "decided", &self.decided);
        let _ = writeln!(s, "  by final status");
        for (status, n) in &self.by_final_status {
            sub(&mut s, status, *n);
        }
        let _ = writeln!(s, "  by provider");
        for (provider, n) in &self.by_provider {
            sub(&mut s, provider, *n);
        }
        match self.dead_letters {
            Some(n) => row(&mut s, "dead letters", &n),
            None => row(&mut s, "dead letters", &"unknown (broker not reachable)"),
        }
        let latency = |s: &mut String, label: &str, l: &Latency| {
            row(
                s,
                label,
                &format!(
                    "p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
                    l.p50, l.p99, l.max
                ),
            );
        };
        latency(&mut s, "ack latency", &self.ack_latency_ms);
        latency(&mut s, "placed→projected", &self.e2e_latency_ms);
        latency(&mut s, "placed→decided", &self.decided_latency_ms);
        row(
            &mut s,
            "achieved rate",
            &format!("{:.2} orders/s", self.achieved_rate_per_s),
        );
        row(&mut s, "duration", &format!("{:.2} s", self.duration_s));
        row(
            &mut s,
            "throughput",
            &format!(
                "{:.2} orders/s {}",
                self.throughput_per_s,
                self.until.as_str()
            ),
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(until: Until) -> Summary {
        let mut ack = Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        for micros in [1_000, 2_000, 40_000] {
            ack.record(micros).unwrap();
        }
        let empty = Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        Summary::new(Inputs {
            run_id: "abc".into(),
            until,
            requested: 10,
            rate: 5.0,
            placed: 10,
            projected: 10,
            decided: 8,
            errors: BTreeMap::new(),
            retries: 0,
            by_status: BTreeMap::from([("ROUTED".into(), 8), ("PLACED".into(), 2)]),
            by_final_status: BTreeMap::from([("ROUTED".into(), 8)]),
            by_provider: BTreeMap::from([("local".into(), 10)]),
            by_kind: BTreeMap::from([(Kind::Regular, 9), (Kind::NewBigSpender, 1)]),
            cancel_requests: CancelRequests::default(),
            dead_letters: Some(0),
            ack: &ack,
            e2e: &ack,
            decided_latency: &empty,
            placing_secs: 2.0,
            duration_s: 4.0,
        })
    }

    #[test]
    fn complete_and_throughput_follow_what_the_run_waited_for() {
        let decided = summary(Until::Decided);
        assert!(!decided.complete());
        assert_eq!(decided.throughput_per_s, 2.0);
        let projected = summary(Until::Projected);
        assert!(projected.complete());
        assert_eq!(projected.throughput_per_s, 2.5);
        assert_eq!(projected.achieved_rate_per_s, 5.0);
    }

    #[test]
    fn json_keeps_the_old_keys_and_names_kinds_in_snake_case() {
        let json = serde_json::to_value(summary(Until::Decided)).unwrap();
        for key in [
            "placed",
            "projected",
            "by_status",
            "ack_latency_ms",
            "e2e_latency_ms",
            "duration_s",
            "throughput_per_s",
            "decided",
            "decided_latency_ms",
            "by_final_status",
            "by_provider",
            "by_kind",
            "cancel_requests",
            "dead_letters",
        ] {
            assert!(json.get(key).is_some(), "{key} missing: {json}");
        }
        assert_eq!(json["by_kind"]["new_big_spender"], 1);
        assert_eq!(json["until"], "decided");
        assert_eq!(json["cancel_requests"]["sent"], 0);
        assert_eq!(json["decided_latency_ms"]["p99"], 0.0);
    }

    #[test]
    fn the_rendered_summary_aligns_its_values() {
        let text = summary(Until::Decided).render();
        assert!(
            text.contains("\n  placed→decided      p50 0.00 ms"),
            "{text}"
        );
        assert!(text.contains("\n    new_big_spender   1\n"), "{text}");
        assert!(text.contains("\n  dead letters        0\n"), "{text}");
        assert!(
            text.contains("\n  throughput          2.00 orders/s decided\n"),
            "{text}"
        );
    }
}

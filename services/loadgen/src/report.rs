//! The summary a load run prints.
use std::collections::BTreeMap;
use std::fmt::Write;

use hdrhistogram::Histogram;
use serde::Serialize;

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

/// Result of a run, as printed by `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub requested: u64,
    pub target_rate_per_s: f64,
    /// Orders acknowledged by the ingress.
    pub placed: u64,
    /// Orders refused or failed, by gRPC status.
    pub failed: BTreeMap<String, u64>,
    /// Acknowledged orders found in the read model.
    pub projected: u64,
    pub by_status: BTreeMap<String, u64>,
    /// From each order's scheduled send time to its acknowledgement.
    pub ack_latency_ms: Latency,
    /// From the OrderPlaced event's time to the projector writing the order.
    pub e2e_latency_ms: Latency,
    /// Rate at which acknowledgements arrived while placing.
    pub achieved_rate_per_s: f64,
    /// From the first send to the last order projected.
    pub duration_s: f64,
    /// Projected orders per second over `duration_s`.
    pub throughput_per_s: f64,
}

/// What [`Summary::new`] needs.
pub struct Inputs<'a> {
    pub requested: u64,
    pub rate: f64,
    pub placed: u64,
    pub projected: u64,
    pub errors: BTreeMap<String, u64>,
    pub by_status: BTreeMap<String, u64>,
    pub ack: &'a Histogram<u64>,
    pub e2e: &'a Histogram<u64>,
    pub placing_secs: f64,
    pub duration_s: f64,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

impl Summary {
    pub fn new(i: Inputs<'_>) -> Self {
        Summary {
            requested: i.requested,
            target_rate_per_s: i.rate,
            placed: i.placed,
            failed: i.errors,
            projected: i.projected,
            by_status: i.by_status,
            ack_latency_ms: Latency::of(i.ack),
            e2e_latency_ms: Latency::of(i.e2e),
            achieved_rate_per_s: round2(i.placed as f64 / i.placing_secs.max(1e-9)),
            duration_s: round2(i.duration_s),
            throughput_per_s: round2(i.projected as f64 / i.duration_s.max(1e-9)),
        }
    }

    /// Every requested order was acknowledged and projected.
    pub fn complete(&self) -> bool {
        self.placed == self.requested && self.projected == self.placed
    }

    /// The human-readable summary.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "orders-loadgen summary");
        let _ = writeln!(
            s,
            "  requested           {} at {}/s",
            self.requested, self.target_rate_per_s
        );
        let _ = writeln!(s, "  placed (acked)      {}", self.placed);
        for (reason, n) in &self.failed {
            let _ = writeln!(s, "  failed              {n}  {reason}");
        }
        let _ = writeln!(s, "  projected           {}", self.projected);
        let _ = writeln!(s, "  by status");
        for (status, n) in &self.by_status {
            let _ = writeln!(s, "    {status:<17} {n}");
        }
        let l = &self.ack_latency_ms;
        let _ = writeln!(
            s,
            "  ack latency         p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
            l.p50, l.p99, l.max
        );
        let l = &self.e2e_latency_ms;
        let _ = writeln!(
            s,
            "  placed→projected    p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
            l.p50, l.p99, l.max
        );
        let _ = writeln!(
            s,
            "  achieved rate       {:.2} orders/s",
            self.achieved_rate_per_s
        );
        let _ = writeln!(s, "  duration            {:.2} s", self.duration_s);
        let _ = writeln!(
            s,
            "  throughput          {:.2} orders/s projected",
            self.throughput_per_s
        );
        s
    }
}

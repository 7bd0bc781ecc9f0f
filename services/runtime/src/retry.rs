//! Retry delays shared by the consumer loops: exponential backoff with *full* jitter (each delay is
//! uniform in `[0, min(cap, base · 2^n))`, as in AWS's "Exponential Backoff and Jitter"), so that
//! many consumers failing together do not retry in lockstep. backon supplies the exponential
//! schedule; its own jitter only adds to the delay, so the full jitter is applied here.
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

use crate::Shutdown;

/// Delays for up to `times` retries, or for ever (each at most `cap`) when `times` is `None`.
pub fn full_jitter(
    base: Duration,
    cap: Duration,
    times: Option<usize>,
) -> impl Iterator<Item = Duration> + Send + use<> {
    let b = ExponentialBuilder::default()
        .with_min_delay(base)
        .with_max_delay(cap);
    let schedule = match times {
        Some(n) => b.with_max_times(n).build(),
        None => b.without_max_times().build(),
    };
    schedule.map(|d| d.mul_f64(fastrand::f64()))
}

/// Sleeps for `delay` unless shutdown comes first; false when interrupted.
pub async fn pause(delay: Duration, shutdown: &Shutdown) -> bool {
    tokio::select! {
        _ = shutdown.cancelled() => false,
        _ = tokio::time::sleep(delay) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_stay_under_the_exponential_bound_and_the_cap() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(10);
        let delays: Vec<Duration> = full_jitter(base, cap, Some(4)).collect();
        assert_eq!(delays.len(), 4, "4 retries = 5 attempts");
        for (n, d) in delays.iter().enumerate() {
            assert!(*d <= base * 2u32.pow(n as u32), "retry {n}: {d:?}");
        }
        assert!(full_jitter(base, cap, None).take(50).all(|d| d <= cap));
    }

    #[test]
    fn jitter_spreads_the_delays() {
        let base = Duration::from_millis(100);
        let firsts: Vec<Duration> = (0..20)
            .map(|_| full_jitter(base, base, Some(1)).next().unwrap())
            .collect();
        assert!(firsts.iter().any(|d| *d < base / 2));
        assert!(firsts.iter().any(|d| *d >= base / 2));
    }
}

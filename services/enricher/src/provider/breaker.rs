//! Circuit breaker around one provider.
//!
//! Closed: calls go through and consecutive failures are counted; a success resets the count.
//! At `failure_threshold` consecutive failures the circuit opens: calls are refused until
//! `open_for` has passed. Then it is half-open: `half_open_max_calls` trial calls go through;
//! the first trial success closes it, a trial failure opens it again for another `open_for`.
//!
//! Every call holds a [`Permit`]. Each change of state starts a new *epoch*, and a permit only
//! counts in the epoch it was issued in: a slow call started while closed that fails after the
//! circuit has already opened (or gone half-open) says nothing about the provider *now*, and must
//! not decide a trial. A permit dropped without an outcome (the call was cancelled, or the task
//! panicked) counts as a failure, so a cancelled trial cannot leave the circuit half-open with
//! no trial slots forever.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// Source of the current time; injectable so tests can move time without sleeping.
pub type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// When a breaker opens and how it recovers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open the circuit (at least 1; 0 is treated as 1).
    pub failure_threshold: u32,
    /// How long the circuit stays open before it lets trial calls through.
    pub open_for: Duration,
    /// Trial calls allowed at once while half-open (at least 1; 0 is treated as 1).
    pub half_open_max_calls: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 3,
            open_for: Duration::from_secs(30),
            half_open_max_calls: 1,
        }
    }
}

/// The state of a circuit, as shown in logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through.
    Closed,
    /// Calls are refused until the rest period is over.
    Open,
    /// A limited number of trial calls go through.
    HalfOpen,
}

impl fmt::Display for BreakerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        })
    }
}

/// A circuit breaker shared by every task that calls one provider. Cloning is cheap and the
/// clones share the same circuit.
#[derive(Clone)]
pub struct CircuitBreaker {
    shared: Arc<Shared>,
}

struct Shared {
    name: OnceLock<String>,
    cfg: BreakerConfig,
    clock: Clock,
    circuit: Mutex<Circuit>,
}

impl Shared {
    fn name(&self) -> &str {
        self.name.get().map_or("unnamed", String::as_str)
    }
}

struct Circuit {
    phase: Phase,
    /// Bumped on every change of phase; see the module comment.
    epoch: u64,
}

enum Phase {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { trials_taken: u32 },
}

impl Phase {
    fn state(&self) -> BreakerState {
        match self {
            Phase::Closed { .. } => BreakerState::Closed,
            Phase::Open { .. } => BreakerState::Open,
            Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }
}

/// A change of phase, logged once the lock is released.
struct Transition {
    from: BreakerState,
    to: BreakerState,
    reason: &'static str,
}

impl Circuit {
    fn enter(&mut self, phase: Phase, reason: &'static str) -> Transition {
        let from = self.phase.state();
        self.phase = phase;
        self.epoch += 1;
        Transition {
            from,
            to: self.phase.state(),
            reason,
        }
    }
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.shared.name())
            .field("cfg", &self.shared.cfg)
            .field("state", &self.state())
            .finish()
    }
}

impl CircuitBreaker {
    /// A closed breaker on the system clock.
    pub fn new(cfg: BreakerConfig) -> Self {
        Self::with_clock(cfg, Arc::new(Instant::now))
    }

    /// A closed breaker that reads the time from `clock` (for tests).
    pub fn with_clock(mut cfg: BreakerConfig, clock: Clock) -> Self {
        cfg.failure_threshold = cfg.failure_threshold.max(1);
        cfg.half_open_max_calls = cfg.half_open_max_calls.max(1);
        CircuitBreaker {
            shared: Arc::new(Shared {
                name: OnceLock::new(),
                cfg,
                clock,
                circuit: Mutex::new(Circuit {
                    phase: Phase::Closed { failures: 0 },
                    epoch: 0,
                }),
            }),
        }
    }

    /// Names the breaker after the provider it guards, for its log lines and the gauge
    /// `orders_circuit_breaker_state{provider}` (0 closed, 1 half-open, 2 open; it starts closed).
    /// The first name given sticks; clones share it.
    pub fn named(self, name: impl Into<String>) -> Self {
        // Ignoring the error is deliberate: a breaker keeps its first name.
        let _already_named = self.shared.name.set(name.into());
        metrics::gauge!("orders_circuit_breaker_state", "provider" => self.shared.name().to_owned())
            .set(state_value(self.state()));
        self
    }

    /// The configuration in force (thresholds of 0 already raised to 1).
    pub fn config(&self) -> &BreakerConfig {
        &self.shared.cfg
    }

    /// `Ok(permit)` when a call may go ahead; record its outcome on the permit.
    ///
    /// `Err(remaining)` when the circuit is open: `remaining` is how long until trial calls are
    /// let through. While half-open with every trial slot taken, `remaining` is zero: the next
    /// state depends on the trials in flight, not on time.
    pub fn try_acquire(&self) -> Result<Permit, Duration> {
        let now = (self.shared.clock)();
        let mut circuit = lock(&self.shared.circuit);
        let mut transition = None;
        if let Phase::Open { until } = circuit.phase {
            if now < until {
                return Err(until - now);
            }
            transition = Some(circuit.enter(
                Phase::HalfOpen { trials_taken: 0 },
                "rest period over, letting trial calls through",
            ));
        }
        let max_trials = self.shared.cfg.half_open_max_calls;
        let outcome = match &mut circuit.phase {
            Phase::Closed { .. } => Ok(false),
            Phase::HalfOpen { trials_taken } if *trials_taken < max_trials => {
                *trials_taken += 1;
                Ok(true)
            }
            Phase::HalfOpen { .. } => Err(Duration::ZERO),
            Phase::Open { .. } => {
                unreachable!("an open circuit past its rest period was made half-open above")
            }
        };
        let epoch = circuit.epoch;
        drop(circuit);
        if let Some(transition) = transition {
            self.log(&transition);
        }
        outcome.map(|trial| Permit {
            shared: Some(self.shared.clone()),
            epoch,
            trial,
        })
    }

    /// The current state. An open circuit whose rest period is over reports `HalfOpen`, since
    /// the next [`try_acquire`](Self::try_acquire) would let a trial through.
    pub fn state(&self) -> BreakerState {
        let circuit = lock(&self.shared.circuit);
        match circuit.phase {
            Phase::Open { until } if (self.shared.clock)() >= until => BreakerState::HalfOpen,
            ref phase => phase.state(),
        }
    }

    fn record(shared: &Arc<Shared>, epoch: u64, trial: bool, success: bool) {
        let now = (shared.clock)();
        let mut circuit = lock(&shared.circuit);
        if circuit.epoch != epoch {
            // Issued before the last change of state: its outcome is about the past.
            return;
        }
        let threshold = shared.cfg.failure_threshold;
        let reopen = Phase::Open {
            until: now + shared.cfg.open_for,
        };
        let transition = match (&mut circuit.phase, success) {
            (Phase::Closed { failures }, true) => {
                *failures = 0;
                None
            }
            (Phase::Closed { failures }, false) => {
                *failures += 1;
                (*failures >= threshold)
                    .then(|| circuit.enter(reopen, "consecutive failures reached the threshold"))
            }
            (Phase::HalfOpen { .. }, true) if trial => {
                Some(circuit.enter(Phase::Closed { failures: 0 }, "trial call succeeded"))
            }
            (Phase::HalfOpen { .. }, false) if trial => {
                Some(circuit.enter(reopen, "trial call failed"))
            }
            // A permit from a closed epoch cannot meet a half-open or open phase of the same
            // epoch; nothing to do if it ever did.
            _ => None,
        };
        drop(circuit);
        if let Some(transition) = transition {
            log_transition(shared.name(), &shared.cfg, &transition);
        }
    }

    fn log(&self, transition: &Transition) {
        log_transition(self.shared.name(), &self.shared.cfg, transition);
    }
}

/// Logs a transition and sets `orders_circuit_breaker_state{provider}`: 0 closed, 1 half-open, 2 open.
fn log_transition(name: &str, cfg: &BreakerConfig, t: &Transition) {
    metrics::gauge!("orders_circuit_breaker_state", "provider" => name.to_owned())
        .set(state_value(t.to));
    tracing::info!(
        provider = name,
        from = %t.from,
        to = %t.to,
        failure_threshold = cfg.failure_threshold,
        open_for_secs = cfg.open_for.as_secs_f64(),
        "provider {name} circuit {}: {}",
        t.to,
        t.reason,
    );
}

fn state_value(state: BreakerState) -> f64 {
    match state {
        BreakerState::Closed => 0.0,
        BreakerState::HalfOpen => 1.0,
        BreakerState::Open => 2.0,
    }
}

/// The circuit's data stays consistent even if a holder panicked (every update is a single
/// assignment), so a poisoned lock is used as is.
fn lock(circuit: &Mutex<Circuit>) -> MutexGuard<'_, Circuit> {
    circuit
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Leave to make one call. Record the outcome with [`success`](Self::success) or
/// [`failure`](Self::failure); dropping it unrecorded counts as a failure.
#[must_use = "a permit dropped without an outcome counts as a failure"]
pub struct Permit {
    /// `None` once the outcome has been recorded.
    shared: Option<Arc<Shared>>,
    epoch: u64,
    /// Issued while half-open: its outcome decides whether the circuit closes.
    trial: bool,
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("epoch", &self.epoch)
            .field("trial", &self.trial)
            .finish()
    }
}

impl Permit {
    /// The call succeeded.
    pub fn success(mut self) {
        self.finish(true);
    }

    /// The call failed.
    pub fn failure(mut self) {
        self.finish(false);
    }

    fn finish(&mut self, success: bool) {
        if let Some(shared) = self.shared.take() {
            CircuitBreaker::record(&shared, self.epoch, self.trial, success);
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.finish(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clock that only moves when told to.
    #[derive(Clone)]
    struct ManualClock(Arc<Mutex<Instant>>);

    impl ManualClock {
        fn new() -> Self {
            ManualClock(Arc::new(Mutex::new(Instant::now())))
        }

        fn advance(&self, by: Duration) {
            *self.0.lock().unwrap() += by;
        }

        fn clock(&self) -> Clock {
            let now = self.0.clone();
            Arc::new(move || *now.lock().unwrap())
        }
    }

    fn breaker(threshold: u32, open_for_secs: u64, trials: u32) -> (CircuitBreaker, ManualClock) {
        let clock = ManualClock::new();
        let cfg = BreakerConfig {
            failure_threshold: threshold,
            open_for: Duration::from_secs(open_for_secs),
            half_open_max_calls: trials,
        };
        (
            CircuitBreaker::with_clock(cfg, clock.clock()).named("test"),
            clock,
        )
    }

    fn fail(b: &CircuitBreaker) {
        b.try_acquire().expect("call allowed").failure();
    }

    fn succeed(b: &CircuitBreaker) {
        b.try_acquire().expect("call allowed").success();
    }

    #[test]
    fn defaults_are_three_failures_thirty_seconds_one_trial() {
        let cfg = BreakerConfig::default();
        assert_eq!(cfg.failure_threshold, 3);
        assert_eq!(cfg.open_for, Duration::from_secs(30));
        assert_eq!(cfg.half_open_max_calls, 1);
    }

    #[test]
    fn states_display_as_labels() {
        assert_eq!(BreakerState::Closed.to_string(), "closed");
        assert_eq!(BreakerState::Open.to_string(), "open");
        assert_eq!(BreakerState::HalfOpen.to_string(), "half_open");
    }

    #[test]
    fn opens_after_threshold_consecutive_failures() {
        let (b, _clock) = breaker(3, 30, 1);
        fail(&b);
        fail(&b);
        assert_eq!(b.state(), BreakerState::Closed);
        fail(&b);
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn non_consecutive_failures_do_not_open() {
        let (b, _clock) = breaker(3, 30, 1);
        for _ in 0..5 {
            fail(&b);
            fail(&b);
            succeed(&b);
        }
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn rejects_while_open_and_says_how_long_remains() {
        let (b, clock) = breaker(1, 30, 1);
        fail(&b);
        assert_eq!(b.try_acquire().unwrap_err(), Duration::from_secs(30));
        clock.advance(Duration::from_secs(10));
        assert_eq!(b.try_acquire().unwrap_err(), Duration::from_secs(20));
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn half_open_after_rest_period_lets_only_the_trial_calls_through() {
        let (b, clock) = breaker(1, 30, 2);
        fail(&b);
        clock.advance(Duration::from_secs(30));
        assert_eq!(b.state(), BreakerState::HalfOpen);
        let first = b.try_acquire().expect("first trial");
        let second = b.try_acquire().expect("second trial");
        assert_eq!(b.try_acquire().unwrap_err(), Duration::ZERO);
        assert_eq!(b.state(), BreakerState::HalfOpen);
        first.success();
        second.success();
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn trial_success_closes() {
        let (b, clock) = breaker(2, 30, 1);
        fail(&b);
        fail(&b);
        clock.advance(Duration::from_secs(31));
        succeed(&b);
        assert_eq!(b.state(), BreakerState::Closed);
        // The failure count starts again from zero.
        fail(&b);
        assert_eq!(b.state(), BreakerState::Closed);
        succeed(&b);
    }

    #[test]
    fn trial_failure_reopens_and_restarts_the_timer() {
        let (b, clock) = breaker(1, 30, 1);
        fail(&b);
        clock.advance(Duration::from_secs(45));
        fail(&b);
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.try_acquire().unwrap_err(), Duration::from_secs(30));
        clock.advance(Duration::from_secs(30));
        assert_eq!(b.state(), BreakerState::HalfOpen);
    }

    #[test]
    fn dropped_permit_counts_as_failure() {
        let (b, clock) = breaker(2, 30, 1);
        drop(b.try_acquire().unwrap());
        drop(b.try_acquire().unwrap());
        assert_eq!(b.state(), BreakerState::Open);

        // A cancelled trial reopens the circuit instead of leaving it half-open with no slot.
        clock.advance(Duration::from_secs(30));
        drop(b.try_acquire().expect("trial"));
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn outcomes_from_before_a_change_of_state_are_ignored() {
        let (b, clock) = breaker(1, 30, 1);
        let slow = b.try_acquire().unwrap();
        fail(&b);
        assert_eq!(b.state(), BreakerState::Open);
        clock.advance(Duration::from_secs(30));
        let trial = b.try_acquire().expect("trial");
        // The slow call from the closed period succeeds late: it must not close the circuit,
        // nor free the trial slot.
        slow.success();
        assert_eq!(b.try_acquire().unwrap_err(), Duration::ZERO);
        trial.success();
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn zero_thresholds_are_raised_to_one() {
        let (b, clock) = breaker(0, 30, 0);
        assert_eq!(b.config().failure_threshold, 1);
        fail(&b);
        assert_eq!(b.state(), BreakerState::Open);
        clock.advance(Duration::from_secs(30));
        let _trial = b.try_acquire().expect("one trial");
        assert!(b.try_acquire().is_err());
    }

    #[test]
    fn clones_share_the_circuit_and_the_name() {
        let (b, _clock) = breaker(1, 30, 1);
        let other = b.clone().named("ignored");
        fail(&other);
        assert_eq!(b.state(), BreakerState::Open);
        assert!(format!("{b:?}").contains("\"test\""));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_failures_open_it() {
        let (b, _clock) = breaker(3, 30, 1);
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let b = b.clone();
                tokio::spawn(async move {
                    if let Ok(permit) = b.try_acquire() {
                        tokio::task::yield_now().await;
                        permit.failure();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(b.state(), BreakerState::Open);
        assert!(b.try_acquire().is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_callers_get_exactly_the_allowed_trials() {
        let (b, clock) = breaker(1, 30, 2);
        fail(&b);
        clock.advance(Duration::from_secs(30));
        let barrier = Arc::new(tokio::sync::Barrier::new(16));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let b = b.clone();
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    b.try_acquire().ok()
                })
            })
            .collect();
        let mut permits = Vec::new();
        for task in tasks {
            permits.extend(task.await.unwrap());
        }
        assert_eq!(permits.len(), 2);
        for permit in permits {
            permit.success();
        }
        assert_eq!(b.state(), BreakerState::Closed);
    }
}

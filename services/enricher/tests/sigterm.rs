//! SIGTERM to orders-enricher under load: it drains and exits 0 within its deadline, and once started
//! again no order is lost or decided twice (issue 5; the scenario is in orders_testkit::process).
use orders_testkit::process::{Service, sigterm_under_load};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_loses_and_repeats_nothing() {
    sigterm_under_load(env!("CARGO_BIN_EXE_orders-enricher"), Service::Enricher).await;
}

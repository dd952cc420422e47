//! The default (donor) route is stable by construction, not only by convention: its nested
//! cargo runs with `RUSTC_BOOTSTRAP=-1`, so a crate that opts into an unstable feature is
//! refused even when the caller's environment says `RUSTC_BOOTSTRAP=1` (which would let a
//! stable rustc accept it). Its own test binary: the test sets a process-wide variable.

mod common;

use bpfkit_build::{BuildError, Route};

#[test]
fn the_donor_route_refuses_unstable_features_even_under_rustc_bootstrap_1() {
    // The only test of this binary: nothing else reads the environment concurrently.
    std::env::set_var("RUSTC_BOOTSTRAP", "1");
    let err = common::route(&common::test_crate("unstable"))
        .route(Route::Donor)
        .build()
        .expect_err("#![feature] must not build on the donor route");
    std::env::remove_var("RUSTC_BOOTSTRAP");
    let BuildError::CargoFailed { stderr, .. } = &err else {
        panic!("expected a failed cargo build, got {err}");
    };
    assert!(
        stderr.contains("E0554") || stderr.contains("may not be used on the"),
        "expected rustc's stable-channel refusal of #![feature]:\n{stderr}"
    );
}

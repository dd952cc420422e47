//! `bpfkit_ebpf::atomic` in the kernel, on both build routes: `testdata/rust-ebpf/atomics`
//! runs every operation on a map value and on globals with BPF_PROG_TEST_RUN; the test
//! checks the *fetched old values* the kernel returned (LLVM 22 drops the fetch flag of relaxed
//! read-modify-writes, llvm/llvm-project#210280) and the memory left behind. Needs root.

use std::path::{Path, PathBuf};

use bpfkit::loader::{Loader, Object, TestRun};
use bpfkit_build::{EbpfBuild, Route};

fn build(route: Route) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let objects = EbpfBuild::new(root.join("testdata/rust-ebpf/atomics"))
        .route(route)
        .target_dir(Path::new(env!("CARGO_TARGET_TMPDIR")).join("rust-ebpf"))
        .quiet(true)
        .build()
        .unwrap_or_else(|e| panic!("building atomics on the {} route: {e}", route.name()));
    objects
        .into_iter()
        .find(|o| o.name == "atomics")
        .expect("the atomics object")
        .path
}

fn read_u64(object: &Object, map: &str, slot: u32) -> u64 {
    let map = object.map(map).unwrap_or_else(|| panic!("map {map}"));
    let mut value = vec![0u8; map.value_size() as usize];
    assert!(map
        .lookup_bytes(&slot.to_ne_bytes(), &mut value, 0)
        .expect("lookup"));
    u64::from_ne_bytes(value[..8].try_into().unwrap())
}

/// What the program's sequence of operations fetches, computed on the host:
/// (old values in `OLD` order, final wide, final narrow).
fn expected(wide: u64, narrow: u32) -> ([u64; 16], u64, u32) {
    let mut old = [0u64; 16];
    let mut w = wide;
    for (slot, op) in [
        (0, &(|v: u64| v.wrapping_add(5)) as &dyn Fn(u64) -> u64),
        (1, &|v: u64| v.wrapping_sub(2)),
        (2, &|v: u64| v | 0xf0),
        (3, &|v: u64| v & !0x10),
        (4, &|v: u64| v ^ 0xff),
        (5, &|_| 1000),
    ] {
        old[slot] = w;
        w = op(w);
    }
    old[6] = if w == 1000 { 1000 } else { u64::MAX };
    if w == 1000 {
        w = 2000;
    }
    old[7] = if w != 1 { w } else { u64::MAX };
    let mut n = narrow;
    for (slot, op) in [
        (8, &(|v: u32| v.wrapping_add(7)) as &dyn Fn(u32) -> u32),
        (9, &|v: u32| v.wrapping_sub(3)),
        (10, &|v: u32| v | 0x100),
        (11, &|v: u32| v & 0xfff),
        (12, &|v: u32| v ^ 0xf),
        (13, &|_| u32::MAX),
    ] {
        old[slot] = u64::from(n);
        n = op(n);
    }
    old[14] = if n == u32::MAX {
        u64::from(u32::MAX)
    } else {
        0
    };
    if n == u32::MAX {
        n = 9;
    }
    old[15] = w + u64::from(n);
    (old, w, n)
}

fn check_route(route: Route) {
    let path = build(route);
    let object = Loader::new()
        .load_file(&path)
        .unwrap_or_else(|e| panic!("loading the {} route's atomics: {e}", route.name()));

    // Start values with bits the operations flip: wide near 2^40, narrow near 2^31.
    let (wide, narrow) = (0x0000_0100_0000_1a2a_u64, 0x8000_0a5a_u32);
    let mut value = Vec::new();
    value.extend_from_slice(&wide.to_ne_bytes());
    value.extend_from_slice(&narrow.to_ne_bytes());
    value.extend_from_slice(&0u32.to_ne_bytes());
    object
        .map("COUNTERS")
        .expect("COUNTERS")
        .update_bytes(&0u32.to_ne_bytes(), &value, 0)
        .expect("set the start values");

    let out = object
        .program("exercise")
        .expect("exercise")
        .test_run(&TestRun {
            data: &[0u8; 64],
            ..Default::default()
        })
        .expect("test run");
    assert_eq!(out.retval, 2, "XDP_PASS");
    let (old, final_wide, final_narrow) = expected(wide, narrow);
    let got: Vec<u64> = (0..16).map(|slot| read_u64(&object, "OLD", slot)).collect();
    assert_eq!(got, old, "fetched old values on the {} route", route.name());
    let counters = object.map("COUNTERS").unwrap();
    let mut after = vec![0u8; 16];
    counters
        .lookup_bytes(&0u32.to_ne_bytes(), &mut after, 0)
        .unwrap();
    assert_eq!(
        u64::from_ne_bytes(after[..8].try_into().unwrap()),
        final_wide
    );
    assert_eq!(
        u32::from_ne_bytes(after[8..12].try_into().unwrap()),
        final_narrow
    );

    // Globals: 50 runs; the last one fetched 49 from both counters.
    let runs = 50u32;
    let out = object
        .program("count_runs")
        .expect("count_runs")
        .test_run(&TestRun {
            data: &[0u8; 64],
            repeat: runs,
            ..Default::default()
        })
        .expect("test run");
    assert_eq!(
        out.retval,
        ((runs - 1) << 16) | (runs - 1),
        "old values of RUNS (high) and RUNS32 (low) on the {} route",
        route.name()
    );
    let (_, bss) = object
        .maps()
        .find(|(name, _)| name.ends_with(".bss"))
        .expect("a .bss map holding RUNS and RUNS32");
    let mut globals = vec![0u8; bss.value_size() as usize];
    assert!(bss
        .lookup_bytes(&0u32.to_ne_bytes(), &mut globals, 0)
        .unwrap());
    // RUNS is a u64 of 50 at an 8-aligned offset, RUNS32 a u32 of 50 outside it (the
    // donor route's `.bss` also holds CORE_RUNS).
    let u64_at = |at: usize| u64::from_ne_bytes(globals[at..at + 8].try_into().unwrap());
    let u32_at = |at: usize| u32::from_ne_bytes(globals[at..at + 4].try_into().unwrap());
    let runs_at = (0..globals.len().saturating_sub(7))
        .step_by(8)
        .find(|&at| u64_at(at) == u64::from(runs))
        .unwrap_or_else(|| panic!("RUNS is {runs} after {runs} runs: {globals:?}"));
    assert!(
        (0..globals.len().saturating_sub(3))
            .step_by(4)
            .any(|at| !(runs_at..runs_at + 8).contains(&at) && u32_at(at) == runs),
        "RUNS32 is {runs} after {runs} runs: {globals:?}"
    );
}

#[test]
fn atomics_return_the_old_values_on_the_bpfel_route() {
    check_route(Route::Bpfel);
}

#[test]
fn atomics_return_the_old_values_on_the_donor_route() {
    check_route(Route::Donor);
}

/// On the donor route `core`'s own atomics exist; a `Relaxed` `fetch_add` whose old value is
/// used is the shape LLVM 22 miscompiles (without bpfkit-link's rewrite to `seq_cst` the
/// program would return the operand, 1, on every run).
#[test]
fn relaxed_core_fetch_add_returns_the_old_value_on_the_donor_route() {
    let path = build(Route::Donor);
    let object = Loader::new().load_file(&path).expect("load");
    let out = object
        .program("core_relaxed")
        .expect("core_relaxed exists on the donor route")
        .test_run(&TestRun {
            data: &[0u8; 64],
            repeat: 30,
            ..Default::default()
        })
        .expect("test run");
    assert_eq!(out.retval, 29, "CORE_RUNS before the 30th run");
}

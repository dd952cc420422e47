//! The default donor route costs the verifier what the bpfel route does: the same crates
//! built on both routes, loaded by bpfkit, each program's `verified_insns` within 2% (or 2
//! instructions) of the bpfel build. `packets` is the crate whose `nat_udp` once took 2.6%
//! more (a lifetime end kept a join block alive, see bpfkit-link's `lifetimes`), `maps` the
//! largest map exerciser. `examples/route_cost.rs` prints the same for every crate. Needs
//! root.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use bpfkit_build::Route;

/// Program name → verified instructions of the crate `testdata/rust-ebpf/<name>` built on
/// `route`.
fn verified(name: &str, route: Route) -> BTreeMap<String, u32> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/rust-ebpf")
        .join(name);
    let objects = common::route(&dir)
        .route(route)
        .build()
        .unwrap_or_else(|e| panic!("building {name} on the {} route: {e}", route.name()));
    let elf = std::fs::read(&objects[0].path).expect("read the object");
    let object = bpfkit::loader::Loader::new()
        .load(&elf, name)
        .unwrap_or_else(|e| panic!("loading {name} ({}): {}", route.name(), bpfkit::Report(&e)));
    object
        .programs()
        .map(|p| {
            let info = p.info().expect("program info");
            (p.name().to_string(), info.verified_insns)
        })
        .collect()
}

fn assert_parity(name: &str) {
    let bpfel = verified(name, Route::Bpfel);
    let donor = verified(name, Route::Donor);
    assert_eq!(
        bpfel.keys().collect::<Vec<_>>(),
        donor.keys().collect::<Vec<_>>(),
        "{name}: the same programs on both routes"
    );
    for (prog, &b) in &bpfel {
        let d = donor[prog];
        eprintln!("{name}/{prog}: bpfel {b}, donor {d} verified insns");
        assert!(b > 0, "{name}/{prog}: the kernel verified instructions");
        let allowed = (b / 50).max(2);
        assert!(
            d.abs_diff(b) <= allowed,
            "{name}/{prog}: donor {d} vs bpfel {b} verified insns (more than 2%)"
        );
    }
}

#[test]
fn packet_programs_cost_the_same_on_both_routes() {
    assert_parity("packets");
}

#[test]
fn map_programs_cost_the_same_on_both_routes() {
    assert_parity("maps");
}

//! Verified instructions of every Rust eBPF program on both build routes, side by side with
//! the C twins built by clang-19, and the clean build time of each crate per route.
//!
//! ```text
//! sudo cargo run -p bpfkit-build --example route_cost -- [--clean] [CRATE_DIR...]
//! ```
//!
//! Without crate directories it measures every eBPF crate of the repository (`testdata/rust`,
//! `testdata/rust-ebpf`, the tools, the guide). Each object is loaded by libbpf (`bpftool prog
//! loadall`; by bpfkit's loader where the system's libbpf does not know a section) and each
//! program's `verified_insns` read from the kernel; objects the running kernel cannot load
//! (e.g. kprobes where there are none) are listed with both loaders' verdicts.
//! `--clean` builds each crate into a fresh target directory per route, so the printed
//! times are clean builds (with `core` on the bpfel route). Needs root, bpftool and, for the
//! C column, clang-19.

use std::collections::BTreeMap;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use bpfkit_build::{EbpfBuild, Route};

/// C twins: (object name in the Rust crate, C source relative to the repository root).
const C_TWINS: &[(&str, &str)] = &[
    ("counter", "testdata/rust/counter/counter.bpf.c"),
    ("maps", "testdata/rust-ebpf/c/maps.bpf.c"),
    ("execve-events", "testdata/rust-ebpf/c/execve_events.bpf.c"),
    ("execsnoop", "tools/execsnoop/bench/execsnoop.bpf.c"),
    ("xdpfilter", "tools/xdpfilter/bench/xdpfilter.bpf.c"),
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every eBPF crate of the repository: directories holding a Cargo.toml under the
/// fixture folders, and the tools' `*-ebpf` crates.
fn all_crates() -> Vec<PathBuf> {
    let root = root();
    let mut out = Vec::new();
    for parent in ["testdata/rust", "testdata/rust-ebpf"] {
        for dir in subdirs(&root.join(parent)) {
            // `panics`, `indirect` and `sectionname` are refused by design (the linker's
            // error tests), `testprog` is a library and `userspace` a host crate;
            // `aya-log-one` is Aya's crate, built by hand only (it downloads Aya).
            const NOT_MEASURED: &[&str] = &[
                "panics",
                "indirect",
                "sectionname",
                "testprog",
                "userspace",
                "aya-log-one",
            ];
            let name = dir.file_name().unwrap_or_default().to_string_lossy();
            if dir.join("Cargo.toml").is_file() && !NOT_MEASURED.contains(&name.as_ref()) {
                out.push(dir);
            }
        }
    }
    for tool in subdirs(&root.join("tools")) {
        for dir in subdirs(&tool) {
            let name = dir.file_name().unwrap_or_default().to_string_lossy();
            if name.ends_with("-ebpf") && dir.join("Cargo.toml").is_file() {
                out.push(dir);
            }
        }
    }
    let guide = root.join("docs/examples/guide-ebpf");
    if guide.join("Cargo.toml").is_file() {
        out.push(guide);
    }
    out
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// `verified_insns` of `bpf_prog_info` for the program pinned at `pin`.
fn verified_insns(pin: &Path) -> Result<u32, String> {
    let prog = bpfkit_test_support::bpf_obj_get(pin).map_err(|e| e.to_string())?;
    bpfkit::info::ProgramInfo::from_fd(prog.as_fd())
        .map(|info| info.verified_insns)
        .map_err(|e| format!("BPF_OBJ_GET_INFO_BY_FD: {e}"))
}

/// Program name → verified instructions, or why the object did not load: by libbpf
/// (`bpftool prog loadall`), else by bpfkit's loader (sections the system's libbpf does not
/// know, e.g. `tcx/ingress`).
fn measure(object: &Path) -> Result<BTreeMap<String, u32>, String> {
    measure_libbpf(object).or_else(|libbpf| {
        measure_bpfkit(object).map_err(|bpfkit| format!("libbpf: {libbpf}; bpfkit: {bpfkit}"))
    })
}

fn measure_bpfkit(object: &Path) -> Result<BTreeMap<String, u32>, String> {
    let elf = std::fs::read(object).map_err(|e| e.to_string())?;
    let name = object.file_name().unwrap_or_default().to_string_lossy();
    let loaded = bpfkit::loader::Loader::new()
        .load(&elf, &name)
        .map_err(|e| bpfkit::Report(&e).to_string())?;
    let mut out = BTreeMap::new();
    for prog in loaded.programs() {
        let info = prog.info().map_err(|e| e.to_string())?;
        out.insert(prog.name().to_string(), info.verified_insns);
    }
    Ok(out)
}

fn measure_libbpf(object: &Path) -> Result<BTreeMap<String, u32>, String> {
    let loaded = bpfkit_test_support::prog_loadall(object)?;
    let mut out = BTreeMap::new();
    for prog in &loaded.programs {
        out.insert(
            prog.pin_name.clone(),
            verified_insns(&loaded.pin_dir().join(&prog.pin_name))?,
        );
    }
    Ok(out)
}

fn clang(source: &Path, out: &Path) -> Result<(), String> {
    let multiarch = Command::new("gcc")
        .arg("-print-multiarch")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let status = Command::new("clang-19")
        .args(["-O2", "-g", "-target", "bpf", "-mcpu=v3"])
        .arg(format!("-I/usr/include/{multiarch}"))
        .arg(format!("-I{}", root().join("testdata/c/include").display()))
        .arg("-c")
        .arg(source)
        .arg("-o")
        .arg(out)
        .output()
        .map_err(|e| format!("clang-19: {e}"))?;
    if status.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&status.stderr).into_owned())
    }
}

fn main() {
    let mut clean = false;
    let mut crates = Vec::new();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--clean" => clean = true,
            "-h" | "--help" => {
                eprintln!("usage: route_cost [--clean] [CRATE_DIR...]");
                return;
            }
            dir => crates.push(PathBuf::from(dir)),
        }
    }
    if crates.is_empty() {
        crates = all_crates();
    }
    // The linker cargo built next to this example (`target/<profile>/bpfkit-link`), so the
    // times below are the eBPF crates' builds alone.
    let linker = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("bpfkit-link")))
        .filter(|l| l.is_file())
        .expect("bpfkit-link built next to the example (cargo build -p bpfkit-build --bins)");
    let base = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root().join("target"), PathBuf::from)
        .join("route-cost");
    let routes = [Route::Bpfel, Route::Donor];
    // (object, program) → per route verified insns; plus load failures and build times.
    let mut table: BTreeMap<(String, String), [Option<u32>; 3]> = BTreeMap::new();
    let mut notes = Vec::new();
    let mut times = Vec::new();
    for dir in &crates {
        let label = dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        for (i, route) in routes.iter().enumerate() {
            let target = if clean {
                base.join(format!("clean-{}-{label}", route.name()))
            } else {
                base.join(route.name())
            };
            if clean {
                let _ = std::fs::remove_dir_all(&target);
            }
            let started = Instant::now();
            let built = EbpfBuild::new(dir)
                .route(*route)
                .linker(&linker)
                .target_dir(&target)
                .quiet(true)
                .build();
            let secs = started.elapsed().as_secs_f64();
            let objects = match built {
                Ok(objects) => objects,
                Err(e) => {
                    notes.push(format!("{label} ({}): build failed: {e}", route.name()));
                    continue;
                }
            };
            times.push(format!("{label:<24} {:<6} {secs:7.1} s", route.name()));
            for object in objects {
                match measure(&object.path) {
                    Ok(programs) => {
                        for (prog, insns) in programs {
                            table.entry((object.name.clone(), prog)).or_default()[i] = Some(insns);
                        }
                    }
                    Err(e) => notes.push(format!(
                        "{} ({}): not loadable here: {}",
                        object.name,
                        route.name(),
                        e.lines().last().unwrap_or("")
                    )),
                }
            }
            if clean {
                let _ = std::fs::remove_dir_all(&target);
            }
        }
    }
    std::fs::create_dir_all(&base).expect("create target/route-cost");
    for (name, source) in C_TWINS {
        if !table.keys().any(|(object, _)| object == name) {
            continue;
        }
        let out = base.join(format!("{name}.bpf.o"));
        match clang(&root().join(source), &out).and_then(|()| measure(&out)) {
            Ok(programs) => {
                for (prog, insns) in programs {
                    if let Some(row) = table.get_mut(&(name.to_string(), prog.clone())) {
                        row[2] = Some(insns);
                    } else {
                        notes.push(format!("{name} (C): program {prog} has no Rust twin"));
                    }
                }
            }
            Err(e) => notes.push(format!("{name} (C): {}", e.lines().last().unwrap_or(""))),
        }
    }

    let show = |v: Option<u32>| v.map_or("-".to_string(), |n| n.to_string());
    println!(
        "{:<44} {:>7} {:>7} {:>7} {:>7}",
        "object/program", "bpfel", "donor", "diff", "C"
    );
    let mut worst: f64 = 0.0;
    let mut over = 0;
    for ((object, prog), [bpfel, donor, c]) in &table {
        let diff = match (bpfel, donor) {
            (Some(b), Some(d)) if *b > 0 => {
                let pct = (f64::from(*d) - f64::from(*b)) * 100.0 / f64::from(*b);
                worst = worst.max(pct.abs());
                if pct.abs() > 2.0 {
                    over += 1;
                }
                format!("{pct:+.1}%")
            }
            _ => "-".to_string(),
        };
        println!(
            "{:<44} {:>7} {:>7} {:>7} {:>7}",
            format!("{object}/{prog}"),
            show(*bpfel),
            show(*donor),
            diff,
            show(*c)
        );
    }
    println!(
        "{} programs; largest |donor - bpfel| {worst:.1}%; {over} beyond 2%",
        table.len()
    );
    println!("build times:");
    for t in &times {
        println!("  {t}");
    }
    for n in &notes {
        println!("note: {n}");
    }
}

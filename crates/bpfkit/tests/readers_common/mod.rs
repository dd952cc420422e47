//! Shared by the readers_* tests: load a C fixture, run a program with BPF_PROG_TEST_RUN,
//! read a `.bss` global, pin the thread to a CPU, count open fds.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use bpfkit::loader::{Loader, Object};
use bpfkit::sys::{self, TestRunAttr};
use object::{Object as _, ObjectSection as _, ObjectSymbol as _};

static SERIAL: Mutex<()> = Mutex::new(());

/// Prints `SKIP <test>: ...` and returns true when the map type probe finds `map_type`
/// missing from this kernel (user ring buffers before 6.1, ring buffers before 5.8).
pub fn lacks_map_type(test: &str, map_type: bpfkit::maps::MapType) -> bool {
    use bpfkit::maps::MapTypeExt as _;
    if bpfkit::features::map_type_support(map_type) != bpfkit::features::Support::Unsupported {
        return false;
    }
    let feature = map_type.feature();
    println!(
        "SKIP {test}: this kernel lacks {} (probed; needs Linux {})",
        feature.name, feature.since
    );
    true
}

fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .count()
}

/// Serialises the readers tests of one binary and remembers the open fds at the start.
pub struct FdCheck {
    before: usize,
    _serial: MutexGuard<'static, ()>,
}

impl FdCheck {
    pub fn start() -> Self {
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        Self {
            before: fd_count(),
            _serial: serial,
        }
    }

    /// Call after everything the test opened has been dropped.
    pub fn assert_no_leak(self) {
        assert_eq!(
            fd_count(),
            self.before,
            "open fds differ before/after: leak"
        );
    }
}

/// A fixture loaded with bpfkit's own loader.
pub struct Loaded {
    pub object: Object,
    pub path: PathBuf,
    pub name: String,
}

/// Load `testdata/c/<fixture>.bpf.c` with `.rodata` overrides and map sizes.
pub fn load(fixture: &str, globals: &[(&str, u32)], sizes: &[(&str, u32)]) -> Loaded {
    let path = bpfkit_test_support::fixture(fixture);
    let mut loader = Loader::new();
    for (name, value) in globals {
        loader.set_global(name, &value.to_ne_bytes());
    }
    for (map, size) in sizes {
        loader.max_entries(map, *size);
    }
    let object = loader
        .load_file(&path)
        .unwrap_or_else(|e| panic!("load {fixture}: {}", bpfkit::Report(&e)));
    Loaded {
        object,
        path,
        name: fixture.to_string(),
    }
}

impl Loaded {
    pub fn map(&self, name: &str) -> &bpfkit::maps::MapData {
        self.object
            .map(name)
            .unwrap_or_else(|| panic!("{}: no map {name}", self.name))
    }

    /// Run XDP program `prog` `repeat` times on a 64-byte packet; returns XDP_PASS-checked.
    pub fn run(&self, prog: &str, repeat: u32) {
        let program = self
            .object
            .program(prog)
            .unwrap_or_else(|| panic!("{}: no program {prog}", self.name));
        let packet = [0u8; 64];
        let out = sys::prog_test_run(
            program.fd(),
            TestRunAttr {
                data_in: &packet,
                repeat,
                ..Default::default()
            },
        )
        .unwrap_or_else(|e| panic!("test run {prog}: {e}"));
        assert_eq!(out.retval, 2, "{prog} returns XDP_PASS");
    }

    /// The u64 global `name` of `.bss`, read from the kernel's map.
    pub fn bss_u64(&self, name: &str) -> u64 {
        let offset = symbol_offset(&self.path, ".bss", name);
        let (_, map) = self
            .object
            .maps()
            .find(|(n, _)| n.ends_with(".bss"))
            .unwrap_or_else(|| panic!("{}: no .bss map", self.name));
        let mut value = vec![0u8; map.value_size() as usize];
        assert!(map
            .lookup_bytes(&0u32.to_ne_bytes(), &mut value, 0)
            .unwrap());
        u64::from_ne_bytes(value[offset..offset + 8].try_into().unwrap())
    }
}

/// Offset of symbol `name` in section `section` of the ELF at `path`.
fn symbol_offset(path: &Path, section: &str, name: &str) -> usize {
    let bytes = std::fs::read(path).unwrap();
    let file = object::File::parse(&*bytes).unwrap();
    let index = file.section_by_name(section).unwrap().index();
    let symbol = file
        .symbols()
        .find(|s| s.name() == Ok(name) && s.section_index() == Some(index))
        .unwrap_or_else(|| panic!("no symbol {name} in {section}"));
    symbol.address() as usize
}

/// Pin the calling thread to `cpu` (so every test run writes to that CPU's perf ring).
pub fn pin_to_cpu(cpu: u32) {
    // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET and sched_setaffinity only touch it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu as usize, &mut set);
        assert_eq!(
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set),
            0,
            "sched_setaffinity"
        );
    }
}

/// The CPU the calling thread runs on.
pub fn current_cpu() -> u32 {
    // SAFETY: no arguments.
    unsafe { libc::sched_getcpu() as u32 }
}

/// Check an event_records record: u64 sequence number then bytes `i & 0xff` (i = offset).
pub fn check_record(record: &[u8], len: usize, expected_seq: u64) {
    assert!(
        record.len() >= len,
        "record of {} bytes, want {len}",
        record.len()
    );
    let seq = u64::from_le_bytes(record[..8].try_into().unwrap());
    assert_eq!(seq, expected_seq, "sequence number");
    for (i, &b) in record[..len].iter().enumerate().skip(8) {
        assert_eq!(b, (i & 0xff) as u8, "byte {i} of record {seq}");
    }
}

/// A current-thread tokio runtime with I/O and timers.
pub fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .expect("tokio runtime")
}

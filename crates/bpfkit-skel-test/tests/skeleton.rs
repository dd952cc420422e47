//! Typed skeletons in use, as a user writes them: no `unsafe` (forbidden below), no map or
//! variable names as strings, no hand-written `Pod` impls. Both tests set a `.rodata`
//! filter before load, load, attach every program, cause syscalls, and check what the
//! kernel-side programs stored, through typed maps and globals.
#![forbid(unsafe_code)]

use bpfkit_skel_test::skel_counter;

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// libbpf-tools' `syscount.bpf.o` (clang): `.rodata` `filter_pid` set before load, the
/// `raw_syscalls` tracepoints attached by `attach_all`, and the `data` hash map read with
/// its BTF key and value types (`u32` → `struct data_t`).
#[cfg(not(skel_no_corpus))]
#[test]
fn corpus_syscount_skeleton_counts_getppid() {
    use bpfkit_skel_test::syscount;
    if !is_root() {
        println!("SKIP needs root to load BPF programs");
        return;
    }
    #[cfg(target_arch = "x86_64")]
    const NR_GETPPID: u32 = 110;
    #[cfg(target_arch = "aarch64")]
    const NR_GETPPID: u32 = 173;
    let tgid = std::process::id();

    let mut open = syscount::OpenSkel::open().expect("open");
    open.rodata().filter_pid = tgid as i32;
    open.set_max_entries_data(64);
    let mut skel = open.load().expect("load");
    assert_eq!(skel.rodata().filter_pid().expect("rodata"), tgid as i32);
    let attached = skel.attach_all().expect("attach_all");
    assert_eq!(attached, 2, "sys_enter and sys_exit");
    let names: Vec<&str> = skel.links().iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["sys_enter", "sys_exit"]);

    const CALLS: u64 = 25;
    for _ in 0..CALLS {
        std::hint::black_box(std::os::unix::process::parent_id());
    }
    skel.detach_all();

    let data = skel.maps().data().expect("data map");
    let counted: syscount::types::data_t = data
        .get(&NR_GETPPID)
        .expect("lookup")
        .expect("getppid counted");
    assert_eq!(counted.count, CALLS);
    assert_eq!(skel.maps().data().expect("data").map().max_entries(), 64);
}

#[cfg(skel_no_corpus)]
#[test]
fn corpus_syscount_skeleton_counts_getppid() {
    println!("SKIP corpus not found (set BPFKIT_CORPUS)");
}

/// `testdata/rust-ebpf/skel-counter` (bpfkit-build): `.rodata` `TARGET_TGID` set before
/// load, `.data` `TAG` written and `.bss` `HITS` read through the mmapped maps while the
/// program runs, the `STATS` hash map of `Stats` read typed, and the `EVENTS` ring buffer
/// read through the reader the skeleton makes.
#[test]
fn rust_object_skeleton_counts_getppid() {
    if !is_root() {
        println!("SKIP needs root to load BPF programs");
        return;
    }
    let tgid = std::process::id();
    let mut open = skel_counter::OpenSkel::open().expect("open");
    assert_eq!(open.data().TAG, 7, "initial value from the object");
    open.rodata().TARGET_TGID = tgid;
    let mut skel = open.load().expect("load");
    assert_eq!(skel.attach_all().expect("attach_all"), 1);
    let prog_id = skel
        .progs()
        .count_getppid()
        .expect("loaded")
        .id()
        .expect("program id");

    assert_eq!(skel.data().TAG().expect("read TAG"), 7);
    skel.data().set_TAG(42).expect("write TAG");
    const CALLS: u64 = 5;
    for _ in 0..CALLS {
        std::hint::black_box(std::os::unix::process::parent_id());
    }
    skel.detach_all();

    assert_eq!(skel.bss().HITS().expect("read HITS"), CALLS);
    let stats: skel_counter::types::Stats = skel
        .maps()
        .STATS()
        .expect("STATS map")
        .get(&tgid)
        .expect("lookup")
        .expect("this process counted");
    assert_eq!(stats.calls, CALLS);
    assert_eq!(stats.tag, 42, "the program saw the .data write");
    assert!(stats.last_pid != 0);
    // The ring buffer got one record per call: the running count.
    let mut events = skel.maps().EVENTS().expect("EVENTS reader");
    let mut counts = Vec::new();
    while let Some(record) = events.next().expect("read EVENTS") {
        counts.push(<u64 as bpfkit::maps::Pod>::from_bytes(&record).expect("u64 record"));
    }
    assert_eq!(counts, (1..=CALLS).collect::<Vec<_>>());
    // The program wrote HITS through its map; the mmapped view and a syscall lookup agree.
    skel.bss().set_HITS(0).expect("reset HITS");
    assert_eq!(skel.bss().HITS().expect("read HITS"), 0);

    // Dropping the skeleton releases the program (fds, links, mappings): the kernel frees
    // it (after an RCU grace period).
    drop(skel);
    let gone = (0..200).any(|_| {
        let loaded = bpfkit::info::ids(bpfkit::sys::ObjectKind::Prog).expect("list programs");
        if loaded.contains(&prog_id) {
            std::thread::sleep(std::time::Duration::from_millis(10));
            false
        } else {
            true
        }
    });
    assert!(
        gone,
        "program {prog_id} still loaded after the skeleton was dropped"
    );
}

/// A directory on the host's bpffs for one test, its pins and itself removed on drop.
struct PinDir(std::path::PathBuf);

impl PinDir {
    fn new(tag: &str) -> Option<Self> {
        let base = std::path::Path::new("/sys/fs/bpf");
        if !bpfkit::pin::is_bpffs(base) {
            return None;
        }
        let dir = base.join(format!("bpfkit-skel-test-{tag}-{}", std::process::id()));
        std::fs::create_dir(&dir).expect("create pin dir");
        Some(PinDir(dir))
    }
}

impl Drop for PinDir {
    fn drop(&mut self) {
        if let Ok(entries) = std::fs::read_dir(&self.0) {
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    let _ = std::fs::remove_dir(&path);
                } else {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// `skel.pin_maps(dir)` then `PinnedMaps::open(dir)`, as a later process reopens a loaded
/// object's maps: the same typed views (`STATS` of `Stats`, the `EVENTS` reader) on the same
/// kernel maps (same ids; a write through either is read through the other), alive after the
/// skeleton is dropped; a missing pin and a pinned map of another shape are errors naming
/// the map; `PinnedMaps::unpin` removes exactly the skeleton's pins.
#[test]
fn rust_object_skeleton_maps_reopen_from_pins() {
    if !is_root() {
        println!("SKIP needs root to load BPF programs");
        return;
    }
    let Some(dir) = PinDir::new("pins") else {
        println!("SKIP no bpffs mounted at /sys/fs/bpf");
        return;
    };
    // Not attached: the other tests count this process's getppid calls, so this one makes
    // none; the values go in through the loaded object's map.
    let skel = skel_counter::OpenSkel::open()
        .expect("open")
        .load()
        .expect("load");
    let key = 77u32;
    const CALLS: u64 = 3;
    let mut seed: skel_counter::types::Stats = bpfkit::maps::Pod::zeroed();
    seed.calls = CALLS;
    skel.maps()
        .STATS()
        .expect("STATS")
        .insert(&key, &seed, 0)
        .expect("seed STATS");
    skel.pin_maps(&dir.0).expect("pin maps");
    let mut pinned_names: Vec<String> = std::fs::read_dir(&dir.0)
        .expect("read pin dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    pinned_names.sort();
    let mut shape_names: Vec<&str> = skel_counter::MAP_SHAPES.iter().map(|m| m.name).collect();
    shape_names.sort();
    assert_eq!(pinned_names, shape_names, "one pin per map, named after it");

    let pinned = skel_counter::PinnedMaps::open(&dir.0).expect("reopen pins");
    assert_eq!(pinned.dir(), dir.0.as_path());
    let stats = pinned.maps().STATS().expect("typed STATS from the pin");
    let loaded_id = skel.maps().STATS().expect("STATS").map().id().expect("id");
    assert_eq!(
        stats.map().id().expect("id"),
        loaded_id,
        "the same kernel map"
    );
    let counted: skel_counter::types::Stats =
        stats.get(&key).expect("lookup").expect("seeded entry");
    assert_eq!(counted.calls, CALLS);
    let mut written = counted;
    written.calls = 1000;
    written.tag = 9;
    stats
        .insert(&1, &written, 0)
        .expect("write through the pin");
    let back = skel.maps().STATS().expect("STATS").get(&1).expect("lookup");
    assert_eq!(back.map(|s| (s.calls, s.tag)), Some((1000, 9)));
    let mut events = pinned.maps().EVENTS().expect("EVENTS reader from the pin");
    assert!(events.next().expect("read EVENTS").is_none(), "nothing ran");
    drop(events);

    // The pins keep the maps: the skeleton's object is gone, the views still work.
    drop(skel);
    let still = pinned
        .maps()
        .STATS()
        .expect("STATS")
        .get(&key)
        .expect("lookup");
    assert_eq!(still.map(|s| s.calls), Some(CALLS));
    drop(pinned);

    // Another directory: empty, then the real maps but `STATS` replaced by a map whose
    // value is 8 bytes, not `Stats`' 16.
    let other = PinDir::new("mismatch").expect("bpffs");
    let err = skel_counter::PinnedMaps::open(&other.0).unwrap_err();
    match &err {
        bpfkit::skel::SkelError::NotPinned { map, dir, .. } => {
            assert!(shape_names.contains(&map.as_str()), "{err}");
            assert_eq!(dir, &other.0);
        }
        e => panic!("not NotPinned: {e}"),
    }
    assert!(err.to_string().contains("pinned in"), "{err}");
    let stats_shape = skel_counter::MAP_SHAPES
        .iter()
        .find(|m| m.shape[0] == bpfkit::maps::MapType::Hash as u32)
        .expect("the hash map's shape");
    for m in skel_counter::MAP_SHAPES {
        let real = bpfkit::maps::MapData::from_pin(dir.0.join(m.name)).expect("open pin");
        if m.name == stats_shape.name {
            let wrong = bpfkit::maps::MapData::create(&bpfkit::maps::MapParams::new(
                "wrong_stats",
                bpfkit::maps::MapType::Hash,
                4,
                8,
                16,
            ))
            .expect("create");
            wrong.pin(other.0.join(m.name)).expect("pin wrong map");
        } else {
            real.pin(other.0.join(m.name)).expect("pin");
        }
    }
    let err = skel_counter::PinnedMaps::open(&other.0).unwrap_err();
    match &err {
        bpfkit::skel::SkelError::PinnedMismatch { map, mismatch, .. } => {
            assert_eq!(map, stats_shape.name);
            assert_eq!(mismatch.field, "value_size");
            assert_eq!((mismatch.wanted, mismatch.existing), (16, 8));
        }
        e => panic!("not PinnedMismatch: {e}"),
    }
    let text = err.to_string();
    assert!(
        text.contains(&format!("is not map `{}`", stats_shape.name))
            && text.contains("value_size is 8"),
        "{text}"
    );

    // `unpin` removes the skeleton's pins and nothing else.
    std::fs::create_dir(dir.0.join("unrelated")).expect("mkdir on bpffs");
    let removed = skel_counter::PinnedMaps::unpin(&dir.0).expect("unpin");
    assert_eq!(removed, skel_counter::MAP_SHAPES.len());
    assert!(dir.0.join("unrelated").is_dir(), "not the skeleton's: kept");
    assert!(skel_counter::PinnedMaps::unpin(&dir.0).expect("unpin again") == 0);
    assert!(matches!(
        skel_counter::PinnedMaps::open(&dir.0),
        Err(bpfkit::skel::SkelError::NotPinned { .. })
    ));
}

/// Every corpus object with BTF (cilium's and libbpf-tools', 50 and more) gets a skeleton
/// that compiles without warnings as part of this crate (see `build.rs`): key/value and
/// global types with their `Pod` proofs, section structs, typed map views.
#[cfg(not(skel_no_corpus))]
#[test]
fn every_corpus_object_with_btf_has_a_compiling_skeleton() {
    use bpfkit_skel_test::corpus;
    assert!(corpus::FAILED.is_empty(), "{:#?}", corpus::FAILED);
    assert!(
        corpus::GENERATED.len() >= 50,
        "only {} skeletons",
        corpus::GENERATED.len()
    );
    assert!(corpus::GENERATED.contains(&"libbpf-tools/opensnoop.bpf.o"));
    // The skeletons are compiled: a type from one of them is usable here.
    let zero: bpfkit_skel_test::syscount::types::data_t = bpfkit::maps::Pod::zeroed();
    assert_eq!(zero.count, 0);
}

/// Opening bytes that are no object, or another object than the skeleton's, is an error
/// naming the problem (never a panic, nothing created in the kernel).
#[test]
fn opening_the_wrong_bytes_is_a_clear_error() {
    let err = skel_counter::OpenSkel::open_bytes(b"not an ELF object").unwrap_err();
    assert!(
        matches!(err, bpfkit::skel::SkelError::Parse { .. }),
        "{err}"
    );
    #[cfg(not(skel_no_corpus))]
    {
        let err = skel_counter::OpenSkel::open_bytes(bpfkit_skel_test::syscount::OBJECT)
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not match the skeleton"), "{err}");
        assert!(err.contains("no map `EVENTS`"), "{err}");
    }
}

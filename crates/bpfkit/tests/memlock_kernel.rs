//! `RLIMIT_MEMLOCK` against the running kernel. Kernels before 5.11 charge BPF memory to
//! it (Debian bullseye's 5.10 in the kernel matrix), later ones to the memory cgroup. With
//! the limit lowered to 64 KiB (the old default), a raw `BPF_MAP_CREATE` of a 1 MiB array
//! tells which one this kernel does; bpfkit must then create the same map anyway, raising the
//! limit only where the kernel charges it (and where it may: root in the VM has
//! `CAP_SYS_RESOURCE`; the host, which lacks it, has memcg accounting). A child process
//! without `CAP_SYS_RESOURCE` cannot raise it: there the map must fail with an error naming
//! the limit where the kernel charges it, and be created where it does not. Its own test
//! binary: the limit is per process.

use std::os::fd::{AsFd, FromRawFd, OwnedFd};

use bpfkit::maps::{MapData, MapParams, MapType};

const LOW: u64 = 64 * 1024;
const VALUE_SIZE: u32 = 4096;
const ENTRIES: u32 = 256;

fn memlock() -> libc::rlimit {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one `rlimit` into `limit`, which is valid and exclusive.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit) };
    assert_eq!(rc, 0);
    limit
}

/// A raw `BPF_MAP_CREATE` of a 1 MiB array, bypassing bpfkit: `Err(errno)` if refused.
fn raw_array_create() -> Result<OwnedFd, i32> {
    // bpf_attr's map-create arm: map_type, key_size, value_size, max_entries, then zeros.
    let mut attr = [0u32; 32];
    attr[0] = 2; // BPF_MAP_TYPE_ARRAY
    attr[1] = 4;
    attr[2] = VALUE_SIZE;
    attr[3] = ENTRIES;
    // SAFETY: BPF_MAP_CREATE (0) reads `size_of_val(&attr)` bytes of `attr`, which is live
    // and holds no pointers.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            0,
            attr.as_mut_ptr(),
            std::mem::size_of_val(&attr),
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0));
    }
    // SAFETY: the kernel returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

const TEST: &str =
    "a_1_mib_map_is_created_under_a_64_kib_memlock_limit_raised_only_where_the_kernel_charges_it";
/// Set in the child that runs without `CAP_SYS_RESOURCE`.
const CHILD_ENV: &str = "BPFKIT_MEMLOCK_TEST_CHILD";
const CAP_SYS_RESOURCE: u32 = 24;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Drops `CAP_SYS_RESOURCE` from this process's effective and permitted sets.
fn drop_sys_resource() {
    let mut header = CapHeader {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget writes two `CapData` (version 3) into `data`; both are live.
    let rc = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
    assert_eq!(rc, 0, "capget: {}", std::io::Error::last_os_error());
    data[0].effective &= !(1 << CAP_SYS_RESOURCE);
    data[0].permitted &= !(1 << CAP_SYS_RESOURCE);
    // SAFETY: capset reads the header and two `CapData`, all live and initialised.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    assert_eq!(rc, 0, "capset: {}", std::io::Error::last_os_error());
}

fn lower_memlock() {
    let low = libc::rlimit {
        rlim_cur: LOW,
        rlim_max: LOW,
    };
    // SAFETY: setrlimit reads a valid, initialised `rlimit`; lowering needs no privilege.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &low) }, 0);
}

fn big_map() -> Result<MapData, bpfkit::maps::MapError> {
    MapData::create(&MapParams::new(
        "memlock_big",
        MapType::Array,
        4,
        VALUE_SIZE,
        ENTRIES,
    ))
}

/// The child's part: no `CAP_SYS_RESOURCE`, 64 KiB limit; prints what bpfkit said.
fn child() {
    drop_sys_resource();
    lower_memlock();
    match big_map() {
        Ok(_) => println!("memlock-child: created"),
        Err(e) => println!("memlock-child: refused: {}", bpfkit::Report(&e)),
    }
}

#[test]
fn a_1_mib_map_is_created_under_a_64_kib_memlock_limit_raised_only_where_the_kernel_charges_it() {
    if std::env::var_os(CHILD_ENV).is_some() {
        child();
        return;
    }
    // The child first: this process may raise its own limit below.
    let exe = std::env::current_exe().expect("this test binary");
    let out = std::process::Command::new(exe)
        .args([TEST, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .output()
        .expect("run the child");
    let child_out = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "child: {child_out}");
    let child_line = child_out
        .lines()
        .find_map(|l| {
            l.split_once("memlock-child: ")
                .map(|(_, rest)| rest.to_owned())
        })
        .unwrap_or_else(|| panic!("the child printed no result: {child_out}"));

    lower_memlock();
    let charged = match raw_array_create() {
        Ok(fd) => {
            drop(fd);
            false
        }
        Err(libc::EPERM) => true,
        Err(errno) => panic!(
            "raw BPF_MAP_CREATE of a 1 MiB array: {}",
            std::io::Error::from_raw_os_error(errno)
        ),
    };
    println!(
        "memlock: this kernel {} BPF memory to RLIMIT_MEMLOCK",
        if charged {
            "charges (before 5.11)"
        } else {
            "does not charge (memcg accounting, 5.11)"
        }
    );

    if charged {
        let expected = format!(
            "refused: map 'memlock_big': creating it was refused: RLIMIT_MEMLOCK is {LOW} bytes \
             and could not be raised (that needs CAP_SYS_RESOURCE): this kernel may charge BPF \
             memory to it (no memory-cgroup accounting, which came in 5.11); raise it before \
             starting (`ulimit -l unlimited`): "
        );
        assert!(
            child_line.starts_with(&expected) && child_line.ends_with("(os error 1)"),
            "without CAP_SYS_RESOURCE the error names the limit: {child_line}"
        );
    } else {
        assert_eq!(child_line, "created", "nothing to raise without the charge");
    }

    let map = big_map()
        .unwrap_or_else(|e| panic!("bpfkit creates the 1 MiB array: {}", bpfkit::Report(&e)));
    let info = bpfkit::info::MapInfo::from_fd(map.as_fd()).expect("map info");
    assert_eq!(
        (info.value_size, info.max_entries),
        (VALUE_SIZE, ENTRIES),
        "the kernel holds the map as asked"
    );
    let mut value = vec![0u8; VALUE_SIZE as usize];
    value[..4].copy_from_slice(&7u32.to_ne_bytes());
    map.update_bytes(&(ENTRIES - 1).to_ne_bytes(), &value, 0)
        .expect("write the last element");
    let mut back = vec![0u8; VALUE_SIZE as usize];
    assert!(map
        .lookup_bytes(&(ENTRIES - 1).to_ne_bytes(), &mut back, 0)
        .unwrap());
    assert_eq!(back, value);

    let after = memlock();
    if charged {
        assert_eq!(
            (after.rlim_cur, after.rlim_max),
            (libc::RLIM_INFINITY, libc::RLIM_INFINITY),
            "bpfkit raised the limit it needed"
        );
    } else {
        assert_eq!(
            (after.rlim_cur, after.rlim_max),
            (LOW, LOW),
            "bpfkit left the limit alone on a kernel that does not charge it"
        );
    }
}

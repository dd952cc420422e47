//! Independent kernel probes for tests that need a feature some host builds refuse: each
//! asks the kernel directly through bpf(2) (not through the runtime under test) and returns
//! why the feature is unusable, for the test to print as `SKIP <reason>`.

use std::io;

const BPF_MAP_CREATE: libc::c_long = 0;
const BPF_MAP_TYPE_ARENA: u32 = 33;
const BPF_F_MMAPABLE: u32 = 1 << 10;

/// `union bpf_attr` for `BPF_MAP_CREATE` up to `map_extra` (72 bytes is enough: the kernel
/// zero-checks everything past the struct size it is given).
#[repr(C)]
#[derive(Default)]
struct MapCreate {
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
    inner_map_fd: u32,
    numa_node: u32,
    map_name: [u8; 16],
    map_ifindex: u32,
    btf_fd: u32,
    btf_key_type_id: u32,
    btf_value_type_id: u32,
    btf_vmlinux_value_type_id: u32,
    map_extra: u64,
}

/// Why this kernel does not create an arena map (`BPF_MAP_TYPE_ARENA`, Linux 6.9), or
/// `None` when it does. Some 6.18 builds refuse arenas with EPERM even for root.
pub fn arena_unavailable() -> Option<String> {
    let attr = MapCreate {
        map_type: BPF_MAP_TYPE_ARENA,
        max_entries: 1,
        map_flags: BPF_F_MMAPABLE,
        ..Default::default()
    };
    // SAFETY: `attr` is a valid, fully initialised prefix of `union bpf_attr` and the size
    // passed is its size; the kernel only reads it.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_MAP_CREATE,
            &attr as *const MapCreate,
            std::mem::size_of::<MapCreate>() as libc::c_uint,
        )
    };
    if fd < 0 {
        let err = io::Error::last_os_error();
        return Some(format!(
            "this kernel refuses BPF_MAP_CREATE of an arena map (Linux 6.9+): {err}"
        ));
    }
    // SAFETY: the syscall returned a new fd that nothing else owns.
    unsafe { libc::close(fd as libc::c_int) };
    None
}

/// Prints `SKIP <test>: <reason>` and returns true when this kernel creates no arena map.
pub fn skip_without_arena(test: &str) -> bool {
    match arena_unavailable() {
        Some(reason) => {
            println!("SKIP {test}: {reason}");
            true
        }
        None => false,
    }
}

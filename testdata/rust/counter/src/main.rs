//! Counts `getpid` calls per process into a BTF-defined hash map.
#![no_std]
#![no_main]

use testprog::{MapDef, BPF_MAP_TYPE_HASH};

/// The value of the `COUNTS` map; userspace reads it through BTF by field name.
#[repr(C)]
pub struct Stats {
    pub calls: u64,
    pub last_seen_ns: u64,
    pub pid: u32,
}

#[unsafe(no_mangle)]
#[unsafe(link_section = ".maps")]
pub static COUNTS: MapDef<BPF_MAP_TYPE_HASH, u32, Stats, 1024> = MapDef::new();

#[unsafe(no_mangle)]
#[unsafe(link_section = "license")]
pub static LICENSE: [u8; 4] = *b"GPL\0";

#[unsafe(no_mangle)]
#[unsafe(link_section = "tracepoint/syscalls/sys_enter_getpid")]
pub extern "C" fn count_getpid(_ctx: *mut core::ffi::c_void) -> u32 {
    let pid = testprog::current_tgid();
    let now = testprog::ktime_ns();
    match COUNTS.get(&pid) {
        Some(stats) => {
            stats.calls += 1;
            stats.last_seen_ns = now;
        }
        None => {
            COUNTS.insert(
                &pid,
                &Stats {
                    calls: 1,
                    last_seen_ns: now,
                    pid,
                },
            );
        }
    }
    0
}

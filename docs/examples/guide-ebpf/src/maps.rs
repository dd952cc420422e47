//! Maps: a hash map of counters per syscall, a per-CPU array, and globals.

use bpfkit_ebpf::macros::{map, tracepoint};
use bpfkit_ebpf::maps::{HashMap, PerCpuArray};
use bpfkit_ebpf::programs::TracePointContext;
use bpfkit_ebpf::tracepoints::trace_event_raw_sys_enter;
use bpfkit_ebpf::{zeroed, GlobalMut};

// ANCHOR: map_decls
/// Calls per syscall number, for the target process.
#[map]
static SYSCALLS: HashMap<u32, u64, 1024> = HashMap::new();

/// Slot 0: every syscall of the target process, counted per CPU without atomics.
#[map]
static TOTAL: PerCpuArray<u64, 1> = PerCpuArray::new();

/// The last syscall number seen (`.bss`: userspace reads it through the skeleton while the
/// program runs).
#[unsafe(no_mangle)]
static LAST_SYSCALL: GlobalMut<u64> = GlobalMut::new(0);
// ANCHOR_END: map_decls

// ANCHOR: count_syscalls
#[tracepoint(category = "raw_syscalls", name = "sys_enter")]
fn count_syscalls(ctx: TracePointContext) -> u32 {
    if !crate::is_target() {
        return 0;
    }
    // SAFETY: a raw_syscalls/sys_enter program's context is this record: the common
    // header, the syscall number `id`, its six arguments.
    let nr = unsafe { ctx.args::<trace_event_raw_sys_enter>() }.id as u32;
    // Look up, then update in place; insert with 1 on the first call.
    match SYSCALLS.get_ptr_mut(&nr) {
        // SAFETY: a pointer into the map's value, valid for this program run. Two CPUs may
        // add at once and lose a count; the "Maps" chapter says when that matters.
        Some(mut count) => unsafe { *count.as_mut() += 1 },
        None => {
            let _ = SYSCALLS.insert(&nr, &1, 0);
        }
    }
    if let Some(mut total) = TOTAL.get_ptr_mut(0) {
        // SAFETY: this CPU's own slot; nothing else writes it while the program runs.
        unsafe { *total.as_mut() += 1 };
    }
    LAST_SYSCALL.set(nr as u64);
    count_in_table(nr);
    0
}
// ANCHOR_END: count_syscalls

// ANCHOR: large_value
/// Calls per syscall number in one 4 KiB value: too large to build on the 512-byte stack.
#[repr(C)]
pub struct Table {
    /// Calls of syscall `nr` at index `nr % 512`.
    pub calls: [u64; 512],
}

/// One `Table` per process.
#[map]
static TABLES: HashMap<u32, Table, 16> = HashMap::new();

fn count_in_table(nr: u32) {
    let tgid = bpfkit_ebpf::helpers::current_tgid();
    // Creates the entry from 4 KiB of zeroes in `.rodata` (the kernel copies them; nothing
    // goes through the stack) unless it exists, then points at it.
    let Some(mut table) = TABLES.get_or_insert_zeroed(&tgid, zeroed!(Table)) else {
        return;
    };
    // SAFETY: a pointer into this process's entry, valid for this program run.
    let table = unsafe { table.as_mut() };
    // The mask keeps the index provably in bounds for the verifier.
    table.calls[(nr & 511) as usize] += 1;
}
// ANCHOR_END: large_value

//! A tracepoint the verifier rejects: it writes into its (read-only) record, through
//! `core::ptr::write_volatile` (inlined `core` code). The verifier log must name this file's
//! line, not core's `ptr/mod.rs`.
#![no_std]
#![no_main]

#[unsafe(no_mangle)]
#[unsafe(link_section = "license")]
pub static LICENSE: [u8; 4] = *b"GPL\0";

#[unsafe(no_mangle)]
#[unsafe(link_section = "tracepoint/syscalls/sys_enter_getpid")]
pub extern "C" fn write_into_the_record(ctx: *mut core::ffi::c_void) -> u32 {
    let pid = testprog::current_tgid();
    // SAFETY: none; the verifier refuses it (a tracepoint's context is read-only).
    unsafe { core::ptr::write_volatile(ctx.cast::<u64>().add(2), u64::from(pid)) };
    0
}

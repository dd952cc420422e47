//! A program whose bounds check survives optimisation: the linker must refuse it and name
//! `lookup_slot`.
#![no_std]
#![no_main]

#[unsafe(no_mangle)]
#[unsafe(link_section = "license")]
pub static LICENSE: [u8; 4] = *b"GPL\0";

static TABLE: [u32; 4] = [1, 2, 3, 5];

#[inline(never)]
fn lookup_slot(index: usize) -> u32 {
    TABLE[index]
}

#[unsafe(no_mangle)]
#[unsafe(link_section = "tracepoint/syscalls/sys_enter_getpid")]
pub extern "C" fn panicky(_ctx: *mut core::ffi::c_void) -> u32 {
    lookup_slot(testprog::current_tgid() as usize)
}

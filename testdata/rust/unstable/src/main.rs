//! A program that opts into an unstable language feature: the default (donor) route must
//! refuse to build it, even when the caller's environment carries `RUSTC_BOOTSTRAP=1`.
#![no_std]
#![no_main]
#![feature(never_type)]

#[unsafe(no_mangle)]
#[unsafe(link_section = "license")]
pub static LICENSE: [u8; 4] = *b"GPL\0";

#[unsafe(no_mangle)]
#[unsafe(link_section = "tracepoint/syscalls/sys_enter_getpid")]
pub extern "C" fn unstable(_ctx: *mut core::ffi::c_void) -> u32 {
    testprog::current_tgid() as u32
}

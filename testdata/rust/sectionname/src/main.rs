//! A program whose function has the name of its own ELF section (`sockops`): llc cannot
//! define both symbols, so the linker must refuse it and name the function.
#![no_std]
#![no_main]

#[unsafe(no_mangle)]
#[unsafe(link_section = "license")]
pub static LICENSE: [u8; 4] = *b"GPL\0";

#[unsafe(no_mangle)]
#[unsafe(link_section = "sockops")]
pub extern "C" fn sockops(_ctx: *mut core::ffi::c_void) -> u32 {
    testprog::current_tgid() & 1
}

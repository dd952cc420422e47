//! A program calling through a function pointer chosen at run time: the linker must refuse
//! it and name `dispatch`.
#![no_std]
#![no_main]

#[unsafe(no_mangle)]
#[unsafe(link_section = "license")]
pub static LICENSE: [u8; 4] = *b"GPL\0";

fn double(x: u32) -> u32 {
    x.wrapping_mul(2)
}

fn triple(x: u32) -> u32 {
    x.wrapping_mul(3)
}

static HANDLERS: [fn(u32) -> u32; 2] = [double, triple];

#[inline(never)]
fn dispatch(index: usize, x: u32) -> u32 {
    match HANDLERS.get(index) {
        Some(handler) => handler(x),
        None => 0,
    }
}

#[unsafe(no_mangle)]
#[unsafe(link_section = "tracepoint/syscalls/sys_enter_getpid")]
pub extern "C" fn indirect(_ctx: *mut core::ffi::c_void) -> u32 {
    let pid = testprog::current_tgid();
    dispatch(pid as usize & 1, pid)
}

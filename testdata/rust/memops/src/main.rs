//! `copy_from_slice`/`fill`/`copy_within` of a length known only at run time: LLVM turns
//! them into `memcpy`/`memset`/`memmove` of variable size, which the BPF backend cannot emit; the linker lowers
//! them to bounded byte loops the verifier accepts.
#![no_std]
#![no_main]

use testprog::{MapDef, BPF_MAP_TYPE_ARRAY};

#[repr(C)]
pub struct Buffer {
    pub len: u32,
    pub bytes: [u8; 32],
}

#[unsafe(no_mangle)]
#[unsafe(link_section = ".maps")]
pub static BUFFERS: MapDef<BPF_MAP_TYPE_ARRAY, u32, Buffer, 2> = MapDef::new();

#[unsafe(no_mangle)]
#[unsafe(link_section = "license")]
pub static LICENSE: [u8; 4] = *b"GPL\0";

#[unsafe(no_mangle)]
#[unsafe(link_section = "tracepoint/syscalls/sys_enter_getpid")]
pub extern "C" fn memops(_ctx: *mut core::ffi::c_void) -> u32 {
    let (Some(src), Some(dst)) = (BUFFERS.get(&0), BUFFERS.get(&1)) else {
        return 0;
    };
    let len = (testprog::current_tgid() as usize & 15) + 1;
    if let (Some(from), Some(to)) = (src.bytes.get(..len), dst.bytes.get_mut(..len)) {
        to.copy_from_slice(from);
    }
    if let Some(rest) = dst.bytes.get_mut(len..) {
        rest.fill(0xaa);
    }
    // An overlapping-capable move of run-time length (memmove): bytes 0..len to 16..16+len.
    if len <= 16 {
        dst.bytes.copy_within(..len, 16);
    }
    dst.len = len as u32;
    0
}

//! CO-RE from Rust: reads `task_struct.tgid`/`pid` through marker externs that bpfkit-link
//! turns into CO-RE relocations, so libbpf moves the offsets to the running kernel's.
#![no_std]
#![no_main]

use testprog::{MapDef, BPF_MAP_TYPE_ARRAY};

/// A stand-in for the kernel's `task_struct`: only the members the program reads, with
/// the kernel's names; the offsets here are wrong on purpose (CO-RE fixes them).
#[allow(non_camel_case_types)]
#[repr(C)]
pub struct task_struct {
    pub pid: i32,
    pub tgid: i32,
    pub bpfkit_no_such_member: u64,
}

/// What the program saw, read back by the test.
#[repr(C)]
pub struct Observed {
    pub tgid: i32,
    pub pid: i32,
    pub tgid_exists: u32,
    pub missing_exists: u32,
    pub tgid_size: u32,
    pub tgid_offset: u32,
}

#[unsafe(no_mangle)]
#[unsafe(link_section = ".maps")]
pub static OBSERVED: MapDef<BPF_MAP_TYPE_ARRAY, u32, Observed, 1> = MapDef::new();

#[unsafe(no_mangle)]
#[unsafe(link_section = "license")]
pub static LICENSE: [u8; 4] = *b"GPL\0";

unsafe extern "C" {
    #[link_name = "bpfcore$field$task_struct$tgid"]
    fn task_tgid(task: *const task_struct) -> *const i32;
    #[link_name = "bpfcore$field$task_struct$pid"]
    fn task_pid(task: *const task_struct) -> *const i32;
    #[link_name = "bpfcore$exists$task_struct$tgid"]
    fn task_has_tgid(task: *const task_struct) -> u32;
    #[link_name = "bpfcore$exists$task_struct$bpfkit_no_such_member"]
    fn task_has_missing(task: *const task_struct) -> u32;
    #[link_name = "bpfcore$size$task_struct$tgid"]
    fn task_tgid_size(task: *const task_struct) -> u32;
    #[link_name = "bpfcore$offset$task_struct$tgid"]
    fn task_tgid_offset(task: *const task_struct) -> u32;
}

/// `bpf_probe_read_kernel` of one `i32`.
#[inline(always)]
fn read_kernel_i32(src: *const i32) -> i32 {
    let mut value = 0i32;
    // SAFETY: helper 113 is bpf_probe_read_kernel(dst, size, src); dst is a local of size 4.
    unsafe {
        let f: unsafe extern "C" fn(*mut i32, u32, *const i32) -> i64 =
            core::mem::transmute(113usize);
        f(&mut value, 4, src);
    }
    value
}

#[unsafe(no_mangle)]
#[unsafe(link_section = "tracepoint/syscalls/sys_enter_getpid")]
pub extern "C" fn corereloc(_ctx: *mut core::ffi::c_void) -> u32 {
    // SAFETY: helper 35 is bpf_get_current_task, no arguments.
    let task: *const task_struct = unsafe {
        let f: unsafe extern "C" fn() -> u64 = core::mem::transmute(35usize);
        f() as *const task_struct
    };
    // SAFETY: the markers only compute addresses and field facts; nothing is dereferenced
    // except through bpf_probe_read_kernel.
    let observed = unsafe {
        Observed {
            tgid: read_kernel_i32(task_tgid(task)),
            pid: read_kernel_i32(task_pid(task)),
            tgid_exists: task_has_tgid(task),
            missing_exists: task_has_missing(task),
            tgid_size: task_tgid_size(task),
            tgid_offset: task_tgid_offset(task),
        }
    };
    OBSERVED.insert(&0, &observed);
    0
}

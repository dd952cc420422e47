//! CO-RE with two Rust types named `task_struct`: an opaque one (only `_opaque`, as in
//! `bpfkit_ebpf::bindings`), seen first, and a stand-in with the kernel's `tgid`/`pid`. The
//! marker `bpfcore$field$task_struct$tgid` must resolve to the stand-in. With the feature
//! `ambiguous`, a third `task_struct` also has `tgid` and the link must fail naming both.
#![no_std]
#![no_main]

use testprog::{MapDef, BPF_MAP_TYPE_ARRAY};

/// Opaque, like a binding generated without members.
pub mod opaque {
    /// The kernel's task, members unknown.
    #[allow(non_camel_case_types)]
    #[repr(C)]
    pub struct task_struct {
        pub _opaque: [u8; 0],
    }
}

/// The stand-in the markers are meant for.
pub mod standin {
    /// Only the members the program reads, at wrong offsets (CO-RE fixes them).
    #[allow(non_camel_case_types)]
    #[repr(C)]
    pub struct task_struct {
        pub pid: i32,
        pub tgid: i32,
    }
}

/// A second stand-in that also has `tgid`.
#[cfg(feature = "ambiguous")]
pub mod other {
    /// Another view of the task.
    #[allow(non_camel_case_types)]
    #[repr(C)]
    pub struct task_struct {
        pub tgid: i32,
    }
}

/// What the program saw, read back by the test.
#[repr(C)]
pub struct Observed {
    pub tgid: i32,
    pub pid: i32,
}

#[unsafe(no_mangle)]
#[unsafe(link_section = ".maps")]
pub static OBSERVED: MapDef<BPF_MAP_TYPE_ARRAY, u32, Observed, 1> = MapDef::new();

#[unsafe(no_mangle)]
#[unsafe(link_section = "license")]
pub static LICENSE: [u8; 4] = *b"GPL\0";

unsafe extern "C" {
    #[link_name = "bpfcore$field$task_struct$tgid"]
    fn task_tgid(task: *const standin::task_struct) -> *const i32;
    #[link_name = "bpfcore$field$task_struct$pid"]
    fn task_pid(task: *const standin::task_struct) -> *const i32;
}

/// `bpf_get_current_task`, typed as the opaque binding (its debug info comes first).
#[inline(always)]
fn current_task() -> *const opaque::task_struct {
    // SAFETY: helper 35 is bpf_get_current_task, no arguments.
    unsafe {
        let f: unsafe extern "C" fn() -> *const opaque::task_struct = core::mem::transmute(35usize);
        f()
    }
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
pub extern "C" fn coreshadow(_ctx: *mut core::ffi::c_void) -> u32 {
    let opaque: *const opaque::task_struct = current_task();
    let task = opaque.cast::<standin::task_struct>();
    #[cfg(feature = "ambiguous")]
    let _other: *const other::task_struct = task.cast();
    // SAFETY: the markers only compute addresses; reads go through bpf_probe_read_kernel.
    let observed = unsafe {
        Observed {
            tgid: read_kernel_i32(task_tgid(task)),
            pid: read_kernel_i32(task_pid(task)),
        }
    };
    OBSERVED.insert(&0, &observed);
    0
}

//! Kfunc calls from Rust: `extern "C"` declarations named `bpfkit$kfunc$<name>`, which
//! bpfkit-link turns into `.ksyms` externs the loader resolves against vmlinux BTF. A
//! `tp_btf/task_newtask` program acquires and releases the new task (`bpf_task_acquire`,
//! `bpf_task_release`) inside `bpf_rcu_read_lock`/`bpf_rcu_read_unlock`.
#![no_std]
#![no_main]

// The panic handler.
use testprog as _;

/// Opaque kernel task (a pointer to any struct matches the kernel's `task_struct *`).
#[allow(non_camel_case_types)]
#[repr(C)]
pub struct task_struct {
    _opaque: [u8; 0],
}

#[unsafe(no_mangle)]
#[unsafe(link_section = "license")]
pub static LICENSE: [u8; 4] = *b"GPL\0";

unsafe extern "C" {
    #[link_name = "bpfkit$kfunc$bpf_task_acquire"]
    fn bpf_task_acquire(task: *mut task_struct) -> *mut task_struct;
    #[link_name = "bpfkit$kfunc$bpf_task_release"]
    fn bpf_task_release(task: *mut task_struct);
    #[link_name = "bpfkit$kfunc$bpf_rcu_read_lock"]
    fn bpf_rcu_read_lock();
    #[link_name = "bpfkit$kfunc$bpf_rcu_read_unlock"]
    fn bpf_rcu_read_unlock();
}

#[unsafe(no_mangle)]
#[unsafe(link_section = "tp_btf/task_newtask")]
pub extern "C" fn on_newtask(ctx: *const u64) -> u32 {
    // SAFETY: argument 0 of task_newtask is the new `struct task_struct *`; the kfuncs
    // take and return trusted task pointers as the verifier checks.
    unsafe {
        let task = ctx.read() as *mut task_struct;
        let acquired = bpf_task_acquire(task);
        if acquired.is_null() {
            return 0;
        }
        bpf_rcu_read_lock();
        bpf_rcu_read_unlock();
        bpf_task_release(acquired);
    }
    0
}

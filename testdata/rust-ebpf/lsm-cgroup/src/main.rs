//! `lsm_cgroup/socket_create` in Rust (`#[lsm(hook = "socket_create", cgroup)]`,
//! `BPF_LSM_CGROUP`, Linux 6.0): the Rust twin of `testdata/c/lsm_cgroup.bpf.c`. Denies
//! user-space `AF_INET6` `SOCK_DGRAM` sockets to the tasks of the cgroup it is attached to
//! and counts each denial in slot 0 of `COUNTS`; every other socket is allowed. An
//! lsm_cgroup program returns 0 to deny (`socket(2)` fails with EPERM) and 1 to allow.
#![no_std]
#![no_main]

use bpfkit_ebpf::atomic::AtomicU64;
use bpfkit_ebpf::macros::{lsm, map};
use bpfkit_ebpf::maps::Array;
use bpfkit_ebpf::programs::LsmContext;

/// Slot 0: sockets denied.
#[map]
static COUNTS: Array<u64, 1> = Array::new();

const AF_INET6: i32 = 10;
const SOCK_DGRAM: i32 = 2;
/// `type` also carries `SOCK_NONBLOCK`/`SOCK_CLOEXEC`: the socket type is its low bits.
const SOCK_TYPE_MASK: i32 = 0xf;

#[lsm(hook = "socket_create", cgroup)]
fn deny_udp6(ctx: LsmContext) -> i32 {
    // SAFETY: socket_create(int family, int type, int protocol, int kern): four ints.
    let (family, kind, kern): (i32, i32, i32) = unsafe { (ctx.arg(0), ctx.arg(1), ctx.arg(3)) };
    if kern != 0 || family != AF_INET6 || kind & SOCK_TYPE_MASK != SOCK_DGRAM {
        return 1;
    }
    if let Some(value) = COUNTS.get_ptr_mut(0) {
        // SAFETY: a map value pointer, valid and 8-byte aligned for this program run.
        unsafe { AtomicU64::from_ptr(value.as_ptr()) }.fetch_add(1);
    }
    0
}

bpfkit_ebpf::license!("GPL");

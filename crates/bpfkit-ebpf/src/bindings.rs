//! Kernel UAPI types that programs and helpers exchange: context layouts from `linux/bpf.h`,
//! `pt_regs`, map and helper constants, and opaque stand-ins for kernel-internal structs.
//!
//! Layouts follow `/usr/include/linux/bpf.h`; each struct's size is checked at compile time
//! against the size the kernel's own BTF reports.
#![allow(non_camel_case_types, missing_docs)]

use core::ffi::c_void;

/// A `__bpf_md_ptr(type, name)` field: a pointer stored in a 64-bit, 8-byte-aligned slot.
#[repr(C, align(8))]
#[derive(Clone, Copy)]
pub struct MdPtr<T> {
    /// The pointer the kernel rewrites the context access into.
    pub ptr: *mut T,
}

/// `struct __sk_buff`: context of socket filter, tc, cgroup_skb, sk_skb, flow dissector programs.
#[repr(C)]
pub struct __sk_buff {
    pub len: u32,
    pub pkt_type: u32,
    pub mark: u32,
    pub queue_mapping: u32,
    pub protocol: u32,
    pub vlan_present: u32,
    pub vlan_tci: u32,
    pub vlan_proto: u32,
    pub priority: u32,
    pub ingress_ifindex: u32,
    pub ifindex: u32,
    pub tc_index: u32,
    pub cb: [u32; 5],
    pub hash: u32,
    pub tc_classid: u32,
    pub data: u32,
    pub data_end: u32,
    pub napi_id: u32,
    pub family: u32,
    pub remote_ip4: u32,
    pub local_ip4: u32,
    pub remote_ip6: [u32; 4],
    pub local_ip6: [u32; 4],
    pub remote_port: u32,
    pub local_port: u32,
    pub data_meta: u32,
    pub flow_keys: MdPtr<bpf_flow_keys>,
    pub tstamp: u64,
    pub wire_len: u32,
    pub gso_segs: u32,
    pub sk: MdPtr<bpf_sock>,
    pub gso_size: u32,
    pub tstamp_type: u8,
    pub _pad: [u8; 3],
    pub hwtstamp: u64,
}

/// `struct xdp_md`: context of XDP programs.
#[repr(C)]
pub struct xdp_md {
    pub data: u32,
    pub data_end: u32,
    pub data_meta: u32,
    pub ingress_ifindex: u32,
    pub rx_queue_index: u32,
    pub egress_ifindex: u32,
}

/// `struct bpf_sock`: context of cgroup_sock programs and the socket view of other contexts.
#[repr(C)]
pub struct bpf_sock {
    pub bound_dev_if: u32,
    pub family: u32,
    pub type_: u32,
    pub protocol: u32,
    pub mark: u32,
    pub priority: u32,
    pub src_ip4: u32,
    pub src_ip6: [u32; 4],
    pub src_port: u32,
    pub dst_port: u16,
    pub _pad: u16,
    pub dst_ip4: u32,
    pub dst_ip6: [u32; 4],
    pub state: u32,
    pub rx_queue_mapping: i32,
}

/// `struct bpf_sock_addr`: context of cgroup_sock_addr programs (connect, bind, sendmsg…).
#[repr(C)]
pub struct bpf_sock_addr {
    pub user_family: u32,
    pub user_ip4: u32,
    pub user_ip6: [u32; 4],
    pub user_port: u32,
    pub family: u32,
    pub type_: u32,
    pub protocol: u32,
    pub msg_src_ip4: u32,
    pub msg_src_ip6: [u32; 4],
    pub sk: MdPtr<bpf_sock>,
}

/// `struct bpf_sock_ops`: context of sock_ops programs.
#[repr(C)]
pub struct bpf_sock_ops {
    pub op: u32,
    /// `args[4]`, `reply` and `replylong[4]` share these 16 bytes.
    pub args: [u32; 4],
    pub family: u32,
    pub remote_ip4: u32,
    pub local_ip4: u32,
    pub remote_ip6: [u32; 4],
    pub local_ip6: [u32; 4],
    pub remote_port: u32,
    pub local_port: u32,
    pub is_fullsock: u32,
    pub snd_cwnd: u32,
    pub srtt_us: u32,
    pub bpf_sock_ops_cb_flags: u32,
    pub state: u32,
    pub rtt_min: u32,
    pub snd_ssthresh: u32,
    pub rcv_nxt: u32,
    pub snd_nxt: u32,
    pub snd_una: u32,
    pub mss_cache: u32,
    pub ecn_flags: u32,
    pub rate_delivered: u32,
    pub rate_interval_us: u32,
    pub packets_out: u32,
    pub retrans_out: u32,
    pub total_retrans: u32,
    pub segs_in: u32,
    pub data_segs_in: u32,
    pub segs_out: u32,
    pub data_segs_out: u32,
    pub lost_out: u32,
    pub sacked_out: u32,
    pub sk_txhash: u32,
    pub bytes_received: u64,
    pub bytes_acked: u64,
    pub sk: MdPtr<bpf_sock>,
    pub skb_data: MdPtr<c_void>,
    pub skb_data_end: MdPtr<c_void>,
    pub skb_len: u32,
    pub skb_tcp_flags: u32,
    pub skb_hwtstamp: u64,
}

/// `struct sk_msg_md`: context of sk_msg programs.
#[repr(C)]
pub struct sk_msg_md {
    pub data: MdPtr<c_void>,
    pub data_end: MdPtr<c_void>,
    pub family: u32,
    pub remote_ip4: u32,
    pub local_ip4: u32,
    pub remote_ip6: [u32; 4],
    pub local_ip6: [u32; 4],
    pub remote_port: u32,
    pub local_port: u32,
    pub size: u32,
    pub sk: MdPtr<bpf_sock>,
}

/// `struct bpf_sk_lookup`: context of sk_lookup programs.
#[repr(C)]
pub struct bpf_sk_lookup {
    /// The selected socket (`sk`), or its `cookie` under `BPF_PROG_TEST_RUN`.
    pub sk: MdPtr<bpf_sock>,
    pub family: u32,
    pub protocol: u32,
    pub remote_ip4: u32,
    pub remote_ip6: [u32; 4],
    pub remote_port: u16,
    pub _pad: u16,
    pub local_ip4: u32,
    pub local_ip6: [u32; 4],
    pub local_port: u32,
    pub ingress_ifindex: u32,
}

/// `struct bpf_sysctl`: context of cgroup_sysctl programs.
#[repr(C)]
pub struct bpf_sysctl {
    pub write: u32,
    pub file_pos: u32,
}

/// `struct bpf_sockopt`: context of cgroup_sockopt programs.
#[repr(C)]
pub struct bpf_sockopt {
    pub sk: MdPtr<bpf_sock>,
    pub optval: MdPtr<c_void>,
    pub optval_end: MdPtr<c_void>,
    pub level: i32,
    pub optname: i32,
    pub optlen: i32,
    pub retval: i32,
}

/// `struct bpf_cgroup_dev_ctx`: context of cgroup_device programs.
#[repr(C)]
pub struct bpf_cgroup_dev_ctx {
    /// `(access << 16) | type`: `BPF_DEVCG_ACC_*` and `BPF_DEVCG_DEV_*`.
    pub access_type: u32,
    pub major: u32,
    pub minor: u32,
}

/// `struct bpf_flow_keys`: what a flow dissector program fills in.
#[repr(C)]
pub struct bpf_flow_keys {
    pub nhoff: u16,
    pub thoff: u16,
    pub addr_proto: u16,
    pub is_frag: u8,
    pub is_first_frag: u8,
    pub is_encap: u8,
    pub ip_proto: u8,
    pub n_proto: u16,
    pub sport: u16,
    pub dport: u16,
    /// `ipv4_src`, `ipv4_dst` (first two words) or `ipv6_src[4]`, `ipv6_dst[4]`.
    pub addrs: [u32; 8],
    pub flags: u32,
    pub flow_label: u32,
}

/// `struct pt_regs` of x86_64: registers saved at a kprobe, uprobe or syscall entry.
#[cfg(bpf_target_arch = "x86_64")]
#[repr(C)]
pub struct pt_regs {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub rbp: u64,
    pub rbx: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rax: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub orig_rax: u64,
    pub rip: u64,
    pub cs: u64,
    pub eflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

/// `struct user_pt_regs` of aarch64, the leading part of the kernel's `pt_regs`.
#[cfg(bpf_target_arch = "aarch64")]
#[repr(C)]
pub struct pt_regs {
    pub regs: [u64; 31],
    pub sp: u64,
    pub pc: u64,
    pub pstate: u64,
}

/// `struct bpf_perf_event_data`: context of perf_event programs.
#[repr(C)]
pub struct bpf_perf_event_data {
    pub regs: pt_regs,
    pub sample_period: u64,
    pub addr: u64,
}

/// `struct bpf_spin_lock`: must sit inside a map value whose BTF the kernel knows.
#[repr(C)]
pub struct bpf_spin_lock {
    pub val: u32,
}

/// `struct bpf_pidns_info`: result of `bpf_get_ns_current_pid_tgid`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct bpf_pidns_info {
    pub pid: u32,
    pub tgid: u32,
}

/// `struct bpf_perf_event_value`: result of `bpf_perf_event_read_value`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct bpf_perf_event_value {
    pub counter: u64,
    pub enabled: u64,
    pub running: u64,
}

/// `struct bpf_timer`: opaque, lives in a map value.
#[repr(C, align(8))]
pub struct bpf_timer {
    _opaque: [u64; 2],
}

/// `struct bpf_dynptr`: opaque, initialised by the kernel (e.g. by `bpf_user_ringbuf_drain`).
#[repr(C, align(8))]
pub struct bpf_dynptr {
    _opaque: [u64; 2],
}

/// `struct bpf_cgroup_storage_key`: key of `BPF_MAP_TYPE_CGROUP_STORAGE`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct bpf_cgroup_storage_key {
    pub cgroup_inode_id: u64,
    pub attach_type: u32,
    pub _pad: u32,
}

macro_rules! opaque {
    ($($name:ident),* $(,)?) => {$(
        #[doc = concat!("`struct ", stringify!($name), "`: kernel-internal, only handled by pointer.")]
        #[repr(C)]
        pub struct $name {
            _opaque: [u8; 0],
        }
    )*};
}

opaque!(
    bpf_fib_lookup,
    bpf_redir_neigh,
    bpf_sock_tuple,
    bpf_tcp_sock,
    bpf_tunnel_key,
    bpf_xfrm_state,
    btf_ptr,
    cgroup,
    file,
    inode,
    iphdr,
    ipv6hdr,
    linux_binprm,
    mptcp_sock,
    path,
    seq_file,
    sk_reuseport_md,
    sockaddr,
    socket,
    task_struct,
    tcp6_sock,
    tcp_request_sock,
    tcp_sock,
    tcp_timewait_sock,
    tcphdr,
    udp6_sock,
    unix_sock,
);

// Sizes the running kernel's BTF reports (Linux 6.18); a wrong field shifts these.
const _: () = {
    use core::mem::size_of;
    assert!(size_of::<__sk_buff>() == 192);
    assert!(size_of::<xdp_md>() == 24);
    assert!(size_of::<bpf_sock>() == 80);
    assert!(size_of::<bpf_sock_addr>() == 72);
    assert!(size_of::<bpf_sock_ops>() == 224);
    assert!(size_of::<sk_msg_md>() == 80);
    assert!(size_of::<bpf_sk_lookup>() == 72);
    assert!(size_of::<bpf_sysctl>() == 8);
    assert!(size_of::<bpf_sockopt>() == 40);
    assert!(size_of::<bpf_cgroup_dev_ctx>() == 12);
    assert!(size_of::<bpf_flow_keys>() == 56);
    assert!(size_of::<bpf_spin_lock>() == 4);
    assert!(size_of::<bpf_timer>() == 16);
    assert!(size_of::<bpf_dynptr>() == 16);
};
#[cfg(bpf_target_arch = "x86_64")]
const _: () = assert!(core::mem::size_of::<bpf_perf_event_data>() == 184);

/// `enum bpf_map_type` values used by the map definitions.
pub mod map_type {
    pub const BPF_MAP_TYPE_HASH: usize = 1;
    pub const BPF_MAP_TYPE_ARRAY: usize = 2;
    pub const BPF_MAP_TYPE_PROG_ARRAY: usize = 3;
    pub const BPF_MAP_TYPE_PERF_EVENT_ARRAY: usize = 4;
    pub const BPF_MAP_TYPE_PERCPU_HASH: usize = 5;
    pub const BPF_MAP_TYPE_PERCPU_ARRAY: usize = 6;
    pub const BPF_MAP_TYPE_STACK_TRACE: usize = 7;
    pub const BPF_MAP_TYPE_LRU_HASH: usize = 9;
    pub const BPF_MAP_TYPE_LRU_PERCPU_HASH: usize = 10;
    pub const BPF_MAP_TYPE_LPM_TRIE: usize = 11;
    pub const BPF_MAP_TYPE_ARRAY_OF_MAPS: usize = 12;
    pub const BPF_MAP_TYPE_HASH_OF_MAPS: usize = 13;
    pub const BPF_MAP_TYPE_DEVMAP: usize = 14;
    pub const BPF_MAP_TYPE_SOCKMAP: usize = 15;
    pub const BPF_MAP_TYPE_CPUMAP: usize = 16;
    pub const BPF_MAP_TYPE_XSKMAP: usize = 17;
    pub const BPF_MAP_TYPE_SOCKHASH: usize = 18;
    pub const BPF_MAP_TYPE_CGROUP_STORAGE: usize = 19;
    pub const BPF_MAP_TYPE_QUEUE: usize = 22;
    pub const BPF_MAP_TYPE_STACK: usize = 23;
    pub const BPF_MAP_TYPE_SK_STORAGE: usize = 24;
    pub const BPF_MAP_TYPE_DEVMAP_HASH: usize = 25;
    pub const BPF_MAP_TYPE_RINGBUF: usize = 27;
    pub const BPF_MAP_TYPE_INODE_STORAGE: usize = 28;
    pub const BPF_MAP_TYPE_TASK_STORAGE: usize = 29;
    pub const BPF_MAP_TYPE_BLOOM_FILTER: usize = 30;
    pub const BPF_MAP_TYPE_USER_RINGBUF: usize = 31;
    pub const BPF_MAP_TYPE_CGRP_STORAGE: usize = 32;
    pub const BPF_MAP_TYPE_ARENA: usize = 33;
}

/// Flags of map creation and of helper calls.
pub mod flags {
    /// `BPF_ANY`: create or update.
    pub const BPF_ANY: u64 = 0;
    /// `BPF_NOEXIST`: create only.
    pub const BPF_NOEXIST: u64 = 1;
    /// `BPF_EXIST`: update only.
    pub const BPF_EXIST: u64 = 2;
    /// `BPF_F_LOCK`: update under the value's `bpf_spin_lock`.
    pub const BPF_F_LOCK: u64 = 4;
    /// `BPF_F_NO_PREALLOC` (map flag): required by LPM tries and local storages.
    pub const BPF_F_NO_PREALLOC: usize = 1;
    /// `BPF_F_MMAPABLE` (map flag).
    pub const BPF_F_MMAPABLE: usize = 1 << 10;
    /// `BPF_F_CURRENT_CPU`: perf_event_output to the current CPU's buffer.
    pub const BPF_F_CURRENT_CPU: u64 = 0xffff_ffff;
    /// `BPF_RB_NO_WAKEUP`: do not wake the ring buffer's reader.
    pub const BPF_RB_NO_WAKEUP: u64 = 1;
    /// `BPF_RB_FORCE_WAKEUP`: always wake the ring buffer's reader.
    pub const BPF_RB_FORCE_WAKEUP: u64 = 2;
    /// `BPF_LOCAL_STORAGE_GET_F_CREATE`: create the storage if absent.
    pub const BPF_LOCAL_STORAGE_GET_F_CREATE: u64 = 1;
    /// `BPF_F_USER_STACK`: walk the user stack in `bpf_get_stackid`.
    pub const BPF_F_USER_STACK: u64 = 1 << 8;
}

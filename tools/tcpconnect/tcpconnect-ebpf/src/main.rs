//! tcpconnect's kernel side: every active TCP connect (IPv4 and IPv6), seen as the
//! `TCP_CLOSE` → `TCP_SYN_SENT` transition of `sock/inet_sock_set_state`, which the kernel
//! makes in the connecting task's context (so pid and command are the caller's). One
//! `ConnectEvent` per connect goes through the `EVENTS` ring buffer.
#![no_std]
#![no_main]

use bpfkit_ebpf::helpers;
use bpfkit_ebpf::macros::{map, tracepoint};
use bpfkit_ebpf::maps::RingBuf;
use bpfkit_ebpf::programs::TracePointContext;
use bpfkit_ebpf::Global;
use tool_abi::tcpconnect::{
    ConnectEvent, AF_INET, AF_INET6, DADDR, DADDR_V6, DPORT, FAMILY, IPPROTO_TCP, NEWSTATE,
    OLDSTATE, PROTOCOL, SADDR, SADDR_V6, SPORT, TCP_CLOSE, TCP_SYN_SENT,
};

tool_abi::filter_globals!();
tool_abi::lost_counter!();

/// One `ConnectEvent` per connect.
#[map]
static EVENTS: RingBuf<{ 256 * 1024 }> = RingBuf::new();

#[unsafe(no_mangle)]
static TCPCONNECT_DPORT: Global<u32> = Global::new(0);

#[tracepoint(category = "sock", name = "inet_sock_set_state")]
fn set_state(ctx: TracePointContext) -> u32 {
    // SAFETY: offsets and types of the sock/inet_sock_set_state record (checked against
    // tracefs by tool-common's tracepoint_offsets test).
    let (old, new, protocol, family, dport) = unsafe {
        (
            ctx.read_at::<i32>(OLDSTATE),
            ctx.read_at::<i32>(NEWSTATE),
            ctx.read_at::<u16>(PROTOCOL),
            ctx.read_at::<u16>(FAMILY),
            ctx.read_at::<u16>(DPORT),
        )
    };
    if old != TCP_CLOSE || new != TCP_SYN_SENT || protocol != IPPROTO_TCP {
        return 0;
    }
    if family != AF_INET && family != AF_INET6 {
        return 0;
    }
    let wanted = TCPCONNECT_DPORT.get();
    if wanted != 0 && wanted != u32::from(dport) {
        return 0;
    }
    if !filter_pass() {
        return 0;
    }
    let mut event = ConnectEvent {
        pid: helpers::current_tgid(),
        uid: helpers::current_uid(),
        family,
        // SAFETY: `__u16 sport` of the record.
        sport: unsafe { ctx.read_at::<u16>(SPORT) },
        dport,
        pad: 0,
        saddr: [0; 16],
        daddr: [0; 16],
        comm: [0; 16],
    };
    if family == AF_INET {
        // SAFETY: `__u8 saddr[4]` and `daddr[4]`, 4-byte aligned.
        let (s, d) = unsafe { (ctx.read_at::<[u8; 4]>(SADDR), ctx.read_at::<[u8; 4]>(DADDR)) };
        event.saddr[..4].copy_from_slice(&s);
        event.daddr[..4].copy_from_slice(&d);
    } else {
        // SAFETY: `__u8 saddr_v6[16]` and `daddr_v6[16]`, 8-byte aligned.
        unsafe {
            event.saddr = ctx.read_at::<[u8; 16]>(SADDR_V6);
            event.daddr = ctx.read_at::<[u8; 16]>(DADDR_V6);
        }
    }
    let _ = helpers::current_comm_into(&mut event.comm);
    if EVENTS.output(&event, 0).is_err() {
        count_lost();
    }
    0
}

bpfkit_ebpf::license!("GPL");

//! XDP and TC from userspace: attach, or run on a packet with `BPF_PROG_TEST_RUN`.

use bpfkit::links::Link;
use bpfkit::loader::TestRun;
use bpfkit::programs::{tc, xdp};

use crate::skel::Skel;
use crate::Error;

// ANCHOR: attach_net
/// Attaches `drop_udp_port` to `interface`'s XDP hook (bpf link; the driver's native mode
/// where there is one, else the generic one).
pub fn attach_xdp(skel: &Skel, interface: &str) -> Result<Link, Error> {
    let program = skel
        .progs()
        .drop_udp_port()
        .ok_or("drop_udp_port not loaded")?;
    Ok(xdp::attach(
        program,
        interface,
        &xdp::XdpOptions::default(),
    )?)
}

/// Attaches `mark_ipv4` to `interface`'s tc ingress hook (tcx on 6.6+, else clsact).
pub fn attach_tc(skel: &Skel, interface: &str) -> Result<Link, Error> {
    let program = skel.progs().mark_ipv4().ok_or("mark_ipv4 not loaded")?;
    Ok(tc::attach(
        program,
        interface,
        tc::TcHook::Ingress,
        &Default::default(),
    )?)
}
// ANCHOR_END: attach_net

// ANCHOR: test_run
/// Runs `drop_udp_port` once on `frame` (an Ethernet frame) without any interface and
/// returns its verdict (`XDP_DROP` = 1, `XDP_PASS` = 2).
pub fn xdp_verdict(skel: &Skel, frame: &[u8]) -> Result<u32, Error> {
    let program = skel
        .progs()
        .drop_udp_port()
        .ok_or("drop_udp_port not loaded")?;
    let output = program.test_run(&TestRun {
        data: frame,
        ..Default::default()
    })?;
    Ok(output.retval)
}

/// Runs `mark_ipv4` on `frame` and returns its return code and the `skb->mark` it left.
pub fn tc_mark(skel: &Skel, frame: &[u8]) -> Result<(u32, u32), Error> {
    let program = skel.progs().mark_ipv4().ok_or("mark_ipv4 not loaded")?;
    // A zeroed `struct __sk_buff` in and out: the kernel copies `mark` back.
    let context = [0u8; 192];
    let output = program.test_run(&TestRun {
        data: frame,
        context: &context,
        ..Default::default()
    })?;
    // `mark` is the third u32 of `struct __sk_buff` (after `len` and `pkt_type`).
    let mark = output
        .context
        .get(8..12)
        .map_or(0, |b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
    Ok((output.retval, mark))
}
// ANCHOR_END: test_run

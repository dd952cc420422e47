//! `bpfkit_ebpf::net` headers and checksums inside the kernel: the `nat_udp` XDP program of
//! `testdata/rust-ebpf/packets` (no `unsafe`) passes the verifier, and `BPF_PROG_TEST_RUN`
//! returns the rewritten frame with checksums that verify. Each program runs twice: built
//! as usual (byte-wise header accesses) and with bpfkit-build's `misaligned_mem_access`
//! (word accesses outside the stack), which must verify, give the same frames and take
//! fewer instructions.

use std::path::{Path, PathBuf};

use bpfkit::loader::{Loader, Object};
use bpfkit::sys::{self, TestRunAttr};

/// The packets object: `misaligned` selects the `misaligned_mem_access` build (its own
/// target directory: the two builds differ only in rustflags).
fn build_packets(misaligned: bool) -> PathBuf {
    static BUILT: [std::sync::OnceLock<PathBuf>; 2] =
        [std::sync::OnceLock::new(), std::sync::OnceLock::new()];
    BUILT[usize::from(misaligned)]
        .get_or_init(|| build_packets_once(misaligned))
        .clone()
}

fn build_packets_once(misaligned: bool) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = if misaligned {
        "rust-ebpf-misaligned"
    } else {
        "rust-ebpf"
    };
    bpfkit_build::EbpfBuild::new(root.join("testdata/rust-ebpf/packets"))
        .target_dir(Path::new(env!("CARGO_TARGET_TMPDIR")).join(dir))
        .misaligned_mem_access(misaligned)
        .quiet(true)
        .build()
        .unwrap_or_else(|e| panic!("building packets: {e}"))
        .into_iter()
        .find(|o| o.name == "packets")
        .expect("the packets object")
        .path
}

fn load(misaligned: bool) -> Object {
    Loader::new()
        .load_file(build_packets(misaligned))
        .unwrap_or_else(|e| {
            panic!(
                "the verifier accepts the packets object (misaligned {misaligned}): {}",
                bpfkit::Report(&e)
            )
        })
}

/// Verified and xlated instructions of `name` in both builds; the word-access build's
/// xlated program is smaller.
fn instructions_shrink(name: &str, byte_wise: &Object, words: &Object) {
    let sizes = |object: &Object| {
        let info = object.program(name).unwrap().info().unwrap();
        (info.verified_insns, info.xlated_prog_len / 8)
    };
    let (before, after) = (sizes(byte_wise), sizes(words));
    eprintln!(
        "{name}: verified/xlated insns {}/{} byte-wise, {}/{} with word accesses",
        before.0, before.1, after.0, after.1
    );
    assert!(
        after.1 < before.1,
        "{name}: word accesses should shrink the program ({before:?} -> {after:?})"
    );
}

/// RFC 1071 one's-complement sum, inverted; written here independently of the crate.
fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u64 = 0;
    for (i, b) in bytes.iter().enumerate() {
        sum += if i % 2 == 0 {
            u64::from(*b) << 8
        } else {
            u64::from(*b)
        };
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An Ethernet (+ optional VLAN tag) / IPv4 / UDP frame 10.0.0.1:1234 → `dst`:`port`, with
/// correct checksums.
fn frame(vlan: bool, dst: [u8; 4], port: u16, ttl: u8) -> Vec<u8> {
    let payload = b"bpfkit!!";
    let mut f = vec![0xaa; 6];
    f.extend_from_slice(&[0xbb; 6]);
    if vlan {
        f.extend_from_slice(&[0x81, 0x00, 0x00, 0x64]);
    }
    f.extend_from_slice(&[0x08, 0x00]);
    let ip_start = f.len();
    let total = (20 + 8 + payload.len()) as u16;
    f.extend_from_slice(&[
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        1,
        0x40,
        0,
        ttl,
        17,
        0,
        0,
    ]);
    f.extend_from_slice(&[10, 0, 0, 1]);
    f.extend_from_slice(&dst);
    let c = checksum(&f[ip_start..ip_start + 20]);
    f[ip_start + 10..ip_start + 12].copy_from_slice(&c.to_be_bytes());
    let udp_start = f.len();
    let len = (8 + payload.len()) as u16;
    f.extend_from_slice(&1234u16.to_be_bytes());
    f.extend_from_slice(&port.to_be_bytes());
    f.extend_from_slice(&len.to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    let c = checksum(&udp_pseudo(&f, ip_start, udp_start));
    f[udp_start + 6..udp_start + 8].copy_from_slice(&c.to_be_bytes());
    f
}

/// IPv4 pseudo-header + UDP header and payload.
fn udp_pseudo(f: &[u8], ip_start: usize, udp_start: usize) -> Vec<u8> {
    let mut v = f[ip_start + 12..ip_start + 20].to_vec();
    let len = (f.len() - udp_start) as u16;
    v.extend_from_slice(&[0, 17, (len >> 8) as u8, len as u8]);
    v.extend_from_slice(&f[udp_start..]);
    v
}

fn run(program: std::os::fd::BorrowedFd<'_>, input: &[u8]) -> (u32, Vec<u8>) {
    let mut out = vec![0u8; input.len() + 64];
    let outcome = sys::prog_test_run(
        program,
        TestRunAttr {
            data_in: input,
            data_out: Some(&mut out),
            ..Default::default()
        },
    )
    .expect("BPF_PROG_TEST_RUN");
    out.truncate(outcome.data_size_out as usize);
    (outcome.retval, out)
}

#[test]
fn nat_udp_rewrites_address_port_and_ttl_with_valid_checksums() {
    let (byte_wise, words) = (load(false), load(true));
    for object in [&byte_wise, &words] {
        nat_udp_rewrites(object);
    }
    instructions_shrink("nat_udp", &byte_wise, &words);
}

fn nat_udp_rewrites(object: &Object) {
    let program = object.program("nat_udp").unwrap();
    for vlan in [false, true] {
        let input = frame(vlan, [10, 0, 0, 2], 5000, 64);
        let (verdict, out) = run(program.fd(), &input);
        assert_eq!(verdict, 3, "XDP_TX (vlan {vlan})");
        assert_eq!(out.len(), input.len());
        let ip = if vlan { 18 } else { 14 };
        let udp = ip + 20;
        assert_eq!(&out[..6], &[0xbb; 6], "MACs swapped");
        assert_eq!(&out[6..12], &[0xaa; 6]);
        assert_eq!(out[ip + 8], 63, "TTL decremented");
        assert_eq!(
            &out[ip + 16..ip + 20],
            &[10, 0, 0, 3],
            "destination rewritten"
        );
        assert_eq!(
            &out[udp + 2..udp + 4],
            &6000u16.to_be_bytes(),
            "port rewritten"
        );
        assert_eq!(checksum(&out[ip..ip + 20]), 0, "IPv4 checksum verifies");
        assert_eq!(
            checksum(&udp_pseudo(&out, ip, udp)),
            0,
            "UDP checksum verifies"
        );
        assert_eq!(&out[udp + 8..], b"bpfkit!!");
    }
    // Other port, other address, TTL 1: untouched or dropped.
    let other = frame(false, [10, 0, 0, 2], 5001, 64);
    assert_eq!(
        run(program.fd(), &other),
        (2, other.clone()),
        "XDP_PASS, unchanged"
    );
    let elsewhere = frame(false, [10, 0, 0, 9], 5000, 64);
    assert_eq!(run(program.fd(), &elsewhere).0, 2);
    let expiring = frame(false, [10, 0, 0, 2], 5000, 1);
    assert_eq!(
        run(program.fd(), &expiring).0,
        1,
        "XDP_DROP when the TTL runs out"
    );
    let short = &frame(false, [10, 0, 0, 2], 5000, 64)[..30];
    assert_eq!(
        run(program.fd(), short),
        (2, short.to_vec()),
        "truncated: passes"
    );
}

#[test]
fn tc_nat_udp_rewrites_through_skb_helpers_with_valid_checksums() {
    let (byte_wise, words) = (load(false), load(true));
    for object in [&byte_wise, &words] {
        tc_nat_udp_rewrites(object);
    }
    let sizes = |object: &Object| {
        let info = object.program("tc_nat_udp").unwrap().info().unwrap();
        (info.verified_insns, info.xlated_prog_len / 8)
    };
    // Its headers are copied to the stack, which keeps byte-wise accesses at misaligned
    // offsets: no gain expected, only the same result.
    eprintln!(
        "tc_nat_udp: verified/xlated insns {:?} byte-wise, {:?} with word accesses",
        sizes(&byte_wise),
        sizes(&words)
    );
}

fn tc_nat_udp_rewrites(object: &Object) {
    let program = object.program("tc_nat_udp").unwrap();
    let input = frame(false, [10, 0, 0, 2], 5000, 64);
    let (verdict, out) = run(program.fd(), &input);
    assert_eq!(verdict, 0, "TC_ACT_OK");
    let (ip, udp) = (14, 34);
    assert_eq!(&out[ip + 16..ip + 20], &[10, 0, 0, 3]);
    assert_eq!(&out[udp + 2..udp + 4], &6000u16.to_be_bytes());
    assert_eq!(out[ip + 8], 64, "TTL kept");
    assert_eq!(checksum(&out[ip..ip + 20]), 0, "IPv4 checksum verifies");
    assert_eq!(
        checksum(&udp_pseudo(&out, ip, udp)),
        0,
        "UDP checksum verifies"
    );
    let other = frame(false, [10, 0, 0, 2], 4999, 64);
    assert_eq!(run(program.fd(), &other), (0, other.clone()), "unchanged");
}

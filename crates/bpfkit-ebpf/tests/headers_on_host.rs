//! `bpfkit_ebpf::net` on the host: header layouts and accessors against hand-made packets,
//! and checksums against a reference one's-complement sum written here independently.

use bpfkit_ebpf::net::{
    checksum, csum_replace2, csum_replace4, EthHdr, IcmpHdr, Ipv4Hdr, UdpHdr, VlanHdr, ETH_P_IP,
    IPPROTO_UDP,
};

/// The RFC 1071 sum, the slow obvious way.
fn reference(bytes: &[u8]) -> u16 {
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

fn read<T: Copy>(bytes: &[u8]) -> T {
    assert!(bytes.len() >= std::mem::size_of::<T>());
    // SAFETY: the headers are byte arrays (alignment 1) and `bytes` is long enough.
    unsafe { bytes.as_ptr().cast::<T>().read_unaligned() }
}

fn bytes_of<T: Copy>(value: &T) -> Vec<u8> {
    // SAFETY: the headers are plain bytes without padding.
    unsafe {
        std::slice::from_raw_parts((value as *const T).cast::<u8>(), std::mem::size_of::<T>())
    }
    .to_vec()
}

/// A textbook IPv4 header (192.168.0.1 → 192.168.0.199, UDP, checksum 0xb861).
const IPV4: [u8; 20] = [
    0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01,
    0xc0, 0xa8, 0x00, 0xc7,
];

#[test]
fn ipv4_fields_and_checksum_match_a_known_header() {
    let ip: Ipv4Hdr = read(&IPV4);
    assert_eq!((ip.version(), ip.ihl(), ip.header_len()), (4, 5, 20));
    assert_eq!(ip.total_len(), 0x73);
    assert_eq!((ip.ttl, ip.protocol), (64, IPPROTO_UDP));
    assert!(!ip.is_fragment(), "DF only");
    assert_eq!(ip.src(), 0xc0a8_0001);
    assert_eq!(ip.dst(), 0xc0a8_00c7);
    assert_eq!(ip.checksum(), 0xb861);
    assert_eq!(ip.compute_checksum(), 0xb861);
    assert_eq!(
        checksum(&IPV4),
        0,
        "a header with its checksum sums to zero"
    );
    assert_eq!(reference(&IPV4), 0);
}

#[test]
fn incremental_updates_equal_recomputing() {
    let mut ip: Ipv4Hdr = read(&IPV4);
    assert_eq!(ip.decrement_ttl(), 63);
    assert_eq!(ip.checksum(), ip.compute_checksum());
    ip.set_dst(0x0a00_0002);
    ip.set_src(0x0a00_0001);
    assert_eq!(ip.checksum(), ip.compute_checksum());
    let raw = bytes_of(&ip);
    assert_eq!(reference(&raw), 0);
    assert_eq!(&raw[12..20], &[10, 0, 0, 1, 10, 0, 0, 2]);

    // Words whose change crosses the one's-complement wrap in both directions.
    for (old, new) in [
        (0xffffu16, 0u16),
        (1, 2),
        (0x8000, 0x7fff),
        (0x1234, 0xedcb),
    ] {
        let before = reference(&[(old >> 8) as u8, old as u8, 0x55, 0x55]);
        let after = reference(&[(new >> 8) as u8, new as u8, 0x55, 0x55]);
        assert_eq!(
            csum_replace2(before, old, new),
            after,
            "{old:#x} -> {new:#x}"
        );
    }
    let before = reference(&[1, 2, 3, 4, 9, 9]);
    let after = reference(&[5, 6, 7, 8, 9, 9]);
    assert_eq!(csum_replace4(before, 0x0102_0304, 0x0506_0708), after);
}

#[test]
fn ethernet_vlan_udp_and_icmp_accessors() {
    let mut frame = vec![0u8; 14];
    frame[..6].copy_from_slice(&[1; 6]);
    frame[6..12].copy_from_slice(&[2; 6]);
    frame[12..14].copy_from_slice(&ETH_P_IP.to_be_bytes());
    let mut eth: EthHdr = read(&frame);
    assert_eq!(eth.ether_type(), ETH_P_IP);
    eth.swap_addresses();
    assert_eq!((eth.dst, eth.src), ([2; 6], [1; 6]));

    let vlan: VlanHdr = read(&[0xa0, 0x64, 0x08, 0x00]);
    assert_eq!(
        (vlan.pcp(), vlan.vid(), vlan.ether_type()),
        (5, 100, ETH_P_IP)
    );

    // UDP 1234 → 5000, length 12, payload "ping", checksum over a pseudo-header.
    let pseudo_and_udp = |udp: &[u8]| {
        let mut v = vec![10, 0, 0, 1, 10, 0, 0, 2, 0, IPPROTO_UDP, 0, 12];
        v.extend_from_slice(udp);
        v
    };
    let mut udp_bytes = vec![
        0x04, 0xd2, 0x13, 0x88, 0x00, 0x0c, 0, 0, b'p', b'i', b'n', b'g',
    ];
    let c = reference(&pseudo_and_udp(&udp_bytes));
    udp_bytes[6..8].copy_from_slice(&c.to_be_bytes());
    let mut udp: UdpHdr = read(&udp_bytes);
    assert_eq!(
        (udp.src_port(), udp.dst_port(), udp.len()),
        (1234, 5000, 12)
    );
    udp.set_dst_port(6000);
    udp.update_for_address(0x0a00_0002, 0x0a00_0003);
    let mut rewritten = bytes_of(&udp);
    rewritten.extend_from_slice(b"ping");
    let mut pseudo = pseudo_and_udp(&rewritten);
    pseudo[7] = 3;
    assert_eq!(reference(&pseudo), 0, "the updated UDP checksum verifies");

    let mut icmp_bytes = [8u8, 0, 0, 0, 0, 1, 0, 7];
    let c = reference(&icmp_bytes);
    icmp_bytes[2..4].copy_from_slice(&c.to_be_bytes());
    let mut icmp: IcmpHdr = read(&icmp_bytes);
    icmp.set_type(0);
    assert_eq!(
        reference(&bytes_of(&icmp)),
        0,
        "echo reply checksum verifies"
    );
}

#[test]
fn ipv6_and_tcp_accessors_read_network_order() {
    use bpfkit_ebpf::net::{tcp_flags, Ipv6Hdr, TcpHdr, IPPROTO_TCP};
    let mut raw = [0u8; 40];
    raw[..4].copy_from_slice(&[0x60, 0x0a, 0xbc, 0xde]); // version 6, class 0, flow 0xabcde
    raw[4..6].copy_from_slice(&20u16.to_be_bytes());
    raw[6] = IPPROTO_TCP;
    raw[7] = 64;
    raw[8..24].copy_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    raw[39] = 2;
    let ip: Ipv6Hdr = read(&raw);
    assert_eq!(
        (ip.version(), ip.flow_label(), ip.payload_len()),
        (6, 0xabcde, 20)
    );
    assert_eq!((ip.next_header, ip.hop_limit), (IPPROTO_TCP, 64));
    assert_eq!(ip.src[0..2], [0xfe, 0x80]);
    assert_eq!(ip.dst[15], 2);

    // TCP 443 → 51000, seq 0x01020304, data offset 5 (20 bytes), SYN|ACK.
    let mut tcp_bytes = [0u8; 20];
    tcp_bytes[..2].copy_from_slice(&443u16.to_be_bytes());
    tcp_bytes[2..4].copy_from_slice(&51000u16.to_be_bytes());
    tcp_bytes[4..8].copy_from_slice(&0x0102_0304u32.to_be_bytes());
    tcp_bytes[12] = 5 << 4;
    tcp_bytes[13] = tcp_flags::SYN | tcp_flags::ACK;
    let c = reference(&tcp_bytes);
    tcp_bytes[16..18].copy_from_slice(&c.to_be_bytes());
    let mut tcp: TcpHdr = read(&tcp_bytes);
    assert_eq!(
        (tcp.src_port(), tcp.dst_port(), tcp.seq()),
        (443, 51000, 0x0102_0304)
    );
    assert_eq!(
        (tcp.header_len(), tcp.flags()),
        (20, tcp_flags::SYN | tcp_flags::ACK)
    );
    tcp.set_dst_port(8443);
    assert_eq!(tcp.dst_port(), 8443);
    assert_eq!(reference(&bytes_of(&tcp)), 0, "checksum still verifies");
}

//! tcpconnect's userspace library: decoding `ConnectEvent` records ([`Connect`]) and
//! printing them as columns or JSON lines. The binary (`src/main.rs`) loads
//! [`TCPCONNECT_BPF`], attaches and polls.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bpfkit::maps::Pod;
use tool_abi::tcpconnect::{ConnectEvent, AF_INET};
use tool_common::output::{c_str, json_string};

/// The kernel side, built by build.rs from `../tcpconnect-ebpf`: program `set_state`
/// (tracepoint `sock/inet_sock_set_state`), map `EVENTS`.
pub static TCPCONNECT_BPF: &[u8] = bpfkit_build::include_ebpf!("tcpconnect");

/// One connect, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    /// Process id.
    pub pid: u32,
    /// Real user id.
    pub uid: u32,
    /// Command name.
    pub comm: String,
    /// Source address.
    pub saddr: IpAddr,
    /// Destination address.
    pub daddr: IpAddr,
    /// Source port (0 when the kernel had not picked one yet).
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
}

/// A ring buffer record of the wrong size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tcpconnect record of {len} bytes, expected {expected}")]
pub struct DecodeError {
    /// Record length.
    pub len: usize,
    /// `size_of::<ConnectEvent>()`.
    pub expected: usize,
}

fn address(family: u16, bytes: [u8; 16]) -> IpAddr {
    if family == AF_INET {
        IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]))
    } else {
        IpAddr::V6(Ipv6Addr::from(bytes))
    }
}

impl Connect {
    /// Decodes an `EVENTS` record.
    pub fn decode(record: &[u8]) -> Result<Connect, DecodeError> {
        let e = ConnectEvent::from_bytes(record).ok_or(DecodeError {
            len: record.len(),
            expected: size_of::<ConnectEvent>(),
        })?;
        Ok(Connect {
            pid: e.pid,
            uid: e.uid,
            comm: c_str(&e.comm),
            saddr: address(e.family, e.saddr),
            daddr: address(e.family, e.daddr),
            sport: e.sport,
            dport: e.dport,
        })
    }

    /// 4 or 6.
    pub fn ip_version(&self) -> u8 {
        if self.daddr.is_ipv4() {
            4
        } else {
            6
        }
    }
}

/// The column header for text output.
pub const HEADER: &str =
    "PID     COMM             IP SADDR                                   DADDR                                   SPORT DPORT";

/// One text line: libbpf-tools' columns, and the source port.
pub fn text_line(c: &Connect) -> String {
    format!(
        "{:<7} {:<16} {:<2} {:<39} {:<39} {:<5} {}",
        c.pid,
        c.comm,
        c.ip_version(),
        c.saddr,
        c.daddr,
        c.sport,
        c.dport
    )
}

/// One JSON line: pid, uid, comm, ip (4 or 6), saddr, daddr, sport, dport.
pub fn json_line(c: &Connect) -> String {
    format!(
        "{{\"pid\":{},\"uid\":{},\"comm\":{},\"ip\":{},\"saddr\":\"{}\",\"daddr\":\"{}\",\"sport\":{},\"dport\":{}}}",
        c.pid,
        c.uid,
        json_string(&c.comm),
        c.ip_version(),
        c.saddr,
        c.daddr,
        c.sport,
        c.dport
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(family: u16) -> ConnectEvent {
        let mut e = ConnectEvent {
            pid: 9,
            uid: 0,
            family,
            sport: 0,
            dport: 443,
            pad: 0,
            saddr: [0; 16],
            daddr: [0; 16],
            comm: [0; 16],
        };
        e.comm[..4].copy_from_slice(b"curl");
        e
    }

    #[test]
    fn decodes_ipv4_and_ipv6() {
        let mut e = event(AF_INET);
        e.daddr[..4].copy_from_slice(&[10, 0, 0, 1]);
        let c = Connect::decode(e.as_bytes()).unwrap();
        assert_eq!(c.daddr, "10.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(c.ip_version(), 4);
        let mut e = event(tool_abi::tcpconnect::AF_INET6);
        e.daddr[15] = 1;
        let c = Connect::decode(e.as_bytes()).unwrap();
        assert_eq!(c.daddr, "::1".parse::<IpAddr>().unwrap());
        assert_eq!(
            json_line(&c),
            "{\"pid\":9,\"uid\":0,\"comm\":\"curl\",\"ip\":6,\"saddr\":\"::\",\"daddr\":\"::1\",\"sport\":0,\"dport\":443}"
        );
        assert!(Connect::decode(&[0; 3]).is_err());
    }

    #[test]
    fn text_columns_line_up_with_the_header() {
        let c = Connect::decode(event(AF_INET).as_bytes()).unwrap();
        let line = text_line(&c);
        assert_eq!(HEADER.find("DPORT"), line.find("443"));
        assert_eq!(HEADER.find("DADDR"), line.rfind("0.0.0.0"));
    }
}

//! tcpconnect: active TCP connects (IPv4 and IPv6) from `sock/inet_sock_set_state`'s
//! `TCP_CLOSE` → `TCP_SYN_SENT` transition.

/// `TCP_SYN_SENT` in `include/net/tcp_states.h`.
pub const TCP_SYN_SENT: i32 = 2;
/// `TCP_CLOSE`.
pub const TCP_CLOSE: i32 = 7;
/// `IPPROTO_TCP`.
pub const IPPROTO_TCP: u16 = 6;
/// `AF_INET`.
pub const AF_INET: u16 = 2;
/// `AF_INET6`.
pub const AF_INET6: u16 = 10;

/// One connect, sent through the `EVENTS` ring buffer.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectEvent {
    /// Process id (tgid) of the connecting task.
    pub pid: u32,
    /// Real user id.
    pub uid: u32,
    /// `AF_INET` or `AF_INET6`.
    pub family: u16,
    /// Source port (host order; 0 when the kernel has not picked it yet at SYN_SENT).
    pub sport: u16,
    /// Destination port (host order).
    pub dport: u16,
    /// Padding, zero.
    pub pad: u16,
    /// Source address: 4 bytes for IPv4, 16 for IPv6.
    pub saddr: [u8; 16],
    /// Destination address.
    pub daddr: [u8; 16],
    /// Command name.
    pub comm: [u8; crate::COMM_LEN],
}

/// Global (`u32`): only this destination port (0: any).
pub const GLOBAL_DPORT: &str = "TCPCONNECT_DPORT";

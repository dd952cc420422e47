//! The record offsets the tools' kernel sides still read as constants (in `tool-abi`) against
//! the running kernel's tracefs `format` files. (syscount, syslat, opensnoop and
//! bpfsnoop read their syscall records through bpfkit-ebpf's generated types, whose layout
//! is asserted at compile time.)

use tool_abi::tcpconnect;
use tool_common::tracefs;

fn check(category: &str, event: &str, fields: &[(&str, usize, usize)]) {
    if tracefs::root().is_none() {
        let status = std::process::Command::new("mount")
            .args(["-t", "tracefs", "none", "/sys/kernel/tracing"])
            .status();
        if !status.is_ok_and(|s| s.success()) {
            println!("SKIP tracefs is not mounted and cannot be");
            return;
        }
    }
    for (name, offset, size) in fields {
        let field = tracefs::field(category, event, name).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (field.offset, field.size),
            (*offset, *size),
            "{category}/{event} {}",
            field.declaration
        );
    }
}

#[test]
fn inet_sock_set_state_offsets_match_the_kernel() {
    check(
        "sock",
        "inet_sock_set_state",
        &[
            ("oldstate", tcpconnect::OLDSTATE, 4),
            ("newstate", tcpconnect::NEWSTATE, 4),
            ("sport", tcpconnect::SPORT, 2),
            ("dport", tcpconnect::DPORT, 2),
            ("family", tcpconnect::FAMILY, 2),
            ("protocol", tcpconnect::PROTOCOL, 2),
            ("saddr", tcpconnect::SADDR, 4),
            ("daddr", tcpconnect::DADDR, 4),
            ("saddr_v6", tcpconnect::SADDR_V6, 16),
            ("daddr_v6", tcpconnect::DADDR_V6, 16),
        ],
    );
}

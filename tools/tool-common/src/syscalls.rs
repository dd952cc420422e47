//! Syscall names and numbers for x86_64 and aarch64, generated from the kernel UAPI headers
//! by `gen/gen_tables.py` (`src/tables.rs`).

use crate::tables::{SYSCALLS_AARCH64, SYSCALLS_X86_64};

/// An architecture whose syscall table we carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// x86_64 (`<asm/unistd_64.h>`).
    X86_64,
    /// aarch64 (`<asm-generic/unistd.h>`).
    Aarch64,
}

impl Arch {
    /// The architecture this binary runs on, if its table is known.
    pub fn host() -> Option<Arch> {
        if cfg!(target_arch = "x86_64") {
            Some(Arch::X86_64)
        } else if cfg!(target_arch = "aarch64") {
            Some(Arch::Aarch64)
        } else {
            None
        }
    }

    fn table(self) -> &'static [(u32, &'static str)] {
        match self {
            Arch::X86_64 => SYSCALLS_X86_64,
            Arch::Aarch64 => SYSCALLS_AARCH64,
        }
    }

    /// The name of syscall `number`.
    ///
    /// ```
    /// use tool_common::syscalls::Arch;
    /// assert_eq!(Arch::X86_64.name(257), Some("openat"));
    /// assert_eq!(Arch::Aarch64.name(56), Some("openat"));
    /// ```
    pub fn name(self, number: u32) -> Option<&'static str> {
        let table = self.table();
        table
            .binary_search_by_key(&number, |(n, _)| *n)
            .ok()
            .map(|i| table[i].1)
    }

    /// The number of the syscall called `name`.
    pub fn number(self, name: &str) -> Option<u32> {
        self.table()
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(number, _)| *number)
    }
}

/// The host's name for syscall `number`, or `[NUMBER]` when it has none.
pub fn name_or_number(number: u32) -> String {
    Arch::host()
        .and_then(|arch| arch.name(number))
        .map_or_else(|| format!("[{number}]"), str::to_owned)
}

/// The host's number for a syscall given by name or as a decimal number.
pub fn parse(text: &str) -> Option<u32> {
    text.parse()
        .ok()
        .or_else(|| Arch::host().and_then(|arch| arch.number(text)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_tables_know_the_common_calls() {
        for (arch, getppid, bpf, read) in
            [(Arch::X86_64, 110, 321, 0), (Arch::Aarch64, 173, 280, 63)]
        {
            assert_eq!(arch.name(getppid), Some("getppid"));
            assert_eq!(arch.number("bpf"), Some(bpf));
            assert_eq!(arch.name(read), Some("read"));
        }
        assert_eq!(Arch::X86_64.name(2), Some("open"));
        // aarch64 has no open(2), only openat.
        assert_eq!(Arch::Aarch64.number("open"), None);
        assert_eq!(Arch::Aarch64.name(79), Some("newfstatat"));
    }

    #[test]
    fn host_table_matches_libc() {
        assert_eq!(parse("getppid"), Some(libc::SYS_getppid as u32));
        assert_eq!(parse("openat"), Some(libc::SYS_openat as u32));
        assert_eq!(parse("42"), Some(42));
        assert_eq!(parse("no_such_call"), None);
        assert_eq!(name_or_number(libc::SYS_close as u32), "close");
        assert_eq!(name_or_number(100_000), "[100000]");
    }
}

//! Kernel addresses to names as bpftrace prints them: `ksym()` (`vfs_read`) and `kstack`
//! frames (`vfs_read+12`) from `/proc/kallsyms`, stacks read back from the program's stack
//! trace map. The map is process-wide state set by the runtime ([`set_stack_map`]), so the
//! printers (map keys, printf arguments) need no extra parameters.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::OnceLock;

/// Frames a stack trace map value holds (bpftrace's `perf_event_max_stack`).
pub const MAX_FRAMES: u32 = 127;

static STACK_MAP: AtomicI32 = AtomicI32::new(-1);

/// The stack trace map `kstack` ids refer to (an fd the runtime keeps open), or -1.
pub fn set_stack_map(fd: i32) {
    STACK_MAP.store(fd, Ordering::SeqCst);
}

fn kallsyms() -> &'static [(u64, String)] {
    static SYMS: OnceLock<Vec<(u64, String)>> = OnceLock::new();
    SYMS.get_or_init(|| {
        let text = std::fs::read_to_string("/proc/kallsyms").unwrap_or_default();
        parse_kallsyms(&text)
    })
}

/// Text symbols of a `/proc/kallsyms` listing, by address (module suffixes dropped).
pub fn parse_kallsyms(text: &str) -> Vec<(u64, String)> {
    let mut out: Vec<(u64, String)> = text
        .lines()
        .filter_map(|l| {
            let mut p = l.split_whitespace();
            let addr = u64::from_str_radix(p.next()?, 16).ok()?;
            let kind = p.next()?;
            let name = p.next()?;
            (addr != 0 && matches!(kind, "t" | "T" | "w" | "W")).then(|| (addr, name.to_string()))
        })
        .collect();
    out.sort();
    out
}

fn lookup(syms: &[(u64, String)], addr: u64) -> Option<(&str, u64)> {
    let i = syms.partition_point(|(a, _)| *a <= addr);
    let (start, name) = syms.get(i.checked_sub(1)?)?;
    Some((name, addr - start))
}

/// `ksym(addr)`: the name of the kernel function holding `addr`, else the address in hex.
pub fn ksym(addr: u64) -> String {
    lookup(kallsyms(), addr).map_or_else(|| format!("0x{addr:x}"), |(n, _)| n.to_string())
}

/// `kaddr(name)`: the address of a kernel symbol (any kind), from `/proc/kallsyms`.
pub fn kaddr(name: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/kallsyms").ok()?;
    text.lines().find_map(|l| {
        let mut p = l.split_whitespace();
        let addr = p.next()?;
        let _kind = p.next()?;
        (p.next()? == name).then(|| u64::from_str_radix(addr, 16).ok())?
    })
}

/// One stack frame: `name+offset`, else the address in hex.
pub fn frame(addr: u64) -> String {
    lookup(kallsyms(), addr).map_or_else(|| format!("0x{addr:x}"), |(n, off)| format!("{n}+{off}"))
}

/// A kernel stack as bpftrace prints it: a newline, then each frame (at most `limit`)
/// indented by `indent` spaces and ended by a newline. An id the map does not hold
/// (`bpf_get_stackid` failed) prints as an empty stack.
pub fn kstack(id: u64, limit: u8, indent: usize) -> String {
    let fd = STACK_MAP.load(Ordering::SeqCst);
    let mut frames = vec![0u8; MAX_FRAMES as usize * 8];
    let key = (id as u32).to_ne_bytes();
    let found = fd >= 0
        && (id as i64) >= 0
        // SAFETY: the runtime keeps the stack map's fd open while anything prints;
        // `key` and `frames` are live buffers of the map's key and value sizes.
        && unsafe {
            let map = std::os::fd::BorrowedFd::borrow_raw(fd);
            bpfkit::sys::map_lookup_elem(map, &key, &mut frames, 0)
        }
        .unwrap_or(false);
    let mut out = String::from("\n");
    if !found {
        return out;
    }
    for addr in frames
        .chunks(8)
        .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8])))
        .take_while(|&a| a != 0)
        .take(limit as usize)
    {
        out.push_str(&" ".repeat(indent));
        out.push_str(&frame(addr));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_resolve_to_the_symbol_below_them() {
        let syms = parse_kallsyms(
            "ffffffff81000000 T _stext\nffffffff81000100 t helper\nffffffff81000200 d data\nffffffff81000300 T last [mod]\n",
        );
        assert_eq!(syms.len(), 3);
        assert_eq!(lookup(&syms, 0xffffffff81000104), Some(("helper", 4)));
        assert_eq!(lookup(&syms, 0xffffffff81000000), Some(("_stext", 0)));
        assert_eq!(lookup(&syms, 0x1000), None);
    }
}

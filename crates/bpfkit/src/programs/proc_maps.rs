//! `/proc/PID/maps`: which files a process maps where, for uprobes on libraries by short name
//! and for the load bias of a USDT target.

use std::path::{Path, PathBuf};

/// One line of `/proc/PID/maps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping<'a> {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// Offset in the file of `start`.
    pub offset: u64,
    /// The mapped path (`[heap]`, `[vdso]`... for anonymous kinds; `None`: anonymous).
    pub path: Option<&'a str>,
}

/// Every well-formed line of a `/proc/PID/maps` text (`start-end perms offset dev inode
/// [path]`); malformed lines are skipped. Paths with spaces are kept whole.
pub fn parse(text: &str) -> Vec<Mapping<'_>> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Mapping<'_>> {
    let mut rest = line;
    let mut field = || {
        let trimmed = rest.trim_start();
        let end = trimmed.find(' ').unwrap_or(trimmed.len());
        let (f, r) = trimmed.split_at(end);
        rest = r;
        (!f.is_empty()).then_some(f)
    };
    let range = field()?;
    let _perms = field()?;
    let offset = u64::from_str_radix(field()?, 16).ok()?;
    let _dev = field()?;
    let _inode = field()?;
    let (start, end) = range.split_once('-')?;
    let start = u64::from_str_radix(start, 16).ok()?;
    let end = u64::from_str_radix(end, 16).ok()?;
    let path = rest.trim();
    Some(Mapping {
        start,
        end,
        offset,
        path: (!path.is_empty()).then_some(path),
    })
}

/// The first mapped file whose name is `name` or starts with `name.`/`name-` (`libc` finds
/// `/usr/lib/x86_64-linux-gnu/libc.so.6`).
pub fn library(mappings: &[Mapping<'_>], name: &str) -> Option<PathBuf> {
    mappings.iter().find_map(|m| {
        let path = m.path?;
        let file = path.rsplit('/').next()?;
        let fits = file == name
            || file
                .strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('-'));
        (path.starts_with('/') && fits).then(|| PathBuf::from(path))
    })
}

/// Where the mapping of `path` at file offset 0 starts.
pub fn start_of(mappings: &[Mapping<'_>], path: &Path) -> Option<u64> {
    mappings
        .iter()
        .find(|m| m.offset == 0 && m.path.is_some_and(|p| Path::new(p) == path))
        .map(|m| m.start)
}

/// `/proc/<pid>/maps` read and parsed by `f`.
pub fn with_process<T>(pid: i32, f: impl FnOnce(&[Mapping<'_>]) -> Option<T>) -> Option<T> {
    let text =
        crate::sys::fdtrace::read_to_string(format!("/proc/{pid}/maps"), "proc file").ok()?;
    f(&parse(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &str = "\
55d0c0a00000-55d0c0a28000 r--p 00000000 fe:01 1311 /usr/bin/cat
7f1e2c000000-7f1e2c028000 r--p 00000000 fe:01 2901 /usr/lib/x86_64-linux-gnu/libc.so.6
7f1e2c028000-7f1e2c1bd000 r-xp 00028000 fe:01 2901 /usr/lib/x86_64-linux-gnu/libc.so.6
7ffd5c1d0000-7ffd5c1f1000 rw-p 00000000 00:00 0                          [stack]
7f1e2c300000-7f1e2c301000 rw-p 00000000 00:00 0
7f1e2c400000-7f1e2c401000 r--p 00000000 fe:01 77 /tmp/a dir/lib x.so
garbage line
";

    #[test]
    fn lines_become_mappings() {
        let m = parse(MAPS);
        assert_eq!(m.len(), 6);
        assert_eq!(
            m[2],
            Mapping {
                start: 0x7f1e2c028000,
                end: 0x7f1e2c1bd000,
                offset: 0x28000,
                path: Some("/usr/lib/x86_64-linux-gnu/libc.so.6"),
            }
        );
        assert_eq!(m[3].path, Some("[stack]"));
        assert_eq!(m[4].path, None);
        assert_eq!(m[5].path, Some("/tmp/a dir/lib x.so"));
    }

    #[test]
    fn libraries_by_short_name_and_starts_by_path() {
        let m = parse(MAPS);
        assert_eq!(
            library(&m, "libc"),
            Some(PathBuf::from("/usr/lib/x86_64-linux-gnu/libc.so.6"))
        );
        assert_eq!(library(&m, "libc.so.6"), library(&m, "libc"));
        assert_eq!(library(&m, "lib"), None);
        assert_eq!(library(&m, "stack"), None);
        assert_eq!(
            start_of(&m, Path::new("/usr/lib/x86_64-linux-gnu/libc.so.6")),
            Some(0x7f1e2c000000)
        );
    }
}

//! The host's libbpf-tools programs (Debian's `libbpf-tools`, dynamically linked against
//! glibc) for the x86_64 guest, whose busybox image has no glibc: the program found through
//! `dpkg -L libbpf-tools` (else `PATH`), with its ELF interpreter and every shared library
//! `ldd` resolves, each copied to the same path in the image.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::packages::run;

/// A program and what it needs to run in the guest.
#[derive(Debug)]
pub struct Shipped {
    /// The program's path, on the host and in the guest.
    pub program: PathBuf,
    /// Host file → the same path in the guest: the program, its interpreter, its libraries.
    pub files: Vec<(PathBuf, String)>,
}

/// libbpf-tools' `name` from the host with its interpreter and libraries, or why it cannot be
/// shipped (the reason a SKIP line gives).
pub fn ship(name: &str) -> Result<Shipped, String> {
    let program = find(name)?;
    let ldd = run(Command::new("ldd").arg(&program))
        .map_err(|e| format!("ldd of the host's {}: {e}", program.display()))?;
    let mut files = vec![(program.clone(), guest_path(&program))];
    for path in ldd_paths(&ldd).map_err(|line| {
        format!(
            "the host's {} needs a library ldd does not find: '{line}'",
            program.display()
        )
    })? {
        files.push((path.clone(), guest_path(&path)));
    }
    if files.len() < 2 {
        return Err(format!(
            "ldd names no interpreter for the host's {} (not a dynamic x86_64 ELF?)",
            program.display()
        ));
    }
    Ok(Shipped { program, files })
}

fn guest_path(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// `name` among the files of the installed `libbpf-tools` package, else the first ELF file
/// of that name in `PATH`.
fn find(name: &str) -> Result<PathBuf, String> {
    let wanted = format!("/{name}");
    if let Ok(list) = run(Command::new("dpkg").args(["-L", "libbpf-tools"])) {
        if let Some(found) = list
            .lines()
            .filter(|l| l.ends_with(&wanted))
            .map(PathBuf::from)
            .find(|p| is_elf(p))
        {
            return Ok(found);
        }
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|p| is_elf(p))
        .ok_or_else(|| {
            format!(
                "the host has no libbpf-tools {name} (Debian package libbpf-tools: not in \
                 `dpkg -L libbpf-tools`, no ELF {name} in PATH)"
            )
        })
}

fn is_elf(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == *b"\x7fELF"
}

/// The absolute paths in `ldd` output: `name => /path (0x…)` for each library and
/// `/path (0x…)` for the interpreter; the vDSO (no path) is left out. A library ldd did not
/// find is an error carrying its line.
fn ldd_paths(output: &str) -> Result<Vec<PathBuf>, String> {
    let mut paths = Vec::new();
    for line in output.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line.contains("not found") {
            return Err(line.to_owned());
        }
        let path = match line.split_once("=>") {
            Some((_, target)) => target.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(path) = path.filter(|p| p.starts_with('/')) {
            let path = PathBuf::from(path);
            if !paths.contains(&path) {
                paths.push(path);
            }
        }
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::ldd_paths;
    use std::path::PathBuf;

    #[test]
    fn ldd_output_gives_the_libraries_and_the_interpreter() {
        let out = "\tlinux-vdso.so.1 (0x00007ffd1b5f2000)\n\
                   \tlibelf.so.1 => /lib/x86_64-linux-gnu/libelf.so.1 (0x00007f0d8a5d6000)\n\
                   \tlibz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x00007f0d8a5b7000)\n\
                   \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0d8a3d6000)\n\
                   \t/lib64/ld-linux-x86-64.so.2 (0x00007f0d8a6e0000)\n";
        let paths: Vec<PathBuf> = [
            "/lib/x86_64-linux-gnu/libelf.so.1",
            "/lib/x86_64-linux-gnu/libz.so.1",
            "/lib/x86_64-linux-gnu/libc.so.6",
            "/lib64/ld-linux-x86-64.so.2",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(ldd_paths(out).unwrap(), paths);
        assert_eq!(
            ldd_paths("\tlibfoo.so.1 => not found\n").unwrap_err(),
            "libfoo.so.1 => not found"
        );
    }

    #[test]
    fn the_hosts_tcpconnect_ships_with_libc_and_its_interpreter_when_installed() {
        match super::ship("tcpconnect") {
            Ok(shipped) => {
                let guest: Vec<&str> = shipped.files.iter().map(|(_, g)| g.as_str()).collect();
                assert_eq!(guest[0], shipped.program.to_string_lossy());
                assert!(guest.iter().any(|g| g.ends_with("/libc.so.6")), "{guest:?}");
                assert!(guest.iter().any(|g| g.contains("/ld-linux")), "{guest:?}");
                for (host, _) in &shipped.files {
                    assert!(host.is_file(), "{}", host.display());
                }
            }
            Err(reason) => println!("SKIP {reason}"),
        }
    }
}

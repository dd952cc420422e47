//! `--pin-dir`: check that the directory is on a bpffs before loading anything, create it, and
//! remove what was created when the command fails.

use std::path::{Path, PathBuf};

use bpfkit::pin::is_bpffs;

/// The directories a command created for its pins, deepest last; [`CreatedDirs::remove`]
/// takes them away again (only while empty) when the command fails.
#[derive(Debug, Default)]
pub struct CreatedDirs(Vec<PathBuf>);

impl CreatedDirs {
    /// Remove the created directories, deepest first, each only if it is empty.
    pub fn remove(self) {
        for dir in self.0.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// Checks that `dir` is (or would be created) on a bpffs and creates it and `subdirs` under
/// it. Nothing is created when the check fails; on a later error what was created is removed.
pub fn prepare(dir: &Path, subdirs: &[&str]) -> Result<CreatedDirs, String> {
    // The deepest part of the path that exists decides the file system.
    let mut existing = dir;
    while !existing.exists() {
        existing = match existing.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
    }
    if !existing.is_dir() {
        return Err(format!(
            "--pin-dir {}: {} is not a directory",
            dir.display(),
            existing.display()
        ));
    }
    if !is_bpffs(existing) {
        return Err(format!(
            "--pin-dir {}: {} is not on a bpf filesystem; mount one with \
             `mount -t bpf bpf /sys/fs/bpf` and pin below it",
            dir.display(),
            existing.display()
        ));
    }
    let mut created = CreatedDirs::default();
    let mut wanted: Vec<PathBuf> = dir
        .ancestors()
        .take_while(|p| *p != existing && !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .collect();
    wanted.reverse();
    wanted.extend(subdirs.iter().map(|s| dir.join(s)));
    for path in wanted {
        match std::fs::create_dir(&path) {
            Ok(()) => created.0.push(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && path.is_dir() => {}
            Err(e) => {
                let message = format!("--pin-dir: creating {}: {e}", path.display());
                created.remove();
                return Err(message);
            }
        }
    }
    Ok(created)
}

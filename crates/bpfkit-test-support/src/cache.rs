//! The per-run build cache: artifacts keyed by a hash of their inputs, built race-free.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// FNV-1a 64 over `parts` (each prefixed by its length): a hash stable across Rust versions.
pub(crate) fn stable_hash(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for part in parts {
        eat(&(part.len() as u64).to_le_bytes());
        eat(part);
    }
    hash
}

/// The cache root: `$BPFKIT_TEST_CACHE`, else `<temp dir>/bpfkit-test-support`.
pub fn cache_root() -> PathBuf {
    std::env::var_os("BPFKIT_TEST_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("bpfkit-test-support"))
}

/// Returns `<cache>/<kind>-<hash of key>/<file_name>`, running `build(tmp)` first when it
/// does not exist yet. `build` writes a private temporary path which is then renamed into
/// place, so concurrent threads and processes never see a half-written artifact (the
/// loser of a race simply replaces an identical file).
pub(crate) fn cached_artifact(
    kind: &str,
    key: &[&[u8]],
    file_name: &str,
    build: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<PathBuf, String> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = cache_root().join(format!("{kind}-{:016x}", stable_hash(key)));
    let dest = dir.join(file_name);
    if dest.exists() {
        return Ok(dest);
    }
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("cannot create cache dir {}: {e}", dir.display()))?;
    let tmp = dir.join(format!(
        ".{file_name}.tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = build(&tmp);
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, &dest).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot move {} into place: {e}", dest.display())
    })?;
    Ok(dest)
}

/// Runs `cmd`, returning its stdout, or an error quoting the command and its stderr.
pub(crate) fn run(cmd: &mut std::process::Command) -> Result<Vec<u8>, String> {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{shown} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(out.stdout)
}

//! Cgroup v2 directories for kernel tests: where cgroup2 is mounted, a child cgroup made for
//! the test (removed on drop), and the test process moved into it and back out again on
//! every exit path, a failing assertion included.
//!
//! ```no_run
//! use bpfkit_test_support::cgroup::{cgroup2_root, TestCgroup};
//! if cgroup2_root().is_some() {
//!     let cgroup = TestCgroup::new("doc");
//!     // Attach programs to `cgroup.dir` here.
//!     let _member = cgroup.enter();
//!     // This process is in the cgroup until `_member` drops.
//! }
//! ```

use std::fs::File;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where cgroup2 is mounted (`/sys/fs/cgroup`, or `.../unified` on hybrid systems): the
/// first cgroup2 line of `/proc/self/mountinfo`; `None` when there is none.
pub fn cgroup2_root() -> Option<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        if right.split(' ').next() != Some("cgroup2") {
            return None;
        }
        left.split(' ').nth(4).map(PathBuf::from)
    })
}

/// How long a drop waits for the cgroup's last processes to leave before giving up.
const EMPTY_WAIT: Duration = Duration::from_secs(1);

/// A child cgroup of the cgroup2 root, `bpfkit-test-<pid>-<name>`, removed on drop.
#[derive(Debug)]
pub struct TestCgroup {
    /// The cgroup's directory.
    pub path: PathBuf,
    /// The directory, open read-only: the fd cgroup attach calls take.
    pub dir: File,
}

impl TestCgroup {
    /// Makes the cgroup (one a killed earlier run of this pid left is removed first).
    /// Panics when cgroup2 is not mounted or the directory cannot be made (tests only).
    pub fn new(name: &str) -> Self {
        let root = cgroup2_root().expect("cgroup2 is mounted");
        let path = root.join(format!("bpfkit-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir(&path);
        std::fs::create_dir(&path)
            .unwrap_or_else(|e| panic!("create cgroup {}: {e}", path.display()));
        let dir = File::open(&path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
        Self { path, dir }
    }

    /// Moves this process into the cgroup until the returned guard drops.
    pub fn enter(&self) -> Member {
        let own = std::fs::read_to_string("/proc/self/cgroup").expect("read /proc/self/cgroup");
        let rel = own
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .expect("a cgroup v2 line in /proc/self/cgroup");
        let original = cgroup2_root()
            .expect("cgroup2 is mounted")
            .join(rel.trim_start_matches('/'));
        move_self(&self.path);
        Member { original }
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        // A process that just left (an exited child) may keep it busy for a moment.
        let start = Instant::now();
        while let Err(e) = std::fs::remove_dir(&self.path) {
            if e.kind() != ErrorKind::ResourceBusy || start.elapsed() > EMPTY_WAIT {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// This process is in a [`TestCgroup`]; dropping this moves it back where it was.
#[derive(Debug)]
pub struct Member {
    original: PathBuf,
}

impl Drop for Member {
    fn drop(&mut self) {
        move_self(&self.original);
    }
}

/// Writes this process's pid to `<cgroup>/cgroup.procs`; panics on failure.
fn move_self(cgroup: &Path) {
    let procs = cgroup.join("cgroup.procs");
    std::fs::write(&procs, std::process::id().to_string())
        .unwrap_or_else(|e| panic!("move into {}: {e}", cgroup.display()));
}

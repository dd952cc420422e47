//! Side by side with libbpf-tools' opensnoop (Debian's `libbpf-tools`, installed by
//! .ci/run): both watch the same held workload by pid, concurrently; our text lines
//! (`PID COMM FD ERR FLAGS PATH`) equal theirs (`opensnoop -e`) character for character,
//! plus the one openat2 call, which libbpf-tools 0.26 does not trace.

use std::path::Path;

use tool_common::testing::{self, Held, Theirs};

const THEIRS: &str = "/usr/sbin/opensnoop";

#[test]
fn lines_equal_libbpf_tools_opensnoop_on_the_same_workload() {
    if !Theirs::installed(THEIRS) {
        return;
    }
    let workload = testing::compile_c(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/opens.c"),
        env!("CARGO_TARGET_TMPDIR"),
        "opens-side-by-side",
    );
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("opensnoop-sbs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).expect("marker dir");
    std::fs::write(dir.join("exists"), b"x").expect("marker file");
    let held = Held::spawn(&workload, &[dir.to_str().unwrap()]);
    let pid = held.pid().to_string();

    let (theirs, header) = Theirs::start(THEIRS, &["-e", "-p", &pid]);
    assert_eq!(
        header.trim_end(),
        opensnoop::HEADER,
        "libbpf-tools opensnoop's header"
    );
    let ours = testing::start(env!("CARGO_BIN_EXE_opensnoop"), &["--pid", &pid]);

    held.release();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let text = theirs.stop();
    let ours = testing::stop(ours);
    std::fs::remove_dir_all(&dir).expect("remove the marker dir");

    let mut ours: Vec<&str> = ours.lines().skip(1).collect();
    let theirs: Vec<&str> = text.lines().collect();
    // The workload's openat2 (O_RDONLY|O_NOFOLLOW of `exists`), fourth of its own opens.
    let openat2 = format!("{:08o} {}/exists", libc::O_NOFOLLOW, dir.display());
    let extra: Vec<usize> = ours
        .iter()
        .enumerate()
        .filter(|(_, l)| l.ends_with(&openat2))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(extra.len(), 1, "{ours:#?}");
    ours.remove(extra[0]);
    assert!(
        theirs.len() >= 7,
        "the shell's and the workload's opens: {theirs:#?}"
    );
    assert_eq!(ours, theirs);
}

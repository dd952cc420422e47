//! execguard's userspace library: turning a [`Policy`] (files and cgroups) into the LSM
//! program's map entries, attaching it ([`Guard`]), and decoding and printing its events
//! ([`Event`], [`text_line`], [`json_line`]). The binary (`src/main.rs`) is a CLI over it.

use std::collections::HashMap;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bpfkit::links::Link;
use bpfkit::loader::{LoadError, Loader, Object};
use bpfkit::maps::MapError;
use bpfkit::programs::{lsm, AttachError};
use bpfkit::readers::{ReaderError, RingBuf, RingBufPoller};
use execguard_common::{
    kernel_dev, FileKey, GuardEvent, ACTION_AUDIT, ACTION_DENY, EVENT_SIZE, GLOBAL_AUDIT,
    MAP_DENY_CGROUPS, MAP_DENY_FILES, MAP_EVENTS, PROGRAM, REASON_CGROUP, REASON_FILE,
};

/// The kernel side, built by build.rs from `../execguard-ebpf` (an ELF object, 32-byte
/// aligned): program `check_exec` (`lsm/bprm_check_security`), maps `DENY_FILES`,
/// `DENY_CGROUPS` and `EVENTS`, global `AUDIT`.
pub static EXECGUARD_BPF: &[u8] = bpfkit_build::include_ebpf!("execguard");

/// `statfs` magic of cgroup v2 (`CGROUP2_SUPER_MAGIC`).
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

/// What to deny: an exec is matched when its file is one of `deny` (by device and inode)
/// or the calling task's cgroup is one of `cgroups` (exactly that cgroup, not its
/// descendants).
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Files whose exec is denied (symlinks followed, as exec does).
    pub deny: Vec<PathBuf>,
    /// cgroup v2 directories whose tasks may not exec anything.
    pub cgroups: Vec<PathBuf>,
    /// Report matches but let them run.
    pub audit: bool,
}

/// Why a guard could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    /// The policy lists nothing.
    #[error("nothing to guard: give at least one --deny PATH or --cgroup PATH")]
    EmptyPolicy,
    /// A listed path cannot be used.
    #[error("{path}: {reason}")]
    BadPath {
        /// The path as given.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Loading the embedded object failed.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The embedded object lacks something this library expects.
    #[error("the execguard object has no {what} `{name}`")]
    Missing {
        /// "program" or "map".
        what: &'static str,
        /// Its name.
        name: &'static str,
    },
    /// Writing the policy into a map failed.
    #[error(transparent)]
    Map(#[from] MapError),
    /// Attaching the LSM program failed.
    #[error(transparent)]
    Attach(#[from] AttachError),
    /// Reading the ring buffer failed.
    #[error(transparent)]
    Reader(#[from] ReaderError),
}

fn bad_path(path: &Path, reason: impl Into<String>) -> GuardError {
    GuardError::BadPath {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

fn c_path(path: &Path) -> Result<CString, GuardError> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| bad_path(path, "contains a NUL byte"))
}

fn stat(path: &Path) -> Result<libc::stat, GuardError> {
    let c = c_path(path)?;
    // SAFETY: a zeroed stat is a valid out-buffer; `c` is NUL-terminated.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above; stat writes only into `st`.
    if unsafe { libc::stat(c.as_ptr(), &mut st) } != 0 {
        return Err(bad_path(path, std::io::Error::last_os_error().to_string()));
    }
    Ok(st)
}

/// The deny-map key of a file: its kernel device number and inode (symlinks followed).
/// Fails unless `path` is a regular file.
pub fn file_key(path: &Path) -> Result<FileKey, GuardError> {
    let st = stat(path)?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(bad_path(
            path,
            "not a regular file (only files can be exec'd)",
        ));
    }
    Ok(FileKey {
        dev: kernel_dev(libc::major(st.st_dev), libc::minor(st.st_dev)),
        pad: 0,
        ino: st.st_ino,
    })
}

/// The cgroup v2 id of a cgroup directory (its inode number on the cgroup2 filesystem,
/// what `bpf_get_current_cgroup_id` returns). Fails unless `path` is on cgroup2.
pub fn cgroup_id(path: &Path) -> Result<u64, GuardError> {
    let c = c_path(path)?;
    // SAFETY: a zeroed statfs is a valid out-buffer; `c` is NUL-terminated.
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above; statfs writes only into `fs`.
    if unsafe { libc::statfs(c.as_ptr(), &mut fs) } != 0 {
        return Err(bad_path(path, std::io::Error::last_os_error().to_string()));
    }
    #[allow(clippy::unnecessary_cast)] // f_type's type differs between libcs
    if fs.f_type as i64 != CGROUP2_SUPER_MAGIC {
        return Err(bad_path(
            path,
            "not a cgroup v2 directory (not on a cgroup2 mount)",
        ));
    }
    let st = stat(path)?;
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
        return Err(bad_path(path, "not a cgroup directory"));
    }
    Ok(st.st_ino)
}

/// What the guard did with a matched exec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Refused with EPERM.
    Deny,
    /// Audit mode: reported and allowed.
    Audit,
}

impl Action {
    /// `"deny"` or `"audit"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Deny => "deny",
            Action::Audit => "audit",
        }
    }
}

/// Why the exec matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The file is listed.
    File,
    /// The caller's cgroup is listed.
    Cgroup,
}

impl Reason {
    /// `"file"` or `"cgroup"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::File => "file",
            Reason::Cgroup => "cgroup",
        }
    }
}

/// One matched exec, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Process id of the caller.
    pub pid: u32,
    /// Its real user id.
    pub uid: u32,
    /// Denied or audited.
    pub action: Action,
    /// Listed file or listed cgroup.
    pub reason: Reason,
    /// The file's kernel device number.
    pub dev: u32,
    /// The file's inode number.
    pub ino: u64,
    /// The caller's cgroup v2 id.
    pub cgroup_id: u64,
    /// The caller's command name.
    pub comm: String,
    /// The name exec was given.
    pub filename: String,
    /// The policy path with this device and inode, if the file is listed.
    pub listed: Option<PathBuf>,
}

/// A record that is not an execguard event.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Shorter than an event.
    #[error("record of {0} bytes, an event has {EVENT_SIZE}")]
    Short(usize),
    /// Unknown action or reason code.
    #[error("unknown {what} code {code}")]
    Code {
        /// "action" or "reason".
        what: &'static str,
        /// The code.
        code: u32,
    },
}

fn c_text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

impl Event {
    /// Decodes a ring buffer record (`listed` left empty).
    pub fn decode(record: &[u8]) -> Result<Event, DecodeError> {
        if record.len() < EVENT_SIZE {
            return Err(DecodeError::Short(record.len()));
        }
        // SAFETY: `record` holds at least `EVENT_SIZE` bytes; `GuardEvent` is plain integers
        // and byte arrays, valid for any bit pattern; read_unaligned needs no alignment.
        let raw: GuardEvent = unsafe { record.as_ptr().cast::<GuardEvent>().read_unaligned() };
        let action = match raw.action {
            ACTION_DENY => Action::Deny,
            ACTION_AUDIT => Action::Audit,
            code => {
                return Err(DecodeError::Code {
                    what: "action",
                    code,
                })
            }
        };
        let reason = match raw.reason {
            REASON_FILE => Reason::File,
            REASON_CGROUP => Reason::Cgroup,
            code => {
                return Err(DecodeError::Code {
                    what: "reason",
                    code,
                })
            }
        };
        Ok(Event {
            pid: raw.pid,
            uid: raw.uid,
            action,
            reason,
            dev: raw.dev,
            ino: raw.ino,
            cgroup_id: raw.cgroup_id,
            comm: c_text(&raw.comm),
            filename: c_text(&raw.filename),
            listed: None,
        })
    }
}

/// The column header printed before text output.
pub const HEADER: &str =
    "ACTION REASON PID     UID     COMM             INODE          CGROUP  FILE";

/// One line of text output.
pub fn text_line(event: &Event) -> String {
    let file = match &event.listed {
        Some(listed) if Path::new(&event.filename) != listed => {
            format!("{} ({})", event.filename, listed.display())
        }
        _ => event.filename.clone(),
    };
    format!(
        "{:<6} {:<6} {:<7} {:<7} {:<16} {:<14} {:<7} {}",
        event.action.as_str(),
        event.reason.as_str(),
        event.pid,
        event.uid,
        event.comm,
        format!("{}:{}", dev_text(event.dev), event.ino),
        event.cgroup_id,
        file
    )
}

fn dev_text(dev: u32) -> String {
    format!("{}:{}", dev >> 20, dev & 0xf_ffff)
}

/// One JSON line: `{"action":…,"reason":…,"pid":…,"uid":…,"comm":…,"filename":…,
/// "listed":…,"dev":"MAJ:MIN","ino":…,"cgroup_id":…}`.
pub fn json_line(event: &Event) -> String {
    serde_json::json!({
        "action": event.action.as_str(),
        "reason": event.reason.as_str(),
        "pid": event.pid,
        "uid": event.uid,
        "comm": event.comm,
        "filename": event.filename,
        "listed": event.listed.as_ref().map(|p| p.display().to_string()),
        "dev": dev_text(event.dev),
        "ino": event.ino,
        "cgroup_id": event.cgroup_id,
    })
    .to_string()
}

/// The attached guard: the LSM program enforces the policy until this is dropped (the
/// link detaches first, then the object's maps and program close).
#[derive(Debug)]
pub struct Guard {
    link: Link,
    poller: RingBufPoller,
    files: HashMap<FileKey, PathBuf>,
    program_id: Option<u32>,
    object: Object,
}

impl Guard {
    /// Resolves the policy's paths, loads the program with it and attaches it to
    /// `bprm_check_security`. Every path is checked before anything is loaded.
    pub fn start(policy: &Policy) -> Result<Guard, GuardError> {
        if policy.deny.is_empty() && policy.cgroups.is_empty() {
            return Err(GuardError::EmptyPolicy);
        }
        let mut files = HashMap::new();
        for path in &policy.deny {
            files.insert(file_key(path)?, path.clone());
        }
        let mut cgroups = Vec::new();
        for path in &policy.cgroups {
            cgroups.push(cgroup_id(path)?);
        }
        let mut loader = Loader::new();
        loader.set_global(GLOBAL_AUDIT, &u32::from(policy.audit).to_ne_bytes());
        let object = loader.load(EXECGUARD_BPF, "execguard")?;
        let map = |name| {
            object
                .map(name)
                .ok_or(GuardError::Missing { what: "map", name })
        };
        for key in files.keys() {
            map(MAP_DENY_FILES)?.update_bytes(&key.to_bytes(), &[1], 0)?;
        }
        for id in &cgroups {
            map(MAP_DENY_CGROUPS)?.update_bytes(&id.to_ne_bytes(), &[1], 0)?;
        }
        let mut poller = RingBufPoller::new()?;
        poller.add(RingBuf::new(map(MAP_EVENTS)?)?)?;
        let program = object.program(PROGRAM).ok_or(GuardError::Missing {
            what: "program",
            name: PROGRAM,
        })?;
        let program_id = program.id().ok();
        let link = lsm::attach(program)?;
        Ok(Guard {
            link,
            poller,
            files,
            program_id,
            object,
        })
    }

    /// The loaded program's id (as `bpftool prog` shows it), if the kernel told it.
    pub fn program_id(&self) -> Option<u32> {
        self.program_id
    }

    /// The attachment (its id and info through [`Link`]).
    pub fn link(&self) -> &Link {
        &self.link
    }

    /// The loaded object (maps and program).
    pub fn object(&self) -> &Object {
        &self.object
    }

    /// Events the kernel side could not send because the ring buffer was full (all CPUs'
    /// counts in the `LOST` map added up); the exec was denied or audited all the same.
    pub fn lost_events(&self) -> Result<u64, GuardError> {
        let name = tool_abi::lost::MAP_LOST;
        let map = self
            .object
            .map(name)
            .ok_or(GuardError::Missing { what: "map", name })?;
        let per_cpu = bpfkit::maps::PerCpuArray::<_, u64>::new(map)?.get(0)?;
        Ok(per_cpu.0.iter().sum())
    }

    /// Waits up to `timeout` for events and calls `f` with each (records that do not decode
    /// go to `bad`). Returns how many records were read.
    pub fn poll(
        &mut self,
        timeout: Option<Duration>,
        mut f: impl FnMut(Event),
        mut bad: impl FnMut(DecodeError),
    ) -> Result<usize, GuardError> {
        let files = &self.files;
        Ok(self
            .poller
            .poll(timeout, |_, record| match Event::decode(record) {
                Ok(mut event) => {
                    let key = FileKey {
                        dev: event.dev,
                        pad: 0,
                        ino: event.ino,
                    };
                    event.listed = files.get(&key).cloned();
                    f(event)
                }
                Err(e) => bad(e),
            })?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(action: u32, reason: u32) -> Vec<u8> {
        let mut raw = GuardEvent {
            pid: 42,
            uid: 1000,
            action,
            reason,
            dev: kernel_dev(8, 1),
            pad: 0,
            ino: 1234,
            cgroup_id: 77,
            comm: [0; 16],
            filename: [0; execguard_common::FILENAME_SIZE],
        };
        raw.comm[..2].copy_from_slice(b"sh");
        raw.filename[..9].copy_from_slice(b"/tmp/evil");
        // SAFETY: GuardEvent is plain data without padding bytes (explicit `pad`).
        unsafe { std::slice::from_raw_parts((&raw as *const GuardEvent).cast::<u8>(), EVENT_SIZE) }
            .to_vec()
    }

    #[test]
    fn decode_reads_every_field() {
        let event = Event::decode(&record(ACTION_DENY, REASON_FILE)).unwrap();
        assert_eq!(
            event,
            Event {
                pid: 42,
                uid: 1000,
                action: Action::Deny,
                reason: Reason::File,
                dev: kernel_dev(8, 1),
                ino: 1234,
                cgroup_id: 77,
                comm: "sh".into(),
                filename: "/tmp/evil".into(),
                listed: None,
            }
        );
    }

    #[test]
    fn decode_refuses_short_records_and_unknown_codes() {
        assert!(matches!(Event::decode(&[0; 8]), Err(DecodeError::Short(8))));
        assert!(matches!(
            Event::decode(&record(9, REASON_FILE)),
            Err(DecodeError::Code {
                what: "action",
                code: 9
            })
        ));
        assert!(matches!(
            Event::decode(&record(ACTION_AUDIT, 0)),
            Err(DecodeError::Code {
                what: "reason",
                code: 0
            })
        ));
    }

    #[test]
    fn lines_show_action_device_and_listed_path() {
        let mut event = Event::decode(&record(ACTION_AUDIT, REASON_FILE)).unwrap();
        event.listed = Some(PathBuf::from("/opt/evil"));
        let text = text_line(&event);
        assert!(
            text.starts_with("audit  file   42      1000    sh "),
            "{text}"
        );
        assert!(text.contains(" 8:1:1234 "), "{text}");
        assert!(text.ends_with("/tmp/evil (/opt/evil)"), "{text}");
        let json: serde_json::Value = serde_json::from_str(&json_line(&event)).unwrap();
        assert_eq!(json["action"], "audit");
        assert_eq!(json["dev"], "8:1");
        assert_eq!(json["ino"], 1234);
        assert_eq!(json["listed"], "/opt/evil");
        assert_eq!(json["cgroup_id"], 77);
    }

    #[test]
    fn bad_policies_are_refused_before_loading() {
        assert!(matches!(
            Guard::start(&Policy::default()),
            Err(GuardError::EmptyPolicy)
        ));
        let dir = std::env::temp_dir();
        let err = Guard::start(&Policy {
            deny: vec![dir.clone()],
            ..Policy::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        let err = Guard::start(&Policy {
            deny: vec![PathBuf::from("/nonexistent/execguard")],
            ..Policy::default()
        })
        .unwrap_err();
        assert!(
            err.to_string().starts_with("/nonexistent/execguard: "),
            "{err}"
        );
        let err = Guard::start(&Policy {
            cgroups: vec![dir],
            ..Policy::default()
        })
        .unwrap_err();
        assert!(
            err.to_string().contains("not a cgroup v2 directory"),
            "{err}"
        );
    }

    #[test]
    fn file_key_matches_stat() {
        let exe = std::env::current_exe().unwrap();
        let key = file_key(&exe).unwrap();
        let meta = std::fs::metadata(&exe).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(key.ino, meta.ino());
        let dev = meta.dev();
        assert_eq!(
            key.dev,
            kernel_dev(libc::major(dev), libc::minor(dev)),
            "major/minor repacked"
        );
    }
}

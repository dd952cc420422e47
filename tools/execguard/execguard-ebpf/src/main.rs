//! execguard's kernel side: a BPF LSM program on `bprm_check_security` that denies (or, in
//! audit mode, only reports) the exec of listed files and every exec by tasks of listed
//! cgroups.
//!
//! The exec'd file is identified by device and inode, read through CO-RE from
//! `linux_binprm->file->f_inode` (`i_ino`, `i_sb->s_dev`), so a listed file is caught under
//! any name (hard links, bind mounts, relative paths). The caller's cgroup is
//! `bpf_get_current_cgroup_id()`. Every match is sent through the `EVENTS` ring buffer with
//! the file name exec was given (`linux_binprm->filename`). `AUDIT` lives in frozen
//! `.rodata`, so the verifier drops the branch userspace turned off.
#![no_std]
#![no_main]

use bpfkit_ebpf::helpers::{self, probe_read_kernel_str_bytes};
use bpfkit_ebpf::macros::{lsm, map};
use bpfkit_ebpf::maps::{HashMap, RingBuf};
use bpfkit_ebpf::programs::LsmContext;
use bpfkit_ebpf::{core_read, Global};
use execguard_common::{
    FileKey, GuardEvent, ACTION_AUDIT, ACTION_DENY, REASON_CGROUP, REASON_FILE,
};

/// Files whose exec is denied, by kernel device and inode.
#[map]
static DENY_FILES: HashMap<FileKey, u8, 1024> = HashMap::new();

/// Cgroup v2 ids whose tasks may not exec anything.
#[map]
static DENY_CGROUPS: HashMap<u64, u8, 256> = HashMap::new();

#[map]
static EVENTS: RingBuf<{ 64 * 1024 }> = RingBuf::new();

// `LOST`: events the full ring buffer refused (the decision is enforced all the same).
tool_abi::lost_counter!();

/// Non-zero: report matches but allow them.
#[unsafe(no_mangle)]
static AUDIT: Global<u32> = Global::new(0);

// The kernel structs, reduced to the members read here (kernel names; CO-RE relocates the
// offsets to the running kernel's).

#[allow(non_camel_case_types)]
#[repr(C)]
struct linux_binprm {
    file: *const file,
    filename: *const u8,
}

#[allow(non_camel_case_types)]
#[repr(C)]
struct file {
    f_inode: *const inode,
}

#[allow(non_camel_case_types)]
#[repr(C)]
struct inode {
    i_ino: u64,
    i_sb: *const super_block,
}

#[allow(non_camel_case_types)]
#[repr(C)]
struct super_block {
    s_dev: u32,
}

const EPERM: i32 = 1;

/// Device and inode of the file being exec'd.
fn exec_file(bprm: *const linux_binprm) -> Result<FileKey, i64> {
    // bprm->file->f_inode, then its i_ino and i_sb->s_dev: each hop relocated by CO-RE.
    let node = core_read!(bprm, file, f_inode)?;
    let ino = core_read!(node, i_ino)?;
    let dev = core_read!(node, i_sb, s_dev)?;
    Ok(FileKey { dev, pad: 0, ino })
}

#[lsm(hook = "bprm_check_security")]
fn check_exec(ctx: LsmContext) -> i32 {
    // SAFETY: bprm_check_security(struct linux_binprm *bprm); slot 1 is the verdict of the
    // LSM programs before this one.
    let (bprm, previous): (*const linux_binprm, i32) = unsafe { (ctx.arg(0), ctx.arg(1)) };
    if previous != 0 {
        return previous;
    }
    // SAFETY: bpf_get_current_cgroup_id takes no arguments and cannot fail.
    let cgroup_id = unsafe { helpers::bpf_get_current_cgroup_id() };
    let key = exec_file(bprm).unwrap_or(FileKey {
        dev: 0,
        pad: 0,
        ino: 0,
    });
    let reason = if DENY_CGROUPS.get_copy(&cgroup_id).is_some() {
        REASON_CGROUP
    } else if key.ino != 0 && DENY_FILES.get_copy(&key).is_some() {
        REASON_FILE
    } else {
        return 0;
    };
    let audit = AUDIT.get() != 0;
    if let Some(mut entry) = EVENTS.reserve::<GuardEvent>() {
        let event = entry.as_uninit().as_mut_ptr();
        // SAFETY: `event` is the reserved entry, `size_of::<GuardEvent>()` bytes, ours
        // until submitted; zeroing makes every byte initialised before fields are set.
        let event = unsafe {
            event.write_bytes(0, 1);
            &mut *event
        };
        event.pid = helpers::current_tgid();
        event.uid = helpers::current_uid();
        event.action = if audit { ACTION_AUDIT } else { ACTION_DENY };
        event.reason = reason;
        event.dev = key.dev;
        event.ino = key.ino;
        event.cgroup_id = cgroup_id;
        let _ = helpers::current_comm_into(&mut event.comm);
        if let Ok(name) = core_read!(bprm, filename) {
            let _ = probe_read_kernel_str_bytes(name, &mut event.filename);
        }
        entry.submit(0);
    } else {
        count_lost();
    }
    if audit {
        0
    } else {
        -EPERM
    }
}

bpfkit_ebpf::license!("GPL");

//! Types shared by execguard's LSM program and its userspace: the deny-map key and the event
//! record (userspace reaches the maps and globals through execguard's typed skeleton).
#![no_std]
#![deny(missing_docs)]

/// Bytes of the exec'd file name kept per event, NUL included (longer names are cut).
pub const FILENAME_SIZE: usize = 256;

/// Key of the `DENY_FILES` hash map: a file by device and inode, as the kernel sees it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileKey {
    /// `inode->i_sb->s_dev`: the kernel's device number (`major << 20 | minor`), not the
    /// userspace `st_dev` encoding.
    pub dev: u32,
    /// Always 0 (explicit padding, so the key has no uninitialized bytes).
    pub pad: u32,
    /// `inode->i_ino`.
    pub ino: u64,
}

impl FileKey {
    /// The key as the map stores it (native byte order).
    pub fn to_bytes(&self) -> [u8; 16] {
        let mut bytes = [0u8; 16];
        bytes[..4].copy_from_slice(&self.dev.to_ne_bytes());
        bytes[4..8].copy_from_slice(&self.pad.to_ne_bytes());
        bytes[8..].copy_from_slice(&self.ino.to_ne_bytes());
        bytes
    }
}

/// The kernel's device number (`MKDEV` of `include/linux/kdev_t.h`: 12-bit major, 20-bit
/// minor) for a major and minor as userspace reads them from `st_dev`.
pub const fn kernel_dev(major: u32, minor: u32) -> u32 {
    (major << 20) | (minor & 0xf_ffff)
}

/// What the program did with an exec it matched.
pub const ACTION_DENY: u32 = 0;
/// Audit mode: the exec was reported and allowed.
pub const ACTION_AUDIT: u32 = 1;

/// The exec'd file is in `DENY_FILES`.
pub const REASON_FILE: u32 = 1;
/// The caller's cgroup is in `DENY_CGROUPS`.
pub const REASON_CGROUP: u32 = 2;

/// One matched exec, sent through the `EVENTS` ring buffer.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct GuardEvent {
    /// Process id (tgid) of the task calling exec.
    pub pid: u32,
    /// Its real user id.
    pub uid: u32,
    /// [`ACTION_DENY`] or [`ACTION_AUDIT`].
    pub action: u32,
    /// [`REASON_FILE`] or [`REASON_CGROUP`].
    pub reason: u32,
    /// The exec'd file's kernel device number (0 if unreadable).
    pub dev: u32,
    /// Explicit padding (0).
    pub pad: u32,
    /// The exec'd file's inode number (0 if unreadable).
    pub ino: u64,
    /// The caller's cgroup v2 id.
    pub cgroup_id: u64,
    /// The caller's command name (before the exec).
    pub comm: [u8; 16],
    /// The file name as passed to exec (`linux_binprm->filename`), NUL-terminated.
    pub filename: [u8; FILENAME_SIZE],
}

/// Size of a [`GuardEvent`] record.
pub const EVENT_SIZE: usize = core::mem::size_of::<GuardEvent>();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_fixed() {
        assert_eq!(core::mem::size_of::<FileKey>(), 16);
        assert_eq!(core::mem::offset_of!(GuardEvent, ino), 24);
        assert_eq!(core::mem::offset_of!(GuardEvent, comm), 40);
        assert_eq!(EVENT_SIZE, 56 + FILENAME_SIZE);
    }

    #[test]
    fn kernel_dev_packs_like_mkdev() {
        // 8:1 (sda1) is 0x0080_0001 in the kernel's encoding.
        assert_eq!(kernel_dev(8, 1), 0x0080_0001);
        assert_eq!(kernel_dev(0, 0x1f), 0x1f);
    }

    #[test]
    fn key_bytes_are_native_order() {
        let key = FileKey {
            dev: 1,
            pad: 0,
            ino: 2,
        };
        let bytes = key.to_bytes();
        assert_eq!(&bytes[..4], &1u32.to_ne_bytes());
        assert_eq!(&bytes[8..], &2u64.to_ne_bytes());
    }
}

//! Types shared by execsnoop's eBPF program and its userspace: the event record and the
//! names of the globals userspace sets before loading.
#![no_std]
#![deny(missing_docs)]

/// Most arguments recorded per exec (the program name is argument 0).
pub const MAX_ARGS: usize = 60;
/// Most bytes recorded per argument, NUL included.
pub const ARG_SIZE: usize = 128;
/// Room for all arguments, each NUL-terminated, back to back.
pub const ARGS_CAPACITY: usize = MAX_ARGS * ARG_SIZE;

/// One exec: filled at `sys_enter_execve`, completed with the return value at
/// `sys_exit_execve` and sent through the `EVENTS` ring buffer, cut after `args_size`
/// bytes of `args`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ExecEvent {
    /// Process id (the kernel's tgid).
    pub pid: u32,
    /// Parent's process id (`task->real_parent->tgid`, read through CO-RE; 0 if unreadable).
    pub ppid: u32,
    /// Real user id.
    pub uid: u32,
    /// execve's return value (0, or a negative errno).
    pub retval: i32,
    /// Arguments recorded.
    pub args_count: u32,
    /// Bytes of `args` used.
    pub args_size: u32,
    /// Command name before the exec.
    pub comm: [u8; 16],
    /// NUL-terminated arguments, back to back.
    pub args: [u8; ARGS_CAPACITY],
}

/// Size of everything before `args`: the shortest event.
pub const EVENT_HEADER_SIZE: usize = core::mem::offset_of!(ExecEvent, args);

impl ExecEvent {
    /// An all-zero event (the template new events start from).
    pub const ZERO: ExecEvent = ExecEvent {
        pid: 0,
        ppid: 0,
        uid: 0,
        retval: 0,
        args_count: 0,
        args_size: 0,
        comm: [0; 16],
        args: [0; ARGS_CAPACITY],
    };

    /// The recorded arguments (each without its NUL), from a received event's bytes.
    pub fn args(&self) -> impl Iterator<Item = &[u8]> {
        let used = (self.args_size as usize).min(ARGS_CAPACITY);
        self.args[..used]
            .split(|b| *b == 0)
            .take(self.args_count as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_libbpf_tools_event() {
        // libbpf-tools' execsnoop.h: six 32-bit fields, comm[16], args[60 * 128].
        assert_eq!(EVENT_HEADER_SIZE, 40);
        assert_eq!(core::mem::size_of::<ExecEvent>(), 40 + 7680);
    }

    #[test]
    fn args_splits_on_nul_up_to_count() {
        let mut event = ExecEvent::ZERO;
        let text = b"/bin/ls\0-l\0/tmp\0";
        event.args[..text.len()].copy_from_slice(text);
        event.args_size = text.len() as u32;
        event.args_count = 3;
        let mut args = event.args();
        assert_eq!(args.next(), Some(&b"/bin/ls"[..]));
        assert_eq!(args.next(), Some(&b"-l"[..]));
        assert_eq!(args.next(), Some(&b"/tmp"[..]));
        assert_eq!(args.next(), None);
    }
}

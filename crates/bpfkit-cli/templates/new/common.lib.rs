//! Types shared by {{name}}'s kernel side and its userspace. `#![no_std]`, so the eBPF crate
//! can use it; `#[repr(C)]`, so both sides agree on the layout.
#![no_std]

/// One record sent from the kernel through the `EVENTS` ring buffer.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Event {
    /// Process id (the kernel's tgid) that caused the event.
    pub pid: u32,
    /// {{value_doc}}
    pub value: u32,
    /// The task's command name, NUL-padded.
    pub comm: [u8; 16],
}

impl Event {
    /// The record's size in bytes.
    pub const SIZE: usize = core::mem::size_of::<Event>();

    /// Decodes a record as the kernel wrote it (native byte order); `None` if it is short.
    pub fn from_bytes(bytes: &[u8]) -> Option<Event> {
        if bytes.len() < Self::SIZE {
            return None;
        }
        let word = |at: usize| {
            u32::from_ne_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let mut comm = [0u8; 16];
        comm.copy_from_slice(&bytes[8..24]);
        Some(Event {
            pid: word(0),
            value: word(4),
            comm,
        })
    }

    /// The command name up to its first NUL.
    pub fn comm(&self) -> &[u8] {
        let end = self
            .comm
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.comm.len());
        &self.comm[..end]
    }
}

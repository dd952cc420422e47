//! Decoding one `ExecEvent` record, as the kernel side sends it (cut after its arguments),
//! into an owned [`Exec`].

use core::mem::offset_of;
use execsnoop_common::{ExecEvent, ARGS_CAPACITY, EVENT_HEADER_SIZE};

/// One exec, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exec {
    /// Process id (the kernel's tgid).
    pub pid: u32,
    /// Parent's process id.
    pub ppid: u32,
    /// Real user id.
    pub uid: u32,
    /// execve's return value (0, or a negative errno).
    pub retval: i32,
    /// Command name after the exec (before it, when the exec failed), lossy UTF-8.
    pub comm: String,
    /// Arguments, the program path first, lossy UTF-8.
    pub args: Vec<String>,
}

/// A ring buffer record that is not an `ExecEvent`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The record is shorter than the fixed part of the event.
    #[error("execsnoop record of {len} bytes is shorter than the {header}-byte event header")]
    Short {
        /// Record length.
        len: usize,
        /// Bytes before `args`.
        header: usize,
    },
    /// `args_size` points past the record (or past the event's argument capacity).
    #[error("execsnoop record of {len} bytes claims {args_size} bytes of arguments")]
    ArgsOverrun {
        /// Record length.
        len: usize,
        /// The record's `args_size`.
        args_size: u32,
    },
}

fn u32_at(record: &[u8], offset: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&record[offset..offset + 4]);
    u32::from_ne_bytes(word)
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl Exec {
    /// Decode a record of the `EVENTS` ring buffer.
    pub fn decode(record: &[u8]) -> Result<Exec, DecodeError> {
        if record.len() < EVENT_HEADER_SIZE {
            return Err(DecodeError::Short {
                len: record.len(),
                header: EVENT_HEADER_SIZE,
            });
        }
        let args_size = u32_at(record, offset_of!(ExecEvent, args_size));
        let args_count = u32_at(record, offset_of!(ExecEvent, args_count)) as usize;
        let args_end = EVENT_HEADER_SIZE + args_size as usize;
        if args_size as usize > ARGS_CAPACITY || args_end > record.len() {
            return Err(DecodeError::ArgsOverrun {
                len: record.len(),
                args_size,
            });
        }
        let comm_at = offset_of!(ExecEvent, comm);
        let comm = &record[comm_at..comm_at + 16];
        let comm = comm.split(|b| *b == 0).next().unwrap_or(comm);
        let args = record[EVENT_HEADER_SIZE..args_end]
            .split(|b| *b == 0)
            .take(args_count)
            .map(lossy)
            .collect();
        Ok(Exec {
            pid: u32_at(record, offset_of!(ExecEvent, pid)),
            ppid: u32_at(record, offset_of!(ExecEvent, ppid)),
            uid: u32_at(record, offset_of!(ExecEvent, uid)),
            retval: u32_at(record, offset_of!(ExecEvent, retval)) as i32,
            comm: lossy(comm),
            args,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(args: &[u8], args_count: u32) -> Vec<u8> {
        let mut r = Vec::new();
        for word in [
            4242u32,
            1,
            1000,
            (-2i32) as u32,
            args_count,
            args.len() as u32,
        ] {
            r.extend_from_slice(&word.to_ne_bytes());
        }
        r.extend_from_slice(b"true\0\0\0\0\0\0\0\0\0\0\0\0");
        r.extend_from_slice(args);
        r
    }

    #[test]
    fn decodes_header_comm_and_args() {
        let exec = Exec::decode(&record(b"/bin/true\0-x\0a b\0", 3)).unwrap();
        assert_eq!(
            exec,
            Exec {
                pid: 4242,
                ppid: 1,
                uid: 1000,
                retval: -2,
                comm: "true".into(),
                args: vec!["/bin/true".into(), "-x".into(), "a b".into()],
            }
        );
    }

    #[test]
    fn short_and_overrunning_records_are_errors() {
        assert_eq!(
            Exec::decode(&[0; 12]),
            Err(DecodeError::Short {
                len: 12,
                header: 40
            })
        );
        let mut r = record(b"/bin/true\0", 1);
        r.truncate(45);
        assert_eq!(
            Exec::decode(&r),
            Err(DecodeError::ArgsOverrun {
                len: 45,
                args_size: 10
            })
        );
    }
}

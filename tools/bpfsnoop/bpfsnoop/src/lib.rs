//! bpfsnoop's userspace library: decoding `BpfEvent` records ([`Call`]) with their command
//! name and, for program loads, map creations and link creations, the attributes
//! ([`Details`]); printing them as columns or JSON lines. The binary (`src/main.rs`) loads
//! [`BPFSNOOP_BPF`], attaches and polls.

use bpfkit::maps::Pod;
use bpfkit_obj::object::{AttachType, MapType, ProgramType};
use tool_abi::bpfsnoop::{BpfEvent, BPF_LINK_CREATE, BPF_MAP_CREATE, BPF_PROG_LOAD};
use tool_common::errno;
use tool_common::output::{c_str, json_string};

/// The kernel side, built by build.rs from `../bpfsnoop-ebpf`: programs `bpf_enter` and
/// `bpf_exit` (tracepoints `syscalls/sys_*_bpf`), maps `INFLIGHT` and `EVENTS`.
pub static BPFSNOOP_BPF: &[u8] = bpfkit_build::include_ebpf!("bpfsnoop");

/// `enum bpf_cmd` names, by value (`<linux/bpf.h>`).
const COMMANDS: &[&str] = &[
    "MAP_CREATE",
    "MAP_LOOKUP_ELEM",
    "MAP_UPDATE_ELEM",
    "MAP_DELETE_ELEM",
    "MAP_GET_NEXT_KEY",
    "PROG_LOAD",
    "OBJ_PIN",
    "OBJ_GET",
    "PROG_ATTACH",
    "PROG_DETACH",
    "PROG_TEST_RUN",
    "PROG_GET_NEXT_ID",
    "MAP_GET_NEXT_ID",
    "PROG_GET_FD_BY_ID",
    "MAP_GET_FD_BY_ID",
    "OBJ_GET_INFO_BY_FD",
    "PROG_QUERY",
    "RAW_TRACEPOINT_OPEN",
    "BTF_LOAD",
    "BTF_GET_FD_BY_ID",
    "TASK_FD_QUERY",
    "MAP_LOOKUP_AND_DELETE_ELEM",
    "MAP_FREEZE",
    "BTF_GET_NEXT_ID",
    "MAP_LOOKUP_BATCH",
    "MAP_LOOKUP_AND_DELETE_BATCH",
    "MAP_UPDATE_BATCH",
    "MAP_DELETE_BATCH",
    "LINK_CREATE",
    "LINK_UPDATE",
    "LINK_GET_FD_BY_ID",
    "LINK_GET_NEXT_ID",
    "ENABLE_STATS",
    "ITER_CREATE",
    "LINK_DETACH",
    "PROG_BIND_MAP",
    "TOKEN_CREATE",
    "PROG_STREAM_READ_BY_FD",
    "PROG_ASSOC_STRUCT_OPS",
];

/// The name of bpf command `cmd` (`PROG_LOAD`), or its number.
pub fn command_name(cmd: u32) -> String {
    COMMANDS
        .get(cmd as usize)
        .map_or_else(|| cmd.to_string(), |name| (*name).to_owned())
}

/// A kernel enum value by name, or its number when this build does not know it.
fn enum_name(name: Option<&'static str>, value: u32) -> String {
    name.map_or_else(|| value.to_string(), str::to_owned)
}

/// What the decoded commands passed in `union bpf_attr`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Details {
    /// `BPF_PROG_LOAD`.
    ProgLoad {
        /// `prog_type`, by name.
        prog_type: String,
        /// `insn_cnt`.
        insn_cnt: u32,
        /// `prog_name` (15 bytes at most).
        name: String,
        /// The license string.
        license: String,
        /// `expected_attach_type`, by name.
        attach_type: String,
    },
    /// `BPF_MAP_CREATE`.
    MapCreate {
        /// `map_type`, by name.
        map_type: String,
        /// `key_size`.
        key_size: u32,
        /// `value_size`.
        value_size: u32,
        /// `max_entries`.
        max_entries: u32,
        /// `map_flags`.
        map_flags: u32,
        /// `map_name`.
        name: String,
    },
    /// `BPF_LINK_CREATE`.
    LinkCreate {
        /// `prog_fd` (the caller's).
        prog_fd: u32,
        /// `target_fd` or `target_ifindex`.
        target: u32,
        /// `attach_type`, by name.
        attach_type: String,
        /// `flags`.
        flags: u32,
    },
    /// Another command: nothing decoded.
    None,
}

/// One bpf(2) call, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// Process id.
    pub pid: u32,
    /// Real user id.
    pub uid: u32,
    /// Command name.
    pub comm: String,
    /// `enum bpf_cmd` value.
    pub cmd: u32,
    /// The `size` argument.
    pub size: u32,
    /// Result: fd, 0, or a negative errno.
    pub ret: i64,
    /// The decoded attributes.
    pub details: Details,
}

/// A ring buffer record of the wrong size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bpfsnoop record of {len} bytes, expected {expected}")]
pub struct DecodeError {
    /// Record length.
    pub len: usize,
    /// `size_of::<BpfEvent>()`.
    pub expected: usize,
}

fn u32_at(bytes: &[u8], offset: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[offset..offset + 4]);
    u32::from_ne_bytes(word)
}

impl Call {
    /// Decodes an `EVENTS` record.
    pub fn decode(record: &[u8]) -> Result<Call, DecodeError> {
        let e = BpfEvent::from_bytes(record).ok_or(DecodeError {
            len: record.len(),
            expected: size_of::<BpfEvent>(),
        })?;
        let a = &e.attr;
        // Offsets in `union bpf_attr` (<linux/bpf.h>; checked against bpfkit's generated
        // uapi in this crate's tests).
        let details = match e.cmd {
            BPF_PROG_LOAD => Details::ProgLoad {
                prog_type: enum_name(
                    ProgramType::from_u32(u32_at(a, 0)).map(ProgramType::kernel_name),
                    u32_at(a, 0),
                ),
                insn_cnt: u32_at(a, 4),
                name: c_str(&a[48..64]),
                license: c_str(&e.license),
                attach_type: enum_name(
                    AttachType::from_u32(u32_at(a, 68)).map(AttachType::kernel_name),
                    u32_at(a, 68),
                ),
            },
            BPF_MAP_CREATE => Details::MapCreate {
                map_type: enum_name(
                    MapType::from_u32(u32_at(a, 0)).map(MapType::kernel_name),
                    u32_at(a, 0),
                ),
                key_size: u32_at(a, 4),
                value_size: u32_at(a, 8),
                max_entries: u32_at(a, 12),
                map_flags: u32_at(a, 16),
                name: c_str(&a[28..44]),
            },
            BPF_LINK_CREATE => Details::LinkCreate {
                prog_fd: u32_at(a, 0),
                target: u32_at(a, 4),
                attach_type: enum_name(
                    AttachType::from_u32(u32_at(a, 8)).map(AttachType::kernel_name),
                    u32_at(a, 8),
                ),
                flags: u32_at(a, 12),
            },
            _ => Details::None,
        };
        Ok(Call {
            pid: e.pid,
            uid: e.uid,
            comm: c_str(&e.comm),
            cmd: e.cmd,
            size: e.size,
            ret: e.ret,
            details,
        })
    }
}

/// The column header for text output.
pub const HEADER: &str = "PID     COMM             CMD                      RET DETAILS";

/// One text line: pid, command name, bpf command, result (errno name on failure), details.
pub fn text_line(c: &Call) -> String {
    let ret = if c.ret < 0 {
        errno::name_or_number((-c.ret) as u32)
    } else {
        c.ret.to_string()
    };
    let details = match &c.details {
        Details::ProgLoad {
            prog_type,
            insn_cnt,
            name,
            license,
            attach_type,
        } => {
            let mut d = format!("type={prog_type} insns={insn_cnt} name={name} license={license:?}");
            // 0 is also BPF_CGROUP_INET_INGRESS, but most program types pass 0 for "none".
            if attach_type != &enum_name(AttachType::from_u32(0).map(AttachType::kernel_name), 0) {
                d.push_str(&format!(" attach_type={attach_type}"));
            }
            d
        }
        Details::MapCreate {
            map_type,
            key_size,
            value_size,
            max_entries,
            map_flags,
            name,
        } => format!(
            "type={map_type} key={key_size} value={value_size} max_entries={max_entries} flags={map_flags:#x} name={name}"
        ),
        Details::LinkCreate {
            prog_fd,
            target,
            attach_type,
            flags,
        } => format!("prog_fd={prog_fd} target={target} attach_type={attach_type} flags={flags:#x}"),
        Details::None => String::new(),
    };
    format!(
        "{:<7} {:<16} {:<20} {:>7} {details}",
        c.pid,
        c.comm,
        command_name(c.cmd),
        ret
    )
}

/// One JSON line: pid, uid, comm, cmd (name), cmd_value, size, ret, errno (name or null),
/// and the decoded attributes of the three commands (`prog_type`, `insn_cnt`, `prog_name`,
/// `license`, `expected_attach_type`; `map_type`, `key_size`, `value_size`, `max_entries`,
/// `map_flags`, `map_name`; `prog_fd`, `target`, `attach_type`, `link_flags`).
pub fn json_line(c: &Call) -> String {
    let mut fields = vec![
        format!("\"pid\":{}", c.pid),
        format!("\"uid\":{}", c.uid),
        format!("\"comm\":{}", json_string(&c.comm)),
        format!("\"cmd\":{}", json_string(&command_name(c.cmd))),
        format!("\"cmd_value\":{}", c.cmd),
        format!("\"size\":{}", c.size),
        format!("\"ret\":{}", c.ret),
        format!(
            "\"errno\":{}",
            if c.ret < 0 {
                json_string(&errno::name_or_number((-c.ret) as u32))
            } else {
                "null".to_owned()
            }
        ),
    ];
    match &c.details {
        Details::ProgLoad {
            prog_type,
            insn_cnt,
            name,
            license,
            attach_type,
        } => fields.extend([
            format!("\"prog_type\":{}", json_string(prog_type)),
            format!("\"insn_cnt\":{insn_cnt}"),
            format!("\"prog_name\":{}", json_string(name)),
            format!("\"license\":{}", json_string(license)),
            format!("\"expected_attach_type\":{}", json_string(attach_type)),
        ]),
        Details::MapCreate {
            map_type,
            key_size,
            value_size,
            max_entries,
            map_flags,
            name,
        } => fields.extend([
            format!("\"map_type\":{}", json_string(map_type)),
            format!("\"key_size\":{key_size}"),
            format!("\"value_size\":{value_size}"),
            format!("\"max_entries\":{max_entries}"),
            format!("\"map_flags\":{map_flags}"),
            format!("\"map_name\":{}", json_string(name)),
        ]),
        Details::LinkCreate {
            prog_fd,
            target,
            attach_type,
            flags,
        } => fields.extend([
            format!("\"prog_fd\":{prog_fd}"),
            format!("\"target\":{target}"),
            format!("\"attach_type\":{}", json_string(attach_type)),
            format!("\"link_flags\":{flags}"),
        ]),
        Details::None => {}
    }
    format!("{{{}}}", fields.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfkit::sys::uapi;
    use core::mem::offset_of;

    #[test]
    fn attr_offsets_match_the_uapi_header() {
        assert_eq!(offset_of!(uapi::bpf_attr__prog_load, prog_type), 0);
        assert_eq!(offset_of!(uapi::bpf_attr__prog_load, insn_cnt), 4);
        assert_eq!(
            offset_of!(uapi::bpf_attr__prog_load, license),
            tool_abi::bpfsnoop::PROG_LOAD_LICENSE
        );
        assert_eq!(offset_of!(uapi::bpf_attr__prog_load, prog_name), 48);
        assert_eq!(
            offset_of!(uapi::bpf_attr__prog_load, expected_attach_type),
            68
        );
        const { assert!(68 + 4 <= tool_abi::bpfsnoop::ATTR_LEN) };
        assert_eq!(offset_of!(uapi::bpf_attr__map_create, key_size), 4);
        assert_eq!(offset_of!(uapi::bpf_attr__map_create, value_size), 8);
        assert_eq!(offset_of!(uapi::bpf_attr__map_create, max_entries), 12);
        assert_eq!(offset_of!(uapi::bpf_attr__map_create, map_flags), 16);
        assert_eq!(offset_of!(uapi::bpf_attr__map_create, map_name), 28);
        assert_eq!(offset_of!(uapi::bpf_attr__link_create, target_fd), 4);
        assert_eq!(offset_of!(uapi::bpf_attr__link_create, attach_type), 8);
        assert_eq!(offset_of!(uapi::bpf_attr__link_create, flags), 12);
        assert_eq!(uapi::BPF_PROG_LOAD, BPF_PROG_LOAD);
        assert_eq!(uapi::BPF_MAP_CREATE, BPF_MAP_CREATE);
        assert_eq!(uapi::BPF_LINK_CREATE, BPF_LINK_CREATE);
        assert_eq!(command_name(uapi::BPF_PROG_BIND_MAP), "PROG_BIND_MAP");
        assert_eq!(command_name(uapi::BPF_BTF_LOAD), "BTF_LOAD");
        assert_eq!(command_name(uapi::BPF_TOKEN_CREATE), "TOKEN_CREATE");
        assert_eq!(
            command_name(uapi::BPF_PROG_ASSOC_STRUCT_OPS),
            "PROG_ASSOC_STRUCT_OPS"
        );
        assert_eq!(
            COMMANDS.len() as u32,
            uapi::__MAX_BPF_CMD,
            "every command named"
        );
    }

    #[test]
    fn decodes_a_program_load() {
        let mut e = BpfEvent::ZERO;
        e.cmd = BPF_PROG_LOAD;
        e.ret = 7;
        e.attr[0..4].copy_from_slice(&(ProgramType::Xdp as u32).to_ne_bytes());
        e.attr[4..8].copy_from_slice(&12u32.to_ne_bytes());
        e.attr[48..52].copy_from_slice(b"prog");
        e.license[..3].copy_from_slice(b"GPL");
        let c = Call::decode(e.as_bytes()).unwrap();
        assert_eq!(
            c.details,
            Details::ProgLoad {
                prog_type: "xdp".into(),
                insn_cnt: 12,
                name: "prog".into(),
                license: "GPL".into(),
                attach_type: AttachType::from_u32(0).unwrap().kernel_name().into(),
            }
        );
        let line = text_line(&c);
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            words[1..],
            [
                "PROG_LOAD",
                "7",
                "type=xdp",
                "insns=12",
                "name=prog",
                "license=\"GPL\""
            ]
        );
    }

    #[test]
    fn failed_calls_name_their_errno_and_unknown_values_stay_numbers() {
        let mut e = BpfEvent::ZERO;
        e.cmd = BPF_MAP_CREATE;
        e.ret = -1;
        e.attr[0..4].copy_from_slice(&9999u32.to_ne_bytes());
        let c = Call::decode(e.as_bytes()).unwrap();
        let line = json_line(&c);
        assert!(line.contains("\"errno\":\"EPERM\""), "{line}");
        assert!(line.contains("\"map_type\":\"9999\""), "{line}");
        assert_eq!(command_name(1000), "1000");
    }
}

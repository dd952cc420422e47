//! Socket map programs: `SEC("sk_msg")` (`BPF_PROG_TYPE_SK_MSG`) and `SEC("sk_skb/...")`
//! (`BPF_PROG_TYPE_SK_SKB`: stream parser, stream verdict, verdict) on a sockmap or sockhash.
//! They run for every socket in the map. `BPF_PROG_ATTACH` to the map by default; a sockmap
//! link (`BPF_LINK_CREATE`, Linux 6.10) with [`SockMapAttachMethod::Link`]. Both detach on
//! drop.

use std::os::fd::{AsFd, AsRawFd};

use bpfkit_obj::object::AttachType;

use crate::links::Link;
use crate::loader::Program;
use crate::sys;

use super::perf_attach::expect_type;
use super::{prog_attach, AttachError, ProgramType};

/// How the program is attached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SockMapAttachMethod {
    /// `BPF_PROG_ATTACH` with the map fd as target (every kernel with sockmaps).
    #[default]
    ProgAttach,
    /// A sockmap link (Linux 6.10); can be pinned and updated.
    Link,
}

/// Options of [`attach`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SockMapOptions {
    /// prog_attach or link.
    pub method: SockMapAttachMethod,
    /// The hook (`BPF_SK_MSG_VERDICT`, `BPF_SK_SKB_STREAM_PARSER`, `..._STREAM_VERDICT`,
    /// `BPF_SK_SKB_VERDICT`) where the section does not say it (`SEC("sk_skb")`).
    pub attach_type: Option<AttachType>,
}

/// Attach an sk_msg or sk_skb program to the sockmap or sockhash `map`.
///
/// ```no_run
/// # let object = bpfkit::loader::Loader::new().load_file("redirect.bpf.o")?;
/// use bpfkit::programs::sock_map::{self, SockMapOptions};
/// let map = object.map("socks").unwrap();
/// let link = sock_map::attach(object.program("redirect").unwrap(), map, &SockMapOptions::default())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[doc(alias = "BPF_PROG_TYPE_SK_MSG")]
#[doc(alias = "BPF_PROG_TYPE_SK_SKB")]
#[doc(alias = "sockmap")]
#[doc(alias = "sockhash")]
pub fn attach(
    program: &Program,
    map: impl AsFd,
    options: &SockMapOptions,
) -> Result<Link, AttachError> {
    expect_type(
        program,
        &[ProgramType::SkMsg, ProgramType::SkSkb],
        "an SK_MSG or SK_SKB program",
    )?;
    let name = program.name();
    let attach_type = options
        .attach_type
        .or(program.section().expected_attach_type)
        .unwrap_or(
            if program.section().program_type as u32 == ProgramType::SkMsg as u32 {
                AttachType::SkMsgVerdict
            } else {
                AttachType::SkSkbVerdict
            },
        );
    let hook = attach_type.kernel_name();
    let map = map.as_fd();
    match options.method {
        SockMapAttachMethod::ProgAttach => prog_attach::attach(
            program,
            map,
            attach_type as u32,
            0,
            None,
            &format!("{hook} of a socket map"),
        ),
        SockMapAttachMethod::Link => {
            let attr =
                sys::link_create_attr(program.fd(), map.as_raw_fd() as u32, attach_type as u32, 0);
            // SAFETY: no pointers in a sockmap link_create.
            unsafe { sys::link_create(attr) }
                .map(Link::bpf)
                .map_err(|source| AttachError::Syscall {
                    requires: (source.errno() == Some(libc::EINVAL))
                        .then_some(crate::features::Feature::new("sockmap links", "6.10")),
                    program: name.to_owned(),
                    operation: format!("BPF_LINK_CREATE {hook} on a socket map"),
                    hint: match source.errno() {
                        Some(libc::EBUSY) => Some("a program is already attached at this hook"),
                        _ => None,
                    },
                    source,
                })
        }
    }
}

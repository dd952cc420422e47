//! The object's BTF made loadable (sanitized for this kernel, `BPF_BTF_LOAD`), and the
//! kernel's own BTF for CO-RE, ksyms and attach targets.

use std::os::fd::OwnedFd;

use bpfkit_obj::btf::{sanitize, Btf, BtfFeatures, BtfMut, FuncLinkage, Kind};
use bpfkit_obj::relo::{Type, TypeId, TypeSource};

use crate::features::{self, Probe};
use crate::sys;

/// What this kernel's BTF loader accepts, from the cached probes.
fn kernel_btf_features() -> BtfFeatures {
    let func = features::supported(Probe::BtfFunc);
    BtfFeatures {
        has_func: func,
        has_func_global: func,
        has_datasec: features::supported(Probe::BtfDatasec),
        // `?` DATASEC names and global funcs arrived before or with these kinds: probe the
        // newest kind of the era as libbpf's probes would.
        has_qmark_datasec: features::supported(Probe::BtfEnum64),
        has_float: features::supported(Probe::BtfFloat),
        has_decl_tag: features::supported(Probe::BtfDeclTag),
        has_type_tag: features::supported(Probe::BtfTypeTag),
        has_enum64: features::supported(Probe::BtfEnum64),
    }
}

/// The object's BTF: as fixed up by the parser, and sanitized for this kernel.
pub(crate) struct PreparedBtf {
    /// Fixed (not sanitized) BTF, the local BTF for CO-RE and DATASEC lookups.
    pub fixed: Vec<u8>,
    /// Sanitized for this kernel.
    pub loadable: Vec<u8>,
}

/// Sanitize the parser's fixed BTF (DATASECs sized from the ELF) for this kernel, and give
/// the global functions named in `hidden_funcs` (hidden visibility, e.g. usdt.bpf.h's
/// `__weak __hidden bpf_usdt_arg`) static linkage, as libbpf does (`mark_btf_static`), so
/// the verifier checks them in their caller's context.
pub(crate) fn prepare(fixed: &[u8], hidden_funcs: &[&str]) -> Result<PreparedBtf, String> {
    let feats = kernel_btf_features();
    if !feats.needs_sanitization() && hidden_funcs.is_empty() {
        return Ok(PreparedBtf {
            fixed: fixed.to_vec(),
            loadable: fixed.to_vec(),
        });
    }
    let btf = Btf::parse(fixed).map_err(|e| e.to_string())?;
    let mut m = BtfMut::from_btf(&btf).map_err(|e| e.to_string())?;
    for name in hidden_funcs {
        if let Some(id) = btf.id_by_name_kind(name, Kind::Func) {
            m.set_func_linkage(id, FuncLinkage::Static);
        }
    }
    if feats.needs_sanitization() {
        sanitize(&mut m, &feats).map_err(|e| e.to_string())?;
    }
    let loadable = m.to_bytes().map_err(|e| e.to_string())?;
    Ok(PreparedBtf {
        fixed: fixed.to_vec(),
        loadable,
    })
}

/// Load BTF bytes into the kernel.
pub(crate) fn load(
    bytes: &[u8],
    token: Option<std::os::fd::BorrowedFd<'_>>,
) -> Result<OwnedFd, sys::ProgLoadError> {
    sys::btf_load_with_token(bytes, token)
}

/// The running kernel's BTF bytes (`/sys/kernel/btf/vmlinux`): mapped read-only where the
/// kernel allows it (6.16+; no copy, no 4 KiB read loop), read otherwise.
pub(crate) enum KernelBtfBytes {
    /// A read-only private mapping of the file (the kernel refuses shared ones).
    Mapped(crate::sys::MmapRegion),
    /// The file's contents.
    Read(Vec<u8>),
}

impl KernelBtfBytes {
    pub(crate) fn open(path: &std::path::Path) -> Result<Self, String> {
        use std::os::fd::AsFd;
        let mut file = crate::sys::fdtrace::open_read(path, "kernel BTF")
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let len = file
            .metadata()
            .map_err(|e| format!("{}: {e}", path.display()))?
            .len() as usize;
        if len > 0 {
            if let Ok(region) =
                crate::sys::MmapRegion::map_private(file.as_fd(), len, libc::PROT_READ, 0)
            {
                return Ok(Self::Mapped(region));
            }
        }
        // Before 6.16 the kernel refuses to map it: read it through the same open file.
        let mut bytes = Vec::with_capacity(len);
        std::io::Read::read_to_end(&mut file, &mut bytes)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Self::Read(bytes))
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            // SAFETY: a read-only mapping of kernel BTF, which nothing writes.
            Self::Mapped(region) => unsafe { region.as_slice() },
            Self::Read(bytes) => bytes,
        }
    }
}

/// The running kernel's BTF, as the loader reads it for CO-RE: `/sys/kernel/btf/vmlinux`
/// mapped read-only where the kernel allows it (6.16+), read into memory otherwise.
///
/// ```no_run
/// let kernel = bpfkit::loader::KernelBtf::vmlinux()?;
/// let btf = kernel.parse()?;
/// let id = btf.id_by_name_kind("task_struct", bpfkit_obj::btf::Kind::Struct);
/// assert!(id.is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct KernelBtf {
    bytes: KernelBtfBytes,
}

impl std::fmt::Debug for KernelBtf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KernelBtf")
            .field("mapped", &matches!(self.bytes, KernelBtfBytes::Mapped(_)))
            .field("len", &self.bytes().len())
            .finish()
    }
}

impl KernelBtf {
    /// The running kernel's BTF (`/sys/kernel/btf/vmlinux`).
    pub fn vmlinux() -> std::io::Result<Self> {
        Self::open("/sys/kernel/btf/vmlinux")
    }

    /// Raw (non-split) BTF from a file, e.g. a BTFHub file for another kernel.
    pub fn open(path: impl AsRef<std::path::Path>) -> std::io::Result<Self> {
        KernelBtfBytes::open(path.as_ref())
            .map(|bytes| Self { bytes })
            .map_err(std::io::Error::other)
    }

    /// The raw BTF bytes.
    pub fn bytes(&self) -> &[u8] {
        self.bytes.bytes()
    }

    /// Parse it (lazily: types are decoded on demand, strings borrowed from the bytes).
    pub fn parse(&self) -> Result<Btf<'_>, bpfkit_obj::btf::BtfError> {
        Btf::parse(self.bytes())
    }
}

/// A kernel module's split BTF (`/sys/kernel/btf/<module>`) as a CO-RE target, read and
/// parsed on top of vmlinux only when a candidate search first looks into it (libbpf
/// loads module BTFs only when vmlinux has no candidate, too). A module whose BTF cannot
/// be read or parsed is logged once and offers no types.
pub(crate) struct LazyModuleBtf<'a> {
    path: std::path::PathBuf,
    base: &'a Btf<'a>,
    btf: std::cell::OnceCell<Option<Btf<'a>>>,
}

impl<'a> LazyModuleBtf<'a> {
    /// Every module BTF beside `vmlinux` in `dir` (none when the directory is unreadable),
    /// in name order so candidate order does not depend on the directory's order.
    pub(crate) fn list(dir: &std::path::Path, base: &'a Btf<'a>) -> Vec<Self> {
        let mut paths: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.file_name().is_some_and(|n| n != "vmlinux"))
                    .collect()
            })
            .unwrap_or_default();
        paths.sort();
        paths
            .into_iter()
            .map(|path| LazyModuleBtf {
                path,
                base,
                btf: std::cell::OnceCell::new(),
            })
            .collect()
    }

    fn get(&self) -> Option<&Btf<'a>> {
        self.btf
            .get_or_init(|| {
                let parsed = crate::sys::fdtrace::read(&self.path, "kernel BTF")
                    .map_err(|e| e.to_string())
                    .and_then(|bytes| {
                        Btf::parse_split_owned(bytes, self.base).map_err(|e| e.to_string())
                    });
                match parsed {
                    Ok(btf) => {
                        log::debug!("module BTF {} read for CO-RE", self.path.display());
                        Some(btf)
                    }
                    Err(e) => {
                        log::warn!("module BTF {}: {e}; skipped", self.path.display());
                        None
                    }
                }
            })
            .as_ref()
    }
}

impl TypeSource for LazyModuleBtf<'_> {
    fn type_count(&self) -> u32 {
        match self.get() {
            Some(btf) => TypeSource::type_count(btf),
            None => TypeSource::type_count(self.base),
        }
    }

    fn first_type_id(&self) -> u32 {
        match self.get() {
            Some(btf) => TypeSource::first_type_id(btf),
            None => TypeSource::type_count(self.base),
        }
    }

    fn type_by_id(&self, id: TypeId) -> Option<Type<'_>> {
        match self.get() {
            Some(btf) => TypeSource::type_by_id(btf, id),
            None => TypeSource::type_by_id(self.base, id),
        }
    }

    fn name_and_kind(&self, id: TypeId) -> Option<(&str, bpfkit_obj::relo::Kind)> {
        match self.get() {
            Some(btf) => TypeSource::name_and_kind(btf, id),
            None => TypeSource::name_and_kind(self.base, id),
        }
    }

    fn pointer_size(&self) -> u32 {
        TypeSource::pointer_size(self.base)
    }

    fn ids_by_name(&self, name: &str) -> Option<Vec<TypeId>> {
        self.get()
            .and_then(|btf| TypeSource::ids_by_name(btf, name))
    }

    fn flavored_names(&self) -> Option<Vec<&str>> {
        self.get().and_then(TypeSource::flavored_names)
    }
}

#[cfg(test)]
mod tests {
    use super::KernelBtfBytes;

    /// Kernels from 6.16 on let `/sys/kernel/btf/vmlinux` be mapped, privately only (a
    /// shared mapping is EACCES): the loader maps it instead of reading it 4 KiB at a time.
    #[test]
    fn kernel_btf_is_mapped_where_the_kernel_allows_it_and_equals_the_file() {
        let path = std::path::Path::new("/sys/kernel/btf/vmlinux");
        let Ok(read) = std::fs::read(path) else {
            return; // no kernel BTF on this host
        };
        let opened = KernelBtfBytes::open(path).unwrap();
        assert_eq!(opened.bytes(), &read[..]);
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
        let mut parts = release.trim().split(['.', '-']);
        let major: u32 = parts.next().unwrap().parse().unwrap();
        let minor: u32 = parts.next().unwrap().parse().unwrap();
        if (major, minor) >= (6, 16) {
            assert!(
                matches!(opened, KernelBtfBytes::Mapped(_)),
                "read, not mapped"
            );
        }
    }
}

#[cfg(test)]
mod module_tests {
    use super::LazyModuleBtf;
    use bpfkit_obj::btf::{Btf, BtfMut, IntEncoding, Kind};
    use bpfkit_obj::relo::{
        relocate_instructions, Candidate, CandidateCache, CoreRelo, CoreReloKind, TypeSource,
    };
    use bpfkit_test_support::{corpus_dir, corpus_vmlinux_btf};

    /// `r1 = *(u32 *)(r2 + 0)`.
    const LDX_W: [u8; 8] = [0x61, 0x21, 0, 0, 0, 0, 0, 0];

    /// A directory laid out like /sys/kernel/btf: vmlinux, one good and one broken module.
    /// Modules are listed in name order and read only when vmlinux has no candidate; the
    /// broken one offers no types instead of failing the search.
    #[test]
    fn module_btf_is_read_only_when_vmlinux_has_no_candidate() {
        let dir = std::env::temp_dir().join(format!("bpfkit-modbtf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let base_bytes = std::fs::read(corpus_vmlinux_btf()).unwrap();
        std::fs::write(dir.join("vmlinux"), &base_bytes).unwrap();
        std::fs::copy(
            corpus_dir().join("cilium/btf/testdata/btf_testmod.btf"),
            dir.join("bpf_testmod"),
        )
        .unwrap();
        std::fs::write(dir.join("a_broken"), b"not btf").unwrap();
        let base = Btf::parse(&base_bytes).unwrap();
        let modules = LazyModuleBtf::list(&dir, &base);

        let names: Vec<_> = modules
            .iter()
            .map(|m| m.path.file_name().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["a_broken", "bpf_testmod"]);
        let mut targets: Vec<&dyn TypeSource> = vec![&base];
        targets.extend(modules.iter().map(|m| m as &dyn TypeSource));

        let mut local = BtfMut::new();
        let int = local.add_int("int", 4, IntEncoding::SIGNED);
        let task = local.add_struct("task_struct", 8, &[("tgid", int, 0)]);
        let writable = local.add_struct("bpf_testmod_test_writable_ctx", 4, &[("val", int, 0)]);
        let mut cache = CandidateCache::new();
        let relo = |type_id| CoreRelo {
            insn_off: 0,
            type_id,
            access: "0:0",
            kind: CoreReloKind::FieldByteOffset,
        };

        // task_struct is in vmlinux: no module file is read.
        let mut insns = LDX_W;
        let applied = relocate_instructions(
            "tp/x",
            &mut insns,
            &[relo(task)],
            &local,
            &targets,
            &mut cache,
        )
        .unwrap();
        let base_task = base.id_by_name_kind("task_struct", Kind::Struct).unwrap();
        assert_eq!(
            applied[0].target,
            Some(Candidate {
                target: 0,
                type_id: base_task
            })
        );
        assert!(
            modules.iter().all(|m| m.btf.get().is_none()),
            "a module was read"
        );

        // Only the module defines bpf_testmod_test_writable_ctx (its `val` at byte 4).
        let mut insns = LDX_W;
        let applied = relocate_instructions(
            "tp/x",
            &mut insns,
            &[relo(writable)],
            &local,
            &targets,
            &mut cache,
        )
        .unwrap();
        assert!(matches!(modules[0].btf.get(), Some(None)), "broken module");
        assert_eq!(modules[0].first_type_id(), modules[0].type_count());
        let module = modules[1].btf.get().unwrap().as_ref().unwrap();
        let writable_id = module
            .ids_by_name("bpf_testmod_test_writable_ctx")
            .into_iter()
            .find(|&id| module.kind(id).ok() == Some(Kind::Struct))
            .unwrap();
        assert!(writable_id >= base.type_count());
        assert_eq!(
            applied[0].target,
            Some(Candidate {
                target: 2,
                type_id: writable_id
            })
        );
        assert_eq!(applied[0].target_value, 4);
        assert_eq!(i16::from_le_bytes([insns[2], insns[3]]), 4);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

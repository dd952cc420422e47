//! `Object`: the maps and programs the kernel accepted for one ELF object.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use bpfkit_obj::object::ProgramSection;

use crate::info::ProgramInfo;
use crate::maps::MapData;
use crate::programs::{AttachError, ProgramType};
use crate::sys::{self, SysResult};

/// Input of [`Program::test_run`] (`BPF_PROG_TEST_RUN`).
#[derive(Debug, Clone, Default)]
pub struct TestRun<'a> {
    /// Packet or input data (empty for program types that take none).
    pub data: &'a [u8],
    /// Context input (e.g. `struct __sk_buff`, `struct xdp_md`, a syscall program's
    /// argument struct); empty for the kernel's default.
    pub context: &'a [u8],
    /// Repetitions (0 means 1); the duration is the average.
    pub repeat: u32,
    /// Room for the output data: `None` is the input's length plus 4 KiB (programs may
    /// grow a packet). A program that produces more fails with ENOSPC.
    pub data_out_capacity: Option<usize>,
    /// `BPF_F_TEST_*` flags.
    pub flags: u32,
    /// CPU to run on (sets `BPF_F_TEST_RUN_ON_CPU`).
    pub cpu: Option<u32>,
}

/// What [`Program::test_run`] returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRunOutput {
    /// The program's return value.
    pub retval: u32,
    /// Average run time of one repetition, as the kernel measured it.
    pub duration: std::time::Duration,
    /// The output data (the packet after the program), as long as the kernel reported.
    pub data: Vec<u8>,
    /// The output context: the context the program left (syscall programs write their
    /// argument struct back), empty when the kernel returned none.
    pub context: Vec<u8>,
}

/// A loaded program: its name, section and fd.
#[derive(Debug)]
pub struct Program {
    name: String,
    section: ProgramSection,
    fd: OwnedFd,
}

impl Program {
    pub(crate) fn new(name: String, section: ProgramSection, fd: OwnedFd) -> Self {
        Self { name, section, fd }
    }

    /// The function name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What its section said (type, attach type, target).
    pub fn section(&self) -> &ProgramSection {
        &self.section
    }

    /// The program fd.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The kernel's info (id, tag, ...).
    pub fn info(&self) -> SysResult<ProgramInfo> {
        ProgramInfo::from_fd(self.fd.as_fd())
    }

    /// The kernel id.
    pub fn id(&self) -> SysResult<u32> {
        self.info().map(|i| i.id)
    }

    /// Run the program once (or `repeat` times) on `input` with `BPF_PROG_TEST_RUN`,
    /// returning its return value, the average duration and the output data and context.
    /// Every buffer the kernel writes is owned here and sized for it.
    ///
    /// ```no_run
    /// # let object = bpfkit::loader::Loader::new().load_file("xdp.bpf.o")?;
    /// use bpfkit::loader::TestRun;
    /// let out = object.program("xdp_pass").unwrap().test_run(&TestRun {
    ///     data: &[0u8; 64],
    ///     ..Default::default()
    /// })?;
    /// assert_eq!(out.retval, 2); // XDP_PASS
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[doc(alias = "BPF_PROG_TEST_RUN")]
    pub fn test_run(&self, input: &TestRun<'_>) -> Result<TestRunOutput, AttachError> {
        let err = |e| AttachError::syscall(&self.name, "BPF_PROG_TEST_RUN", e);
        if self.section.program_type == ProgramType::Syscall {
            // Syscall programs write their context back into ctx_in and take no ctx_out.
            let mut context = input.context.to_vec();
            let retval = sys::attach::prog_run_syscall(self.fd(), &mut context).map_err(err)?;
            return Ok(TestRunOutput {
                retval,
                duration: std::time::Duration::ZERO,
                data: Vec::new(),
                context,
            });
        }
        let capacity = input.data_out_capacity.unwrap_or(input.data.len() + 4096);
        let mut data = vec![0u8; if input.data.is_empty() { 0 } else { capacity }];
        let mut context = vec![0u8; input.context.len()];
        let mut flags = input.flags;
        if input.cpu.is_some() {
            flags |= sys::uapi::BPF_F_TEST_RUN_ON_CPU;
        }
        let out = sys::prog_test_run(
            self.fd(),
            sys::TestRunAttr {
                data_in: input.data,
                data_out: Some(&mut data),
                ctx_in: input.context,
                ctx_out: Some(&mut context),
                repeat: input.repeat,
                flags,
                cpu: input.cpu.unwrap_or(0),
            },
        )
        .map_err(err)?;
        data.truncate(out.data_size_out as usize);
        context.truncate(out.ctx_size_out as usize);
        Ok(TestRunOutput {
            retval: out.retval,
            duration: std::time::Duration::from_nanos(out.duration_ns.into()),
            data,
            context,
        })
    }

    /// Pin the program at `path` on a bpffs; it then outlives this process until unpinned
    /// ([`crate::pin::unpin`]).
    pub fn pin(&self, path: impl AsRef<std::path::Path>) -> Result<(), crate::pin::PinError> {
        crate::pin::pin_fd(self.fd.as_fd(), path.as_ref())
    }
}

/// Everything one object loaded: maps and programs by name. Dropping it closes them all.
#[derive(Debug)]
pub struct Object {
    name: String,
    maps: Vec<(String, MapData)>,
    programs: Vec<Program>,
    btf: Option<OwnedFd>,
}

impl Object {
    pub(crate) fn new(
        name: String,
        maps: Vec<(String, MapData)>,
        programs: Vec<Program>,
        btf: Option<OwnedFd>,
    ) -> Self {
        Self {
            name,
            maps,
            programs,
            btf,
        }
    }

    /// The object name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The map named `name` in the object (global data maps have libbpf's names, e.g.
    /// `execsnoo.rodata`).
    pub fn map(&self, name: &str) -> Option<&MapData> {
        self.maps.iter().find(|(n, _)| n == name).map(|(_, m)| m)
    }

    /// Take the map named `name` out of the object (for an owned typed map).
    pub fn take_map(&mut self, name: &str) -> Option<MapData> {
        let i = self.maps.iter().position(|(n, _)| n == name)?;
        Some(self.maps.remove(i).1)
    }

    /// Every map, with the object's names, in the object's order.
    pub fn maps(&self) -> impl Iterator<Item = (&str, &MapData)> {
        self.maps.iter().map(|(n, m)| (n.as_str(), m))
    }

    /// The program named `name`.
    pub fn program(&self, name: &str) -> Option<&Program> {
        self.programs.iter().find(|p| p.name == name)
    }

    /// Every loaded program.
    pub fn programs(&self) -> impl Iterator<Item = &Program> {
        self.programs.iter()
    }

    /// The object's BTF fd, if the kernel accepted its BTF.
    pub fn btf_fd(&self) -> Option<BorrowedFd<'_>> {
        self.btf.as_ref().map(|f| f.as_fd())
    }
}

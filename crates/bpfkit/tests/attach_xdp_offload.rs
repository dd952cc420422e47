//! XDP offload (`XdpMode::Offload`, `XDP_FLAGS_HW_MODE`) on netdevsim, the kernel's
//! simulated NIC with a BPF offload device (`CONFIG_NETDEVSIM`; `modprobe netdevsim`). The
//! test makes a device through
//! `/sys/bus/netdevsim/new_device` (deleted on every exit path), loads `xdp_offload` for it
//! (`Loader::program_ifindex`: `prog_ifindex` at `BPF_PROG_LOAD`), attaches it in HW mode by
//! bpf link and by rtnetlink and checks what the kernel reports: the program's info names
//! the device, `RTM_GETLINK` lists it as the offloaded program (`IFLA_XDP_ATTACHED` 3,
//! `IFLA_XDP_HW_PROG_ID`), the link's info names the interface, netdevsim's debugfs
//! `bpf_offloaded_id` holds it; after the drop nothing is attached. Programs not bound to
//! the device, or bound but attached in another mode, are refused (EINVAL).
//!
//! Where there is no netdevsim the tests print `SKIP` and return: this CI host has no
//! modules, and Debian's kernels of the VM matrix are built without `CONFIG_NETDEVSIM`.
//! The x86_64 6.1 VM (`cargo xtask vm-test --arch x86_64 --kernel 6.1`, part of `cargo xtask
//! matrix`) builds it out of tree into the unpacked 6.1 package when missing
//! (`scripts/netdevsim-module`) and runs these against a device; when that build fails the
//! `SKIP` line carries its reason (`BPFKIT_VM_NO_NETDEVSIM`).

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bpfkit::info::{LinkTarget, ProgramInfo};
use bpfkit::loader::{Loader, Object};
use bpfkit::programs::xdp::{self, XdpAttachMethod, XdpMode, XdpOptions};
use bpfkit_test_support::fixture;
use common::FdCheck;

const BUS: &str = "/sys/bus/netdevsim";
/// `IFLA_XDP_ATTACHED` of a program offloaded to the device (`XDP_ATTACHED_HW`).
const XDP_ATTACHED_HW: u8 = 3;

/// A netdevsim device with one port, deleted on drop.
struct Netdevsim {
    id: u32,
    ifindex: u32,
    name: String,
}

impl Netdevsim {
    /// `None` (after printing `SKIP`) where this kernel has no netdevsim.
    fn new(test: &str, id: u32) -> Option<Self> {
        if !Path::new(BUS).join("new_device").exists() {
            // Set by the VM runner when building the module for the VM's kernel failed.
            let why = std::env::var("BPFKIT_VM_NO_NETDEVSIM")
                .map(|reason| format!("; {reason}"))
                .unwrap_or_default();
            println!(
                "SKIP {test}: no netdevsim here (no {BUS}: a kernel with CONFIG_NETDEVSIM, \
                 then `modprobe netdevsim`){why}"
            );
            return None;
        }
        let dir = PathBuf::from(format!("{BUS}/devices/netdevsim{id}"));
        if dir.exists() {
            // Left by a killed earlier run.
            let _ = std::fs::write(Path::new(BUS).join("del_device"), id.to_string());
        }
        std::fs::write(Path::new(BUS).join("new_device"), format!("{id} 1"))
            .unwrap_or_else(|e| panic!("netdevsim new_device {id}: {e}"));
        let mut dev = Self {
            id,
            ifindex: 0,
            name: String::new(),
        };
        // The port's net device is registered by the probe; wait for it to show.
        let start = Instant::now();
        loop {
            if let Some(name) = std::fs::read_dir(dir.join("net"))
                .ok()
                .and_then(|mut d| d.next())
                .and_then(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
            {
                let ifindex = std::fs::read_to_string(format!("/sys/class/net/{name}/ifindex"))
                    .unwrap_or_else(|e| panic!("ifindex of {name}: {e}"));
                dev.ifindex = ifindex.trim().parse().unwrap();
                dev.name = name;
                return Some(dev);
            }
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "netdevsim{id} made no net device"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The program id netdevsim holds as offloaded (its debugfs `bpf_offloaded_id`), when
    /// debugfs is mounted or can be.
    fn offloaded_id(&self) -> Option<u32> {
        let debug = Path::new("/sys/kernel/debug");
        if !debug.join("netdevsim").exists() {
            let _ = std::process::Command::new("mount")
                .args(["-t", "debugfs", "debugfs", "/sys/kernel/debug"])
                .status();
        }
        let file = debug.join(format!(
            "netdevsim/netdevsim{}/ports/0/bpf_offloaded_id",
            self.id
        ));
        let text = std::fs::read_to_string(file).ok()?;
        text.trim().parse().ok()
    }
}

impl Drop for Netdevsim {
    fn drop(&mut self) {
        let _ = std::fs::write(Path::new(BUS).join("del_device"), self.id.to_string());
    }
}

fn load_for(ifindex: u32) -> Object {
    Loader::new()
        .program_ifindex("xdp_offload_drop", ifindex)
        .load_file(fixture("xdp_offload"))
        .unwrap_or_else(|e| {
            panic!(
                "xdp_offload for ifindex {ifindex}: {:#}",
                bpfkit::Report(&e)
            )
        })
}

fn offload(method: XdpAttachMethod) -> XdpOptions {
    XdpOptions {
        mode: XdpMode::Offload,
        method,
        ..Default::default()
    }
}

/// (IFLA_XDP_ATTACHED, hardware program id) of the device.
fn attached(dev: &Netdevsim) -> (u8, u32) {
    let q = xdp::query(dev.ifindex).expect("RTM_GETLINK");
    assert_eq!(
        (q.drv_prog_id, q.skb_prog_id),
        (0, 0),
        "nothing in the other modes"
    );
    (q.attach_mode, q.hw_prog_id)
}

#[test]
fn a_program_loaded_for_netdevsim_is_offloaded_by_link_and_by_netlink() {
    let test = "a_program_loaded_for_netdevsim_is_offloaded_by_link_and_by_netlink";
    let fds = FdCheck::start();
    {
        let Some(dev) = Netdevsim::new(test, 7301) else {
            return;
        };
        println!(
            "netdevsim{}: {} (ifindex {})",
            dev.id, dev.name, dev.ifindex
        );
        let object = load_for(dev.ifindex);
        let program = object.program("xdp_offload_drop").unwrap();
        let info = ProgramInfo::from_fd(program.fd()).unwrap();
        assert_eq!(
            info.ifindex, dev.ifindex,
            "the program is bound to the device"
        );
        let id = info.id;

        let link = xdp::attach(program, dev.ifindex, &offload(XdpAttachMethod::Link))
            .unwrap_or_else(|e| panic!("{:#}", bpfkit::Report(&e)));
        assert_eq!(attached(&dev), (XDP_ATTACHED_HW, id));
        let link_info = link.info().expect("an XDP link has info");
        assert_eq!(link_info.prog_id, id);
        assert_eq!(
            link_info.target,
            LinkTarget::Xdp {
                ifindex: dev.ifindex
            }
        );
        match dev.offloaded_id() {
            Some(held) => assert_eq!(held, id, "netdevsim holds the program"),
            None => println!("{test}: no netdevsim debugfs here; the device's view not checked"),
        }
        drop(link);
        assert_eq!(attached(&dev), (0, 0), "detached with the link");

        let attachment = xdp::attach(
            program,
            dev.name.as_str(),
            &offload(XdpAttachMethod::Netlink),
        )
        .unwrap_or_else(|e| panic!("{:#}", bpfkit::Report(&e)));
        assert_eq!(attached(&dev), (XDP_ATTACHED_HW, id));
        drop(attachment);
        assert_eq!(attached(&dev), (0, 0), "detached by netlink on drop");
        if let Some(held) = dev.offloaded_id() {
            assert_eq!(held, 0, "netdevsim holds nothing");
        }
    }
    fds.assert_no_leak();
}

#[test]
fn offload_refuses_unbound_programs_and_bound_ones_in_another_mode() {
    let test = "offload_refuses_unbound_programs_and_bound_ones_in_another_mode";
    let fds = FdCheck::start();
    {
        let Some(dev) = Netdevsim::new(test, 7302) else {
            return;
        };
        let plain = Loader::new()
            .load_file(fixture("xdp_offload"))
            .expect("xdp_offload loads for the host CPU");
        let plain_program = plain.program("xdp_offload_drop").unwrap();
        assert_eq!(ProgramInfo::from_fd(plain_program.fd()).unwrap().ifindex, 0);
        for method in [XdpAttachMethod::Link, XdpAttachMethod::Netlink] {
            let err = xdp::attach(plain_program, dev.ifindex, &offload(method))
                .expect_err("an unbound program in HW mode");
            assert_eq!(
                err.errno(),
                Some(libc::EINVAL),
                "{method:?}: {}",
                bpfkit::Report(&err)
            );
        }

        let bound = load_for(dev.ifindex);
        let options = XdpOptions {
            mode: XdpMode::Generic,
            method: XdpAttachMethod::Link,
            ..Default::default()
        };
        let err = xdp::attach(
            bound.program("xdp_offload_drop").unwrap(),
            dev.ifindex,
            &options,
        )
        .expect_err("an offloaded program in generic mode");
        assert_eq!(err.errno(), Some(libc::EINVAL), "{}", bpfkit::Report(&err));
        assert_eq!(attached(&dev), (0, 0));
    }
    fds.assert_no_leak();
}

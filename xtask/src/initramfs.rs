//! The guest's initramfs: static busybox, the suite's files, the modules of the kernel
//! package (TC; netdevsim where built), and an `/init` that mounts what the tests need, runs the suite and reports
//! on the serial console before powering off. Written as a newc cpio by `cpio -o`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::packages::Kernel;
use crate::suite::{Suite, SuiteCommand};
use crate::{io_err, XtaskError};

/// Printed by `/init` with the number of failed commands; [`crate::qemu`] parses it.
pub const STATUS_MARKER: &str = "BPFKIT-VM-STATUS:";

/// Printed by `/init` before each command: `<marker> <name>`.
pub const SUITE_START_MARKER: &str = "BPFKIT-VM-SUITE-START:";

/// Printed by `/init` after each command: `<marker> <exit status> <name>`.
pub const SUITE_END_MARKER: &str = "BPFKIT-VM-SUITE-END:";

/// Modules the TC tests need (Debian builds them as modules), loaded with their
/// dependencies first.
const MODULES: &[&str] = &["cls_bpf", "sch_ingress"];

/// Modules loaded only where the unpacked package has them: Debian builds its kernels
/// without netdevsim; [`crate::netdevsim`] builds it into the x86_64 6.1 package for the XDP
/// offload test (which prints SKIP without it).
const OPTIONAL_MODULES: &[&str] = &["netdevsim"];

/// Builds `<cache>/initramfs.cpio` and returns its path. `no_netdevsim`, why the package
/// has no netdevsim where it should, reaches the tests as `BPFKIT_VM_NO_NETDEVSIM`.
pub fn build(
    cache: &Path,
    busybox: &Path,
    kernel: &Kernel,
    suite: &Suite,
    no_netdevsim: Option<&str>,
) -> Result<PathBuf, XtaskError> {
    let root = cache.join("initramfs");
    if root.exists() {
        std::fs::remove_dir_all(&root).map_err(io_err("remove", &root))?;
    }
    for dir in [
        "bin", "dev", "proc", "sys", "tmp", "tests", "fixtures", "modules",
    ] {
        let path = root.join(dir);
        std::fs::create_dir_all(&path).map_err(io_err("create", &path))?;
    }
    copy(busybox, &root.join("bin/busybox"))?;
    for (host, guest) in &suite.files {
        copy(host, &root.join(guest.trim_start_matches('/')))?;
    }
    let mut insmods = Vec::new();
    for path in module_load_order(kernel)? {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let name = format!("{}.ko", module_stem(&name).unwrap_or(&name));
        let to = root.join("modules").join(&name);
        std::fs::write(&to, module_bytes(&path)?).map_err(io_err("write", &to))?;
        insmods.push(format!("/modules/{name}"));
    }
    let init = root.join("init");
    std::fs::write(&init, init_script(&insmods, no_netdevsim, &suite.commands))
        .map_err(io_err("write", &init))?;
    set_executable(&init)?;

    let image = cache.join("initramfs.cpio");
    let out = std::fs::File::create(&image).map_err(io_err("create", &image))?;
    let mut child = Command::new("sh")
        .current_dir(&root)
        .args(["-c", "find . | LC_ALL=C sort | cpio --quiet -o -H newc"])
        .stdout(out)
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| XtaskError::Command {
            command: "cpio -o -H newc".into(),
            detail: e.to_string(),
        })?;
    let status = child.wait().map_err(io_err("wait for cpio in", &root))?;
    if !status.success() {
        return Err(XtaskError::Command {
            command: "cpio -o -H newc".into(),
            detail: status.to_string(),
        });
    }
    Ok(image)
}

fn copy(from: &Path, to: &Path) -> Result<(), XtaskError> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(io_err("create", parent))?;
    }
    std::fs::copy(from, to).map_err(io_err("copy", from))?;
    Ok(())
}

fn set_executable(path: &Path) -> Result<(), XtaskError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(io_err("chmod", path))
}

/// [`MODULES`] (and the [`OPTIONAL_MODULES`] present) and their dependencies (the `depends=` of each `.ko`'s modinfo: the
/// package has no `modules.dep`, depmod makes it at install), dependencies first, each once.
/// A module absent from the package is built into the kernel.
fn module_load_order(kernel: &Kernel) -> Result<Vec<PathBuf>, XtaskError> {
    let mut index = Vec::new();
    index_modules(&kernel.modules.join("kernel"), &mut index)?;
    let mut order = Vec::new();
    for wanted in MODULES {
        add_module(wanted, &index, &mut order, 0)?;
    }
    for wanted in OPTIONAL_MODULES {
        if index.iter().any(|(name, _)| name == wanted) {
            add_module(wanted, &index, &mut order, 0)?;
        }
    }
    Ok(order)
}

/// The module name of a `<name>.ko`, `<name>.ko.xz` or `<name>.ko.zst` file name.
fn module_stem(file_name: &str) -> Option<&str> {
    [".ko", ".ko.xz", ".ko.zst"]
        .iter()
        .find_map(|ext| file_name.strip_suffix(ext))
}

/// Every module under `dir` as `(name with '-' as '_', path)`.
fn index_modules(dir: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<(), XtaskError> {
    for entry in std::fs::read_dir(dir)
        .map_err(io_err("list", dir))?
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            index_modules(&path, out)?;
        } else if let Some(stem) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(module_stem)
        {
            out.push((stem.replace('-', "_"), path.clone()));
        }
    }
    Ok(())
}

/// The plain ELF of a module: trixie compresses them (`CONFIG_MODULE_COMPRESS_XZ`), busybox
/// `insmod` needs them plain, so `.ko.xz` goes through `xz -dc` and `.ko.zst` through `zstd -dc`.
fn module_bytes(path: &Path) -> Result<Vec<u8>, XtaskError> {
    let name = path.to_string_lossy();
    let tool = if name.ends_with(".ko.xz") {
        "xz"
    } else if name.ends_with(".ko.zst") {
        "zstd"
    } else {
        return std::fs::read(path).map_err(io_err("read", path));
    };
    let out = Command::new(tool)
        .arg("-dc")
        .arg(path)
        .output()
        .map_err(|e| XtaskError::Command {
            command: format!("{tool} -dc {name}"),
            detail: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(XtaskError::Command {
            command: format!("{tool} -dc {name}"),
            detail: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(out.stdout)
}

fn add_module(
    name: &str,
    index: &[(String, PathBuf)],
    order: &mut Vec<PathBuf>,
    depth: usize,
) -> Result<(), XtaskError> {
    let key = name.replace('-', "_");
    let Some((_, path)) = index.iter().find(|(n, _)| *n == key) else {
        eprintln!("xtask: module {name} is not in the package: assuming it is built in");
        return Ok(());
    };
    if order.contains(path) || depth > 16 {
        return Ok(());
    }
    let bytes = module_bytes(path)?;
    for dep in modinfo_depends(&bytes) {
        add_module(&dep, index, order, depth + 1)?;
    }
    order.push(path.clone());
    Ok(())
}

/// The comma-separated `depends=` string of a module's `.modinfo`.
fn modinfo_depends(ko: &[u8]) -> Vec<String> {
    const KEY: &[u8] = b"\0depends=";
    let Some(at) = ko.windows(KEY.len()).position(|w| w == KEY) else {
        return Vec::new();
    };
    let value = &ko[at + KEY.len()..];
    let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
    String::from_utf8_lossy(&value[..end])
        .split(',')
        .filter(|d| !d.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The guest's `/init`.
fn init_script(
    insmods: &[String],
    no_netdevsim: Option<&str>,
    commands: &[SuiteCommand],
) -> String {
    let mut s = String::from(
        r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount -t tracefs none /sys/kernel/tracing
mount -t debugfs none /sys/kernel/debug
mount -t securityfs none /sys/kernel/security
mount -t bpf bpf /sys/fs/bpf
mount -t tmpfs cgroup_root /sys/fs/cgroup
mkdir -p /sys/fs/cgroup/unified
mount -t cgroup2 none /sys/fs/cgroup/unified
ip link set lo up
"#,
    );
    for module in insmods {
        let _ = writeln!(s, "insmod {module} || echo \"insmod {module} failed\"");
    }
    if let Some(reason) = no_netdevsim {
        // Single-quoted for sh: each ' as '\''.
        let quoted = reason.replace('\'', "'\\''");
        let _ = writeln!(s, "export BPFKIT_VM_NO_NETDEVSIM='{quoted}'");
    }
    s.push_str(
        &r#"export BPFKIT_FD_TRACE=1 BPFKIT_VM=1 BPFKIT_VM_FIXTURES=/fixtures BPFKIT_PREBUILT_FIXTURES=/fixtures BPFKIT_TEST_CACHE=/tmp/cache RUST_BACKTRACE=1 HOME=/tmp
echo "bpfkit VM: kernel $(uname -r) $(uname -m)"
failed=0
ran=0
run() {
    name=$1
    shift
    echo "=== $*"
    echo "SUITE_START_MARKER $name"
    ran=$((ran + 1))
    "$@"
    rc=$?
    echo "SUITE_END_MARKER $rc $name"
    if [ $rc -ne 0 ]; then
        failed=$((failed + 1))
        echo "=== FAILED (exit $rc): $*"
    fi
}
cd /tmp
"#
        .replace("SUITE_START_MARKER", SUITE_START_MARKER)
        .replace("SUITE_END_MARKER", SUITE_END_MARKER),
    );
    for command in commands {
        let _ = writeln!(s, "run '{}' {}", command.name, command.line);
    }
    let _ = writeln!(
        s,
        "echo \"bpfkit VM summary: $ran suites, $failed failed, kernel $(uname -r) $(uname -m)\"\necho \"{STATUS_MARKER} $failed\"\npoweroff -f"
    );
    s
}

#[cfg(test)]
mod tests {
    use super::init_script;

    #[test]
    fn the_netdevsim_reason_reaches_the_guest_verbatim() {
        let reason = "building netdevsim failed (exit status: 100): E: can't fetch 'linux-source-6.1' $HOME `x`";
        let script = init_script(&[], Some(reason), &[]);
        let export = script
            .lines()
            .find(|l| l.starts_with("export BPFKIT_VM_NO_NETDEVSIM="))
            .expect("no export line");
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{export}\nprintf %s \"$BPFKIT_VM_NO_NETDEVSIM\""))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), reason);
        assert!(!init_script(&[], None, &[]).contains("BPFKIT_VM_NO_NETDEVSIM"));
    }
}

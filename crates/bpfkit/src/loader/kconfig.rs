//! `.kconfig` externs: `LINUX_KERNEL_VERSION`, `LINUX_HAS_SYSCALL_WRAPPER`,
//! `LINUX_HAS_BPF_COOKIE` and `CONFIG_*` values from the running kernel's config.

use std::collections::HashMap;

use bpfkit_obj::object::{ExternKind, KconfigType, ObjectSpec};

/// The kernel config text: `/boot/config-<release>`, else `/proc/config.gz` (as libbpf).
fn kernel_config_text() -> String {
    let release = crate::sys::fdtrace::read_to_string("/proc/sys/kernel/osrelease", "proc file")
        .unwrap_or_default();
    if let Ok(text) = crate::sys::fdtrace::read_to_string(
        format!("/boot/config-{}", release.trim()),
        "kernel config",
    ) {
        return text;
    }
    config_gz_text()
}

/// `/proc/config.gz` decompressed, or empty if it is missing or unreadable.
#[cfg(feature = "kconfig-gz")]
fn config_gz_text() -> String {
    let Ok(file) = crate::sys::fdtrace::open_read("/proc/config.gz", "kernel config") else {
        return String::new();
    };
    let mut text = String::new();
    use std::io::Read;
    match flate2::read::GzDecoder::new(file).read_to_string(&mut text) {
        Ok(_) => text,
        Err(e) => {
            log::warn!("/proc/config.gz: {e}");
            String::new()
        }
    }
}

/// Without feature `kconfig-gz` the gzip'd config is not read: empty, with a warning if it exists.
#[cfg(not(feature = "kconfig-gz"))]
fn config_gz_text() -> String {
    if std::path::Path::new("/proc/config.gz").exists() {
        log::warn!("/proc/config.gz not read: bpfkit built without feature kconfig-gz");
    }
    String::new()
}

/// The kernel config as `NAME -> value` (`y`, `m`, `"str"`, numbers).
fn kernel_config() -> HashMap<String, String> {
    kernel_config_text()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Write every kconfig extern's value into the `.kconfig` map's bytes.
pub(crate) fn fill(spec: &ObjectSpec, bytes: &mut [u8]) -> Result<(), String> {
    let config = kernel_config();
    for e in &spec.externs {
        let ExternKind::Kconfig {
            kind, size, offset, ..
        } = &e.kind
        else {
            continue;
        };
        let value: Option<String> = match e.name.as_str() {
            "LINUX_KERNEL_VERSION" => Some(super::kernel_version_code().to_string()),
            // x86_64 and arm64 wrap syscalls (pt_regs) since 4.17 / 5.5.
            "LINUX_HAS_SYSCALL_WRAPPER" => Some("1".into()),
            // As libbpf: whether programs can read a BPF cookie, by probe.
            "LINUX_HAS_BPF_COOKIE" => Some(
                if crate::features::supported(crate::features::Probe::BpfCookie) {
                    "y"
                } else {
                    "n"
                }
                .into(),
            ),
            name => config.get(name).cloned(),
        };
        let Some(value) = value else {
            if e.weak {
                continue; // stays 0
            }
            return Err(format!(
                "kconfig extern '{}' is not set in this kernel's config (declare it __weak to default to 0)",
                e.name
            ));
        };
        let off = *offset as usize;
        let size = *size as usize;
        let dst = bytes
            .get_mut(off..off + size)
            .ok_or_else(|| format!("kconfig extern '{}' lies outside .kconfig", e.name))?;
        match kind {
            KconfigType::Bool | KconfigType::Tristate => {
                if let Some(b) = dst.first_mut() {
                    *b = match value.as_str() {
                        "y" => 1,
                        "m" => 2,
                        _ => 0,
                    };
                }
            }
            KconfigType::Char => {
                if let Some(b) = dst.first_mut() {
                    *b = value.bytes().next().unwrap_or(0);
                }
            }
            KconfigType::CharArray => {
                let s = value.trim_matches('"').as_bytes();
                let n = s.len().min(size.saturating_sub(1));
                dst[..n].copy_from_slice(&s[..n]);
            }
            KconfigType::Int { .. } => {
                let v: i64 = if let Some(hex) = value.strip_prefix("0x") {
                    i64::from_str_radix(hex, 16).map_err(|_| {
                        format!("kconfig extern '{}': '{value}' is not a number", e.name)
                    })?
                } else {
                    value.parse().map_err(|_| {
                        format!("kconfig extern '{}': '{value}' is not a number", e.name)
                    })?
                };
                let n = size.min(8);
                dst[..n].copy_from_slice(&v.to_le_bytes()[..n]);
            }
        }
    }
    Ok(())
}

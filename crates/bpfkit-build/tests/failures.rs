//! What the route says when it cannot work: panic paths and indirect calls in the program,
//! missing rustup components.

mod common;

use std::path::PathBuf;
use std::process::Command;

use bpfkit_build::{BuildError, EbpfBuild, Route, Toolchain, ToolchainError};

#[test]
fn a_surviving_panic_path_fails_the_link_naming_the_rust_function() {
    let err = common::route(&common::test_crate("panics"))
        .build()
        .expect_err("a program that can panic must not link");
    let BuildError::CargoFailed { stderr, .. } = &err else {
        panic!("expected a failed cargo build, got {err}");
    };
    assert!(
        stderr.contains(
            "`panics::lookup_slot` can panic (it calls `core::panicking::panic_bounds_check`)"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("`panicky` can panic (it calls `panics::lookup_slot`)"),
        "{stderr}"
    );
}

#[test]
fn an_indirect_call_fails_the_link_naming_the_rust_function() {
    let err = common::route(&common::test_crate("indirect"))
        .build()
        .expect_err("a call through a function pointer must not link");
    let BuildError::CargoFailed { stderr, .. } = &err else {
        panic!("expected a failed cargo build, got {err}");
    };
    assert!(
        stderr.contains(
            "`indirect::dispatch` makes an indirect call (function pointer or `dyn` method)"
        ),
        "{stderr}"
    );
}

#[test]
fn a_function_named_like_its_section_fails_the_link_naming_the_function() {
    let err = common::route(&common::test_crate("sectionname"))
        .build()
        .expect_err("llc cannot define a symbol and a section of the same name");
    let BuildError::CargoFailed { stderr, .. } = &err else {
        panic!("expected a failed cargo build, got {err}");
    };
    assert!(
        stderr.contains(
            "the function `sockops` has the name of the ELF section `sockops` it is placed in"
        ),
        "{stderr}"
    );
}

#[test]
fn a_core_marker_matching_two_rust_types_fails_naming_both() {
    let err = common::route(&common::test_crate("coreshadow"))
        .features(["ambiguous"])
        .build()
        .expect_err("two stand-ins with the member make the marker ambiguous");
    let BuildError::CargoFailed { stderr, .. } = &err else {
        panic!("expected a failed cargo build, got {err}");
    };
    assert!(
        stderr.contains(
            "CO-RE marker `bpfcore$field$task_struct$tgid` is ambiguous: `tgid` is a member \
             of `coreshadow::standin::task_struct` and of `coreshadow::other::task_struct`"
        ),
        "{stderr}"
    );
}

fn fake_sysroot(tag: &str, with_rust_src: bool) -> (Toolchain, PathBuf) {
    let real = Toolchain::detect().expect("rustc runs");
    let root = std::env::temp_dir().join(format!("bpfkit-sysroot-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let core = root.join("lib/rustlib/src/rust/library/core");
    std::fs::create_dir_all(&core).unwrap();
    if with_rust_src {
        std::fs::write(core.join("Cargo.toml"), "[package]\nname = \"core\"\n").unwrap();
    }
    let toolchain = Toolchain {
        sysroot: root.clone(),
        ..real
    };
    (toolchain, root)
}

#[test]
fn missing_rust_src_names_the_rustup_command() {
    let (toolchain, root) = fake_sysroot("no-src", false);
    let err = EbpfBuild::new(common::test_crate("counter"))
        .route(Route::Bpfel)
        .toolchain(toolchain)
        .build()
        .expect_err("rust-src is missing");
    // The fake sysroot has neither: both are named, with one command for both.
    let BuildError::Toolchain(ToolchainError::MissingComponent { components, .. }) = &err else {
        panic!("expected missing components, got {err:?}");
    };
    assert_eq!(components, &["rust-src", "llvm-tools"]);
    let message = err.to_string();
    assert!(
        message.starts_with("the rustup components `rust-src` and `llvm-tools` are missing: "),
        "{message}"
    );
    assert!(
        message.ends_with("install them with `rustup component add rust-src llvm-tools`"),
        "{message}"
    );
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn missing_llvm_tools_names_the_rustup_command() {
    let (toolchain, root) = fake_sysroot("no-llvm", true);
    let err = EbpfBuild::new(common::test_crate("counter"))
        .toolchain(toolchain)
        .build()
        .expect_err("llvm-tools are missing");
    assert_eq!(
        err.to_string(),
        format!(
            "the rustup component `llvm-tools` is missing: {} does not exist; install it with \
             `rustup component add llvm-tools`",
            root.join("lib/rustlib")
                .join(Toolchain::detect().unwrap().host)
                .join("bin/llvm-link")
                .display()
        )
    );
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn the_linker_names_the_rustup_command_when_llvm_tools_are_missing() {
    let dir = std::env::temp_dir().join(format!("bpfkit-nollvm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("prog.o");
    std::fs::write(&input, b"BC\xc0\xde").unwrap();
    let out = Command::new(common::linker())
        .arg(&input)
        .arg("-o")
        .arg(dir.join("prog"))
        .env("BPFKIT_LLVM_TOOLS_DIR", dir.join("no-such-dir"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim(),
        format!(
            "bpfkit-link: error: the rustup component `llvm-tools` is missing: {} does not \
             exist; install it with `rustup component add llvm-tools`",
            dir.join("no-such-dir/llvm-link").display()
        )
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn missing_components_are_installed_through_rustup_and_checked_again() {
    let (toolchain, root) = fake_sysroot("autoinstall", false);
    // A stand-in rustup that records its arguments and "installs" rust-src and llvm-tools
    // into the fake sysroot, as the real one does into the toolchain's.
    let tools = root.join("lib/rustlib").join(&toolchain.host).join("bin");
    let log = root.join("rustup-args");
    let script = root.join("rustup");
    let mut body = format!(
        "#!/bin/sh\necho \"$@\" > '{}'\nmkdir -p '{}'\n: > '{}'\n",
        log.display(),
        tools.display(),
        root.join("lib/rustlib/src/rust/library/core/Cargo.toml")
            .display()
    );
    for tool in bpfkit_build::toolchain::LLVM_TOOLS {
        body.push_str(&format!(": > '{}'\n", tools.join(tool).display()));
    }
    std::fs::write(&script, body).unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    toolchain
        .ensure_components_with(&script)
        .expect("the components are there after rustup ran");
    let args = std::fs::read_to_string(&log).unwrap();
    assert!(
        args.starts_with("component add rust-src llvm-tools"),
        "rustup was run as `{args}`"
    );
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn only_missing_llvm_tools_are_installed_through_rustup() {
    let (toolchain, root) = fake_sysroot("autoinstall-llvm", true);
    let tools = root.join("lib/rustlib").join(&toolchain.host).join("bin");
    let log = root.join("rustup-args");
    let script = root.join("rustup");
    let mut body = format!(
        "#!/bin/sh\necho \"$@\" > '{}'\nmkdir -p '{}'\n",
        log.display(),
        tools.display()
    );
    for tool in bpfkit_build::toolchain::LLVM_TOOLS {
        body.push_str(&format!(": > '{}'\n", tools.join(tool).display()));
    }
    std::fs::write(&script, body).unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    toolchain
        .ensure_components_with(&script)
        .expect("llvm-tools are there after rustup ran");
    let args = std::fs::read_to_string(&log).unwrap();
    let args = args.split(" --toolchain").next().unwrap().trim();
    assert_eq!(
        args, "component add llvm-tools",
        "rustup was run as `{args}`"
    );
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn missing_components_without_rustup_say_what_to_install() {
    let (toolchain, root) = fake_sysroot("norustup", false);
    let err = toolchain
        .ensure_components_with(&root.join("no-such-rustup"))
        .expect_err("rustup cannot run");
    assert!(
        matches!(err, ToolchainError::InstallFailed { .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("rustup is not installed or not on PATH"),
        "{message}"
    );
    assert!(
        message.contains("rustup component add rust-src llvm-tools"),
        "{message}"
    );
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn a_failing_rustup_is_reported_with_its_stderr() {
    let (toolchain, root) = fake_sysroot("offline", false);
    let script = root.join("rustup");
    std::fs::write(
        &script,
        "#!/bin/sh\necho 'error: could not download file: network unreachable' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let err = toolchain
        .ensure_components_with(&script)
        .expect_err("rustup fails offline");
    let message = err.to_string();
    assert!(message.contains("network unreachable"), "{message}");
    assert!(message.contains("needs network access"), "{message}");
    std::fs::remove_dir_all(root).unwrap();
}

/// The default route on a toolchain with rustup's default profile only: llvm-tools and the
/// donor target are installed through rustup (as the README's main job relies on), then
/// checked again.
#[test]
fn the_donor_route_installs_llvm_tools_and_the_donor_target_through_rustup() {
    let (toolchain, root) = fake_sysroot("donor-autoinstall", false);
    let tools = root.join("lib/rustlib").join(&toolchain.host).join("bin");
    let donor_lib = root
        .join("lib/rustlib")
        .join(bpfkit_build::link::retarget::DONOR_TARGET)
        .join("lib");
    let log = root.join("rustup-args");
    let script = root.join("rustup");
    // A stand-in rustup: records each call, "installs" what it was asked for.
    let mut components = format!(
        "mkdir -p '{}'; : > '{}'",
        tools.display(),
        root.join("lib/rustlib/src/rust/library/core/Cargo.toml")
            .display()
    );
    for tool in bpfkit_build::toolchain::LLVM_TOOLS {
        components.push_str(&format!("; : > '{}'", tools.join(tool).display()));
    }
    let body = format!(
        "#!/bin/sh\necho \"$@\" >> '{log}'\ncase \"$1 $2\" in\n\
         'component add') {components} ;;\n\
         'target add') mkdir -p '{lib}'; : > '{lib}/libcore-0123.rlib' ;;\n\
         esac\n",
        log = log.display(),
        lib = donor_lib.display(),
    );
    std::fs::write(&script, body).unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    assert!(toolchain.check_donor_components().is_err());

    toolchain
        .ensure_donor_components_with(&script)
        .expect("llvm-tools and the donor target are there after rustup ran");
    let calls = std::fs::read_to_string(&log).unwrap();
    let calls: Vec<&str> = calls.lines().collect();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(
        calls[0].starts_with("component add llvm-tools"),
        "{calls:?}"
    );
    assert!(
        calls[1].starts_with("target add riscv64imac-unknown-none-elf"),
        "{calls:?}"
    );
    assert_eq!(
        toolchain.donor_core().unwrap(),
        donor_lib.join("libcore-0123.rlib")
    );
    // Installed: a second call runs rustup no more.
    toolchain.ensure_donor_components_with(&script).unwrap();
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 2);
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn a_missing_donor_target_names_the_rustup_command() {
    let (toolchain, root) = fake_sysroot("no-donor", false);
    // llvm-tools present (links to the real ones), the donor's prebuilt core absent.
    let real = Toolchain::detect().expect("rustc runs").llvm_tools();
    let bin = root.join("lib/rustlib").join(&toolchain.host).join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in bpfkit_build::toolchain::LLVM_TOOLS {
        std::os::unix::fs::symlink(real.dir.join(tool), bin.join(tool)).unwrap();
    }
    let err = EbpfBuild::new(common::test_crate("counter"))
        .route(Route::Donor)
        .toolchain(toolchain)
        .build()
        .expect_err("the donor target is missing");
    assert!(
        matches!(
            err,
            BuildError::Toolchain(ToolchainError::MissingTarget {
                target: "riscv64imac-unknown-none-elf",
                ..
            })
        ),
        "{err}"
    );
    let message = err.to_string();
    assert!(
        message.ends_with(
            "install it with `rustup target add riscv64imac-unknown-none-elf` (or build with \
             BPFKIT_ROUTE=bpfel)"
        ),
        "{message}"
    );
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn the_donor_route_refuses_big_endian_and_unknown_routes_are_named() {
    let err = EbpfBuild::new(common::test_crate("counter"))
        .route(Route::Donor)
        .endianness(bpfkit_build::Endianness::Big)
        .build()
        .expect_err("the donor is little-endian");
    assert!(matches!(err, BuildError::DonorBigEndian), "{err}");
    assert_eq!(Route::parse("donor"), Some(Route::Donor));
    assert_eq!(Route::parse("bpfel"), Some(Route::Bpfel));
    assert_eq!(Route::parse("nightly"), None);
}

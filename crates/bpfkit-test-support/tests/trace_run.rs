//! libbpf attaches fixtures to real events: the USDT/uprobe target and a tracepoint.

use std::process::Command;

use bpfkit_test_support::{c_program, fixture, libbpf_trace_run, Attach, RelocateOptions};

#[test]
fn usdt_target_carries_a_stapsdt_note_readelf_understands() {
    let target = c_program("usdt_target");
    let out = Command::new("readelf")
        .arg("-n")
        .arg(&target)
        .output()
        .unwrap();
    let notes = String::from_utf8(out.stdout).unwrap();
    let probe: Vec<&str> = notes
        .lines()
        .skip_while(|l| !l.contains("NT_STAPSDT"))
        .take(5)
        .map(str::trim)
        .collect();
    assert_eq!(probe[1], "Provider: bpfkit");
    assert_eq!(probe[2], "Name: tick");
    assert!(
        probe[3].contains("Semaphore: 0x0000000000000000"),
        "{probe:?}"
    );
    // int (signed, 4 bytes) then unsigned long (8 bytes), in registers.
    let args: Vec<&str> = probe[4]
        .trim_start_matches("Arguments: ")
        .split(' ')
        .collect();
    assert_eq!(args.len(), 2, "{probe:?}");
    assert!(args[0].starts_with("-4@%"), "{args:?}");
    assert!(args[1].starts_with("8@%"), "{args:?}");
}

#[test]
fn libbpf_counts_usdt_and_uprobe_events_of_the_target() {
    let target = c_program("usdt_target");
    // Another process firing the same probes all along must not be counted.
    struct KillOnDrop(std::process::Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut noise = KillOnDrop(
        Command::new(&target)
            .arg("2000000000")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let run = libbpf_trace_run(
        &fixture("usdt_uprobe"),
        &RelocateOptions::default(),
        &[
            Attach::Usdt {
                program: "on_tick".into(),
                binary: target.clone(),
                provider: "bpfkit".into(),
                name: "tick".into(),
            },
            Attach::Uprobe {
                program: "on_target_entry".into(),
                binary: target.clone(),
                function: "bpfkit_uprobe_target".into(),
            },
            Attach::Uprobe {
                program: "on_target_return".into(),
                binary: target.clone(),
                function: "bpfkit_uprobe_target".into(),
            },
        ],
        &[target.as_os_str(), "7".as_ref()],
    )
    .unwrap();
    let noise_still_running = noise.0.try_wait().unwrap().is_none();
    drop(noise);
    assert!(noise_still_running, "the concurrent target ended too early");
    assert_eq!(run.exit_code, 0);
    // i = 0..7: sum i = 21, sum 10 i = 210, sum (i + 1) = 28.
    let got: Vec<(&str, Option<u64>)> = [
        "ticks",
        "tick_index_sum",
        "tick_scaled_sum",
        "uprobe_calls",
        "uprobe_arg_sum",
        "uretprobe_ret_sum",
    ]
    .iter()
    .map(|v| (*v, run.bss(v)))
    .collect();
    assert_eq!(
        got,
        [
            ("ticks", Some(7)),
            ("tick_index_sum", Some(21)),
            ("tick_scaled_sum", Some(210)),
            ("uprobe_calls", Some(7)),
            ("uprobe_arg_sum", Some(21)),
            ("uretprobe_ret_sum", Some(28)),
        ]
    );
}

#[test]
fn auto_attached_tracepoint_runs_the_callbacks_fixture() {
    // run_callbacks fires on sys_enter_getpid; the shell calls getpid for `$$`.
    let run = libbpf_trace_run(
        &fixture("callbacks"),
        &RelocateOptions::default(),
        &[Attach::Auto {
            program: "run_callbacks".into(),
        }],
        &["/bin/sh".as_ref(), "-c".as_ref(), "echo $$".as_ref()],
    )
    .unwrap();
    assert_eq!(run.exit_code, 0);
    // bpf_loop over 0..10 sums to 45; the array of zeros sums to 0.
    assert_eq!(run.bss("loop_sum"), Some(45));
    assert_eq!(run.bss("elem_sum"), Some(0));
}

#[test]
fn attach_to_a_missing_usdt_probe_fails_with_enoent() {
    let target = c_program("usdt_target");
    let err = libbpf_trace_run(
        &fixture("usdt_uprobe"),
        &RelocateOptions::default(),
        &[Attach::Usdt {
            program: "on_tick".into(),
            binary: target.clone(),
            provider: "bpfkit".into(),
            name: "no_such_probe".into(),
        }],
        &[target.as_os_str()],
    )
    .unwrap_err();
    assert!(
        err.starts_with("errno 2 (No such file or directory)"),
        "{err}"
    );
}

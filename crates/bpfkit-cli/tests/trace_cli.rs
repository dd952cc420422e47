//! `bpfkit trace` as a command: positioned errors, `--dry-run`, `-l`, `-p`.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn bpfkit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bpfkit"))
        .arg("trace")
        .args(args)
        .output()
        .expect("run bpfkit")
}

fn stderr_of(args: &[&str]) -> String {
    let out = bpfkit(args);
    assert!(!out.status.success(), "expected a failure for {args:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn syntax_errors_show_line_column_caret_and_what_was_expected() {
    let err = stderr_of(&["-e", "BEGIN {\n  @x = 1\n  @y = ; }"]);
    assert_eq!(
        err,
        "bpfkit: stdin:3:3: error: expected ';' or '}' after the statement, found '@y'\n   3 |   @y = ; }\n     |   ^^\n"
    );
    let err = stderr_of(&["-e", "BEGIN { printf(\"%d\\n\", 1 }"]);
    assert!(
        err.starts_with(
            "bpfkit: stdin:1:26: error: expected ',' or ')' in the argument list, found '}'"
        ),
        "{err}"
    );
}

#[test]
fn constructs_outside_the_subset_say_not_supported_yet_where_they_are() {
    let err = stderr_of(&["-e", "watchpoint:0x1000:8:w { @ = count(); }"]);
    assert!(
        err.starts_with("bpfkit: stdin:1:1: error: not supported yet: 'watchpoint' probes\n"),
        "{err}"
    );
    let err = stderr_of(&["-e", "BEGIN { @s[username] = count(); }"]);
    assert!(
        err.starts_with("bpfkit: stdin:1:12: error: not supported yet: username\n"),
        "{err}"
    );
    assert!(
        err.ends_with("   1 | BEGIN { @s[username] = count(); }\n     |            ^^^^^^^^\n"),
        "{err}"
    );
    let err = stderr_of(&["-e", "BEGIN { @ = curtask->nope; }"]);
    assert!(
        err.starts_with("bpfkit: stdin:1:13: error: struct task_struct has no member 'nope'\n"),
        "{err}"
    );
    let err = stderr_of(&["-e", "BEGIN { @ = curtask.pid; }"]);
    assert!(
        err.contains("error: use '->' to reach 'pid' through a pointer"),
        "{err}"
    );
    let err = stderr_of(&["-e", "BEGIN { @h[1] = hist(1); for ($kv : @h) { } }"]);
    assert!(
        err.starts_with("bpfkit: stdin:1:37: error: not supported yet: 'for' over a hist() map\n"),
        "{err}"
    );
}

#[test]
fn type_errors_name_both_uses() {
    let err = stderr_of(&["-e", "BEGIN { @x = 1; @x = \"s\"; }"]);
    assert!(
        err.starts_with(
            "bpfkit: stdin:1:17: error: @x is assigned a string here but an integer elsewhere"
        ),
        "{err}"
    );
    let err = stderr_of(&["-e", "BEGIN { printf(\"%d\\n\", comm); }"]);
    assert!(
        err.contains("printf: %d needs an integer, found a string"),
        "{err}"
    );
    let err = stderr_of(&["-e", "BEGIN { printf(\"%s\\n\", pid); }"]);
    assert!(
        err.contains("stdin:1:24: error: printf: %s needs a string, found an integer"),
        "{err}"
    );
    let err = stderr_of(&["-e", "BEGIN { exit(); } BEGIN { exit(); }"]);
    assert!(
        err.contains("stdin:1:19: error: more than one BEGIN probe defined"),
        "{err}"
    );
}

#[test]
fn unknown_tracepoint_fields_list_the_real_ones() {
    if !is_root() {
        println!("SKIP not root: tracefs is root-only");
        return;
    }
    let err = stderr_of(&[
        "--dry-run",
        "-e",
        "tracepoint:syscalls:sys_enter_openat { @ = args->nope; }",
    ]);
    assert!(
        err.contains(
            "error: tracepoint:syscalls:sys_enter_openat has no field 'nope'; it has: __syscall_nr, dfd, filename, flags, mode"
        ),
        "{err}"
    );
}

#[test]
fn dry_run_prints_each_probes_instructions() {
    let out = bpfkit(&[
        "--dry-run",
        "-e",
        "BEGIN { @x = count(); printf(\"%d\\n\", 7); exit(); }",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "BEGIN:");
    assert_eq!(lines[1], "   0: (bf) r6 = r1");
    assert!(text.contains("r1 = map[@x]"), "{text}");
    assert!(text.contains("call bpf_map_lookup_elem#1"), "{text}");
    assert!(text.contains("lock *(u64 *)(r0 +0) += r1"), "{text}");
    assert!(text.contains("r1 = map[events]"), "{text}");
    assert!(text.contains("call bpf_ringbuf_output#130"), "{text}");
    assert!(lines.last().unwrap().ends_with(": (95) exit"), "{text}");
}

#[test]
fn kernel_function_probes_compile_to_their_context() {
    // A kprobe reads arguments from pt_regs and picks the string helper by address; a
    // wildcard whose block does not use `func` is one program; fexit's retval follows the
    // arguments in its u64 context (do_sys_openat2 has three).
    let out = bpfkit(&[
        "--dry-run",
        "-e",
        "kprobe:do_sys_openat2 { @[str(arg1)] = count(); } \
         fexit:do_sys_openat2 { @r[retval] = count(); }",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.starts_with("kprobe:do_sys_openat2:\n"), "{text}");
    #[cfg(target_arch = "x86_64")]
    assert!(text.contains("r0 = *(u64 *)(r6 +104)"), "{text}");
    assert!(text.contains("if r3 s< 0x0 goto pc+2"), "{text}");
    assert!(text.contains("call bpf_probe_read_user_str#114"), "{text}");
    assert!(
        text.contains("call bpf_probe_read_kernel_str#115"),
        "{text}"
    );
    let fexit = &text[text.find("fexit:do_sys_openat2:\n").expect("fexit program")..];
    assert!(fexit.contains("r0 = *(u64 *)(r6 +24)"), "{fexit}");
    let err = stderr_of(&["-e", "fentry:do_sys_openat2 { @ = args->nope; }"]);
    assert!(
        err.starts_with("bpfkit: stdin:1:29: error: fentry:do_sys_openat2 has no field 'nope'; it has: dfd, filename, how\n"),
        "{err}"
    );
    let out = bpfkit(&["-l", "fexit:do_sys_openat*"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "fexit:do_sys_openat2\n"
    );
}

#[test]
fn usdt_and_uprobe_pointers_are_read_from_user_memory() {
    // USDT arguments are user addresses, as uprobe ones: str() and buf() of them read with
    // the user helpers (str() used the kernel one for USDT before buf() and str() shared
    // the choice).
    let target = bpfkit_test_support::c_program("usdt_target");
    let target = target.to_str().expect("UTF-8 path");
    let out = bpfkit(&[
        "--dry-run",
        "-e",
        &format!("usdt:{target}:bpfkit:tick {{ printf(\"%s %r\\n\", str(arg0), buf(arg1, 8)); }}"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("call bpf_probe_read_user_str#114"), "{text}");
    assert!(text.contains("call bpf_probe_read_user#112"), "{text}");
    assert!(!text.contains("bpf_probe_read_kernel"), "{text}");
}

#[test]
fn list_matches_bpftrace_list() {
    if !is_root() {
        println!("SKIP not root: tracefs is root-only");
        return;
    }
    let pattern = "tracepoint:syscalls:sys_enter_open*";
    let out = bpfkit(&["-l", pattern]);
    assert!(out.status.success());
    let ours: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert!(ours.contains(&"tracepoint:syscalls:sys_enter_openat".to_string()));
    assert!(ours
        .iter()
        .all(|l| l.starts_with("tracepoint:syscalls:sys_enter_open")));
    let Ok(theirs) = Command::new("bpftrace").args(["-l", pattern]).output() else {
        println!("SKIP bpftrace is not installed: checked our list alone");
        return;
    };
    let mut theirs: Vec<String> = String::from_utf8_lossy(&theirs.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    theirs.sort();
    assert_eq!(ours, theirs);
}

/// `-lv` lists each tracepoint's fields as bpftrace 0.17 printed them on this kernel
/// (`bpftrace -lv tracepoint:sched:sched_switch`); `-l` alone lists the name only.
#[test]
fn list_verbose_shows_tracepoint_fields_like_bpftrace() {
    if !is_root() {
        println!("SKIP not root: tracefs is root-only");
        return;
    }
    let out = bpfkit(&["-lv", "tracepoint:sched:sched_switch"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "tracepoint:sched:sched_switch\n\
         \x20   char prev_comm[16]\n\
         \x20   pid_t prev_pid\n\
         \x20   int prev_prio\n\
         \x20   long prev_state\n\
         \x20   char next_comm[16]\n\
         \x20   pid_t next_pid\n\
         \x20   int next_prio\n"
    );
    let out = bpfkit(&["-l", "-v", "tracepoint:syscalls:sys_enter_read"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "tracepoint:syscalls:sys_enter_read\n    int __syscall_nr\n    unsigned int fd\n    \
         char * buf\n    size_t count\n"
    );
    let out = bpfkit(&["-l"]);
    let all = String::from_utf8_lossy(&out.stdout);
    assert!(all.lines().any(|l| l == "tracepoint:sched:sched_switch"));
    // ftrace's own formats cannot be attached; bpftrace -l leaves them out.
    assert!(!all.contains("tracepoint:ftrace:"), "{all}");
    let out = bpfkit(&["-l", "tracepoint:sched:sched_switch"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "tracepoint:sched:sched_switch\n"
    );
}

/// `kstack(perf, N)` / `ustack(perf, N)` print frames as bpftrace 0.17 does, e.g.
/// `\tffffffff814c44eb perf_syscall_enter+475` and, once the process has exited,
/// `\t55f31b0a3163 0x55f31b0a3163 ([unknown])`; unknown modes are named.
#[test]
fn stack_modes_print_like_bpftrace() {
    if !is_root() {
        println!("SKIP not root");
        return;
    }
    let out = bpfkit(&[
        "-e",
        "tracepoint:syscalls:sys_enter_openat /pid == cpid/ { @k[kstack(perf, 2)] = count(); \
         @u[ustack(perf, 1)] = count(); @n = count(); }",
        "-c",
        "true",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    let opens: u64 = lines
        .iter()
        .find_map(|l| l.strip_prefix("@n: "))
        .expect("@n printed")
        .parse()
        .unwrap();
    assert!(opens >= 1, "{text}");
    let hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
    let mut kernel_total = 0;
    let mut user_total = 0;
    for (i, l) in lines.iter().enumerate() {
        if *l == "@k[" {
            for f in &lines[i + 1..i + 3] {
                let (addr, sym) = f.strip_prefix('\t').unwrap().split_once(' ').unwrap();
                assert!(hex(addr) && addr.starts_with("ffff"), "{f:?} in {text}");
                let (name, off) = sym.rsplit_once('+').expect("name+offset");
                assert!(!name.is_empty() && off.parse::<u64>().is_ok(), "{f:?}");
            }
            kernel_total += lines[i + 3]
                .strip_prefix("]: ")
                .unwrap()
                .parse::<u64>()
                .unwrap();
        }
        if *l == "@u[" {
            // `true` has exited when the map prints: hex, as bpftrace prints it then.
            let f = lines[i + 1];
            let (addr, rest) = f.strip_prefix('\t').unwrap().split_once(' ').unwrap();
            assert!(hex(addr), "{f:?}");
            assert_eq!(rest, format!("0x{addr} ([unknown])"), "{f:?}");
            user_total += lines[i + 2]
                .strip_prefix("]: ")
                .unwrap()
                .parse::<u64>()
                .unwrap();
        }
    }
    assert_eq!(kernel_total, opens, "{text}");
    assert_eq!(user_total, opens, "{text}");
    let err = stderr_of(&["-e", "BEGIN { @[kstack(raw)] = count(); }"]);
    assert!(
        err.contains("not supported yet: the raw stack mode"),
        "{err}"
    );
    let err = stderr_of(&["-e", "BEGIN { @[ustack(fast, 3)] = count(); }"]);
    assert!(
        err.contains("unknown stack mode 'fast': expected bpftrace or perf"),
        "{err}"
    );
    let err = stderr_of(&["-e", "BEGIN { @[ustack(perf, 3, 4)] = count(); }"]);
    assert!(err.contains("ustack() takes a stack mode"), "{err}");
}

/// `print(value)` prints the value and a newline; the text is what bpftrace 0.17 printed
/// for the same script (its own comm replaced by ours).
#[test]
fn print_of_a_value_prints_it_like_bpftrace() {
    if !is_root() {
        println!("SKIP not root");
        return;
    }
    let out = bpfkit(&[
        "-e",
        r#"BEGIN { print(1); print("x"); $a = -3; print($a); print(comm); @m = 5; print(@m); print(@m + 1); print((uint64)-1); exit(); }"#,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Attaching 1 probe...\n1\nx\n-3\nbpfkit\n@m: 5\n6\n18446744073709551615\n\n\n@m: 5\n"
    );
}

/// `software:EVENT:COUNT` runs every COUNT events of the perf software counter: the same
/// page faults counted one by one and ten by ten, and the `probe` text bpftrace gives it.
#[test]
fn software_probes_count_perf_software_events() {
    if !is_root() {
        println!("SKIP not root");
        return;
    }
    let out = bpfkit(&[
        "-e",
        r#"software:faults:1 /pid == cpid/ { @[probe] = count(); } software:page-faults:10 /pid == cpid/ { @tens = count(); }"#,
        "-c",
        "true",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let value = |prefix: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in {text}"))
            .parse()
            .unwrap()
    };
    let ones = value("@[software:faults:1]: ");
    let tens = value("@tens: ");
    // Exec and the loader fault in dozens of pages.
    assert!(ones >= 10, "{text}");
    assert!(
        tens >= 1 && tens <= ones / 10 + 1 && tens + 1 >= ones / 10,
        "{text}"
    );
    let err = stderr_of(&["-e", "software:nope:1 { @ = count(); }"]);
    assert!(
        err.contains("unknown software event 'nope': expected one of cpu-clock"),
        "{err}"
    );
}

/// `-p` with no such process fails before attaching (bpftrace: "ERROR: : No such process").
#[test]
fn dash_p_of_a_missing_process_is_refused() {
    if !is_root() {
        println!("SKIP not root");
        return;
    }
    // A pid above the kernel's pid_max limit (4194304) is never in use.
    let out = bpfkit(&[
        "-p",
        "99999999",
        "-e",
        "tracepoint:syscalls:sys_enter_read { @ = count(); }",
    ]);
    assert!(!out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("-p 99999999: no such process"), "{err}");
}

/// `strftime(fmt, nsecs)` as a printf argument prints local time with boot time taken
/// as the realtime clock minus `CLOCK_BOOTTIME`, as bpftrace does: `strftime("%s", 0)` is
/// the boot time in seconds (bpftrace 0.17 printed the same number as we do on this host).
#[test]
fn strftime_prints_wall_clock_time_like_bpftrace() {
    if !is_root() {
        println!("SKIP not root");
        return;
    }
    let out = bpfkit(&[
        "-e",
        r#"BEGIN { printf("%s|%s|%4s|\n", strftime("%s", 0), strftime("%s", nsecs), strftime("%Y", nsecs)); exit(); }"#,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().nth(1).expect("the printf line");
    let parts: Vec<&str> = line.split('|').collect();
    let boot: i64 = parts[0].parse().unwrap();
    let now: i64 = parts[1].parse().unwrap();
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((boot - (wall - uptime as i64)).abs() <= 2, "{line}");
    assert!((now - wall).abs() <= 2, "{line}");
    assert_eq!(parts[2].len(), 4, "{line}");
    let err = stderr_of(&["-e", r#"BEGIN { @x = strftime("%H", nsecs); }"#]);
    assert!(
        err.contains("not supported yet: strftime() outside printf() arguments"),
        "{err}"
    );
    let err = stderr_of(&["-e", r#"BEGIN { printf("%d\n", strftime("%H", nsecs)); }"#]);
    assert!(
        err.contains("%d needs an integer, found a time (strftime())"),
        "{err}"
    );
}

/// `sizeof` of types, literals, comm and str() prints what bpftrace 0.17 printed for the
/// same script; what we cannot size exactly is refused by name.
#[test]
fn sizeof_matches_bpftrace() {
    if !is_root() {
        println!("SKIP not root");
        return;
    }
    let out = bpfkit(&[
        "-e",
        r#"BEGIN { printf("%d %d %d %d %d %d %d %d\n", sizeof(int32), sizeof(uint8), sizeof(comm), sizeof(1), sizeof(struct task_struct) > 1000, sizeof(int64), sizeof("abc"), sizeof(str($1))); exit(); }"#,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Attaching 1 probe...\n4 1 16 8 1 8 4 64\n\n\n"
    );
    let err = stderr_of(&["-e", "BEGIN { $x = 1; @ = sizeof($x); }"]);
    assert!(
        err.contains("not supported yet: sizeof() of this expression"),
        "{err}"
    );
    let err = stderr_of(&["-e", "BEGIN { @ = sizeof(struct nope_x); }"]);
    assert!(
        err.contains("sizeof(): no struct nope_x in the kernel's BTF"),
        "{err}"
    );
}

#[test]
fn dash_p_stops_when_the_process_exits() {
    if !is_root() {
        println!("SKIP not root");
        return;
    }
    let mut sleeper = Command::new("sleep").arg("1").spawn().expect("sleep");
    let pid = sleeper.id().to_string();
    let start = Instant::now();
    let out = bpfkit(&["-p", &pid, "-e", "interval:ms:100 { @ticks = count(); }"]);
    let _ = sleeper.wait();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(start.elapsed() < Duration::from_secs(10));
    let text = String::from_utf8_lossy(&out.stdout);
    let ticks: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("@ticks: "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no @ticks in {text}"));
    // One second of a 100 ms timer, give or take scheduling.
    assert!((5..=12).contains(&ticks), "{ticks} ticks");
}

#[test]
fn verifier_rejections_point_at_the_statement() {
    if !is_root() {
        println!("SKIP not root: loading needs CAP_BPF");
        return;
    }
    // A loop whose state never changes: the verifier calls it infinite at once.
    let script = "tracepoint:syscalls:sys_enter_getppid { $i = 0; while (1) { $i = 1; } @x = $i; }";
    let err = stderr_of(&["-e", script]);
    assert!(
        err.contains("stdin:1:61: error: the kernel's verifier rejected this (BPF_PROG_LOAD failed: Invalid argument"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "   1 | {script}\n     | {}^^^^^^\n",
            " ".repeat(60)
        )),
        "{err}"
    );
    assert!(err.contains("infinite loop detected"), "{err}");
}

#[test]
fn profile_samples_every_cpu_at_its_frequency() {
    if !is_root() {
        println!("SKIP not root");
        return;
    }
    let out = bpfkit(&[
        "-e",
        "profile:hz:100 { @[cpu] = count(); } interval:ms:500 { exit(); }",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let counts: Vec<u64> = text
        .lines()
        .filter_map(|l| l.split_once("]: ").map(|(_, v)| v.parse().unwrap()))
        .collect();
    let cpus = bpfkit::cpus::online_cpus().unwrap().len();
    assert_eq!(counts.len(), cpus, "{text}");
    // Half a second at 100 Hz on each CPU: at least 30 samples each; a loaded machine may
    // take longer to act on exit(), so the upper bound is loose.
    assert!(counts.iter().all(|c| (30..=200).contains(c)), "{text}");
}

#[test]
fn maps_carry_btf_so_bpftool_dumps_named_fields() {
    if !is_root() {
        println!("SKIP not root");
        return;
    }
    if Command::new("bpftool").arg("version").output().is_err() {
        println!("SKIP bpftool is not installed");
        return;
    }
    // A map name no other process uses: "AT_" + "k" + our pid.
    let map = format!("k{}", std::process::id() % 100_000_000);
    let script = format!("BEGIN {{ @{map}[1, \"a\"] = stats(4); }} interval:s:5 {{ exit(); }}");
    let mut tracer = Command::new(env!("CARGO_BIN_EXE_bpfkit"))
        .args(["trace", "-e", &script])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("run bpfkit");
    let deadline = Instant::now() + Duration::from_secs(4);
    let dump = loop {
        let out = Command::new("bpftool")
            .args(["-j", "map", "dump", "name", &format!("AT_{map}")])
            .output()
            .expect("bpftool");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() && text.contains("\"key\"") {
            break text;
        }
        assert!(Instant::now() < deadline, "map AT_{map} never appeared");
        std::thread::sleep(Duration::from_millis(50));
    };
    // SAFETY: signalling the child we started.
    unsafe { libc::kill(tracer.id() as i32, libc::SIGINT) };
    assert!(tracer.wait().unwrap().success());
    let v: serde_json::Value = serde_json::from_str(&dump).unwrap();
    assert_eq!(v[0]["formatted"]["key"]["k0"], 1, "{dump}");
    assert_eq!(v[0]["formatted"]["key"]["k1"], "a", "{dump}");
    assert_eq!(v[0]["formatted"]["value"]["count"], 1, "{dump}");
    assert_eq!(v[0]["formatted"]["value"]["total"], 4, "{dump}");
}

/// The one-liners of the user guide's cheat sheet (`docs/src/cheat-sheet.md`, every line
/// `bpfkit trace -e '…'`) load, attach and run to the end of a `-c true` child.
#[test]
fn guide_cheat_sheet_one_liners_run() {
    if !is_root() {
        println!("SKIP not root: loading programs and tracefs need root");
        return;
    }
    let sheet =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/src/cheat-sheet.md");
    let text = std::fs::read_to_string(&sheet).expect("read the cheat sheet");
    let scripts: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("bpfkit trace -e '")?.strip_suffix('\''))
        .collect();
    assert!(scripts.len() >= 5, "one-liners found: {scripts:?}");
    for script in scripts {
        let out = bpfkit(&["-e", script, "-c", "true"]);
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_full_ring_buffer_is_reported_as_lost_events() {
    if !is_root() {
        println!("SKIP not root: loading programs needs CAP_BPF");
        return;
    }
    // BEGIN runs before anything drains the 1 MiB ring buffer: 336-byte records (8-byte
    // header, 8-byte id, five 64-byte strings), so 3120 fit and the other 880 are lost.
    let out = bpfkit(&[
        "-c",
        "/bin/true",
        "-e",
        "BEGIN { $s = \"0123456789012345678901234567890123456789012345678901234567890\"; $i = 0; while ($i < 4000) { printf(\"%s%s%s%s%s\\n\", $s, $s, $s, $s, $s); $i++; } }",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.iter().filter(|l| l.starts_with("0123")).count(), 3120);
    assert!(
        lines.contains(&"Lost 880 events"),
        "{}",
        &text[text.len().saturating_sub(400)..]
    );
}

#[test]
fn for_ranges_count_with_break_and_continue() {
    if !is_root() {
        println!("SKIP not root: loading programs needs CAP_BPF");
        return;
    }
    // bpftrace 0.17 has no `for`; current bpftrace's `for ($i : start..end)` semantics.
    let out = bpfkit(&[
        "-e",
        "BEGIN { for ($i : 0..5) { if ($i == 2) { continue; } if ($i == 4) { break; } @[$i] = $i * 10; } $n = 3; for ($j : 1..$n) { printf(\"%d\\n\", $j); } exit(); }",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Attaching 1 probe...\n1\n2\n\n\n@[0]: 0\n@[1]: 10\n@[3]: 30\n"
    );
}

/// Sorted lines of `text` (a hash map's `for` visits elements in no fixed order).
fn sorted_lines(text: &str) -> Vec<&str> {
    let mut v: Vec<&str> = text.lines().collect();
    v.sort_unstable();
    v
}

#[test]
fn for_over_maps_visits_every_element_with_known_answers() {
    // bpftrace 0.17 (Debian's) has no `for` over maps: the answers are known instead.
    let dry = bpfkit(&[
        "--dry-run",
        "-e",
        "BEGIN { @a[1] = 1; for ($kv : @a) { @b = $kv.1; } }",
    ]);
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(
        text.contains("r2 = callback[pc+") && text.contains("call bpf_for_each_map_elem#164"),
        "{text}"
    );
    // Positioned refusals.
    for (script, want) in [
        (
            "BEGIN { @m[1] = 1; for ($kv : @m) { printf(\"%d\\n\", $kv); } }",
            "stdin:1:52: error: $kv is a map element: use $kv.0 (its key) or $kv.1 (its value)",
        ),
        (
            "BEGIN { @m[1] = 1; for ($kv : @m) { return; } }",
            "stdin:1:37: error: not supported yet: 'return' inside a 'for' over a map",
        ),
        (
            "BEGIN { @m[1] = 1; for ($kv : @m[1]) { } }",
            "stdin:1:31: error: 'for' iterates over a whole map: write it without a key",
        ),
        (
            "BEGIN { for ($kv : @nope) { } }",
            "stdin:1:20: error: @nope is used but never assigned",
        ),
    ] {
        let err = stderr_of(&["-e", script]);
        assert!(err.starts_with(&format!("bpfkit: {want}\n")), "{err}");
    }
    if !is_root() {
        println!("SKIP not root: loading programs needs CAP_BPF");
        return;
    }
    // Known keys filled in BEGIN: integer keys summed, tuple keys with break, string
    // values, count() and avg() values read as bpftrace prints them; variables written in
    // the body are seen after it.
    let out = bpfkit(&[
        "-e",
        concat!(
            "BEGIN { @a[1] = 10; @a[2] = 20; @a[5] = 12; $s = 0; $n = 0; ",
            "for ($kv : @a) { $s += $kv.1; $n++; printf(\"a %d %d\\n\", $kv.0, $kv.1); } ",
            "printf(\"sum %d over %d\\n\", $s, $n); ",
            "@t[\"x\", 1] = 7; @t[\"yy\", 2] = 8; @t[\"z\", 3] = 9; $seen = 0; ",
            "for ($kv : @t) { $seen++; if ($kv.0.1 == 2) { printf(\"t %s %d %d\\n\", $kv.0.0, $kv.0.1, $kv.1); break; } } ",
            "printf(\"stopped %d\\n\", $seen <= 3); ",
            "@s[1] = \"one\"; @s[2] = \"two\"; for ($kv : @s) { printf(\"s %d %s\\n\", $kv.0, $kv.1); } ",
            "@c[\"k\"] = count(); @c[\"k\"] = count(); @c[\"k\"] = count(); for ($kv : @c) { printf(\"c %s %d\\n\", $kv.0, $kv.1); } ",
            "@v[1] = avg(5); @v[1] = avg(-10); for ($kv : @v) { printf(\"v %d\\n\", $kv.1); } ",
            "clear(@a); clear(@t); clear(@s); clear(@c); clear(@v); exit(); }"
        ),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        sorted_lines(&text),
        [
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "Attaching 1 probe...",
            "a 1 10",
            "a 2 20",
            "a 5 12",
            "c k 3",
            "s 1 one",
            "s 2 two",
            "stopped 1",
            "sum 42 over 3",
            "t yy 2 8",
            "v -2",
        ],
        "{text}"
    );
    // The map is assigned only further down in the source (pass 1 learns it there).
    let out = bpfkit(&[
        "-e",
        "END { for ($kv : @) { printf(\"%d %d\\n\", $kv.0, $kv.1); } clear(@); } BEGIN { @[7] = 2; exit(); }",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Attaching 2 probes...\n7 2\n\n\n\n"
    );
    // A map filled by a tracepoint: dd reads 20 blocks from fd 0 and 3 times from fd 3
    // (its loader and locale files). The `for` runs in the tracepoint too (its `args`
    // come from the probe's context, kept for the callback) and in END.
    let out = bpfkit(&[
        "-e",
        concat!(
            "tracepoint:syscalls:sys_enter_read /pid == cpid && comm == \"dd\"/ { ",
            "@r[args->fd] = sum(args->count); @n[args->fd] = count(); $mine = 0; ",
            "for ($kv : @r) { if ($kv.0 == args->fd) { $mine = $kv.1; } } @last[args->fd] = $mine; } ",
            "END { $t = 0; $k = 0; for ($kv : @n) { $t += $kv.1; $k++; } printf(\"reads %d on %d fds\\n\", $t, $k); clear(@r); }"
        ),
        "-c",
        "/usr/bin/dd if=/dev/zero of=/dev/null bs=512 count=20 status=none",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("reads 23 on 2 fds\n"), "{text}");
    assert!(text.contains("@last[0]: 10240\n"), "{text}");
    assert!(text.contains("@n[0]: 20\n"), "{text}");
}

#[test]
fn typedefs_unions_and_enums_in_scripts() {
    // bpftrace 0.17 refuses `typedef` (its grammar wants a struct body), so typedefs are
    // checked against known answers: the same kernel bytes read through a typedef'd
    // struct, a typedef'd anonymous union and a typedef'd pointer; enumerators counted
    // on from the last explicit value.
    let err = stderr_of(&["-e", "enum E { A = x }; BEGIN { }"]);
    assert!(
        err.starts_with("bpfkit: stdin:1:1: error: enumerator value 'x' is not an integer\n"),
        "{err}"
    );
    // --dry-run: the enumerator is a constant; a kstack map value is a stack id stored
    // as the element's value.
    let dry = bpfkit(&[
        "--dry-run",
        "-e",
        "enum E { A = 0x1234 }; tracepoint:syscalls:sys_enter_close { @x = A; @s[1] = kstack; }",
    ]);
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(
        text.contains("= 0x1234\n")
            && text.contains("call bpf_get_stackid#27")
            && text.contains("map[@s]"),
        "{text}"
    );
    let err = stderr_of(&["-e", "typedef ; BEGIN { }"]);
    assert!(
        err.starts_with("bpfkit: stdin:1:1: error: expected 'typedef TYPE NAME;'\n"),
        "{err}"
    );
    if !is_root() {
        println!("SKIP not root: loading programs needs CAP_BPF");
        return;
    }
    let out = bpfkit(&[
        "-e",
        concat!(
            "typedef unsigned int u32x; typedef struct S { u32x x; long y; } s_t; ",
            "typedef union { int a; long c; } u_t; typedef s_t *sp; enum { A = 3, B, C = -2, D }; ",
            "BEGIN { $p = (s_t *)kaddr(\"vfs_read\"); $u = (u_t *)kaddr(\"vfs_read\"); $r = (sp)kaddr(\"vfs_read\"); ",
            "printf(\"%d %d %d %u %d %d %d %d\\n\", $p->x == $u->a, $r->y == $p->y, $r->y == $u->c, (u32x)-1, B, C, D, (enum X)0x100000005); ",
            "@[B, $r->x == $u->a] = count(); exit(); }"
        ),
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Attaching 1 probe...\n1 1 0 4294967295 4 -2 -1 5\n\n\n@[4, 1]: 1\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `-c` holds the command's process stopped outside any syscall until the probes are
/// attached and finds it in `PATH` itself: its syscalls, counted at `sys_exit`, are exactly
/// those `strace -f -c` counts (no read of a start gate, one execve — execvp in the child
/// would have tried each `PATH` entry first). Needs strace (installed by .ci/run).
#[test]
fn c_command_syscalls_at_exit_equal_strace_counts() {
    if !is_root() {
        println!("SKIP not root: loading programs and tracefs need root");
        return;
    }
    let command = "dd if=/dev/zero of=/dev/null bs=512 count=40 status=none";
    let out = bpfkit(&[
        "-e",
        "tracepoint:raw_syscalls:sys_exit /pid == cpid/ { @[args->id] = count(); }",
        "-c",
        command,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ours: std::collections::BTreeMap<i64, u64> = text
        .lines()
        .filter_map(|l| {
            let (key, count) = l.strip_prefix("@[")?.split_once("]: ")?;
            Some((key.parse().ok()?, count.parse().ok()?))
        })
        .collect();
    let report = std::env::temp_dir().join(format!("bpfkit-trace-strace-{}", std::process::id()));
    let status = Command::new("strace")
        .args(["-f", "-c", "-U", "name,calls", "-o"])
        .arg(&report)
        .args(command.split(' '))
        .status()
        .expect("strace is installed (.ci/run installs it)");
    assert!(status.success());
    let table = std::fs::read_to_string(&report).unwrap();
    std::fs::remove_file(&report).unwrap();
    let strace = |name: &str| -> Option<u64> {
        table.lines().find_map(|l| {
            let mut cols = l.split_whitespace();
            (cols.next()? == name).then(|| cols.next()?.parse().ok())?
        })
    };
    let read = strace("read").expect("strace counted reads");
    assert!(read >= 40, "{table}");
    assert_eq!(ours.get(&libc::SYS_read), Some(&read), "{text}\n{table}");
    assert_eq!(ours.get(&libc::SYS_execve), Some(&1), "{text}");
    assert_eq!(strace("execve"), Some(1), "{table}");
    assert_eq!(
        Some(ours.values().sum::<u64>()),
        strace("total"),
        "{text}\n{table}"
    );
}

#[test]
fn a_c_command_that_is_not_found_says_so() {
    let err = stderr_of(&["-e", "BEGIN { }", "-c", "no-such-command-xyz arg"]);
    assert_eq!(
        err,
        "bpfkit: -c no-such-command-xyz: not found in PATH, or not executable\n"
    );
}

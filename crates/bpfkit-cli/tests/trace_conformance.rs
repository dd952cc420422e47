//! `bpfkit trace` against Debian's bpftrace: the same scripts, the same deterministic
//! workloads (a `-c` child whose syscalls are known), byte-identical stdout.
//!
//! Scripts that touch syscalls filter on `pid == cpid` so that other processes (and
//! other tests running at the same time) do not count. Both tools' own pre-exec child
//! runs under that pid too, with their own comm, so the filters also name the workload's
//! comm.

use std::process::Command;

/// `dd` reading 20 blocks of 512 bytes from fd 0 and writing them to fd 1; its dynamic
/// loader reads 832 bytes of libc from fd 3, and locale setup two 4096-byte blocks.
const DD: &str = "/usr/bin/dd if=/dev/zero of=/dev/null bs=512 count=20 status=none";
/// `dd` copying /etc/hostname: opens it and /dev/null. (Its loader's and libc's own
/// paths are not printed: a path in a page not yet mapped reads as "" in both tools.)
const DD_OPEN: &str = "/usr/bin/dd if=/etc/hostname of=/dev/null bs=1 count=3 status=none";

/// (name, `-c` command or "", `-fFORMAT` or `params:P1 P2...` or "", script).
#[rustfmt::skip]
const SCRIPTS: &[(&str, &str, &str, &str)] = &[
    (
        "printf_integers",
        "",
        "",
        r#"BEGIN { printf("%d %u %x %X %o %5d|%-5d|%05d\n", 42, 42, 255, 255, 8, 7, 7, 7); exit(); }"#,
    ),
    (
        "printf_strings",
        "",
        "",
        r#"BEGIN { printf("[%s] [%10s] [%-10s] %c%c %% %llu %lx\n", "abc", "abc", "abc", 104, 105, 123456789012, 48879); exit(); }"#,
    ),
    (
        "arithmetic_precedence",
        "",
        "",
        r#"BEGIN { printf("%d %d %d %d %d\n", 7 + 3 * 2, (7 + 3) * 2, 17 / 5, 17 % 5, 1 << 10); exit(); }"#,
    ),
    (
        "negative_values",
        "",
        "",
        r#"BEGIN { $a = -5; printf("%d %d %d %d\n", $a, $a * 3, -$a, $a - 10); exit(); }"#,
    ),
    (
        "comparisons_and_logic",
        "",
        "",
        r#"BEGIN { printf("%d %d %d %d %d %d %d\n", 3 < 5, 5 <= 4, 2 == 2, 2 != 2, 1 && 0, 0 || 7, !0); exit(); }"#,
    ),
    (
        "bit_operations",
        "",
        "",
        r#"BEGIN { printf("%d %d %d %d %d\n", 12 & 10, 12 | 3, 12 ^ 5, 256 >> 4, ~0 & 255); exit(); }"#,
    ),
    (
        "ternary",
        "",
        "",
        r#"BEGIN { $x = 5; printf("%s %d\n", $x > 3 ? "big" : "small", $x > 10 ? 1 : 2); exit(); }"#,
    ),
    (
        "if_else_chain",
        "",
        "",
        r#"BEGIN { $v = 7; if ($v < 5) { printf("low\n"); } else if ($v < 10) { printf("mid\n"); } else { printf("high\n"); } exit(); }"#,
    ),
    (
        "scratch_compound_assignment",
        "",
        "",
        r#"BEGIN { $i = 1; $i += 5; $i *= 3; $i -= 2; $i++; $i <<= 1; printf("%d\n", $i); exit(); }"#,
    ),
    (
        "unroll",
        "",
        "",
        r#"BEGIN { $i = 0; unroll(5) { $i = $i + 2; @a[$i] = $i * 10; } exit(); }"#,
    ),
    (
        "while_loop",
        "",
        "",
        r#"BEGIN { $i = 0; $s = 0; while ($i < 10) { $i++; $s += $i; } printf("%d %d\n", $i, $s); exit(); }"#,
    ),
    (
        "map_int_values_sorted",
        "",
        "",
        r#"BEGIN { @x[1] = 10; @x[2] = 30; @x[3] = 5; @y = -7; exit(); }"#,
    ),
    (
        "map_string_keys",
        "",
        "",
        r#"BEGIN { @s["b"] = 2; @s["a"] = 1; @s["c"] = 3; exit(); }"#,
    ),
    (
        "map_tuple_keys",
        "",
        "",
        r#"BEGIN { @t[1, "x"] = 5; @t[2, "y"] = 6; @t[3, "z"] = 4; exit(); }"#,
    ),
    (
        "count_keyless",
        "",
        "",
        r#"BEGIN { @c = count(); @c = count(); @c = count(); exit(); }"#,
    ),
    (
        "sum_min_max",
        "",
        "",
        r#"BEGIN { @s = sum(5); @s = sum(7); @lo = min(9); @lo = min(4); @lo = min(6); @hi = max(3); @hi = max(11); @hi = max(8); exit(); }"#,
    ),
    (
        "avg_and_stats",
        "",
        "",
        r#"BEGIN { @a[1] = avg(10); @a[1] = avg(20); @a[2] = avg(3); @st = stats(10); @st = stats(20); @st = stats(33); exit(); }"#,
    ),
    (
        "hist_literals",
        "",
        "",
        r#"BEGIN { @h = hist(0); @h = hist(1); @h = hist(3); @h = hist(3); @h = hist(100); @h = hist(2000); @h = hist(-1); exit(); }"#,
    ),
    (
        "hist_keyed",
        "",
        "",
        r#"BEGIN { @h["a"] = hist(5); @h["b"] = hist(70); @h["b"] = hist(80); exit(); }"#,
    ),
    (
        "lhist_literals",
        "",
        "",
        r#"BEGIN { @l = lhist(-5, 0, 100, 10); @l = lhist(55, 0, 100, 10); @l = lhist(57, 0, 100, 10); @l = lhist(100, 0, 100, 10); @m = lhist(3000, 0, 10000, 1000); exit(); }"#,
    ),
    (
        "delete_element",
        "",
        "",
        r#"BEGIN { @x[1] = 1; @x[2] = 2; @x[3] = 3; delete(@x[2]); exit(); }"#,
    ),
    (
        "clear_and_zero",
        "",
        "",
        r#"BEGIN { @x[1] = 1; @y[1] = count(); @y[2] = count(); clear(@x); zero(@y); @z = 5; exit(); }"#,
    ),
    (
        "print_map_mid_run",
        "",
        "",
        r#"BEGIN { @x = 5; print(@x); @x = 6; @y[1] = count(); print(@y); exit(); }"#,
    ),
    (
        "exit_stops_the_probe",
        "",
        "",
        r#"BEGIN { printf("a\n"); exit(); printf("b\n"); @never = 1; }"#,
    ),
    (
        "end_probe",
        "",
        "",
        r#"BEGIN { @x = 41; exit(); } END { printf("end %d\n", @x + 1); }"#,
    ),
    (
        "map_reads",
        "",
        "",
        r#"BEGIN { @x[1] = 5; @n++; @n++; printf("%d %d %d\n", @x[1], @x[2], @n); exit(); }"#,
    ),
    (
        "map_increment",
        "",
        "",
        r#"BEGIN { @n++; @n++; @n += 10; @m[7]--; exit(); }"#,
    ),
    (
        "string_map_values",
        "",
        "",
        r#"BEGIN { @name["k"] = "hello"; @name["j"] = "hi"; exit(); }"#,
    ),
    (
        "casts",
        "",
        "",
        r#"BEGIN { printf("%d %d %d %d\n", (uint8)300, (int8)200, (uint16)70000, (int32)4294967295); exit(); }"#,
    ),
    (
        "string_compare",
        "",
        "",
        r#"BEGIN { $s = "abc"; if ($s == "abc") { printf("eq\n"); } if ($s != "abd") { printf("ne\n"); } exit(); }"#,
    ),
    (
        "uid_gid",
        "",
        "",
        r#"BEGIN { printf("%d %d\n", uid, gid); exit(); }"#,
    ),
    (
        "json_maps",
        "",
        "-fjson",
        r#"BEGIN { printf("hi\n"); @c[1] = count(); @s = sum(4); @a = avg(6); @st[1, "x"] = stats(3); @h = hist(5); @h = hist(-1); @l = lhist(15, 0, 100, 10); @str = "s"; exit(); }"#,
    ),
    (
        "interval",
        "",
        "",
        r#"interval:ms:50 { @n++; if (@n == 3) { exit(); } } END { printf("n=%d\n", @n); }"#,
    ),
    (
        "tp_count_reads",
        DD,
        "",
        r#"tracepoint:syscalls:sys_enter_read /pid == cpid && comm == "dd"/ { @reads = count(); }"#,
    ),
    (
        "tp_read_fds_and_sizes",
        DD,
        "",
        r#"tracepoint:syscalls:sys_enter_read /pid == cpid && comm == "dd"/ { @[args->fd, args->count] = count(); }"#,
    ),
    (
        "tp_sum_bytes",
        DD,
        "",
        r#"tracepoint:syscalls:sys_enter_read /pid == cpid && comm == "dd" && args->fd == 0/ { @bytes = sum(args->count); }"#,
    ),
    (
        "tp_hist_sizes",
        DD,
        "",
        r#"tracepoint:syscalls:sys_enter_read /pid == cpid && comm == "dd"/ { @sizes = hist(args->count); }"#,
    ),
    (
        "tp_lhist_sizes",
        DD,
        "",
        r#"tracepoint:syscalls:sys_enter_read /pid == cpid && comm == "dd"/ { @sizes = lhist(args->count, 0, 5000, 500); }"#,
    ),
    (
        "tp_stats_min_max_avg",
        DD,
        "",
        r#"tracepoint:syscalls:sys_enter_read /pid == cpid && comm == "dd"/ { @st = stats(args->count); @mn = min(args->count); @mx = max(args->count); @av = avg(args->count); }"#,
    ),
    (
        "tp_exit_ret_hist",
        DD,
        "",
        r#"tracepoint:syscalls:sys_exit_read /pid == cpid && comm == "dd"/ { @ret = hist(args->ret); }"#,
    ),
    (
        "tp_printf_each_write",
        DD,
        "",
        r#"tracepoint:syscalls:sys_enter_write /pid == cpid && comm == "dd"/ { printf("fd=%d count=%d\n", args->fd, args->count); }"#,
    ),
    (
        "tp_comm_tuple_key",
        DD,
        "",
        r#"tracepoint:syscalls:sys_enter_write /pid == cpid && comm == "dd"/ { @[comm, args->fd] = count(); }"#,
    ),
    (
        "tp_probe_builtin_multi_attach",
        DD,
        "",
        r#"tracepoint:syscalls:sys_enter_read,tracepoint:syscalls:sys_enter_write /pid == cpid && comm == "dd"/ { @[probe] = count(); }"#,
    ),
    (
        "tp_wildcard",
        DD,
        "",
        r#"tracepoint:syscalls:sys_enter_rea* /pid == cpid && comm == "dd"/ { @[probe] = count(); }"#,
    ),
    (
        "tp_str_filename",
        DD_OPEN,
        "",
        r#"tracepoint:syscalls:sys_enter_openat /pid == cpid && comm == "dd"/ { $f = str(args->filename); if ($f == "/etc/hostname" || $f == "/dev/null") { printf("%s\n", $f); } @opens = count(); }"#,
    ),
    (
        "tp_if_else_classify",
        DD,
        "",
        r#"tracepoint:syscalls:sys_enter_read /pid == cpid && comm == "dd"/ { if (args->count < 1000) { @small++; } else { @large++; } }"#,
    ),
    (
        "tp_scratch_and_ternary",
        DD,
        "",
        r#"tracepoint:syscalls:sys_enter_read /pid == cpid && comm == "dd"/ { $kb = args->count / 1024; @[$kb > 0 ? 1 : 0] = sum(args->count); }"#,
    ),
    (
        "tp_enter_exit_pair",
        DD,
        "",
        r#"tracepoint:syscalls:sys_enter_read /pid == cpid && comm == "dd"/ { @start[tid] = args->count; } tracepoint:syscalls:sys_exit_read /pid == cpid && @start[tid] != 0/ { @asked_vs_got[@start[tid], args->ret] = count(); delete(@start[tid]); }"#,
    ),
    (
        "tp_exit_after_n_events",
        DD,
        "",
        r#"tracepoint:syscalls:sys_enter_write /pid == cpid && comm == "dd"/ { @w++; if (@w == 20) { printf("last\n"); exit(); } }"#,
    ),
    (
        "tp_end_summary",
        DD,
        "",
        r#"tracepoint:syscalls:sys_enter_read /pid == cpid && comm == "dd" && args->fd == 0/ { @n++; @b += args->count; } END { printf("reads=%d bytes=%d\n", @n, @b); }"#,
    ),
    ("str_with_length", DD_OPEN, "", r#"tracepoint:syscalls:sys_enter_openat /pid == cpid && comm == "dd"/ { $f = str(args->filename, 8); if ($f == "/etc/hos") { printf("[%s]\n", $f); } }"#),
    ("while_break_continue", "", "", r#"BEGIN { $i = 0; $odd = 0; while ($i < 20) { $i++; if ($i > 9) { break; } if ($i % 2 == 0) { continue; } $odd += $i; } printf("%d %d\n", $i, $odd); exit(); }"#),
    ("return_skips_the_rest", "", "", r#"BEGIN { @a = 1; if (@a == 1) { exit(); return; } @b = 2; }"#),
    ("negative_keys_and_sums", "", "", r#"BEGIN { @k[-3] = sum(-10); @k[-3] = sum(4); @k[2] = sum(-1); @d = -9 / 2; @r = -9 % 4; exit(); }"#),
    ("predicate_not_and_or", DD, "", r#"tracepoint:syscalls:sys_enter_read /pid == cpid && !(comm != "dd") && (args->fd == 0 || args->fd == 99)/ { @n = count(); }"#),
    ("pid_tid_comm_printf", DD, "", r#"tracepoint:syscalls:sys_enter_write /pid == cpid && comm == "dd" && args->fd == 1/ { @w++; if (@w == 1) { printf("pid=%d ok=%d comm=%-8s|\n", pid, pid == tid, comm); } }"#),
    ("sys_exit_errors", DD_OPEN, "", r#"tracepoint:syscalls:sys_exit_openat /pid == cpid && comm == "dd"/ { @[args->ret < 0 ? -1 : 1] = count(); }"#),
    ("hist_and_lhist_same_value", DD, "", r#"tracepoint:syscalls:sys_exit_write /pid == cpid && comm == "dd"/ { @h = hist(args->ret); @l = lhist(args->ret, 0, 1024, 256); @s = sum(args->ret); }"#),
    ("raw_syscalls_by_id", DD, "", r#"tracepoint:raw_syscalls:sys_enter /pid == cpid && comm == "dd"/ { @[args->id] = count(); }"#),
    ("curtask_fields", "", "", r#"BEGIN { printf("%d %d %d %d %d\n", curtask->tgid == pid, curtask->pid == tid, curtask->real_parent->tgid > 0, curtask->mm->mm_users.counter > 0, curtask->se.vruntime > 0); exit(); }"#),
    ("curtask_in_tracepoint", DD, "", r#"tracepoint:syscalls:sys_enter_write /pid == cpid && comm == "dd"/ { @[curtask->comm, curtask->tgid == cpid, curtask->real_parent->tgid != cpid] = count(); }"#),
    ("cgroup_numaid_rand", "", "", r#"BEGIN { printf("%d %d %d\n", cgroup > 0, numaid, rand >= 0); exit(); }"#),
    ("positional_parameters", "", "params:42 hello", r#"BEGIN { printf("%d %s %d %d\n", $1, str($2), $#, $3); @[str($2)] = $1 * 2; exit(); }"#),
    ("join_argv", DD, "", r#"tracepoint:syscalls:sys_enter_execve /pid == cpid/ { printf("exec: "); join(args->argv); join(args->argv, ","); }"#),
    ("join_json", DD, "-fjson", r#"tracepoint:syscalls:sys_enter_execve /pid == cpid/ { join(args->argv); }"#),
    ("struct_pointer_casts", "", "", r#"BEGIN { $t = (struct task_struct *)curtask; printf("%d %d %d\n", $t->tgid == pid, ((struct task_struct *)curtask)->real_parent->pid > 0, $t->se.vruntime > 0); exit(); }"#),
    ("args_struct_pointer_user", "/usr/bin/sleep 0.25", "", r#"tracepoint:syscalls:sys_enter_clock_nanosleep /pid == cpid/ { printf("%d %d\n", args->rqtp->tv_sec, args->rqtp->tv_nsec); @ns = sum(args->rqtp->tv_nsec); }"#),
    ("strncmp", "", "", r#"BEGIN { printf("%d %d %d %d %d\n", strncmp("abcd", "abxx", 2), strncmp("abcd", "abxx", 3), strncmp("ab", "ab", 10), strncmp("ab", "abc", 3), strncmp("", "", 0)); exit(); }"#),
    ("strncmp_comm_predicate", DD, "", r#"tracepoint:syscalls:sys_enter_write /pid == cpid && strncmp(comm, "ddx", 2) == 0/ { @w = count(); }"#),
    ("maps_never_written", "", "", r#"BEGIN { if (0) { @c = count(); @ck[1] = count(); @h = hist(1); @s[1] = stats(1); @a = avg(1); @x = 1; @m = sum(1); } exit(); }"#),
    (
        "print_top_and_div",
        "",
        "",
        r#"BEGIN { @x[1] = 10; @x[2] = 30; @x[3] = 20; @x[4] = 5; print(@x, 2); print(@x, 0, 10); clear(@x); exit(); }"#,
    ),
    (
        "print_div_avg_hist_stats",
        "",
        "",
        r#"BEGIN { @a = avg(10); @a = avg(20); @s = stats(7); @h = hist(100); @h = hist(100); @h = hist(3000); @m["k"] = max(9); print(@a, 0, 4); print(@h, 0, 2); print(@s, 0, 3); print(@m, 0, 2); clear(@a); clear(@h); clear(@s); exit(); }"#,
    ),
    (
        "sizeof_types",
        "",
        "",
        r#"BEGIN { printf("%d %d %d %d %d %d %d\n", sizeof(int32), sizeof(uint8), sizeof(comm), sizeof(1), sizeof(struct task_struct), sizeof("abc"), sizeof(str($1))); exit(); }"#,
    ),
    (
        "print_values",
        "",
        "",
        r#"BEGIN { print(1); print("x"); $a = -3; print($a); @m = 5; print(@m); print(@m + 1); print((uint64)-1); exit(); }"#,
    ),
    (
        "printf_length_modifiers",
        "",
        "",
        r#"BEGIN { printf("%d|%x|%u|%ld|%hd|%hhx|%lu|%X|%o|%hu\n", 0x100000001, -1, -1, 0x100000001, 0x1ffff, 0x1ffff, -1, -2, -1, -1); exit(); }"#,
    ),
    (
        "tp_kstack_modes",
        DD_OPEN,
        "",
        r#"tracepoint:syscalls:sys_enter_openat /pid == cpid && comm == "dd"/ { @[kstack(perf, 3)] = count(); @k[kstack(2)] = count(); }"#,
    ),
    (
        "uprobe_libc_write",
        DD,
        "",
        r#"uprobe:libc:write /pid == cpid/ { @writes = count(); @sizes[arg2] = count(); }"#,
    ),
    (
        "uprobe_short_name_probe_builtin",
        DD,
        "",
        r#"uprobe:libc:write /pid == cpid/ { @[probe] = count(); }"#,
    ),
    (
        "uretprobe_libc_read",
        DD,
        "",
        r#"uretprobe:libc:read /pid == cpid && comm == "dd"/ { @ret = lhist(retval, 0, 1000, 100); }"#,
    ),
    ("kstack_ksym_kaddr", DD, "", r#"tracepoint:syscalls:sys_enter_write /pid == cpid && comm == "dd"/ { @[kstack] = count(); @s[kstack(2)] = count(); @k[ksym(kaddr("vfs_read") + 3)] = count(); $k = kstack(1); @v[$k, ksym(kaddr("vfs_write"))] = count(); }"#),
    ("kstack_as_map_value_and_key_biostacks", DD, "", r#"tracepoint:syscalls:sys_enter_write /pid == cpid && comm == "dd"/ { @reqstack[tid] = kstack; @reqts[tid] = nsecs; @last = kstack(3); @ks[1] = ksym(kaddr("vfs_read")); } tracepoint:syscalls:sys_exit_write /pid == cpid && comm == "dd" && @reqts[tid]/ { @writes[@reqstack[tid]] = count(); @by[@reqstack[tid], comm] = count(); delete(@reqstack[tid]); delete(@reqts[tid]); } END { clear(@reqts); }"#),
    ("kstack_map_value_json", DD, "-fjson", r#"tracepoint:syscalls:sys_enter_write /pid == cpid && comm == "dd"/ { @reqstack[1] = kstack(2); @ks[1] = ksym(kaddr("vfs_read")); @w[kstack(1)] = count(); }"#),
    ("printf_kstack_ksym", DD, "", r#"tracepoint:syscalls:sys_enter_write /pid == cpid && comm == "dd"/ { printf("%s|%s|%lx\n", ksym(kaddr("do_sys_openat2")), kstack(2), kaddr("vfs_read")); }"#),
    ("ntop_ipv4", "", "", r#"BEGIN { printf("%s|%s|%s\n", ntop(0x0100007f), ntop(2, 0x0101a8c0), ntop(0)); @[ntop(0x08080808), 1] = count(); $a = ntop(0x0a00000a); @b[$a] = count(); exit(); }"#),
    ("script_struct_layout", "", "", r#"struct X { char a[3]; int b; char c; short d; struct X *next; long e; unsigned char f; }; BEGIN { $x = (struct X *)kaddr("vfs_read"); printf("%d|%d|%d|%d|%ld|%d\n", $x->b, $x->c, $x->d, $x->next->b, $x->e, $x->f); @[$x->d, $x->f] = count(); exit(); }"#),
    ("union_enum_definitions", "", "", r#"enum Color { RED, GREEN = 5, BLUE }; union U { int a; char b[8]; long c; }; struct S { unsigned int x; union U u; enum Color col; }; BEGIN { $p = (struct S *)kaddr("vfs_read"); $q = (union U *)kaddr("vfs_read"); printf("%d %d %d|%d %d %d|%d %ld %s\n", RED, GREEN, BLUE, $p->x, $p->u.a, $p->col, $q->a, $q->c, $q->b); @[BLUE, $p->u.c] = count(); exit(); }"#),
    ("cat_files", "", "", r#"BEGIN { cat("/etc/hostname"); printf("X\n"); cat("/proc/%d/comm", 1); cat("/nonexistent"); cat("/proc/%s", "version"); exit(); }"#),
    ("cat_json", "", "-fjson", r#"BEGIN { cat("/etc/hostname"); printf("X\n"); cat("/nonexistent"); exit(); }"#),
    ("buf_hex_escaped", "", "", r#"BEGIN { printf("%r|\n", buf(kaddr("vfs_read"), 16)); @[buf(kaddr("vfs_read"), 5)] = count(); $n = 3; printf("%r|\n", buf(kaddr("vfs_write"), $n)); exit(); }"#),
    ("bswap_sizes", "", "", r#"BEGIN { $a = (uint16)0x1234; $b = (int32)0x12345678; $c = bswap($a); printf("%x %x %lx %x %lx %x %x %d %d %x\n", bswap((uint16)0x1234), bswap((uint32)0x12345678), bswap(0x0102030405060708), bswap($a), bswap($a + 1), bswap((uint8)0x12), bswap($b), bswap((int16)0x0080), bswap((int8)-1), bswap($c)); @[bswap((uint16)0x0102)] = count(); exit(); }"#),
    ("bswap_fields", DD, "", r#"tracepoint:syscalls:sys_enter_write /pid == cpid && comm == "dd"/ { $p = curtask->pid; @[bswap(args->fd), bswap((uint16)args->count), bswap(curtask->prio), bswap(bswap($p)) == tid] = count(); }"#),
    ("ntop_af_names_and_var_from_map_written_later", "", "", "#include <sys/socket.h>\nBEGIN { $s = ntop(AF_INET, 0x0100007f); $t = ntop(AF_INET6, 0); printf(\"%s|%s\\n\", $s, $t); @name[1] = \"x\"; $v = @name[1]; if ($v == \"x\") { printf(\"%s\\n\", $v); } exit(); }"),
    (
        "tp_json",
        DD,
        "-fjson",
        r#"tracepoint:syscalls:sys_enter_read /pid == cpid && comm == "dd"/ { @sizes = hist(args->count); @c[args->fd] = count(); }"#,
    ),
];

/// bpftrace, when the tools can be compared here: as root (tracing needs CAP_BPF and
/// CAP_PERFMON), with bpftrace installed; tracefs is mounted for both (bpftrace does not mount
/// it itself). Otherwise `None`, after printing the `SKIP` line.
fn bpftrace() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("SKIP not root: tracing needs CAP_BPF and CAP_PERFMON");
        return None;
    }
    let Some(bpftrace) = [
        "/usr/bin/bpftrace",
        "/usr/sbin/bpftrace",
        "/usr/local/bin/bpftrace",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists()) else {
        println!("SKIP bpftrace is not installed (apt-get install bpftrace)");
        return None;
    };
    if let Err(e) = bpfkit::sys::tracefs::tracefs_dir() {
        panic!("tracefs: {e}");
    }
    Some(bpftrace.to_string())
}

fn run(tool: &str, prefix: &[&str], cmd: &str, flag: &str, script: &str) -> String {
    let mut c = Command::new(tool);
    c.args(prefix);
    if !cmd.is_empty() {
        c.args(["-c", cmd]);
    }
    if let Some(format) = flag.strip_prefix("-f") {
        c.args(["-f", format]);
    }
    c.args(["-e", script]);
    if let Some(params) = flag.strip_prefix("params:") {
        c.args(params.split_whitespace());
    }
    // Cargo's library path would make the workload's loader probe extra directories.
    c.env_remove("LD_LIBRARY_PATH");
    let out = c.output().expect("run tracer");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        // Shown in the mismatch report.
        return format!(
            "{stdout}\nFAILED ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    normalize(&stdout)
}

/// Map elements with equal values come out of bpftrace in the kernel's hash order, which
/// changes from run to run: sort each run of `@map...: value` lines that share the map
/// and the value. Nothing else is touched.
fn sort_ties(lines: Vec<String>) -> Vec<String> {
    fn map_and_value(l: &str) -> Option<(&str, &str)> {
        if !l.starts_with('@') {
            return None;
        }
        let name_end = l.find(['[', ':'])?;
        let (_, value) = l.rsplit_once(": ")?;
        Some((&l[..name_end], value))
    }
    let mut out: Vec<String> = vec![];
    let mut group: Vec<String> = vec![];
    for l in lines {
        let same = match (group.last(), map_and_value(&l)) {
            (Some(g), Some(cur)) => map_and_value(g) == Some(cur),
            _ => false,
        };
        if !same {
            group.sort();
            out.append(&mut group);
        }
        if map_and_value(&l).is_some() {
            group.push(l);
        } else {
            out.push(l);
        }
    }
    group.sort();
    out.append(&mut group);
    out
}

/// Only pids, times and the order of equal map values may differ.
fn normalize(s: &str) -> String {
    let lines = s
        .lines()
        .map(|l| {
            if l.contains("pid=") || l.contains("ns=") {
                l.split(' ')
                    .map(|w| match w.split_once('=') {
                        Some((k, _)) if k == "pid" || k == "ns" => format!("{k}=N"),
                        _ => w.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>();
    sort_ties(lines).join("\n")
}

#[test]
fn scripts_print_what_bpftrace_prints() {
    let Some(bpftrace) = bpftrace() else {
        return;
    };
    let bpfkit = env!("CARGO_BIN_EXE_bpfkit");
    // Two scripts at a time: every script filters on its own `-c` child (or touches no
    // syscalls), so runs do not see each other's events.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(vec![]);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some((name, cmd, flag, script)) = SCRIPTS.get(i) else {
                    return;
                };
                let want = run(&bpftrace, &[], cmd, flag, script);
                let got = run(bpfkit, &["trace"], cmd, flag, script);
                if want != got {
                    failures.lock().unwrap().push(format!(
                        "--- {name}: {script}\n--- bpftrace:\n{want}\n--- bpfkit trace:\n{got}\n"
                    ));
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    println!(
        "{} of {} scripts print what bpftrace prints",
        SCRIPTS.len() - failures.len(),
        SCRIPTS.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Debian's bpftrace 0.17 aborts on `rawtracepoint:` ("Invalid probe type made it to
/// attachpoint parser"), so the raw tracepoint is checked against bpftrace's
/// `raw_syscalls:sys_enter` tracepoint: the same events, the syscall id as `arg1`.
#[test]
fn rawtracepoint_counts_what_the_raw_syscalls_tracepoint_counts() {
    let Some(bpftrace) = bpftrace() else {
        return;
    };
    let want = run(
        &bpftrace,
        &[],
        DD,
        "",
        r#"tracepoint:raw_syscalls:sys_enter /pid == cpid && comm == "dd"/ { @[args->id] = count(); }"#,
    );
    let got = run(
        env!("CARGO_BIN_EXE_bpfkit"),
        &["trace"],
        DD,
        "",
        r#"rawtracepoint:sys_enter /pid == cpid && comm == "dd"/ { @[arg1] = count(); }"#,
    );
    assert!(want.contains("@[0]: "), "{want}");
    assert_eq!(got, want);
}

/// USDT probes of a test program (`testdata/c/userspace/usdt_target.c`: `bpfkit:tick` fired
/// with `(int i, unsigned long i * 10)` for i in 0..COUNT), both forms of the attach point,
/// against bpftrace. (Maps only: the target's own stdout interleaves with printf lines.)
#[test]
fn usdt_prints_what_bpftrace_prints() {
    let Some(bpftrace) = bpftrace() else {
        return;
    };
    let target = bpfkit_test_support::c_program("usdt_target");
    let target = target.to_str().expect("UTF-8 path");
    let cmd = format!("{target} 5");
    let scripts = [
        format!("usdt:{target}:bpfkit:tick {{ @[arg0] = sum(arg1); @n = count(); }}"),
        format!(
            "usdt:{target}:tick {{ @s = sum(arg0); @m = max(arg1); @h = lhist(arg1, 0, 50, 10); }}"
        ),
    ];
    let bpfkit = env!("CARGO_BIN_EXE_bpfkit");
    for script in &scripts {
        // The target prints "<pid> ready" on the same stdout.
        let pidless = |s: String| {
            s.lines()
                .map(|l| if l.ends_with(" ready") { "N ready" } else { l })
                .collect::<Vec<_>>()
                .join("\n")
        };
        let want = pidless(run(&bpftrace, &[], &cmd, "", script));
        let got = pidless(run(bpfkit, &["trace"], &cmd, "", script));
        assert_eq!(want, got, "{script}");
        assert!(got.contains("4"), "{got}");
    }
}

/// `ustack`, `ustack(n)` and `usym()` in a uprobe of a test program
/// (`testdata/c/userspace/ustack_target.c`: main -> outer -> middle -> leaf(x, middle),
/// frame pointers kept, alive 300 ms after its last call) against bpftrace: printf output
/// while the process lives is symbolized (`leaf+0`, `middle`); map keys printed at exit,
/// after the process is gone, are raw addresses in both tools, which differ by ASLR only
/// and are normalised.
#[test]
fn ustack_and_usym_print_what_bpftrace_prints() {
    let Some(bpftrace) = bpftrace() else {
        return;
    };
    let target = bpfkit_test_support::c_program("ustack_target");
    let target = target.to_str().expect("UTF-8 path");
    let cmd = format!("{target} 2");
    let script = format!(
        r#"uprobe:{target}:leaf {{ printf("%s|%s|%s|%s|%s|\n", ustack(3), usym(arg1), usym(arg1 + 3), usym(0), usym(1234)); @[usym(arg1)] = count(); @s[ustack(2)] = count(); $s = ustack; @n[$s] = count(); }}"#
    );
    // The target's own line ("17", the sum) shares stdout with the tracer's printf lines
    // at a point that varies: dropped from both.
    let addresses = |s: String| {
        let s = s
            .lines()
            .filter(|l| *l != "17")
            .collect::<Vec<_>>()
            .join("\n");
        s.split_inclusive(['\n', ' ', '['])
            .map(|w| {
                let t = w.trim_end_matches(['\n', ' ', '[', ']', ':']);
                match t.strip_prefix("0x") {
                    Some(h) if h.len() >= 8 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
                        w.replacen(t, "0xADDR", 1)
                    }
                    _ => w.to_string(),
                }
            })
            .collect::<String>()
    };
    let want = addresses(run(&bpftrace, &[], &cmd, "", &script));
    let got = addresses(run(
        env!("CARGO_BIN_EXE_bpfkit"),
        &["trace"],
        &cmd,
        "",
        &script,
    ));
    assert_eq!(want, got, "{script}");
    assert!(got.contains("\n        leaf+0\n        outer+"), "{got}");
    assert!(got.contains("|middle|middle|0|0x4d2|"), "{got}");
}

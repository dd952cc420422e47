// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture prog_trampoline_sleepable: the sleepable TRACING programs fentry.s/, fexit.s/ and
 * fmod_ret.s/ (BPF_F_SLEEPABLE). A kernel lets a TRACING program sleep only on a function in
 * its error-injection list (every syscall's __x64_sys_* wrapper is in it), so the target is
 * __x64_sys_unlinkat (x86_64, like every fixture here), and the object needs
 * CONFIG_FUNCTION_ERROR_INJECTION: Debian's 6.1 lacks it and refuses each program with
 * "__x64_sys_unlinkat is not sleepable". Kept apart from prog_trampoline so that object
 * loads there. The host refuses trampolines with EPERM at load.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("fentry.s/__x64_sys_unlinkat")
int BPF_PROG(fentry_sleepable_unlinkat, const struct pt_regs *regs) { return 0; }

SEC("fexit.s/__x64_sys_unlinkat")
int BPF_PROG(fexit_sleepable_unlinkat, const struct pt_regs *regs, long ret) { return 0; }

SEC("fmod_ret.s/__x64_sys_unlinkat")
int BPF_PROG(fmod_ret_sleepable_unlinkat, const struct pt_regs *regs) { return 0; }

char LICENSE[] SEC("license") = "GPL";

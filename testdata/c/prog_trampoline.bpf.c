// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture prog_trampoline: programs that need a BPF trampoline (TRACING/LSM with an
 * attach_btf_id), which hosts with ftrace locked down refuse with EPERM at load:
 * fentry/, fexit/, fmod_ret/, lsm/ and lsm.s/ (LSM with BPF_LSM_MAC), lsm_cgroup/
 * (BPF_LSM_CGROUP). Every program here loads on Linux 6.1 and 6.18 where trampolines are
 * allowed; the sleepable TRACING forms live in prog_trampoline_sleepable, because a kernel
 * without CONFIG_FUNCTION_ERROR_INJECTION (Debian's 6.1) refuses them on any target.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("fentry/do_unlinkat")
int BPF_PROG(fentry_unlinkat, int dfd, struct filename *name) { return 0; }

SEC("fexit/do_unlinkat")
int BPF_PROG(fexit_unlinkat, int dfd, struct filename *name, int ret) { return 0; }

SEC("fmod_ret/security_file_open")
int BPF_PROG(fmod_ret_file_open, struct file *file) { return 0; }

SEC("lsm/file_open")
int BPF_PROG(lsm_file_open, struct file *file) { return 0; }

SEC("lsm.s/file_open")
int BPF_PROG(lsm_sleepable_file_open, struct file *file) { return 0; }

SEC("lsm_cgroup/socket_bind")
int BPF_PROG(lsm_cgroup_socket_bind, struct socket *sock, struct sockaddr *address, int addrlen)
{
	return 1;
}

char LICENSE[] SEC("license") = "GPL";

// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture kprobe_session: `unlink_session` (SEC("kprobe.session/do_unlinkat"), KPROBE
 * with BPF_TRACE_KPROBE_SESSION, Linux 6.10) runs on entry and on return of do_unlinkat
 * as one session. For the thread whose id is the .rodata constant target_tid it counts
 * entries in slot 0 and returns in slot 1 of the array map `counts`, telling them apart
 * with the kfunc bpf_session_is_return(), and keeps the entry's tid in the session cookie
 * (bpf_session_cookie()) so the return run adds it to slot 2.
 *
 * libbpf 1.1 (bpftool 7.1) predates the kprobe.session section name; the host has no
 * kprobes: it is attached in the kernel-matrix VM (tests/vm_kprobe_session.rs).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

extern bool bpf_session_is_return(void) __ksym;
extern __u64 *bpf_session_cookie(void) __ksym;

const volatile __u32 target_tid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

static __always_inline void add(__u32 slot, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&counts, &slot);

	if (v)
		__sync_fetch_and_add(v, n);
}

SEC("kprobe.session/do_unlinkat")
int unlink_session(struct pt_regs *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 *cookie;

	if (tid != target_tid)
		return 1; /* not ours: no return run */
	cookie = bpf_session_cookie();
	if (bpf_session_is_return()) {
		add(1, 1);
		add(2, *cookie);
	} else {
		add(0, 1);
		*cookie = tid;
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";

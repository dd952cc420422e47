// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture arena: a BPF_MAP_TYPE_ARENA map (type 33, Linux 6.9; newer than Debian's 6.1
 * UAPI header and libbpf 1.1): key and value size 0, max_entries = 4 pages,
 * BPF_F_MMAPABLE, map_extra = 0x10000000, the user address of the arena (a program
 * using an arena needs it set here or by an mmap() before load; libbpf 1.1 does
 * neither, and its `__uint` map attributes stop at 32 bits). The syscall program
 * `touch_arena` only references the map, so the object needs no arena kfuncs or
 * address-space casts.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, 33); /* BPF_MAP_TYPE_ARENA */
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 4);
	__uint(map_extra, 0x10000000);
} arena SEC(".maps");

SEC("syscall")
int touch_arena(void *ctx)
{
	void *volatile map = &arena;

	return map != 0;
}

char LICENSE[] SEC("license") = "GPL";

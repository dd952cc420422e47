// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture kconfig: `.kconfig` externs resolved by the loader from the kernel config
 * (/proc/config.gz): LINUX_KERNEL_VERSION (computed by the loader, not in the config),
 * a bool (CONFIG_BPF_SYSCALL=y), an int (CONFIG_HZ), a __weak string
 * (CONFIG_DEFAULT_HOSTNAME, a char array) and a __weak option no kernel defines
 * (CONFIG_BPFKIT_NOT_A_REAL_OPTION, which must read as zero).
 */
#include <linux/bpf.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>

extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern bool CONFIG_BPF_SYSCALL __kconfig;
extern int CONFIG_HZ __kconfig;
extern char CONFIG_DEFAULT_HOSTNAME[64] __kconfig __weak;
extern int CONFIG_BPFKIT_NOT_A_REAL_OPTION __kconfig __weak;

__u64 seen_version;
__u64 seen_hz;
__u64 seen_syscall;
__u64 seen_missing;
char seen_hostname_first;

SEC("socket")
int read_kconfig(struct __sk_buff *skb)
{
	seen_version = LINUX_KERNEL_VERSION;
	seen_hz = CONFIG_HZ;
	seen_syscall = CONFIG_BPF_SYSCALL;
	seen_missing = CONFIG_BPFKIT_NOT_A_REAL_OPTION;
	seen_hostname_first = CONFIG_DEFAULT_HOSTNAME[0];
	return 0;
}

char LICENSE[] SEC("license") = "GPL";

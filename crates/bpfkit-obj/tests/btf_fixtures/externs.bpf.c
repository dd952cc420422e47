// Extern-backed DATASECs for the BTF tests: .kconfig values of several sizes, a typed
// ksym variable and a kfunc whose prototype has an unnamed parameter.
#include <linux/types.h>

#define SEC(name) __attribute__((section(name), used))
#define __kconfig __attribute__((section(".kconfig")))
#define __ksym __attribute__((section(".ksyms")))

struct task_struct;

extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern _Bool CONFIG_BPF_SYSCALL __kconfig;
extern char CONFIG_HZ_TEXT[8] __kconfig;
extern unsigned long long CONFIG_HZ __kconfig;
extern const int bpf_prog_active __ksym;
extern struct task_struct *bpf_task_acquire(struct task_struct *) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;

__u64 out;

SEC("tp_btf/task_newtask")
int prog(__u64 *ctx)
{
	struct task_struct *t = bpf_task_acquire((struct task_struct *)ctx[0]);

	if (t)
		bpf_task_release(t);
	out = LINUX_KERNEL_VERSION + CONFIG_BPF_SYSCALL + CONFIG_HZ + CONFIG_HZ_TEXT[0] +
	      (__u64)&bpf_prog_active;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";

// Every BTF kind clang-19 emits, for the BTF tests: FLOAT, DECL_TAG, TYPE_TAG, ENUM64,
// signed ENUM, bitfields, union, forward declarations, modifiers, global and static
// functions, and variables in .data, .bss, .rodata and a '?'-less custom section.
#include <linux/types.h>

#define SEC(name) __attribute__((section(name), used))
#define __tag(x) __attribute__((btf_decl_tag(x)))
#define __utag __attribute__((btf_type_tag("user")))

struct fwd_struct;
union fwd_union;

enum small_signed { NEG = -2, POS = 3 };
enum big64 { BIG_A = 0x100000000ULL, BIG_B = 0xffffffffffffffffULL };

struct __tag("tagged_struct") record {
	unsigned int flag_a : 1;
	unsigned int flag_b : 3;
	int value __tag("member_tag");
	union {
		__u64 as_u64;
		double as_double;
	} u;
	char name[16];
	const volatile int *restrict p;
	int __utag *user_ptr;
	struct fwd_struct *fs;
	union fwd_union *fu;
	enum small_signed s;
	enum big64 b;
	float ratio;
};

typedef struct record record_t;

record_t global_record = { .value = 1 };
double global_double = 2.5;
__u64 counter;
const volatile __u32 config_value = 7;
int custom_var SEC(".data.custom") = 9;

static __attribute__((noinline)) int helper(record_t *r, int x)
{
	return r->value + x;
}

__attribute__((noinline)) int __tag("global_fn") global_fn(int a)
{
	return a * 3;
}

SEC("tracepoint/syscalls/sys_enter_getpid")
int prog(void *ctx)
{
	counter += helper(&global_record, config_value) + global_fn(custom_var) +
		   (int)sizeof(global_double);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";

// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture btf_kinds: BTF kinds the corpus lacks. ENUM64 (an enum with a value above
 * u32), FLOAT (float and double members of a global struct), DECL_TAG (on a struct, a
 * member, a global variable, a function and one of its parameters) and TYPE_TAG (a
 * `__user`-style tagged pointer member). Only integers are computed at run time; the
 * float members are plain storage, as BPF has no floating-point instructions.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define __tag(x) __attribute__((btf_decl_tag(x)))
#define __type_tag(x) __attribute__((btf_type_tag(x)))

enum wide_flags {
	WIDE_LOW = 1,
	WIDE_HIGH = 0x1234567800000000ULL,
};

struct tagged_record {
	int plain __tag("member_tag");
	float ratio;
	double precise;
	enum wide_flags flags;
	char __type_tag("user") *user_ptr;
} __tag("struct_tag");

struct tagged_record record __tag("var_tag") = {
	.plain = 1,
	.flags = WIDE_HIGH,
};

__attribute__((noinline)) int tagged_helper(int value __tag("param_tag")) __tag("func_tag")
{
	return value + 1;
}

SEC("socket")
int use_btf_kinds(struct __sk_buff *skb)
{
	record.plain = tagged_helper(record.plain);
	return record.flags == WIDE_HIGH;
}

char LICENSE[] SEC("license") = "GPL";

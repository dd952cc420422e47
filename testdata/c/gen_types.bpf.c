// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture gen_types: the C layouts bpfkit-gen must reproduce in Rust. Bitfields (signed,
 * enum-typed, crossing bytes, a 64-bit one straddling nine bytes in a packed struct), packed
 * and over-aligned structs, 64-bit and signed enums with duplicate values, C identifiers that
 * are Rust keywords, a struct and a typedef of the same name, a typedef of another type named
 * like a struct, a flexible array, function pointers and anonymous members. The initialized
 * globals give the tests clang's own bytes for known bitfield values.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

enum wide64 { W_LOW = 1, W_HIGH = 0xfedcba9876543210ULL };
enum small_signed { S_NEG = -2, S_POS = 7 };
enum dup { D_A = 1, D_B = 1, D_C = 3 };

struct bits {
	unsigned int a : 3;
	int b : 5;
	unsigned long long c : 40;
	enum small_signed e : 4;
	unsigned char flag : 1;
	unsigned int : 0;
	unsigned short after;
	long long neg : 33;
};

struct __attribute__((packed)) span9 {
	unsigned char lo : 4;
	unsigned long long x : 64;
	unsigned char hi : 4;
};

struct __attribute__((packed)) packed_rec {
	char c;
	unsigned int i;
	unsigned long long l;
	unsigned short s;
};

struct aligned_rec {
	int x;
} __attribute__((aligned(16)));

struct holds_aligned {
	char c;
	struct aligned_rec r;
	enum wide64 w;
	enum dup d;
};

struct keywords {
	int type;
	int match;
	int self;
	int fn;
	int Self;
	int _;
};

struct clash {
	int a;
};
typedef struct clash clash;

struct clash2 {
	long x;
};
typedef int clash2;

struct flex {
	int n;
	unsigned long long data[];
};

struct with_fnptr {
	int (*cb)(int, void *);
	void (*done)(void);
	const char *name;
};

struct with_anon {
	int kind;
	union {
		int i;
		struct {
			short lo, hi;
		};
	};
	struct {
		char tag;
	} inner;
};

typedef struct {
	int q;
} anon_typedef_t;

union bits_union {
	unsigned int word;
	unsigned int low : 7;
	int sgn : 12;
};

struct all_types {
	struct bits bits;
	struct span9 span;
	struct packed_rec packed;
	struct holds_aligned aligned;
	struct keywords kw;
	clash c1;
	clash2 c2;
	struct clash2 c3;
	struct with_fnptr fp;
	struct with_anon anon;
	anon_typedef_t td;
	union bits_union bu;
	struct flex flex;
};

struct bits bits_val = {
	.a = 5, .b = -3, .c = 0xab12345678ULL, .e = S_NEG, .flag = 1, .after = 0xbeef,
	.neg = -4000000000LL,
};
struct span9 span_val = { .lo = 0xa, .x = 0xfedcba9876543210ULL, .hi = 0x5 };
union bits_union bu_val = { .sgn = -1000 };
struct all_types all_val;

SEC("socket")
int use_gen_types(struct __sk_buff *skb)
{
	return bits_val.a + span_val.lo + all_val.c1.a + bu_val.low;
}

char LICENSE[] SEC("license") = "GPL";

// SPDX-License-Identifier: GPL-2.0
// clang-flags: -mcpu=v4
/*
 * Fixture cpu_v4_atomics: instructions of BPF ISA v4 and the atomic family, compiled
 * with -mcpu=v4. Signed division and modulo (sdiv/smod, BPF_ALU64|BPF_DIV/MOD with
 * off=1), sign-extending moves (movsx, off=8/16/32), byte swaps (bswap16/32/64,
 * BPF_ALU64|BPF_END), sign-extending loads (BPF_MEMSX), an unconditional 32-bit jump
 * (gotol, BPF_JMP32|BPF_JA) written in inline asm, jmp32 comparisons, and atomics:
 * add/and/or/xor with and without BPF_FETCH, xchg and cmpxchg on 32 and 64 bits.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__s64 numerator = -7;
__s64 denominator = 2;
__s64 quotient, modulo;
__s64 widened8, widened16, widened32;
__u64 swapped16, swapped32, swapped64;
__s64 loaded_sx;
__u64 counter64;
__u32 counter32;
__u64 fetched[8];
__s8 small = -3;
__s16 medium = -300;
__s32 large = -70000;

SEC("socket")
int v4_and_atomics(struct __sk_buff *skb)
{
	volatile __s8 *small_p = &small;
	__u64 value = numerator;
	__u32 word = (__u32)numerator;

	__s64 rem = numerator;

	quotient = numerator / denominator;
	/* clang lowers `%` to sdiv+mul+sub; ask for smod explicitly. */
	asm volatile("%[rem] s%%= %[den]" : [rem] "+r"(rem) : [den] "r"(denominator));
	modulo = rem;
	widened8 = (__s8)value;
	widened16 = (__s16)value;
	widened32 = (__s32)value;
	swapped16 = __builtin_bswap16((__u16)value);
	swapped32 = __builtin_bswap32((__u32)value);
	swapped64 = __builtin_bswap64(value);
	loaded_sx = *small_p + medium + large;

	asm volatile("gotol +0" ::: "memory");

	if ((__s32)word < 0)
		counter32 += 1;

	__sync_fetch_and_add(&counter64, 1);
	fetched[0] = __sync_fetch_and_add(&counter64, 2);
	fetched[1] = __sync_fetch_and_and(&counter64, 0xff);
	fetched[2] = __sync_fetch_and_or(&counter64, 0x100);
	fetched[3] = __sync_fetch_and_xor(&counter64, 0x1);
	fetched[4] = __sync_lock_test_and_set(&counter64, 42);
	fetched[5] = __sync_val_compare_and_swap(&counter64, 42, 43);
	fetched[6] = __sync_fetch_and_add(&counter32, 1);
	fetched[7] = __sync_val_compare_and_swap(&counter32, 1, 2);
	__sync_fetch_and_and(&counter32, 0xf);
	__sync_fetch_and_or(&counter32, 0x10);
	__sync_fetch_and_xor(&counter32, 0x3);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";

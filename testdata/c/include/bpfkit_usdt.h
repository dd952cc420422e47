/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * bpfkit_usdt.h: a minimal USDT (SystemTap SDT v3) probe macro for x86-64 test targets,
 * written for bpfkit because Debian's sys/sdt.h (systemtap-sdt-dev) is not installed.
 *
 * BPFKIT_USDT2(provider, name, arg1, arg2) places a `nop` at the probe site and records it
 * in a `.note.stapsdt` ELF note (owner "stapsdt", type 3) whose descriptor holds three
 * 8-byte addresses (probe pc, the `_.stapsdt.base` anchor in `.stapsdt.base`, and the
 * semaphore, 0 here) followed by the NUL-terminated provider, name and argument
 * specification, e.g. "-4@%eax 8@%rdx" (size in bytes, negative for signed, then the
 * operand in AT&T syntax as the compiler chose it).
 */
#ifndef BPFKIT_USDT_H
#define BPFKIT_USDT_H

#define BPFKIT_USDT_STR(x) #x

#define BPFKIT_USDT_SIZE(arg) (((__typeof__(arg))-1 < 1) ? -(int)sizeof(arg) : (int)sizeof(arg))

#define BPFKIT_USDT2(provider, name, arg1, arg2)                                              \
	__asm__ __volatile__(                                                             \
		"990: nop\n"                                                              \
		".pushsection .note.stapsdt,\"\",\"note\"\n"                              \
		".balign 4\n"                                                             \
		".4byte 992f-991f, 994f-993f, 3\n"                                        \
		"991: .asciz \"stapsdt\"\n"                                               \
		"992: .balign 4\n"                                                        \
		"993: .8byte 990b\n"                                                      \
		".8byte _.stapsdt.base\n"                                                 \
		".8byte 0\n"                                                              \
		".asciz \"" BPFKIT_USDT_STR(provider) "\"\n"                              \
		".asciz \"" BPFKIT_USDT_STR(name) "\"\n"                                  \
		".asciz \"%c[usdt_s1]@%[usdt_a1] %c[usdt_s2]@%[usdt_a2]\"\n"             \
		"994: .balign 4\n"                                                        \
		".popsection\n"                                                           \
		".ifndef _.stapsdt.base\n"                                                \
		".pushsection .stapsdt.base,\"aG\",\"progbits\",.stapsdt.base,comdat\n"   \
		".weak _.stapsdt.base\n"                                                  \
		".hidden _.stapsdt.base\n"                                                \
		"_.stapsdt.base: .space 1\n"                                              \
		".size _.stapsdt.base, 1\n"                                               \
		".popsection\n"                                                           \
		".endif\n"                                                                \
		:                                                                         \
		: [usdt_a1] "nor"(arg1), [usdt_a2] "nor"(arg2),                           \
		  [usdt_s1] "n"(BPFKIT_USDT_SIZE(arg1)), [usdt_s2] "n"(BPFKIT_USDT_SIZE(arg2)))

#endif

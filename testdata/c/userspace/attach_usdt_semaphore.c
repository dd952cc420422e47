// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * attach_usdt_semaphore: a USDT target whose probe bpfkit:sema_tick has a semaphore
 * (built by bpfkit_test_support::c_program("attach_usdt_semaphore")).
 *
 * Prints its pid and "ready", waits for a line on stdin, then waits up to 5 s for the
 * semaphore `bpfkit_sema_tick` (in `.probes`, named in the probe's note) to become
 * nonzero -- the kernel raises it while a uprobe with that reference counter is attached
 * -- and fires the probe three times with the argument 42 only if it is. Prints
 * "sema <value>" and exits 0.
 */
#include <stdio.h>
#include <unistd.h>

volatile unsigned short bpfkit_sema_tick __attribute__((section(".probes"), used));

#define SEMA_PROBE(arg)                                                                   \
	__asm__ __volatile__("990: nop\n"                                                 \
			     ".pushsection .note.stapsdt,\"\",\"note\"\n"                 \
			     ".balign 4\n"                                                \
			     ".4byte 992f-991f, 994f-993f, 3\n"                           \
			     "991: .asciz \"stapsdt\"\n"                                  \
			     "992: .balign 4\n"                                           \
			     "993: .8byte 990b\n"                                         \
			     ".8byte _.stapsdt.base\n"                                    \
			     ".8byte bpfkit_sema_tick\n"                                  \
			     ".asciz \"bpfkit\"\n"                                        \
			     ".asciz \"sema_tick\"\n"                                     \
			     ".asciz \"-4@%0\"\n"                                         \
			     "994: .balign 4\n"                                           \
			     ".popsection\n"                                              \
			     ".ifndef _.stapsdt.base\n"                                   \
			     ".pushsection .stapsdt.base,\"aG\",\"progbits\",.stapsdt.base,comdat\n" \
			     ".weak _.stapsdt.base\n"                                     \
			     ".hidden _.stapsdt.base\n"                                   \
			     "_.stapsdt.base: .space 1\n"                                 \
			     ".size _.stapsdt.base, 1\n"                                  \
			     ".popsection\n"                                              \
			     ".endif\n"                                                   \
			     :                                                            \
			     : "r"(arg))

int main(void)
{
	char line[64];
	int value = 42;

	printf("%d ready\n", (int)getpid());
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		line[0] = 0;
	for (int i = 0; i < 5000 && !bpfkit_sema_tick; i++)
		usleep(1000);
	if (bpfkit_sema_tick)
		for (int i = 0; i < 3; i++)
			SEMA_PROBE(value);
	printf("sema %d\n", (int)bpfkit_sema_tick);
	return 0;
}

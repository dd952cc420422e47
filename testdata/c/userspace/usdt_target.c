// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * usdt_target: a userspace process for USDT and uprobe tests (built by
 * bpfkit_test_support::c_program("usdt_target")).
 *
 *   usdt_target COUNT
 *
 * Prints its pid and "ready", waits for one line (or end of input) on stdin, so a
 * test can attach first, then COUNT times: fires the USDT probe bpfkit:tick with (int i, unsigned long
 * i * 10) and calls the uprobe target bpfkit_uprobe_target(i), which returns i + 1.
 * Prints the sum of the return values and exits 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bpfkit_usdt.h"

__attribute__((noinline)) int bpfkit_uprobe_target(int value)
{
	__asm__ __volatile__("" ::: "memory");
	return value + 1;
}

int main(int argc, char **argv)
{
	char line[64];
	long sum = 0;
	int count = argc > 1 ? atoi(argv[1]) : 1;

	printf("%d ready\n", (int)getpid());
	fflush(stdout);
	/* A line or end of input: either way, go. */
	if (!fgets(line, sizeof(line), stdin))
		line[0] = 0;
	for (int i = 0; i < count; i++) {
		unsigned long scaled = (unsigned long)i * 10;

		BPFKIT_USDT2(bpfkit, tick, i, scaled);
		sum += bpfkit_uprobe_target(i);
	}
	printf("%ld\n", sum);
	return 0;
}

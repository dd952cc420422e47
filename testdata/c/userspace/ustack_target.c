// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * ustack_target: a userspace process for `ustack`/`usym` tests (built by
 * bpfkit_test_support::c_program("ustack_target")).
 *
 *   ustack_target COUNT
 *
 * COUNT times calls main -> outer -> middle -> leaf(i + 1, middle), prints the sum of
 * leaf's results, then stays alive 300 ms so that a tracer still finds its maps when
 * it prints the stacks. Frame pointers are kept so the kernel can walk the stack.
 */
#pragma GCC optimize("no-omit-frame-pointer")
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((noinline)) int leaf(int x, int (*fp)(int))
{
	__asm__ volatile("" ::: "memory");
	return x * 3 + (fp != 0);
}

__attribute__((noinline)) int middle(int x)
{
	int r = leaf(x + 1, middle);

	__asm__ volatile("" ::: "memory");
	return r + 1;
}

__attribute__((noinline)) int outer(int x)
{
	int r = middle(x);

	__asm__ volatile("" ::: "memory");
	return r + 2;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 3;
	int s = 0;

	for (int i = 0; i < n; i++)
		s += outer(i);
	printf("%d\n", s);
	fflush(stdout);
	usleep(300000);
	return 0;
}

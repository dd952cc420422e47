// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * session_target: a userspace process for the uprobe.session tests (built by
 * bpfkit_test_support::c_program("session_target")).
 *
 *   session_target COUNT
 *
 * Prints "ready", waits for one line (or end of input) on stdin, so a test can attach
 * first, then calls libc's getppid() COUNT times and exits 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	/* Through a volatile pointer: every call goes to libc's getppid. */
	pid_t (*volatile call)(void) = getppid;
	char line[64];
	int count = argc > 1 ? atoi(argv[1]) : 1;

	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		line[0] = 0;
	for (int i = 0; i < count; i++)
		call();
	return 0;
}

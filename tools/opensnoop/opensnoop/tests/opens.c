/* The opensnoop test workload, in directory argv[1]: five opens with known paths, flags
 * and results. Prints the three fds it got, space-separated. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
    char exists[4096], missing[4096], created[4096];
    if (argc < 2)
        return 2;
    snprintf(exists, sizeof exists, "%s/exists", argv[1]);
    snprintf(missing, sizeof missing, "%s/missing", argv[1]);
    snprintf(created, sizeof created, "%s/created", argv[1]);
    int a = open(exists, O_RDONLY | O_CLOEXEC);
    if (open(missing, O_RDONLY) >= 0)
        return 3;
    int b = open(created, O_WRONLY | O_CREAT | O_TRUNC, 0640);
    if (open(argv[1], O_WRONLY) >= 0) /* a directory: EISDIR */
        return 4;
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = O_RDONLY | O_NOFOLLOW;
    how.resolve = RESOLVE_NO_SYMLINKS;
    int c = (int)syscall(SYS_openat2, AT_FDCWD, exists, &how, sizeof how);
    printf("%d %d %d\n", a, b, c);
    return a < 0 || b < 0 || c < 0;
}

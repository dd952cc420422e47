/* The syscount/syslat test workload: argv[1] getppid calls, then argv[2] opens of a path
 * that does not exist (each fails with ENOENT), then exit. Plain libc calls, one syscall
 * each. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long getppids = argc > 1 ? atol(argv[1]) : 0;
    long opens = argc > 2 ? atol(argv[2]) : 0;
    for (long i = 0; i < getppids; i++)
        getppid();
    for (long i = 0; i < opens; i++)
        if (open("/nonexistent/bpfkit-syscount-workload", O_RDONLY) >= 0)
            return 1;
    return 0;
}

/* The syslat test workload: argv[1] getppid calls, then argv[2] sleeps of argv[3] ms. */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long getppids = argc > 1 ? atol(argv[1]) : 0;
    long sleeps = argc > 2 ? atol(argv[2]) : 0;
    long ms = argc > 3 ? atol(argv[3]) : 0;
    for (long i = 0; i < getppids; i++)
        getppid();
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    for (long i = 0; i < sleeps; i++)
        nanosleep(&ts, NULL);
    return 0;
}

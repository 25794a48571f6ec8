/* Sleep guest: each step works a little, then sleeps through a different libc call —
 * nanosleep, usleep, poll with no descriptors — all of which become poll_oneoff clock
 * subscriptions, and checks on the monotonic clock that the whole sleep passed, also when
 * a checkpoint interrupted it and a restore slept the rest.
 * argv[1] = steps, argv[2] = milliseconds per sleep. stdout is unbuffered. Exits 5. */
#include "common.h"
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static uint64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int steps = argc > 1 ? atoi(argv[1]) : 6;
    long ms = argc > 2 ? atol(argv[2]) : 10;
    uint32_t work = 0;
    for (int i = 0; i < steps; i++) {
        work ^= busy(2000);
        printf("step %d: sleeping %ld ms\n", i, ms);
        uint64_t t0 = mono_ns();
        if (i % 3 == 0) {
            struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
            nanosleep(&ts, NULL);
        } else if (i % 3 == 1) {
            usleep(ms * 1000);
        } else {
            poll(NULL, 0, (int)ms);
        }
        printf("step %d: slept enough %d\n", i, mono_ns() - t0 >= (uint64_t)ms * 1000000u);
    }
    fprintf(stderr, "sleeps: done, work %08x\n", work);
    return 5;
}

/* Process guest: args, environment, stdin, clocks, random, sleeps (poll_oneoff),
 * sched_yield, exit status. Run as `stdio.wasm first "second arg"` with GREETING=hello
 * and some stdin. Exits 7. */
#include "common.h"
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <wasi/api.h>

static uint64_t mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

static __wasi_subscription_t clock_sub(uint64_t userdata, __wasi_clockid_t id, uint64_t timeout,
                                       int absolute) {
    __wasi_subscription_t s;
    memset(&s, 0, sizeof s);
    s.userdata = userdata;
    s.u.tag = __WASI_EVENTTYPE_CLOCK;
    s.u.u.clock.id = id;
    s.u.u.clock.timeout = timeout;
    s.u.u.clock.flags = absolute ? __WASI_SUBCLOCKFLAGS_SUBSCRIPTION_CLOCK_ABSTIME : 0;
    return s;
}

extern char **environ;

int main(int argc, char **argv) {
    char **envp = environ;
    printf("argc %d\n", argc);
    for (int i = 1; i < argc; i++)
        printf("argv[%d] = %s\n", i, argv[i]);
    int envc = 0;
    while (envp[envc])
        envc++;
    printf("envc %d\n", envc);
    const char *g = getenv("GREETING");
    printf("GREETING=%s\n", g ? g : "(unset)");
    printf("MISSING=%s\n", getenv("MISSING") ? "set" : "(unset)");

    /* stdin to end of file, upper-cased. */
    char buf[4096];
    size_t total = 0;
    size_t r;
    while ((r = fread(buf + total, 1, sizeof buf - 1 - total, stdin)) > 0)
        total += r;
    buf[total] = 0;
    for (size_t i = 0; i < total; i++)
        if (buf[i] >= 'a' && buf[i] <= 'z')
            buf[i] -= 32;
    printf("stdin %zu bytes: %s", total, buf);
    if (total == 0 || buf[total - 1] != '\n')
        printf("\n");

    /* Clocks. */
    struct timespec res;
    clock_getres(CLOCK_MONOTONIC, &res);
    printf("monotonic resolution %ld ns\n", res.tv_nsec);
    clock_getres(CLOCK_REALTIME, &res);
    printf("realtime resolution %ld ns\n", res.tv_nsec);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    printf("realtime after 2020: %d\n", now.tv_sec > 1577836800);
    uint64_t a = mono(), b = mono();
    printf("monotonic non-decreasing: %d\n", b >= a);

    /* Random. */
    unsigned char r1[32], r2[32];
    getentropy(r1, sizeof r1);
    getentropy(r2, sizeof r2);
    int zero = 1;
    for (size_t i = 0; i < sizeof r1; i++)
        zero &= r1[i] == 0;
    printf("random differs: %d, nonzero: %d\n", memcmp(r1, r2, sizeof r1) != 0, !zero);

    /* Sleeps: nanosleep and raw poll_oneoff, timed with the monotonic clock. */
    uint64_t t0 = mono();
    struct timespec ts = {0, 50 * 1000000};
    nanosleep(&ts, NULL);
    printf("nanosleep 50ms: %d\n", mono() - t0 >= 50000000u);

    __wasi_subscription_t subs[2] = {
        clock_sub(30, __WASI_CLOCKID_MONOTONIC, 30000000, 0),
        clock_sub(10, __WASI_CLOCKID_MONOTONIC, 10000000, 0),
    };
    __wasi_event_t ev[2];
    __wasi_size_t n = 0;
    t0 = mono();
    int e = __wasi_poll_oneoff(subs, ev, 2, &n);
    printf("poll two clocks: %d, first event %llu, waited >= 10ms: %d\n", e,
           (unsigned long long)ev[0].userdata, mono() - t0 >= 10000000u);

    __wasi_timestamp_t rt;
    (void)__wasi_clock_time_get(__WASI_CLOCKID_REALTIME, 1, &rt);
    subs[0] = clock_sub(77, __WASI_CLOCKID_REALTIME, rt + 20000000, 1);
    t0 = mono();
    e = __wasi_poll_oneoff(subs, ev, 1, &n);
    printf("poll absolute realtime: %d, n %d, userdata %llu, waited: %d\n", e, (int)n,
           (unsigned long long)ev[0].userdata, mono() - t0 >= 15000000u);

    /* fd subscriptions: stdin is at end of file (readable), stdout is writable. */
    __wasi_subscription_t fds[2];
    memset(fds, 0, sizeof fds);
    fds[0].userdata = 1;
    fds[0].u.tag = __WASI_EVENTTYPE_FD_READ;
    fds[0].u.u.fd_read.file_descriptor = 0;
    fds[1].userdata = 2;
    fds[1].u.tag = __WASI_EVENTTYPE_FD_WRITE;
    fds[1].u.u.fd_write.file_descriptor = 1;
    e = __wasi_poll_oneoff(fds, ev, 2, &n);
    int seen = 0;
    for (unsigned i = 0; i < n; i++)
        if (ev[i].error == 0)
            seen |= (int)ev[i].userdata;
    printf("poll stdin+stdout: %d, ready mask %d\n", e, seen);
    fds[0].u.u.fd_read.file_descriptor = 42;
    e = __wasi_poll_oneoff(fds, ev, 1, &n);
    printf("poll bad fd: %d\n", e);

    printf("sched_yield: %d\n", __wasi_sched_yield());
    fflush(stdout);
    fprintf(stderr, "to stderr\n");
    exit(7);
}

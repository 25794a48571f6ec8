/*
 * Native driver: links one workload's run() into a host executable so the
 * benchmark runner can report a "native" column (the physical limit) and
 * cross-check the wasm engines' checksums against it.
 */
#include <stdio.h>
#include <stdlib.h>

long long run(int n);

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s N\n", argv[0]);
        return 2;
    }
    printf("%lld\n", run(atoi(argv[1])));
    return 0;
}

/* proc_raise: prints a line, then raises SIGABRT, which tern turns into a trap. */
#include <stdio.h>

__attribute__((import_module("wasi_snapshot_preview1"), import_name("proc_raise")))
int proc_raise(int signal);

int main(void) {
    printf("raise 0: %d\n", proc_raise(0));
    printf("raise 99: %d\n", proc_raise(99));
    printf("raising SIGABRT\n");
    fflush(stdout);
    proc_raise(6);
    printf("still running\n");
    return 0;
}

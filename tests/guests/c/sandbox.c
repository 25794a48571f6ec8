/* Sandbox guest: escape attempts, bad descriptors, bad pointers and bad arguments, each
 * printing the raw WASI errno. Expects fd 3 = preopen /sandbox holding inside.txt and
 * sub/, with outside.txt next to (not inside) the preopened directory. Exits 0. */
#include "common.h"
#include <fcntl.h>
#include <stdlib.h>
#include <wasi/api.h>

/* The raw import: wasi-libc's wrapper would run strlen on the (bad) path itself. */
__attribute__((import_module("wasi_snapshot_preview1"), import_name("path_open")))
int raw_path_open(int fd, int dirflags, intptr_t path, int path_len, int oflags,
                  long long rights_base, long long rights_inheriting, int fdflags, intptr_t out);

#define DIRFD 3
#define R_READ (__WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_SEEK | __WASI_RIGHTS_FD_TELL)

static int open_at(const char *path, int follow, __wasi_fd_t *fd) {
    return __wasi_path_open(DIRFD, follow ? __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW : 0, path, 0,
                            R_READ, 0, 0, fd);
}

int main(int argc, char **argv) {
    /* Unbuffered, so every line is out before anything can go wrong. */
    setvbuf(stdout, NULL, _IONBF, 0);
    __wasi_fd_t fd = 0;
    __wasi_size_t n = 0;
    char buf[64];

    /* Escapes: all refused with EPERM (63), like wasmtime. */
    report_wasi("open ../outside.txt", open_at("../outside.txt", 1, &fd));
    report_wasi("open /etc/passwd", open_at("/etc/passwd", 1, &fd));
    report_wasi("open sub/../../outside.txt", open_at("sub/../../outside.txt", 1, &fd));
    report_wasi("open sub/../inside.txt", open_at("sub/../inside.txt", 1, &fd));
    (void)__wasi_fd_close(fd);
    report_wasi("symlink to ../outside.txt", __wasi_path_symlink("../outside.txt", DIRFD, "esc"));
    report_wasi("open esc (follow)", open_at("esc", 1, &fd));
    report_wasi("open esc (nofollow)", open_at("esc", 0, &fd));
    int e = __wasi_path_readlink(DIRFD, "esc", (uint8_t *)buf, sizeof buf, &n);
    printf("readlink esc: %d \"%.*s\"\n", e, (int)n, buf);
    report_wasi("symlink to /etc/passwd", __wasi_path_symlink("/etc/passwd", DIRFD, "abs"));
    report_wasi("symlink updir -> ..", __wasi_path_symlink("..", DIRFD, "updir"));
    report_wasi("open updir/outside.txt", open_at("updir/outside.txt", 1, &fd));
    __wasi_filestat_t st;
    report_wasi("filestat esc (follow)", __wasi_path_filestat_get(DIRFD, 1, "esc", &st));
    report_wasi("filestat esc (nofollow)", __wasi_path_filestat_get(DIRFD, 0, "esc", &st));
    printf("filestat esc type: %d\n", st.filetype);
    report_wasi("filestat ..", __wasi_path_filestat_get(DIRFD, 1, "..", &st));
    report_wasi("mkdir ../x", __wasi_path_create_directory(DIRFD, "../x"));
    report_wasi("unlink ../outside.txt", __wasi_path_unlink_file(DIRFD, "../outside.txt"));
    report_wasi("rename to ../moved", __wasi_path_rename(DIRFD, "inside.txt", DIRFD, "../moved"));
    report_wasi("link to ../linked", __wasi_path_link(DIRFD, 0, "inside.txt", DIRFD, "../linked"));
    report_wasi("rmdir ..", __wasi_path_remove_directory(DIRFD, ".."));
    report_wasi("set times ../outside.txt",
                __wasi_path_filestat_set_times(DIRFD, 0, "../outside.txt", 0, 0,
                                               __WASI_FSTFLAGS_MTIM_NOW));
    (void)__wasi_path_unlink_file(DIRFD, "esc");
    (void)__wasi_path_unlink_file(DIRFD, "updir");

    /* A subdirectory descriptor is a sandbox of its own. */
    __wasi_fd_t sub;
    report_wasi("open sub", __wasi_path_open(DIRFD, 0, "sub", __WASI_OFLAGS_DIRECTORY,
                                             __WASI_RIGHTS_PATH_OPEN | __WASI_RIGHTS_FD_READDIR,
                                             R_READ, 0, &sub));
    report_wasi("sub: open ../inside.txt", __wasi_path_open(sub, 0, "../inside.txt", 0, R_READ, 0, 0, &fd));
    (void)__wasi_fd_close(sub);

    /* wasi-libc finds no preopen for absolute paths outside /sandbox: ENOTCAPABLE. */
    FILE *f = fopen("/etc/passwd", "r");
    printf("fopen /etc/passwd: %s errno %d\n", f ? "opened" : "refused", errno);

    /* Bad descriptors. */
    __wasi_iovec_t iov = {(uint8_t *)buf, sizeof buf};
    report_wasi("read fd 99", __wasi_fd_read(99, &iov, 1, &n));
    report_wasi("close fd 99", __wasi_fd_close(99));
    __wasi_filesize_t off;
    report_wasi("seek fd 99", __wasi_fd_seek(99, 0, __WASI_WHENCE_SET, &off));
    report_wasi("path_open on fd 99", __wasi_path_open(99, 0, "x", 0, R_READ, 0, 0, &fd));
    report_wasi("path_open on stdout", __wasi_path_open(1, 0, "x", 0, R_READ, 0, 0, &fd));
    __wasi_prestat_t ps;
    report_wasi("prestat stdin", __wasi_fd_prestat_get(0, &ps));
    report_wasi("renumber 3 -> 99", __wasi_fd_renumber(DIRFD, 99));
    report_wasi("read a directory", __wasi_fd_read(DIRFD, &iov, 1, &n));
    report_wasi("seek a directory", __wasi_fd_seek(DIRFD, 0, __WASI_WHENCE_SET, &off));
    report_wasi("seek stdout", __wasi_fd_seek(1, 0, __WASI_WHENCE_SET, &off));
    report_wasi("accept on a directory", __wasi_sock_accept(DIRFD, 0, &fd));
    report_wasi("shutdown stdout", __wasi_sock_shutdown(1, __WASI_SDFLAGS_WR));
    report_wasi("fsync stdout", __wasi_fd_sync(1));
    report_wasi("set size of stdout", __wasi_fd_filestat_set_size(1, 0));

    /* wasmtime refuses any flag change on stdio (EBADF); tern allows append/nonblock and
     * refuses only changing the sync mode after open (EINVAL). */
    printf("~set flags sync on stdout: %d\n", __wasi_fd_fdstat_set_flags(1, __WASI_FDFLAGS_SYNC));
    printf("~set flags nonblock on stdin: %d\n", __wasi_fd_fdstat_set_flags(0, __WASI_FDFLAGS_NONBLOCK));
    (void)__wasi_fd_fdstat_set_flags(0, 0);
    report_wasi("prestat name of 3 (short buffer)", __wasi_fd_prestat_dir_name(DIRFD, (uint8_t *)buf, 3));
    printf("short name: %.3s\n", buf);
    (void)__wasi_fd_prestat_get(DIRFD, &ps);
    printf("prestat 3 name length: %d\n", (int)ps.u.dir.pr_name_len);

    /* Renumbering moves a descriptor over another one; fd_tell reads the offset. */
    __wasi_fd_t one, two;
    (void)open_at("inside.txt", 1, &one);
    (void)open_at("inside.txt", 1, &two);
    (void)__wasi_fd_seek(one, 2, __WASI_WHENCE_SET, &off);
    report_wasi("renumber one -> two", __wasi_fd_renumber(one, two));
    report_wasi("tell two", __wasi_fd_tell(two, &off));
    printf("offset of two: %llu\n", (unsigned long long)off);
    report_wasi("tell one (gone)", __wasi_fd_tell(one, &off));
    (void)__wasi_fd_close(two);

    /* Rights: only ever dropped. wasmtime does not implement this call (ENOTSUP). */
    __wasi_fd_t in;
    (void)open_at("inside.txt", 1, &in);
    printf("~drop rights: %d\n", __wasi_fd_fdstat_set_rights(in, __WASI_RIGHTS_FD_READ, 0));
    printf("~seek without the right: %d\n", __wasi_fd_seek(in, 1, __WASI_WHENCE_SET, &off));
    printf("~regain rights: %d\n", __wasi_fd_fdstat_set_rights(in, R_READ, 0));
    (void)__wasi_fd_close(in);

    /* Bad pointers and invalid enum values: tern answers EFAULT/EINVAL where wasmtime
     * traps, so this part only runs when asked ("faults"). */
    if (argc < 2 || strcmp(argv[1], "faults") != 0) {
        printf("done\n");
        return 0;
    }
    char *far = (char *)0xfffffff0;
    __wasi_ciovec_t bad_ciov = {(const uint8_t *)far, 64};
    printf("~fd_write bad iovec array: %d\n", __wasi_fd_write(1, (const __wasi_ciovec_t *)far, 1, &n));
    printf("~fd_write bad buffer: %d\n", __wasi_fd_write(1, &bad_ciov, 1, &n));
    printf("~fd_write bad result pointer: %d\n", __wasi_fd_write(1, &bad_ciov, 0, (__wasi_size_t *)far));
    printf("~path_open bad path: %d\n", raw_path_open(DIRFD, 0, (intptr_t)far, 64, 0, R_READ, 0, 0, (intptr_t)&fd));
    printf("~clock_time_get bad pointer: %d\n", __wasi_clock_time_get(0, 0, (__wasi_timestamp_t *)far));
    printf("~random_get bad buffer: %d\n", __wasi_random_get((uint8_t *)far, 64));
    printf("~args_get bad pointers: %d\n", __wasi_args_get((uint8_t **)far, (uint8_t *)far));
    printf("~poll_oneoff bad subscriptions: %d\n",
           __wasi_poll_oneoff((const __wasi_subscription_t *)far, (__wasi_event_t *)buf, 1, &n));
    /* The guest is still fine afterwards. */
    printf("~after bad pointers: alive\n");

    (void)open_at("inside.txt", 1, &in);
    printf("~seek whence 7: %d\n", __wasi_fd_seek(in, 0, 7, &off));
    printf("~advise 9: %d\n", __wasi_fd_advise(in, 0, 0, 9));
    (void)__wasi_fd_close(in);
    __wasi_timestamp_t t;
    printf("~clock id 9: %d\n", __wasi_clock_time_get(9, 0, &t));
    printf("~poll no subscriptions: %d\n",
           __wasi_poll_oneoff((const __wasi_subscription_t *)buf, (__wasi_event_t *)buf, 0, &n));
    printf("done\n");
    return 0;
}

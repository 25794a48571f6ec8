/* TCP echo server on the preopened listener at fd 3 (`--tcplisten`): serves N
 * connections (argv[1], default 1), echoing every byte until the client closes, then
 * exits 0. Uses sock_accept, sock_recv, sock_send, sock_shutdown and poll_oneoff on the
 * listener. */
#include "common.h"
#include <stdlib.h>
#include <wasi/api.h>

#define LISTENER 3

int main(int argc, char **argv) {
    int connections = argc > 1 ? atoi(argv[1]) : 1;
    printf("echo server: %d connection(s)\n", connections);
    fflush(stdout);
    for (int i = 0; i < connections; i++) {
        /* Wait for a client with poll_oneoff first (fd_read readiness of the listener). */
        __wasi_subscription_t sub;
        memset(&sub, 0, sizeof sub);
        sub.userdata = 5;
        sub.u.tag = __WASI_EVENTTYPE_FD_READ;
        sub.u.u.fd_read.file_descriptor = LISTENER;
        __wasi_event_t ev;
        __wasi_size_t n;
        int e = __wasi_poll_oneoff(&sub, &ev, 1, &n);
        if (e != 0 || n != 1 || ev.error != 0) {
            printf("poll failed: %d\n", e);
            return 1;
        }
        __wasi_fd_t conn;
        e = __wasi_sock_accept(LISTENER, 0, &conn);
        if (e != 0) {
            printf("accept failed: %d\n", e);
            return 1;
        }
        size_t total = 0;
        for (;;) {
            char buf[1024];
            __wasi_iovec_t iov = {(uint8_t *)buf, sizeof buf};
            __wasi_size_t got;
            __wasi_roflags_t flags;
            e = __wasi_sock_recv(conn, &iov, 1, 0, &got, &flags);
            if (e != 0) {
                printf("recv failed: %d\n", e);
                return 1;
            }
            if (got == 0)
                break;
            total += got;
            size_t sent = 0;
            while (sent < got) {
                __wasi_ciovec_t ciov = {(const uint8_t *)buf + sent, got - sent};
                __wasi_size_t put;
                e = __wasi_sock_send(conn, &ciov, 1, 0, &put);
                if (e != 0) {
                    printf("send failed: %d\n", e);
                    return 1;
                }
                sent += put;
            }
        }
        printf("connection %d: %zu bytes, shutdown %d, close %d\n", i, total,
               __wasi_sock_shutdown(conn, __WASI_SDFLAGS_WR), __wasi_fd_close(conn));
        fflush(stdout);
    }
    __wasi_fd_t unused;
    printf("accept on a connection-less fd 1: %d\n", __wasi_sock_accept(1, 0, &unused));
    return 0;
}

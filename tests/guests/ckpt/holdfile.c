/* Holds a file open across a checkpoint, for tests/all/restore_files.rs.
 *   holdfile read    opens /data/in.txt (fd 4) and prints 8 bytes of it, [checkpoint],
 *                    prints the next 8
 *   holdfile unlink  creates /data/scratch (fd 4), writes to it and unlinks it while open
 *                    (the temp-file pattern), prints 8 bytes, [checkpoint], prints the rest
 * The program asks for its own checkpoint, always at the same point: it creates
 * /data/checkpoint-now (run it with `--checkpoint-on file:HOST_DIR/checkpoint-now`) and
 * then reads stdin, which blocks on an open empty pipe until the checkpoint interrupts
 * the read. A restored run re-issues the read (give it empty stdin) and goes on.
 * stdout is unbuffered. Exits 0, or 1 when the file cannot be opened. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void show(int fd) {
    char buf[16] = {0};
    ssize_t n = read(fd, buf, 8);
    printf("read %zd: %s\n", n, buf);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int unlinking = argc > 1 && strcmp(argv[1], "unlink") == 0;
    int fd = unlinking ? open("/data/scratch", O_RDWR | O_CREAT | O_TRUNC, 0644)
                       : open("/data/in.txt", O_RDONLY);
    if (fd < 0) {
        perror("open");
        return 1;
    }
    if (unlinking) {
        write(fd, "scratch data", 12);
        unlink("/data/scratch");
        lseek(fd, 0, SEEK_SET);
    }
    show(fd);
    close(open("/data/checkpoint-now", O_WRONLY | O_CREAT, 0644));
    char byte;
    read(0, &byte, 1);
    show(fd);
    close(fd);
    return 0;
}

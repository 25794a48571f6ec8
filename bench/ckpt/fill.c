/* Guest of bench/checkpoint.py: a program whose touched memory is argv[1] MiB.
 *
 * Fills that much heap with partly compressible data: every 64 KiB page is one quarter
 * fresh pseudo-random bytes (incompressible) and three quarters text made of a small
 * vocabulary, copied (memory.copy) from a text block at a page-dependent offset. Prints
 * "filled N MiB, sample S" (S: a hash of two words of every page), then blocks reading
 * stdin. The bench keeps stdin an open, empty pipe and checkpoints the program there with
 * SIGUSR1, which interrupts the host's wait at once (EINTR); the read is issued again
 * after a restore, which is given /dev/null, so the restored program at once prints
 * "resumed, sample S" (S recomputed from the restored memory) and exits 0. (A loop of
 * poll(stdin, timeout 0) would not do: tern, like wasmtime, reports only the expired
 * timeout then, never the readable descriptor.)
 *
 * With argv[2] = "dump" it writes every non-zero page of its linear memory — what a
 * snapshot stores — to /out/memory.raw (a preopen) instead of waiting, for the
 * compression reference. Build: bench/ckpt/build.sh. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAGE 65536
#define RANDOM_BYTES (PAGE / 4)
#define TEXT_BYTES (PAGE - RANDOM_BYTES)
#define TEXT_BLOCK (2 * PAGE)

static const char *words[] = {
    "checkpoint", "restore", "snapshot", "memory", "page",  "frame", "local",
    "global",     "table",   "module",   "value",  "stack", "the",   "a",
    "of",         "and",     "to",       "in",     "is",    "wasm",  "tern",
};

static uint64_t sample(const unsigned char *mem, size_t pages) {
    uint64_t h = 0;
    for (size_t p = 0; p < pages; p++) {
        uint64_t a, b;
        memcpy(&a, mem + p * PAGE + (p * 8 % PAGE), 8);
        memcpy(&b, mem + p * PAGE + PAGE - 8, 8);
        h = (h ^ a ^ (b << 1)) * 0x9e3779b97f4a7c15ull;
    }
    return h;
}

/* Address 0, hidden from the optimiser: page 0 is memory like any other in Wasm. */
static volatile uintptr_t memory_base = 0;

static int dump(void) {
    int fd = open("/out/memory.raw", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    for (size_t p = 0; p < __builtin_wasm_memory_size(0); p++) {
        const unsigned char *page = (const unsigned char *)(memory_base + p * PAGE);
        size_t i = 0;
        while (i < PAGE && page[i] == 0)
            i++;
        if (i < PAGE && write(fd, page, PAGE) != PAGE)
            return 1;
    }
    return close(fd);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 1;
    size_t pages = mib * 16;
    /* No text for 0 MiB: that run is the bench's startup baseline, so it does nothing. */
    unsigned char *text = malloc(TEXT_BLOCK);
    uint32_t lcg = 1;
    for (size_t at = 0; pages && at < TEXT_BLOCK;) {
        lcg = lcg * 1103515245u + 12345u;
        const char *w = words[(lcg >> 16) % (sizeof words / sizeof *words)];
        for (; *w && at < TEXT_BLOCK; w++)
            text[at++] = (unsigned char)*w;
        if (at < TEXT_BLOCK)
            text[at++] = (lcg >> 8) % 16 == 0 ? '\n' : ' ';
    }
    /* 64 KiB aligned, so "page" of this buffer is a Wasm page of the memory. */
    unsigned char *mem = aligned_alloc(PAGE, pages ? pages * PAGE : PAGE);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t p = 0; p < pages; p++) {
        uint64_t *random = (uint64_t *)(mem + p * PAGE);
        for (size_t i = 0; i < RANDOM_BYTES / 8; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            random[i] = x;
        }
        memcpy(mem + p * PAGE + RANDOM_BYTES, text + (p * 4099) % PAGE, TEXT_BYTES);
    }
    printf("filled %zu MiB, sample %016llx\n", mib, (unsigned long long)sample(mem, pages));

    if (argc > 2 && strcmp(argv[2], "dump") == 0)
        return dump();
    char byte;
    read(0, &byte, 1);
    printf("resumed, sample %016llx\n", (unsigned long long)sample(mem, pages));
    return 0;
}

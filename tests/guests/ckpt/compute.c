/* Compute guest: a live heap that changes shape every round — a linked list of nodes of
 * random sizes (every third one freed, so the allocator reuses holes) and a key array grown
 * with realloc and sorted with qsort (calls through a function pointer) — hashed round by
 * round. stdout keeps libc's default full buffering when it is not a terminal, so at most
 * checkpoints some output is still in linear memory, not yet written.
 * argv[1] = nodes added per round, argv[2] = rounds; any argv[3] makes stdout unbuffered,
 * so a watcher sees each round as it ends. Exits with 1 + hash % 64. */
#include "common.h"
#include <stdio.h>
#include <stdlib.h>

struct node {
    struct node *next;
    uint32_t key, len;
    unsigned char data[];
};

static int by_value(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int per_round = argc > 1 ? atoi(argv[1]) : 200;
    int rounds = argc > 2 ? atoi(argv[2]) : 6;
    if (argc > 3)
        setvbuf(stdout, NULL, _IONBF, 0);
    struct node *head = NULL;
    uint32_t *keys = NULL;
    size_t nkeys = 0;
    uint64_t h = FNV_INIT;
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < per_round; i++) {
            uint32_t len = 8 + lcg() % 120;
            struct node *n = malloc(sizeof *n + len);
            n->key = lcg();
            n->len = len;
            for (uint32_t j = 0; j < len; j++)
                n->data[j] = (unsigned char)(lcg() ^ j);
            n->next = head;
            head = n;
            keys = realloc(keys, (nkeys + 1) * sizeof *keys);
            keys[nkeys++] = n->key;
        }
        int k = 0;
        for (struct node **pp = &head; *pp;) {
            if (k++ % 3 == 0) {
                struct node *dead = *pp;
                *pp = dead->next;
                h = fnv(h, dead->data, dead->len);
                free(dead);
            } else {
                pp = &(*pp)->next;
            }
        }
        qsort(keys, nkeys, sizeof *keys, by_value);
        h = fnv(h, keys, nkeys * sizeof *keys);
        for (struct node *n = head; n; n = n->next)
            h = fnv(h, n->data, n->len);
        printf("round %d: %zu keys, hash %016llx\n", r, nkeys, (unsigned long long)h);
    }
    fprintf(stderr, "compute: %d rounds done\n", rounds);
    return (int)(h % 64) + 1;
}

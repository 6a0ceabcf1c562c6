#include "workers/once_share.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");

#define TAG_SHIFT 48
#define KEY_MASK ((UINT64_C(1) << TAG_SHIFT) - 1)
/* Probes before giving up: a table a quarter full keeps runs far shorter than this. */
#define PROBES_MAX 64

struct once_share {
    _Atomic uint64_t *slots;
    uint64_t mask;
    size_t bytes;
};

struct once_share *once_share_new(uint32_t capacity)
{
    uint64_t slots = 64;
    while (slots < (uint64_t)capacity * 4)
        slots <<= 1;
    struct once_share *share = calloc(1, sizeof(*share));
    if (share == NULL)
        return NULL;
    share->bytes = slots * sizeof(uint64_t);
    /* Anonymous memory is zero: every slot starts free (tag 0 is no window's). */
    void *memory =
        mmap(NULL, share->bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) {
        free(share);
        return NULL;
    }
    share->slots = memory;
    share->mask = slots - 1;
    return share;
}

enum once_claim once_share_claim(struct once_share *share, uint64_t key, uint64_t window)
{
    uint64_t tag = window % UINT16_MAX + 1; /* 1 to 65,535 */
    uint64_t wanted = tag << TAG_SHIFT | (key & KEY_MASK);
    uint64_t index = (key ^ key >> 29) & share->mask;
    for (int probe = 0; probe < PROBES_MAX; probe++) {
        _Atomic uint64_t *slot = &share->slots[(index + (uint64_t)probe) & share->mask];
        uint64_t seen = atomic_load_explicit(slot, memory_order_acquire);
        for (;;) {
            if (seen == wanted)
                return ONCE_TAKEN;
            if (seen >> TAG_SHIFT == tag)
                break; /* another key of this window: probe on */
            /* Free, or left by an older window: claim it. A failed exchange loads what
             * another worker put there, which is looked at again. */
            if (atomic_compare_exchange_weak_explicit(slot, &seen, wanted, memory_order_acq_rel,
                                                      memory_order_acquire))
                return ONCE_FIRST;
        }
    }
    return ONCE_FULL;
}

void once_share_free(struct once_share *share)
{
    if (share == NULL)
        return;
    munmap((void *)share->slots, share->bytes);
    free(share);
}

#include "syn_share.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>

/* The workers are processes: only atomics that need no lock work across them. */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");

struct cell {
    /* Vyukov's turn counter: position when free to post at position, position + 1 once
     * posted, position + capacity once taken (free for the next round). */
    _Atomic uint64_t sequence;
    struct shared_syn syn;
};

/* The two positions on lines of their own: the writers share one, the reader owns the
 * other, so a post does not take the reader's line away from it. */
struct inbox {
    _Alignas(64) _Atomic uint64_t post_position;
    _Alignas(64) uint64_t take_position;
    _Alignas(64) struct cell cells[];
};

struct syn_share {
    unsigned char *memory;
    size_t bytes;
    size_t inbox_bytes;
    unsigned workers;
    unsigned self;
    uint64_t mask;
};

static struct inbox *inbox_of(const struct syn_share *share, unsigned worker)
{
    return (struct inbox *)(share->memory + (size_t)worker * share->inbox_bytes);
}

struct syn_share *syn_share_new(unsigned workers, uint32_t capacity)
{
    if (workers == 0)
        return NULL;
    uint64_t cells = 2;
    while (cells < capacity)
        cells <<= 1;
    struct syn_share *share = calloc(1, sizeof(*share));
    if (share == NULL)
        return NULL;
    share->workers = workers;
    share->mask = cells - 1;
    share->inbox_bytes = (sizeof(struct inbox) + cells * sizeof(struct cell) + 63) / 64 * 64;
    share->bytes = share->inbox_bytes * workers;
    void *memory =
        mmap(NULL, share->bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) {
        free(share);
        return NULL;
    }
    share->memory = memory;
    for (unsigned w = 0; w < workers; w++) {
        struct inbox *inbox = inbox_of(share, w);
        atomic_init(&inbox->post_position, 0);
        inbox->take_position = 0;
        for (uint64_t i = 0; i < cells; i++)
            atomic_init(&inbox->cells[i].sequence, i);
    }
    return share;
}

void syn_share_set_worker(struct syn_share *share, unsigned worker)
{
    share->self = worker < share->workers ? worker : 0;
}

bool syn_share_post_to(struct syn_share *share, unsigned worker, const struct shared_syn *syn)
{
    if (worker >= share->workers)
        return false;
    struct inbox *inbox = inbox_of(share, worker);
    uint64_t position = atomic_load_explicit(&inbox->post_position, memory_order_relaxed);
    struct cell *cell;
    for (;;) {
        cell = &inbox->cells[position & share->mask];
        uint64_t sequence = atomic_load_explicit(&cell->sequence, memory_order_acquire);
        int64_t lead = (int64_t)(sequence - position);
        if (lead == 0) {
            /* The cell is free for this position: claim the position (a failed exchange
             * loads the one another writer moved it to). */
            if (atomic_compare_exchange_weak_explicit(&inbox->post_position, &position,
                                                      position + 1, memory_order_relaxed,
                                                      memory_order_relaxed))
                break;
        } else if (lead < 0) {
            return false; /* the reader has not taken this cell's last round: full */
        } else {
            position = atomic_load_explicit(&inbox->post_position, memory_order_relaxed);
        }
    }
    cell->syn = *syn;
    atomic_store_explicit(&cell->sequence, position + 1, memory_order_release);
    return true;
}

unsigned syn_share_post(struct syn_share *share, const struct shared_syn *syn)
{
    unsigned full = 0;
    for (unsigned w = 0; w < share->workers; w++) {
        if (w != share->self && !syn_share_post_to(share, w, syn))
            full++;
    }
    return full;
}

bool syn_share_take(struct syn_share *share, struct shared_syn *syn)
{
    struct inbox *inbox = inbox_of(share, share->self);
    uint64_t position = inbox->take_position;
    struct cell *cell = &inbox->cells[position & share->mask];
    uint64_t sequence = atomic_load_explicit(&cell->sequence, memory_order_acquire);
    if (sequence != position + 1)
        return false;
    *syn = cell->syn;
    atomic_store_explicit(&cell->sequence, position + share->mask + 1, memory_order_release);
    inbox->take_position = position + 1;
    return true;
}

void syn_share_free(struct syn_share *share)
{
    if (share == NULL)
        return;
    munmap(share->memory, share->bytes);
    free(share);
}

#include "workers/inbox.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* The workers are processes: only atomics that need no lock work across them. */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");

/* A cell is its turn counter and the message after it. The counter is Vyukov's: the
 * position when the cell is free to post at that position, position + 1 once posted,
 * position + capacity once taken (free for the next round); kept less the cell's index, so
 * that fresh zero memory is a ring of free cells and its pages are only touched when
 * used. */
struct cell {
    _Atomic uint64_t turn;
    unsigned char message[];
};

/* The two positions on lines of their own: the writers share one, the reader owns the
 * other, so a post does not take the reader's line away from it. */
struct inbox {
    _Alignas(64) _Atomic uint64_t post_position;
    _Alignas(64) uint64_t take_position;
    _Alignas(64) unsigned char cells[];
};

struct inbox_set {
    unsigned char *memory;
    size_t bytes;
    size_t inbox_bytes;
    size_t cell_bytes;
    size_t message_size;
    unsigned workers;
    unsigned self;
    uint64_t mask;
};

static struct inbox *inbox_of(const struct inbox_set *set, unsigned worker)
{
    return (struct inbox *)(set->memory + (size_t)worker * set->inbox_bytes);
}

static struct cell *cell_of(const struct inbox_set *set, struct inbox *inbox, uint64_t position)
{
    return (struct cell *)(inbox->cells + (position & set->mask) * set->cell_bytes);
}

struct inbox_set *inbox_set_new(unsigned workers, uint32_t capacity, size_t message_size)
{
    if (workers == 0 || message_size == 0)
        return NULL;
    uint64_t cells = 2;
    while (cells < capacity)
        cells <<= 1;
    struct inbox_set *set = calloc(1, sizeof(*set));
    if (set == NULL)
        return NULL;
    set->workers = workers;
    set->mask = cells - 1;
    set->message_size = message_size;
    set->cell_bytes = (sizeof(struct cell) + message_size + 7) / 8 * 8;
    set->inbox_bytes = (sizeof(struct inbox) + cells * set->cell_bytes + 63) / 64 * 64;
    set->bytes = set->inbox_bytes * workers;
    void *memory =
        mmap(NULL, set->bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) {
        free(set);
        return NULL;
    }
    set->memory = memory; /* zero: every inbox empty, every cell free (see struct cell) */
    return set;
}

void inbox_set_worker(struct inbox_set *set, unsigned worker)
{
    set->self = worker < set->workers ? worker : 0;
}

bool inbox_post_to(struct inbox_set *set, unsigned worker, const void *message)
{
    if (worker >= set->workers)
        return false;
    struct inbox *inbox = inbox_of(set, worker);
    uint64_t position = atomic_load_explicit(&inbox->post_position, memory_order_relaxed);
    struct cell *cell;
    for (;;) {
        cell = cell_of(set, inbox, position);
        uint64_t sequence =
            atomic_load_explicit(&cell->turn, memory_order_acquire) + (position & set->mask);
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
    memcpy(cell->message, message, set->message_size);
    atomic_store_explicit(&cell->turn, position + 1 - (position & set->mask), memory_order_release);
    return true;
}

unsigned inbox_post(struct inbox_set *set, const void *message)
{
    unsigned full = 0;
    for (unsigned w = 0; w < set->workers; w++) {
        if (w != set->self && !inbox_post_to(set, w, message))
            full++;
    }
    return full;
}

bool inbox_take(struct inbox_set *set, void *message)
{
    struct inbox *inbox = inbox_of(set, set->self);
    uint64_t position = inbox->take_position;
    struct cell *cell = cell_of(set, inbox, position);
    uint64_t index = position & set->mask;
    uint64_t sequence = atomic_load_explicit(&cell->turn, memory_order_acquire) + index;
    if (sequence != position + 1)
        return false;
    memcpy(message, cell->message, set->message_size);
    atomic_store_explicit(&cell->turn, position + set->mask + 1 - index, memory_order_release);
    inbox->take_position = position + 1;
    return true;
}

void inbox_set_free(struct inbox_set *set)
{
    if (set == NULL)
        return;
    munmap(set->memory, set->bytes);
    free(set);
}

#include "output/metrics_slots.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int snapshot_init(struct snapshot *snapshot, struct snapshot_size size)
{
    memset(snapshot, 0, sizeof(*snapshot));
    snapshot->attempts = calloc(size.attempts + 1, sizeof(uint64_t));
    snapshot->pools = calloc(size.pools + 1, sizeof(uint64_t));
    return snapshot->attempts == NULL || snapshot->pools == NULL ? -1 : 0;
}

void snapshot_free(struct snapshot *snapshot)
{
    free(snapshot->attempts);
    free(snapshot->pools);
    snapshot->attempts = snapshot->pools = NULL;
}

void snapshot_copy(struct snapshot *to, const struct snapshot *from, struct snapshot_size size)
{
    uint64_t *attempts = to->attempts, *pools = to->pools;
    *to = *from;
    to->attempts = attempts;
    to->pools = pools;
    memcpy(attempts, from->attempts, size.attempts * sizeof(uint64_t));
    memcpy(pools, from->pools, size.pools * sizeof(uint64_t));
}

void snapshot_clear(struct snapshot *snapshot, struct snapshot_size size)
{
    uint64_t *attempts = snapshot->attempts, *pools = snapshot->pools;
    memset(snapshot, 0, sizeof(*snapshot));
    snapshot->attempts = attempts;
    snapshot->pools = pools;
    memset(attempts, 0, size.attempts * sizeof(uint64_t));
    memset(pools, 0, size.pools * sizeof(uint64_t));
}

static void add_u64s(uint64_t *to, const uint64_t *from, size_t count)
{
    for (size_t i = 0; i < count; i++)
        to[i] += from[i];
}

void snapshot_add(struct snapshot *to, const struct snapshot *from, struct snapshot_size size)
{
    _Static_assert(sizeof(struct sensor_counters) % sizeof(uint64_t) == 0, "all counters");
    _Static_assert(sizeof(struct sink_stats) % sizeof(uint64_t) == 0, "all counters");
    add_u64s((uint64_t *)&to->counters, (const uint64_t *)&from->counters,
             sizeof(to->counters) / sizeof(uint64_t));
    events_tally_add(&to->events, &from->events);
    to->now = from->now > to->now ? from->now : to->now;
    to->published_at =
        from->published_at > to->published_at ? from->published_at : to->published_at;
    if (from->snaplen > 0 && (to->snaplen == 0 || from->snaplen < to->snaplen))
        to->snaplen = from->snaplen;
    add_u64s(to->attempts, from->attempts, size.attempts);
    add_u64s(to->pools, from->pools, size.pools);
}

/* ---- Slots: a part is a sequence number, the snapshot's fixed part, then its attempt and
 * pool arrays; a slot is its two parts. ---- */

struct part_header {
    uint64_t sequence;
};

int slots_map(struct slots *slots, unsigned workers, struct snapshot_size size)
{
    slots->size = size;
    slots->workers = workers;
    slots->part_bytes = sizeof(struct part_header) + sizeof(struct snapshot) +
                        (size.attempts + size.pools) * sizeof(uint64_t);
    slots->part_bytes = (slots->part_bytes + 63) & ~(size_t)63;
    void *memory = mmap(NULL, slots->part_bytes * 2 * workers, PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) {
        slots->memory = NULL;
        return -1;
    }
    slots->memory = memory;
    return 0;
}

void slots_unmap(struct slots *slots)
{
    if (slots->memory != NULL)
        munmap(slots->memory, slots->part_bytes * 2 * slots->workers);
    slots->memory = NULL;
}

static void part_layout(const struct slots *slots, unsigned worker, enum slot_part part,
                        struct part_header **header, struct snapshot **fixed, uint64_t **attempts,
                        uint64_t **pools)
{
    uint8_t *at = slots->memory + ((size_t)worker * 2 + (size_t)part) * slots->part_bytes;
    *header = (struct part_header *)at;
    *fixed = (struct snapshot *)(at + sizeof(struct part_header));
    *attempts = (uint64_t *)(at + sizeof(struct part_header) + sizeof(struct snapshot));
    *pools = *attempts + slots->size.attempts;
}

void slot_write(struct slots *slots, unsigned worker, enum slot_part part,
                const struct snapshot *from)
{
    struct part_header *header;
    struct snapshot *fixed;
    uint64_t *attempts, *pools;
    part_layout(slots, worker, part, &header, &fixed, &attempts, &pools);
    __atomic_store_n(&header->sequence, header->sequence + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    memcpy(fixed, from, sizeof(*fixed));
    memcpy(attempts, from->attempts, slots->size.attempts * sizeof(uint64_t));
    memcpy(pools, from->pools, slots->size.pools * sizeof(uint64_t));
    __atomic_store_n(&header->sequence, header->sequence + 1, __ATOMIC_RELEASE);
}

bool slot_read(const struct slots *slots, unsigned worker, enum slot_part part,
               struct snapshot *scratch, bool arrays)
{
    struct part_header *header;
    struct snapshot *fixed;
    uint64_t *attempts, *pools;
    part_layout(slots, worker, part, &header, &fixed, &attempts, &pools);
    for (int tries = 0; tries < 1000; tries++) {
        uint64_t before = __atomic_load_n(&header->sequence, __ATOMIC_ACQUIRE);
        if (before & 1)
            continue;
        /* The slot's own array pointers are the worker's: only the values are taken. */
        uint64_t *scratch_attempts = scratch->attempts, *scratch_pools = scratch->pools;
        memcpy(scratch, fixed, sizeof(*scratch));
        scratch->attempts = scratch_attempts;
        scratch->pools = scratch_pools;
        if (arrays) {
            memcpy(scratch_attempts, attempts, slots->size.attempts * sizeof(uint64_t));
            memcpy(scratch_pools, pools, slots->size.pools * sizeof(uint64_t));
        }
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&header->sequence, __ATOMIC_RELAXED) == before)
            return true;
    }
    return false;
}

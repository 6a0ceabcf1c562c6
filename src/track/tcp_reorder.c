#include "track/tcp_reorder.h"

#include <stdlib.h>
#include <string.h>

#include "util/slot_pool.h"

struct held_segment {
    uint32_t seq;
    uint32_t wire;
    uint16_t captured;
    uint16_t offset; /* of its bytes in the direction's buffer */
};

struct held_direction {
    uint8_t count;
    uint16_t used;     /* buffer bytes taken; the buffer is reused once nothing is held */
    packet_time since; /* when the hole was first seen */
    struct held_segment segments[TCP_REORDER_SEGMENTS];
    uint8_t bytes[TCP_REORDER_BYTES];
};

struct held_connection {
    struct held_direction directions[2];
};

struct tcp_reorder_pool {
    struct held_connection *slots;
    struct slot_pool free;
    uint64_t *reordered;
};

struct tcp_reorder_pool *tcp_reorder_new(uint32_t slots, uint64_t *reordered)
{
    struct tcp_reorder_pool *pool = calloc(1, sizeof(*pool));
    if (pool == NULL)
        return NULL;
    pool->reordered = reordered;
    /* calloc: pages of slots never used are never touched. */
    pool->slots = calloc(slots, sizeof(*pool->slots));
    if (pool->slots == NULL || slot_pool_init(&pool->free, slots) != 0) {
        free(pool->slots);
        free(pool);
        return NULL;
    }
    return pool;
}

void tcp_reorder_free(struct tcp_reorder_pool *pool)
{
    if (pool == NULL)
        return;
    free(pool->slots);
    slot_pool_free(&pool->free);
    free(pool);
}

bool tcp_reorder_holds(const struct tcp_reorder_pool *pool, uint32_t slot, unsigned direction)
{
    return slot != TCP_REORDER_NONE && pool->slots[slot].directions[direction].count > 0;
}

static void give_back_if_empty(struct tcp_reorder_pool *pool, uint32_t *slot)
{
    if (*slot == TCP_REORDER_NONE || tcp_reorder_holds(pool, *slot, 0) ||
        tcp_reorder_holds(pool, *slot, 1))
        return;
    slot_pool_give(&pool->free, *slot);
    *slot = TCP_REORDER_NONE;
}

/* Copies the segment in; false when the direction has no room left. A copy of a segment
 * already held (the same start, no longer) is taken as held. */
static bool hold(struct held_direction *held, const struct tcp_segment *segment, packet_time now)
{
    for (unsigned i = 0; i < held->count; i++) {
        if (held->segments[i].seq == segment->seq && held->segments[i].wire >= segment->wire)
            return true;
    }
    if (held->count == TCP_REORDER_SEGMENTS ||
        segment->captured > (uint32_t)(TCP_REORDER_BYTES - held->used))
        return false;
    if (held->count == 0) {
        held->since = now;
        held->used = 0;
    }
    struct held_segment *entry = &held->segments[held->count++];
    entry->seq = segment->seq;
    entry->wire = segment->wire;
    entry->captured = (uint16_t)segment->captured;
    entry->offset = held->used;
    if (segment->captured > 0)
        memcpy(held->bytes + held->used, segment->data, segment->captured);
    held->used = (uint16_t)(held->used + segment->captured);
    return true;
}

/* The held segment with the lowest sequence number (relative to next, so wrapping
 * sequence numbers sort right), or -1 when none is held. */
static int lowest(const struct held_direction *held, uint32_t next)
{
    int best = -1;
    for (unsigned i = 0; i < held->count; i++) {
        if (best < 0 ||
            (int32_t)(held->segments[i].seq - next) < (int32_t)(held->segments[best].seq - next))
            best = (int)i;
    }
    return best;
}

/* Takes segment "index" out and delivers it; the bytes stay valid while it is delivered,
 * since nothing is held meanwhile. filled: its hole was filled (not given up), so it was
 * put back in order. */
static void deliver_held(struct tcp_reorder_pool *pool, struct held_direction *held, int index,
                         unsigned direction, bool filled, tcp_reorder_deliver deliver,
                         void *context)
{
    struct held_segment entry = held->segments[index];
    held->segments[index] = held->segments[--held->count];
    struct tcp_segment segment = {entry.seq, entry.captured, entry.wire,
                                  held->bytes + entry.offset};
    if (filled && pool->reordered != NULL)
        (*pool->reordered)++;
    deliver(context, direction, &segment);
}

/* Delivers the held segments the stream has reached. */
static void drain(struct tcp_reorder_pool *pool, uint32_t slot, unsigned direction,
                  const uint32_t *next, tcp_reorder_deliver deliver, void *context)
{
    struct held_direction *held = &pool->slots[slot].directions[direction];
    int index;
    while ((index = lowest(held, *next)) >= 0 && (int32_t)(held->segments[index].seq - *next) <= 0)
        deliver_held(pool, held, index, direction, true, deliver, context);
}

void tcp_reorder_flush(struct tcp_reorder_pool *pool, uint32_t *slot, unsigned direction,
                       const uint32_t *next, tcp_reorder_deliver deliver, void *context)
{
    if (*slot == TCP_REORDER_NONE)
        return;
    struct held_direction *held = &pool->slots[*slot].directions[direction];
    int index;
    while ((index = lowest(held, *next)) >= 0)
        deliver_held(pool, held, index, direction, false, deliver, context);
    give_back_if_empty(pool, slot);
}

/* No room for one more: the held ones that come before the segment go first (the first
 * after a gap), then the segment, then the rest in order. */
static void overflow(struct tcp_reorder_pool *pool, uint32_t *slot, unsigned direction,
                     const uint32_t *next, const struct tcp_segment *segment,
                     tcp_reorder_deliver deliver, void *context)
{
    struct held_direction *held = &pool->slots[*slot].directions[direction];
    int index;
    while ((index = lowest(held, *next)) >= 0 &&
           (int32_t)(held->segments[index].seq - segment->seq) < 0)
        deliver_held(pool, held, index, direction, false, deliver, context);
    deliver(context, direction, segment);
    tcp_reorder_flush(pool, slot, direction, next, deliver, context);
}

void tcp_reorder_feed(struct tcp_reorder_pool *pool, uint32_t *slot, unsigned direction,
                      const uint32_t *next, const struct tcp_segment *segment, packet_time now,
                      tcp_reorder_deliver deliver, void *context)
{
    bool early = (int32_t)(segment->seq - *next) > 0;
    /* A slot is given back only once both directions are empty: one taken is empty. */
    if (early && *slot == TCP_REORDER_NONE)
        *slot = slot_pool_take(&pool->free);
    if (!early || *slot == TCP_REORDER_NONE) {
        deliver(context, direction, segment);
        if (*slot != TCP_REORDER_NONE) {
            drain(pool, *slot, direction, next, deliver, context);
            give_back_if_empty(pool, slot);
        }
        return;
    }
    struct held_direction *held = &pool->slots[*slot].directions[direction];
    if (hold(held, segment, now))
        return;
    overflow(pool, slot, direction, next, segment, deliver, context);
}

void tcp_reorder_expire(struct tcp_reorder_pool *pool, uint32_t *slot, unsigned direction,
                        const uint32_t *next, packet_time now, tcp_reorder_deliver deliver,
                        void *context)
{
    if (!tcp_reorder_holds(pool, *slot, direction))
        return;
    if (now - pool->slots[*slot].directions[direction].since >= TCP_REORDER_WAIT)
        tcp_reorder_flush(pool, slot, direction, next, deliver, context);
}

void tcp_reorder_discard(struct tcp_reorder_pool *pool, uint32_t *slot)
{
    if (*slot == TCP_REORDER_NONE)
        return;
    pool->slots[*slot].directions[0].count = 0;
    pool->slots[*slot].directions[1].count = 0;
    give_back_if_empty(pool, slot);
}

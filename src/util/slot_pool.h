/* Indexes into a preallocated array of per-connection state (dialogue parsers, nDPI flow
 * state): taken and given back in O(1) with no allocation, lowest unused first, so the
 * memory behind slots never used is never touched. */
#ifndef OP25B_SLOT_POOL_H
#define OP25B_SLOT_POOL_H

#include <stdint.h>

#define SLOT_POOL_NONE UINT32_MAX

struct slot_pool {
    uint32_t *released; /* stack of slots given back */
    uint32_t released_count;
    uint32_t high_water; /* slots below this were handed out at least once */
    uint32_t capacity;
};

/* 0, or -1 when out of memory. */
int slot_pool_init(struct slot_pool *pool, uint32_t capacity);
void slot_pool_free(struct slot_pool *pool);

/* A slot, or SLOT_POOL_NONE when all capacity slots are taken. */
static inline uint32_t slot_pool_take(struct slot_pool *pool)
{
    if (pool->released_count > 0)
        return pool->released[--pool->released_count];
    if (pool->high_water < pool->capacity)
        return pool->high_water++;
    return SLOT_POOL_NONE;
}

static inline void slot_pool_give(struct slot_pool *pool, uint32_t slot)
{
    pool->released[pool->released_count++] = slot;
}

#endif

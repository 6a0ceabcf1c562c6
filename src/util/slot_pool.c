#include "util/slot_pool.h"

#include <stdlib.h>

int slot_pool_init(struct slot_pool *pool, uint32_t capacity)
{
    pool->released_count = 0;
    pool->high_water = 0;
    pool->capacity = capacity;
    pool->released = calloc(capacity > 0 ? capacity : 1, sizeof(uint32_t));
    return pool->released != NULL ? 0 : -1;
}

void slot_pool_free(struct slot_pool *pool)
{
    free(pool->released);
    pool->released = NULL;
}

#include "flow.h"

#include <stdlib.h>
#include <string.h>

struct list_ends {
    uint32_t head;
    uint32_t tail;
};

struct flow_table {
    struct flow *slots;
    uint32_t *buckets;
    uint32_t bucket_mask;
    uint32_t capacity;
    uint32_t count;
    uint32_t high_water; /* slots below this were used once; those above are untouched */
    uint32_t free_head;  /* freed slots, linked through hash_next */
    struct list_ends lists[FLOW_LIST_COUNT];
};

struct flow_table *flow_table_new(uint32_t capacity)
{
    if (capacity == 0)
        capacity = 1;
    struct flow_table *table = calloc(1, sizeof(*table));
    if (table == NULL)
        return NULL;
    uint32_t bucket_count = 1;
    while (bucket_count < capacity && bucket_count < (1u << 31))
        bucket_count <<= 1;
    /* calloc: the kernel hands out zero pages lazily, so an idle sensor with a large table
     * does not pay for it in resident memory. */
    table->slots = calloc(capacity, sizeof(struct flow));
    table->buckets = malloc((size_t)bucket_count * sizeof(uint32_t));
    if (table->slots == NULL || table->buckets == NULL)
        goto fail_free_arrays;
    memset(table->buckets, 0xff, (size_t)bucket_count * sizeof(uint32_t));
    table->bucket_mask = bucket_count - 1;
    table->capacity = capacity;
    table->free_head = FLOW_NONE;
    for (int i = 0; i < FLOW_LIST_COUNT; i++)
        table->lists[i].head = table->lists[i].tail = FLOW_NONE;
    return table;

fail_free_arrays:
    free(table->slots);
    free(table->buckets);
    free(table);
    return NULL;
}

void flow_table_free(struct flow_table *table)
{
    if (table == NULL)
        return;
    free(table->slots);
    free(table->buckets);
    free(table);
}

static inline uint64_t load64(const uint8_t *bytes)
{
    uint64_t value;
    memcpy(&value, bytes, sizeof(value));
    return value;
}

/* A multiply-xorshift mix over the key's five words: cheap, and the finaliser spreads the
 * few bits that differ between neighbouring subscriber addresses over the whole hash. */
uint32_t flow_key_hash(const struct flow_key *key)
{
    const uint8_t *bytes = (const uint8_t *)key;
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < sizeof(*key); i += 8) {
        h ^= load64(bytes + i);
        h *= 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
    }
    h *= 0x94d049bb133111ebull;
    h ^= h >> 29;
    return (uint32_t)h ^ (uint32_t)(h >> 32);
}

_Static_assert(sizeof(struct flow_key) % 8 == 0, "flow_key is hashed in 8-byte words");

struct flow *flow_lookup(const struct flow_table *table, const struct flow_key *key,
                         uint32_t hash)
{
    uint32_t index = table->buckets[hash & table->bucket_mask];
    /* Chains are bounded by the table size; the count guards against a corrupted chain. */
    for (uint32_t steps = 0; index != FLOW_NONE && steps <= table->count; steps++) {
        struct flow *flow = &table->slots[index];
        if (memcmp(&flow->key, key, sizeof(*key)) == 0)
            return flow;
        index = flow->hash_next;
    }
    return NULL;
}

struct flow *flow_insert(struct flow_table *table, const struct flow_key *key, uint32_t hash)
{
    uint32_t index;
    if (table->free_head != FLOW_NONE) {
        index = table->free_head;
        table->free_head = table->slots[index].hash_next;
    } else if (table->high_water < table->capacity) {
        index = table->high_water++;
    } else {
        return NULL;
    }
    struct flow *flow = &table->slots[index];
    memset(flow, 0, sizeof(*flow));
    flow->key = *key;
    flow->list = FLOW_LIST_NONE;
    flow->list_prev = flow->list_next = FLOW_NONE;
    flow->session = FLOW_NONE;
    flow->segment = -1;
    flow->pool = -1;
    flow->msa = -1;
    uint32_t *bucket = &table->buckets[hash & table->bucket_mask];
    flow->hash_next = *bucket;
    *bucket = index;
    table->count++;
    return flow;
}

static void list_unlink(struct flow_table *table, struct flow *flow)
{
    if (flow->list == FLOW_LIST_NONE)
        return;
    struct list_ends *ends = &table->lists[flow->list];
    if (flow->list_prev != FLOW_NONE)
        table->slots[flow->list_prev].list_next = flow->list_next;
    else
        ends->head = flow->list_next;
    if (flow->list_next != FLOW_NONE)
        table->slots[flow->list_next].list_prev = flow->list_prev;
    else
        ends->tail = flow->list_prev;
    flow->list = FLOW_LIST_NONE;
    flow->list_prev = flow->list_next = FLOW_NONE;
}

void flow_remove(struct flow_table *table, struct flow *flow)
{
    uint32_t index = (uint32_t)(flow - table->slots);
    list_unlink(table, flow);
    uint32_t *link = &table->buckets[flow_key_hash(&flow->key) & table->bucket_mask];
    while (*link != FLOW_NONE && *link != index)
        link = &table->slots[*link].hash_next;
    if (*link == index)
        *link = flow->hash_next;
    flow->hash_next = table->free_head;
    table->free_head = index;
    table->count--;
}

void flow_list_append(struct flow_table *table, struct flow *flow, enum flow_list list)
{
    uint32_t index = (uint32_t)(flow - table->slots);
    struct list_ends *ends = &table->lists[list];
    if (flow->list == list && ends->tail == index)
        return;
    list_unlink(table, flow);
    flow->list = (uint8_t)list;
    flow->list_prev = ends->tail;
    flow->list_next = FLOW_NONE;
    if (ends->tail != FLOW_NONE)
        table->slots[ends->tail].list_next = index;
    else
        ends->head = index;
    ends->tail = index;
}

struct flow *flow_list_head(const struct flow_table *table, enum flow_list list)
{
    uint32_t head = table->lists[list].head;
    return head == FLOW_NONE ? NULL : &table->slots[head];
}

struct flow *flow_list_next(const struct flow_table *table, const struct flow *flow)
{
    return flow->list_next == FLOW_NONE ? NULL : &table->slots[flow->list_next];
}

uint32_t flow_table_count(const struct flow_table *table)
{
    return table->count;
}

uint32_t flow_table_capacity(const struct flow_table *table)
{
    return table->capacity;
}

uint32_t flow_index(const struct flow_table *table, const struct flow *flow)
{
    return (uint32_t)(flow - table->slots);
}

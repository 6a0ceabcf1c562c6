#include "track/flow.h"

#include <stdlib.h>
#include <string.h>

#include "util/prefault.h"

struct list_ends {
    uint32_t head;
    uint32_t tail;
};

struct list_timer {
    packet_time *due; /* NULL: the list has no timer */
    packet_time timeout;
    enum flow_time field;
};

/* An index entry: the key's hash in the high half, slot + 1 in the low half; 0 is empty,
 * so a calloc'd index is an empty one. */
typedef uint64_t index_entry;

/* The index starts this small and doubles as the table fills: a table that holds few flows
 * at a time (most of them, on most links) keeps its index in the cache instead of spreading
 * its entries over tens of MiB. */
#define INDEX_INITIAL 4096

struct flow_table {
    unsigned char *slots; /* capacity slots of stride bytes: an entry, then its record */
    size_t stride;
    index_entry *index;
    uint32_t index_mask;
    uint32_t index_mask_max; /* the size that holds capacity flows at most 2/3 full */
    uint32_t capacity;
    uint32_t count;
    uint32_t high_water; /* slots below this were used once; those above are untouched */
    size_t populated;    /* bytes of slots from the start whose pages were asked for */
    uint32_t free_head;  /* freed slots, linked through hash */
    struct list_ends lists[FLOW_LISTS];
    struct list_timer timers[FLOW_LISTS];
};

static inline struct flow *slot_at(const struct flow_table *table, uint32_t slot)
{
    return (struct flow *)(table->slots + (size_t)slot * table->stride);
}

static inline uint32_t slot_of(const struct flow_table *table, const struct flow *flow)
{
    (void)table;
    return flow->slot;
}

struct flow_table *flow_table_new(uint32_t capacity, size_t record_size)
{
    if (capacity == 0)
        capacity = 1;
    struct flow_table *table = calloc(1, sizeof(*table));
    if (table == NULL)
        return NULL;
    /* Up to at least 1.5 times the capacity, so the index is never more than two thirds
     * full: linear probing stays within a cache line or two, an empty entry always ends a
     * probe, and 2.5 million flows keep a 32 MiB index, the size of a server's L3 cache. */
    uint64_t index_count = 2;
    while (index_count < (uint64_t)capacity + capacity / 2 + 1)
        index_count <<= 1;
    if (index_count > (UINT64_C(1) << 32))
        goto fail_free_arrays;
    /* calloc: the kernel hands out zero pages lazily, so an idle sensor with a large table
     * does not pay for it in resident memory. */
    table->index_mask_max = (uint32_t)(index_count - 1);
    if (index_count > INDEX_INITIAL)
        index_count = INDEX_INITIAL;
    /* Records start right after the entry, aligned as any scalar they may hold. */
    table->stride = (sizeof(struct flow) + record_size + 7) & ~(size_t)7;
    table->slots = calloc(capacity, table->stride);
    table->index = calloc(index_count, sizeof(index_entry));
    if (table->slots == NULL || table->index == NULL)
        goto fail_free_arrays;
    table->index_mask = (uint32_t)(index_count - 1);
    table->capacity = capacity;
    table->free_head = FLOW_NONE;
    for (int i = 0; i < FLOW_LISTS; i++)
        table->lists[i].head = table->lists[i].tail = FLOW_NONE;
    return table;

fail_free_arrays:
    free(table->slots);
    free(table->index);
    free(table);
    return NULL;
}

void flow_table_free(struct flow_table *table)
{
    if (table == NULL)
        return;
    free(table->slots);
    free(table->index);
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

static inline index_entry make_entry(uint32_t hash, uint32_t slot)
{
    return ((index_entry)hash << 32) | (slot + 1);
}

static inline uint32_t entry_hash(index_entry entry)
{
    return (uint32_t)(entry >> 32);
}

static inline uint32_t entry_slot(index_entry entry)
{
    return (uint32_t)entry - 1;
}

struct flow *flow_lookup(const struct flow_table *table, const struct flow_key *key, uint32_t hash)
{
    uint32_t mask = table->index_mask;
    /* The index is never more than two thirds full, so an empty entry ends every probe;
     * the step count only guards against a corrupted index. */
    for (uint32_t position = hash & mask, steps = 0; steps <= mask;
         position = (position + 1) & mask, steps++) {
        index_entry entry = table->index[position];
        if (entry == 0)
            return NULL;
        if (entry_hash(entry) != hash)
            continue;
        struct flow *flow = slot_at(table, entry_slot(entry));
        if (memcmp(&flow->key, key, sizeof(*key)) == 0)
            return flow;
    }
    return NULL;
}

void flow_prefetch(const struct flow_table *table, uint32_t hash)
{
    __builtin_prefetch(&table->index[hash & table->index_mask], 1);
}

static void index_place(index_entry *index, uint32_t mask, index_entry entry)
{
    uint32_t position = entry_hash(entry) & mask;
    while (index[position] != 0)
        position = (position + 1) & mask;
    index[position] = entry;
}

/* Twice the entries, every entry placed again; the slots do not move, so flow pointers
 * stay valid. false when out of memory. */
static bool index_grow(struct flow_table *table)
{
    uint64_t entries = ((uint64_t)table->index_mask + 1) * 2;
    index_entry *larger = calloc(entries, sizeof(index_entry));
    if (larger == NULL)
        return false;
    /* A third full once every entry is placed again, at random: nearly every page. */
    prefault(larger, entries * sizeof(index_entry));
    uint32_t mask = (uint32_t)(entries - 1);
    for (uint64_t i = 0; i <= table->index_mask; i++)
        if (table->index[i] != 0)
            index_place(larger, mask, table->index[i]);
    free(table->index);
    table->index = larger;
    table->index_mask = mask;
    return true;
}

/* New slots are taken in order (high_water), so their pages are first touched in order
 * too: the pages ahead are asked for in one call (prefault), an eighth of what is in use
 * at a time (at least 256 KiB), so a table still takes memory only as it fills. */
#define PREFAULT_MIN ((size_t)256 << 10)

static void prefault_ahead(struct flow_table *table, uint32_t slot)
{
    size_t end = ((size_t)slot + 1) * table->stride;
    if (end <= table->populated)
        return;
    size_t total = (size_t)table->capacity * table->stride;
    size_t step = table->populated / 8 > PREFAULT_MIN ? table->populated / 8 : PREFAULT_MIN;
    size_t to = end + step < total ? end + step : total;
    prefault(table->slots + table->populated, to - table->populated);
    table->populated = to;
}

struct flow *flow_insert(struct flow_table *table, const struct flow_key *key, uint32_t hash)
{
    /* Kept at most two thirds full, so an empty entry ends every probe. Out of memory
     * reads as a full table: the caller evicts or does without. */
    if (((uint64_t)table->count + 1) * 3 > ((uint64_t)table->index_mask + 1) * 2 &&
        (table->index_mask >= table->index_mask_max || !index_grow(table)))
        return NULL;
    uint32_t slot;
    if (table->free_head != FLOW_NONE) {
        slot = table->free_head;
        table->free_head = slot_at(table, slot)->hash;
    } else if (table->high_water < table->capacity) {
        slot = table->high_water++;
        prefault_ahead(table, slot);
    } else {
        return NULL;
    }
    struct flow *flow = slot_at(table, slot);
    memset(flow, 0, table->stride);
    flow->key = *key;
    flow->hash = hash;
    flow->slot = slot;
    flow->list = FLOW_LIST_NONE;
    flow->list_prev = flow->list_next = FLOW_NONE;
    index_place(table->index, table->index_mask, make_entry(hash, slot));
    table->count++;
    return flow;
}

/* Linear probing's deletion without tombstones: entries after the hole that may live
 * there (their home position is not between the hole and them) move back into it. */
static void index_delete(struct flow_table *table, uint32_t hole)
{
    uint32_t mask = table->index_mask;
    for (uint32_t next = (hole + 1) & mask;; next = (next + 1) & mask) {
        index_entry entry = table->index[next];
        if (entry == 0)
            break;
        uint32_t home = entry_hash(entry) & mask;
        if (((next - home) & mask) >= ((next - hole) & mask)) {
            table->index[hole] = entry;
            hole = next;
        }
    }
    table->index[hole] = 0;
}

static void list_unlink(struct flow_table *table, struct flow *flow)
{
    if (flow->list == FLOW_LIST_NONE)
        return;
    struct list_ends *ends = &table->lists[flow->list];
    if (flow->list_prev != FLOW_NONE)
        slot_at(table, flow->list_prev)->list_next = flow->list_next;
    else
        ends->head = flow->list_next;
    if (flow->list_next != FLOW_NONE)
        slot_at(table, flow->list_next)->list_prev = flow->list_prev;
    else
        ends->tail = flow->list_prev;
    flow->list = FLOW_LIST_NONE;
    flow->list_prev = flow->list_next = FLOW_NONE;
}

void flow_remove(struct flow_table *table, struct flow *flow)
{
    uint32_t slot = slot_of(table, flow);
    list_unlink(table, flow);
    uint32_t mask = table->index_mask;
    index_entry wanted = make_entry(flow->hash, slot);
    for (uint32_t position = flow->hash & mask, steps = 0; steps <= mask;
         position = (position + 1) & mask, steps++) {
        index_entry entry = table->index[position];
        if (entry == wanted) {
            index_delete(table, position);
            break;
        }
        if (entry == 0)
            break; /* not indexed: cannot happen, but the slot is still freed */
    }
    flow->hash = table->free_head;
    table->free_head = slot;
    table->count--;
}

void flow_table_clear(struct flow_table *table)
{
    size_t index_bytes = ((size_t)table->index_mask + 1) * sizeof(index_entry);
    /* Fresh zero pages rather than a memset: a large index that was mostly untouched
     * stays out of resident memory. */
    index_entry *fresh = calloc((size_t)table->index_mask + 1, sizeof(index_entry));
    if (fresh != NULL) {
        free(table->index);
        table->index = fresh;
    } else {
        memset(table->index, 0, index_bytes);
    }
    table->count = 0;
    table->high_water = 0;
    table->free_head = FLOW_NONE;
    for (int i = 0; i < FLOW_LISTS; i++)
        table->lists[i].head = table->lists[i].tail = FLOW_NONE;
}

void flow_table_set_timer(struct flow_table *table, unsigned list, enum flow_time field,
                          packet_time timeout, packet_time *due)
{
    table->timers[list] = (struct list_timer){.due = due, .timeout = timeout, .field = field};
}

static packet_time deadline_of(const struct list_timer *timer, const struct flow *flow)
{
    switch (timer->field) {
    case FLOW_TIME_FIRST_SEEN:
        return flow->first_seen + timer->timeout;
    case FLOW_TIME_MARK:
        return flow->mark + timer->timeout;
    case FLOW_TIME_LAST_SEEN:
        break;
    }
    return flow->last_seen + timer->timeout;
}

packet_time flow_table_next_deadline(const struct flow_table *table)
{
    packet_time soonest = INT64_MAX;
    for (int list = 0; list < FLOW_LISTS; list++) {
        const struct list_timer *timer = &table->timers[list];
        uint32_t head = table->lists[list].head;
        if (timer->due == NULL || head == FLOW_NONE)
            continue;
        packet_time deadline = deadline_of(timer, slot_at(table, head));
        if (deadline < soonest)
            soonest = deadline;
    }
    return soonest;
}

void flow_list_append(struct flow_table *table, struct flow *flow, unsigned list)
{
    const struct list_timer *timer = &table->timers[list];
    if (timer->due != NULL) {
        packet_time deadline = deadline_of(timer, flow);
        if (deadline < *timer->due)
            *timer->due = deadline;
    }
    uint32_t index = slot_of(table, flow);
    struct list_ends *ends = &table->lists[list];
    if (flow->list == list && ends->tail == index)
        return;
    list_unlink(table, flow);
    flow->list = (uint8_t)list;
    flow->list_prev = ends->tail;
    flow->list_next = FLOW_NONE;
    if (ends->tail != FLOW_NONE)
        slot_at(table, ends->tail)->list_next = index;
    else
        ends->head = index;
    ends->tail = index;
}

struct flow *flow_list_head(const struct flow_table *table, unsigned list)
{
    uint32_t head = table->lists[list].head;
    return head == FLOW_NONE ? NULL : slot_at(table, head);
}

void flow_list_prefetch(const struct flow_table *table, unsigned list)
{
    uint32_t head = table->lists[list].head;
    if (head == FLOW_NONE)
        return;
    /* The head itself is in the cache (fetched as the one after the head last time); its
     * successor's slot was fetched then too, so its hash can be read without waiting. */
    uint32_t next = slot_at(table, head)->list_next;
    if (next == FLOW_NONE)
        return;
    const struct flow *second = slot_at(table, next);
    __builtin_prefetch(&table->index[second->hash & table->index_mask], 1);
    if (second->list_next != FLOW_NONE)
        __builtin_prefetch(slot_at(table, second->list_next), 1);
}

struct flow *flow_list_next(const struct flow_table *table, const struct flow *flow)
{
    return flow->list_next == FLOW_NONE ? NULL : slot_at(table, flow->list_next);
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
    return slot_of(table, flow);
}

#include "util/window_set.h"

#include <stdlib.h>
#include <string.h>

#include "util/prefault.h"

#define KEY_BITS 56
#define KEY_MASK ((UINT64_C(1) << KEY_BITS) - 1)
#define GENERATION_MAX 255

struct window_set {
    uint64_t *slots; /* generation << 56 | key; generation 0 is never current */
    uint32_t mask;
    uint32_t limit; /* keys the table holds: 3/4 of the slots keeps probe runs short */
    uint32_t slots_max;
    uint32_t count;
    uint64_t generation;
};

static uint32_t slots_for(uint32_t keys)
{
    uint64_t slots = 16;
    while (slots < (uint64_t)keys * 4 / 3 + 1 && slots < (UINT64_C(1) << 31))
        slots <<= 1;
    return (uint32_t)slots;
}

struct window_set *window_set_new(uint32_t initial, uint32_t capacity)
{
    if (capacity < 16)
        capacity = 16;
    if (initial > capacity)
        initial = capacity;
    struct window_set *set = calloc(1, sizeof(*set));
    if (set == NULL)
        return NULL;
    uint32_t slots = slots_for(initial);
    set->slots = calloc(slots, sizeof(uint64_t));
    if (set->slots == NULL) {
        free(set);
        return NULL;
    }
    set->mask = slots - 1;
    set->limit = slots / 4 * 3;
    set->slots_max = slots_for(capacity);
    set->generation = 1;
    return set;
}

void window_set_free(struct window_set *set)
{
    if (set == NULL)
        return;
    free(set->slots);
    free(set);
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    return x;
}

uint64_t window_set_hash(uint64_t kind, const void *bytes, size_t length)
{
    const uint8_t *data = bytes;
    uint64_t h = mix(kind ^ UINT64_C(0x9e3779b97f4a7c15) ^ length);
    for (size_t i = 0; i < length; i += 8) {
        uint64_t word = 0;
        memcpy(&word, data + i, length - i < 8 ? length - i : 8);
        h = mix(h ^ word);
    }
    return h;
}

/* Slots of older windows are free: linear probing stops at the first slot that is not of
 * this window, which is sound because nothing is ever removed within a window. */
static uint64_t *find_in(uint64_t *slots, uint32_t mask, uint64_t generation, uint64_t key,
                         bool *found)
{
    uint64_t wanted = generation << KEY_BITS | (key & KEY_MASK);
    uint32_t index = (uint32_t)mix(key & KEY_MASK) & mask;
    for (;;) {
        uint64_t slot = slots[index];
        if (slot >> KEY_BITS != generation) {
            *found = false;
            return &slots[index];
        }
        if (slot == wanted) {
            *found = true;
            return &slots[index];
        }
        index = (index + 1) & mask;
    }
}

static uint64_t *find(const struct window_set *set, uint64_t key, bool *found)
{
    return find_in(set->slots, set->mask, set->generation, key, found);
}

/* Doubles the table, carrying this window's keys over; older slots are left behind. */
static bool grow(struct window_set *set)
{
    if (set->mask + 1 >= set->slots_max)
        return false;
    uint32_t slots = (set->mask + 1) * 2;
    uint64_t *larger = calloc(slots, sizeof(uint64_t));
    if (larger == NULL)
        return false;
    /* Half full once this window's keys are placed again, at random: every page. */
    prefault(larger, (size_t)slots * sizeof(uint64_t));
    for (uint32_t i = 0; i <= set->mask; i++) {
        uint64_t slot = set->slots[i];
        if (slot >> KEY_BITS != set->generation)
            continue;
        bool found;
        *find_in(larger, slots - 1, set->generation, slot & KEY_MASK, &found) = slot;
    }
    free(set->slots);
    set->slots = larger;
    set->mask = slots - 1;
    set->limit = slots / 4 * 3;
    return true;
}

enum window_set_result window_set_add(struct window_set *set, uint64_t key)
{
    bool found;
    uint64_t *slot = find(set, key, &found);
    if (found)
        return WINDOW_SET_PRESENT;
    if (set->count >= set->limit) {
        if (!grow(set))
            return WINDOW_SET_FULL;
        slot = find(set, key, &found);
    }
    *slot = set->generation << KEY_BITS | (key & KEY_MASK);
    set->count++;
    return WINDOW_SET_ADDED;
}

void window_set_prefetch(const struct window_set *set, uint64_t key)
{
    __builtin_prefetch(&set->slots[(uint32_t)mix(key & KEY_MASK) & set->mask], 1);
}

bool window_set_contains(const struct window_set *set, uint64_t key)
{
    bool found;
    find(set, key, &found);
    return found;
}

void window_set_clear(struct window_set *set)
{
    set->count = 0;
    if (set->generation < GENERATION_MAX) {
        set->generation++;
        return;
    }
    /* The generation would wrap onto slots still holding it: start the table afresh. */
    memset(set->slots, 0, ((size_t)set->mask + 1) * sizeof(uint64_t));
    set->generation = 1;
}

uint32_t window_set_count(const struct window_set *set)
{
    return set->count;
}

uint32_t window_set_capacity(const struct window_set *set)
{
    return set->slots_max / 4 * 3;
}

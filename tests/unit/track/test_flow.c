#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "track/flow.h"

static struct flow_key key_of(uint32_t n)
{
    struct flow_key key;
    memset(&key, 0, sizeof(key));
    key.family = ADDRESS_V4;
    key.proto = 6;
    key.client[0] = 10;
    key.client[1] = (uint8_t)(n >> 16);
    key.client[2] = (uint8_t)(n >> 8);
    key.client[3] = (uint8_t)n;
    key.server[0] = 192;
    key.server[3] = 25;
    key.client_port = (uint16_t)(1024 + (n % 50000));
    key.server_port = 25;
    return key;
}

/* The tests' tables keep one number beside each entry. */
enum { LIST_A = 0, LIST_B = 1 };

static uint32_t *value_of(struct flow *flow)
{
    return flow_record(flow);
}

static struct flow *insert(struct flow_table *table, uint32_t n)
{
    struct flow_key key = key_of(n);
    return flow_insert(table, &key, flow_key_hash(&key));
}

static struct flow *lookup(struct flow_table *table, uint32_t n)
{
    struct flow_key key = key_of(n);
    return flow_lookup(table, &key, flow_key_hash(&key));
}

Test(flow, insert_lookup_remove)
{
    struct flow_table *table = flow_table_new(8, sizeof(uint32_t));
    cr_assert_not_null(table);
    struct flow *flow = insert(table, 1);
    cr_assert_not_null(flow);
    cr_assert_eq(*value_of(flow), 0, "a new entry's record starts zeroed");
    cr_assert_eq(flow->list, FLOW_LIST_NONE);
    cr_assert_eq(lookup(table, 1), flow);
    cr_assert_null(lookup(table, 2));
    cr_assert_eq(flow_table_count(table), 1);
    flow_remove(table, flow);
    cr_assert_null(lookup(table, 1));
    cr_assert_eq(flow_table_count(table), 0);
    flow_table_free(table);
}

Test(flow, full_table_refuses_and_reuses_freed_slots)
{
    struct flow_table *table = flow_table_new(4, sizeof(uint32_t));
    for (uint32_t n = 0; n < 4; n++)
        cr_assert_not_null(insert(table, n));
    cr_assert_null(insert(table, 99), "a full table must refuse, never grow");
    flow_remove(table, lookup(table, 2));
    cr_assert_not_null(insert(table, 99));
    cr_assert_not_null(lookup(table, 99));
    cr_assert_null(lookup(table, 2));
    for (uint32_t n = 0; n < 4; n++)
        if (n != 2)
            cr_assert_not_null(lookup(table, n));
    flow_table_free(table);
}

Test(flow, lists_keep_append_order_and_move_on_refresh)
{
    struct flow_table *table = flow_table_new(16, sizeof(uint32_t));
    struct flow *a = insert(table, 1), *b = insert(table, 2), *c = insert(table, 3);
    flow_list_append(table, a, LIST_A);
    flow_list_append(table, b, LIST_A);
    flow_list_append(table, c, LIST_A);
    cr_assert_eq(flow_list_head(table, LIST_A), a);
    flow_list_append(table, a, LIST_A); /* refreshed: goes to the tail */
    cr_assert_eq(flow_list_head(table, LIST_A), b);
    cr_assert_eq(flow_list_next(table, b), c);
    cr_assert_eq(flow_list_next(table, c), a);
    cr_assert_null(flow_list_next(table, a));
    flow_list_append(table, b, LIST_B); /* moved to the other list */
    cr_assert_eq(flow_list_head(table, LIST_A), c);
    cr_assert_eq(flow_list_head(table, LIST_B), b);
    flow_remove(table, c); /* removing unlinks */
    cr_assert_eq(flow_list_head(table, LIST_A), a);
    cr_assert_null(flow_list_next(table, a));
    flow_table_free(table);
}

/* Random operations checked against a plain array model: every key the model holds is
 * found with its payload, every other is absent, lists hold exactly the listed flows. */
typedef uint32_t (*hash_function)(uint32_t n, const struct flow_key *key);

static void random_operations(hash_function hash_of, uint32_t capacity, uint32_t keys, int steps)
{
    const uint32_t CAPACITY = capacity, KEYS = keys;
    const int STEPS = steps;
    struct flow_table *table = flow_table_new(CAPACITY, sizeof(uint32_t));
    bool *present = calloc(KEYS, sizeof(bool));
    size_t present_count = 0;
    uint64_t state = 12345;
    for (int step = 0; step < STEPS; step++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t n = (uint32_t)(state >> 33) % KEYS;
        struct flow_key key = key_of(n);
        uint32_t hash = hash_of(n, &key);
        struct flow *flow = flow_lookup(table, &key, hash);
        cr_assert_eq(flow != NULL, present[n], "step %d key %u", step, n);
        if (flow != NULL) {
            cr_assert_eq(*value_of(flow), n);
            if ((state >> 20) & 1) {
                flow_remove(table, flow);
                present[n] = false;
                present_count--;
            } else {
                flow_list_append(table, flow, (state >> 21) & 1 ? LIST_B : LIST_A);
            }
        } else {
            flow = flow_insert(table, &key, hash);
            if (present_count == CAPACITY) {
                cr_assert_null(flow);
                continue;
            }
            cr_assert_not_null(flow);
            *value_of(flow) = n;
            flow_list_append(table, flow, LIST_A);
            present[n] = true;
            present_count++;
        }
        cr_assert_eq(flow_table_count(table), present_count);
    }
    size_t listed = 0;
    for (int list = 0; list < FLOW_LISTS; list++)
        for (struct flow *f = flow_list_head(table, list); f != NULL; f = flow_list_next(table, f))
            listed++;
    cr_assert_eq(listed, present_count);
    flow_table_free(table);
    free(present);
}

static uint32_t real_hash(uint32_t n, const struct flow_key *key)
{
    (void)n;
    return flow_key_hash(key);
}

/* A handful of hash values, some at the very end of the index: long probe runs that wrap
 * around, where deleting from the middle of a run must keep every later entry findable. */
static uint32_t colliding_hash(uint32_t n, const struct flow_key *key)
{
    (void)key;
    return n % 3 == 0 ? UINT32_MAX - n % 2 : n % 7;
}

Test(flow, random_operations_match_a_model)
{
    random_operations(real_hash, 257, 1000, 200000);
}

Test(flow, random_operations_with_colliding_hashes_match_a_model)
{
    random_operations(colliding_hash, 257, 1000, 200000);
}

/* A capacity whose index starts smaller than it needs: the index doubles two or three times on
 * the way to full, under the same model, with long runs of equal hashes moved as well. */
Test(flow, random_operations_while_the_index_grows_match_a_model)
{
    random_operations(real_hash, 20000, 30000, 300000);
    random_operations(colliding_hash, 6000, 9000, 60000);
}

Test(flow, flows_stay_where_they_are_while_the_index_grows)
{
    enum { COUNT = 50000 };
    struct flow_table *table = flow_table_new(COUNT, sizeof(uint32_t));
    static struct flow *placed[COUNT];
    for (uint32_t n = 0; n < COUNT; n++) {
        placed[n] = insert(table, n);
        cr_assert_not_null(placed[n], "flow %u", n);
        *value_of(placed[n]) = n;
    }
    cr_assert_null(insert(table, COUNT), "the capacity still bounds the table");
    for (uint32_t n = 0; n < COUNT; n++) {
        cr_assert_eq(lookup(table, n), placed[n], "flow %u", n);
        cr_assert_eq(*value_of(placed[n]), n);
    }
    flow_table_free(table);
}

Test(flow, clear_forgets_every_flow_and_the_table_is_reusable)
{
    struct flow_table *table = flow_table_new(100, sizeof(uint32_t));
    for (uint32_t n = 0; n < 100; n++)
        flow_list_append(table, insert(table, n), n % 2 ? LIST_B : LIST_A);
    flow_table_clear(table);
    cr_assert_eq(flow_table_count(table), 0);
    cr_assert_null(flow_list_head(table, LIST_A));
    cr_assert_null(flow_list_head(table, LIST_B));
    for (uint32_t n = 0; n < 100; n++)
        cr_assert_null(lookup(table, n));
    for (uint32_t n = 100; n < 200; n++)
        cr_assert_not_null(insert(table, n), "the whole capacity is free again");
    cr_assert_null(insert(table, 200));
    for (uint32_t n = 100; n < 200; n++)
        cr_assert_not_null(lookup(table, n));
    flow_table_free(table);
}

/* Records of an odd size sit beside their entries without overlapping a neighbour, and a
 * reused slot's record starts zeroed again. */
Test(flow, records_beside_entries_do_not_overlap)
{
    enum { COUNT = 64, RECORD = 13 };
    struct flow_table *table = flow_table_new(COUNT, RECORD);
    struct flow *placed[COUNT];
    for (uint32_t n = 0; n < COUNT; n++) {
        placed[n] = insert(table, n);
        cr_assert_not_null(placed[n]);
        cr_assert_eq((uintptr_t)flow_record(placed[n]) % 8, 0, "records are aligned");
        memset(flow_record(placed[n]), (int)(n + 1), RECORD);
    }
    for (uint32_t n = 0; n < COUNT; n++) {
        const unsigned char *bytes = flow_record(placed[n]);
        for (int i = 0; i < RECORD; i++)
            cr_assert_eq(bytes[i], n + 1, "record %u byte %d", n, i);
        cr_assert_eq(placed[n]->key.client[3], (uint8_t)n, "entry %u intact", n);
        cr_assert_eq(flow_index(table, placed[n]), n);
    }
    flow_remove(table, placed[5]);
    struct flow *again = insert(table, 1000);
    cr_assert_eq(again, placed[5], "the freed slot is reused");
    const unsigned char *bytes = flow_record(again);
    for (int i = 0; i < RECORD; i++)
        cr_assert_eq(bytes[i], 0, "a reused slot's record starts zeroed");
    flow_table_free(table);
}

/* Evicting the head again and again with the prefetches between (lists of every length
 * down to empty, and the index prefetch for hashes anywhere): the table reads and evicts
 * exactly as without them. */
Test(flow, prefetches_change_nothing)
{
    struct flow_table *table = flow_table_new(64, sizeof(uint32_t));
    cr_assert_not_null(table);
    flow_list_prefetch(table, LIST_A); /* empty */
    for (uint32_t n = 0; n < 64; n++) {
        struct flow_key key = key_of(n);
        flow_prefetch(table, flow_key_hash(&key));
        struct flow *flow = insert(table, n);
        cr_assert_not_null(flow);
        *value_of(flow) = n;
        flow_list_append(table, flow, LIST_A);
    }
    for (uint32_t n = 64; n < 1000; n++) {
        struct flow *oldest = flow_list_head(table, LIST_A);
        cr_assert_eq(*value_of(oldest), n - 64, "the least recently appended goes first");
        flow_remove(table, oldest);
        flow_list_prefetch(table, LIST_A);
        struct flow *flow = insert(table, n);
        cr_assert_not_null(flow);
        *value_of(flow) = n;
        flow_list_append(table, flow, LIST_A);
        cr_assert_null(lookup(table, n - 64));
        cr_assert_not_null(lookup(table, n));
    }
    for (uint32_t left = 64; left > 0; left--) {
        flow_remove(table, flow_list_head(table, LIST_A));
        flow_list_prefetch(table, LIST_A); /* down to one entry, then none */
        cr_assert_eq(flow_table_count(table), left - 1);
    }
    cr_assert_null(flow_list_head(table, LIST_A));
    flow_table_free(table);
}

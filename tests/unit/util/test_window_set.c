#include <criterion/criterion.h>

#include "util/window_set.h"

Test(window_set, add_and_contains)
{
    struct window_set *set = window_set_new(100, 100);
    cr_assert_not_null(set);
    cr_assert_geq(window_set_capacity(set), 100);
    for (uint64_t key = 0; key < 100; key++)
        cr_assert_eq(window_set_add(set, window_set_hash(1, &key, sizeof(key))), WINDOW_SET_ADDED);
    for (uint64_t key = 0; key < 100; key++) {
        uint64_t hash = window_set_hash(1, &key, sizeof(key));
        cr_assert(window_set_contains(set, hash));
        cr_assert_eq(window_set_add(set, hash), WINDOW_SET_PRESENT);
        /* The same bytes under another kind are another key. */
        cr_assert(!window_set_contains(set, window_set_hash(2, &key, sizeof(key))));
    }
    cr_assert_eq(window_set_count(set), 100);
    window_set_free(set);
}

Test(window_set, clearing_starts_a_new_window)
{
    struct window_set *set = window_set_new(16, 16);
    uint64_t a = window_set_hash(0, "a", 1), b = window_set_hash(0, "b", 1);
    cr_assert_eq(window_set_add(set, a), WINDOW_SET_ADDED);
    window_set_clear(set);
    cr_assert_eq(window_set_count(set), 0);
    cr_assert(!window_set_contains(set, a));
    cr_assert_eq(window_set_add(set, b), WINDOW_SET_ADDED);
    cr_assert_eq(window_set_add(set, a), WINDOW_SET_ADDED);
    /* Past the generation counter's wrap, old keys stay forgotten. */
    for (int window = 0; window < 600; window++) {
        window_set_clear(set);
        cr_assert(!window_set_contains(set, a), "window %d", window);
        cr_assert(!window_set_contains(set, b), "window %d", window);
        cr_assert_eq(window_set_add(set, window % 2 ? a : b), WINDOW_SET_ADDED);
    }
    window_set_free(set);
}

Test(window_set, grows_to_its_bound_and_no_further)
{
    struct window_set *set = window_set_new(16, 1000);
    uint32_t limit = window_set_capacity(set);
    cr_assert_geq(limit, 1000);
    uint32_t added = 0;
    for (uint64_t key = 0; key < 5000; key++) {
        enum window_set_result result = window_set_add(set, window_set_hash(7, &key, 8));
        if (result == WINDOW_SET_ADDED)
            added++;
        else
            cr_assert_eq(result, WINDOW_SET_FULL, "key %llu", (unsigned long long)key);
    }
    cr_assert_eq(added, limit);
    cr_assert_eq(window_set_count(set), limit);
    /* Every key added before and across the growth is still there; none after. */
    for (uint64_t key = 0; key < 5000; key++)
        cr_assert_eq(window_set_contains(set, window_set_hash(7, &key, 8)), key < limit, "key %llu",
                     (unsigned long long)key);
    uint64_t first = 0;
    cr_assert_eq(window_set_add(set, window_set_hash(7, &first, 8)), WINDOW_SET_PRESENT);
    /* A new window starts empty in the grown table. */
    window_set_clear(set);
    cr_assert(!window_set_contains(set, window_set_hash(7, &first, 8)));
    cr_assert_eq(window_set_add(set, window_set_hash(7, &first, 8)), WINDOW_SET_ADDED);
    window_set_free(set);
}

Test(window_set, growth_keeps_only_the_current_window)
{
    struct window_set *set = window_set_new(16, 4096);
    for (uint64_t key = 0; key < 12; key++)
        window_set_add(set, window_set_hash(1, &key, 8));
    window_set_clear(set);
    /* Filling the second window past the first table size grows it; the first window's
     * keys do not come back with the move. */
    for (uint64_t key = 100; key < 400; key++)
        cr_assert_eq(window_set_add(set, window_set_hash(1, &key, 8)), WINDOW_SET_ADDED);
    for (uint64_t key = 0; key < 12; key++)
        cr_assert(!window_set_contains(set, window_set_hash(1, &key, 8)));
    cr_assert_eq(window_set_count(set), 300);
    window_set_free(set);
}

Test(window_set, hash_uses_every_byte)
{
    uint8_t bytes[17] = {0};
    uint64_t base = window_set_hash(3, bytes, sizeof(bytes));
    for (size_t i = 0; i < sizeof(bytes); i++) {
        bytes[i] = 1;
        cr_assert_neq(window_set_hash(3, bytes, sizeof(bytes)), base, "byte %zu", i);
        bytes[i] = 0;
    }
    cr_assert_neq(window_set_hash(3, bytes, 16), base, "the length counts too");
}

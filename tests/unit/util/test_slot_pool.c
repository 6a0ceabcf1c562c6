#include <criterion/criterion.h>

#include "util/slot_pool.h"

Test(slot_pool, lowest_unused_first_then_released_ones)
{
    struct slot_pool pool;
    cr_assert_eq(slot_pool_init(&pool, 3), 0);
    cr_assert_eq(slot_pool_take(&pool), 0);
    cr_assert_eq(slot_pool_take(&pool), 1);
    slot_pool_give(&pool, 0);
    /* A released slot is reused before an untouched one, so untouched memory stays so. */
    cr_assert_eq(slot_pool_take(&pool), 0);
    cr_assert_eq(pool.high_water, 2);
    cr_assert_eq(slot_pool_take(&pool), 2);
    cr_assert_eq(slot_pool_take(&pool), SLOT_POOL_NONE, "all three are taken");
    slot_pool_give(&pool, 1);
    cr_assert_eq(slot_pool_take(&pool), 1);
    slot_pool_free(&pool);
}

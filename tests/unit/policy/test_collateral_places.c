/* Where a block can be seen refusing what it must let through (policy/collateral_places.c):
 * each pool at its own point, static prefixes at the point of the dynamic block they are
 * carved out of, and only points that are active and seen from their subscriber side. */
#include <criterion/criterion.h>
#include <string.h>

#include "policy/collateral_places.h"

static struct policy *load(const char *text)
{
    char error[512];
    struct policy *policy = policy_load_text("unit.yaml", text, strlen(text), error, sizeof(error));
    cr_assert_not_null(policy, "%s", error);
    return policy;
}

static int place_of(const struct collateral_places *places, const struct policy *policy,
                    const char *text)
{
    struct address address;
    cr_assert(address_parse(text, &address));
    return collateral_place_of(places, policy, policy_pool_of(policy, &address), &address);
}

static void assert_place(const struct collateral_places *places, int place, int pool, int point)
{
    cr_assert_geq(place, 0);
    cr_assert_eq(places->items[place].pool, pool);
    cr_assert_eq(places->items[place].blocking_point, point);
}

enum { DSL = 0, FTTH, LTE, FAR, BUSINESS, NESTED, INNER, COLO, SHOP };
enum { EDGE = 0, BRAS, MOBILE, BORDER, SHOP_CPE };

static const char policy_text[] =
    "sensor: { name: unit, position: edge-side }\n"
    "own_prefixes: []\n"
    "blocking_points:\n"
    "  - { name: edge, level: edge }\n"
    "  - { name: bras, level: terminator }\n"
    "  - { name: mobile, level: edge, state: planned }\n"
    "  - { name: border, level: core, position: core-side }\n"
    "  - { name: shop-cpe, level: terminator }\n"
    "pools:\n"
    "  - { name: dsl, type: dynamic, prefixes: [10.0.0.0/16, 2001:db8::/40], "
    "blocking_point: edge }\n"
    "  - { name: ftth, type: dynamic, prefixes: [10.1.0.0/16], blocking_point: bras }\n"
    "  - { name: lte, type: dynamic, prefixes: [10.2.0.0/16], blocking_point: mobile }\n"
    "  - { name: far, type: dynamic, prefixes: [10.3.0.0/16], blocking_point: border }\n"
    /* carved out of dsl (edge), of lte (planned) and of nothing */
    "  - { name: business, type: static, prefixes: [10.0.1.0/29, 10.2.1.0/29, 10.9.0.0/24,\n"
    "      2001:db8:ff::/48] }\n"
    /* a static /24 in dsl holding a dynamic /26 of ftth holding a static /29 */
    "  - { name: nested, type: static, prefixes: [10.0.2.0/24] }\n"
    "  - { name: inner, type: dynamic, prefixes: [10.0.2.0/26], blocking_point: bras }\n"
    "  - { name: colo, type: static, prefixes: [10.0.2.8/29] }\n"
    /* a static pool that names a point of its own */
    "  - { name: shop, type: static, prefixes: [10.8.0.0/24], blocking_point: shop-cpe }\n";

Test(collateral_places, pools_at_active_edge_side_points_and_carved_statics)
{
    struct policy *policy = load(policy_text);
    struct collateral_places places;
    cr_assert_eq(collateral_places_build(policy, &places), 0);
    cr_assert(places.any_static);
    /* Dynamic pools at their own points; lte (planned) and far (core-side) nowhere. */
    assert_place(&places, place_of(&places, policy, "10.0.0.5"), DSL, EDGE);
    assert_place(&places, place_of(&places, policy, "2001:db8::5"), DSL, EDGE);
    assert_place(&places, place_of(&places, policy, "10.1.0.5"), FTTH, BRAS);
    cr_assert_eq(place_of(&places, policy, "10.2.0.5"), -1);
    cr_assert_eq(place_of(&places, policy, "10.3.0.5"), -1);
    /* A static prefix meets the point of the block it is carved out of (IPv4 and IPv6); in
     * a planned block, or in none, the sensor can blame no point. */
    assert_place(&places, place_of(&places, policy, "10.0.1.3"), BUSINESS, EDGE);
    assert_place(&places, place_of(&places, policy, "2001:db8:ff::1"), BUSINESS, EDGE);
    cr_assert_eq(place_of(&places, policy, "10.2.1.3"), -1);
    cr_assert_eq(place_of(&places, policy, "10.9.0.3"), -1);
    /* Nested: each static prefix at its nearest dynamic holder's point. */
    assert_place(&places, place_of(&places, policy, "10.0.2.200"), NESTED, EDGE);
    assert_place(&places, place_of(&places, policy, "10.0.2.9"), COLO, BRAS);
    assert_place(&places, place_of(&places, policy, "10.0.2.20"), INNER, BRAS);
    /* A static pool's own point, where it is carved out of no block. */
    assert_place(&places, place_of(&places, policy, "10.8.0.1"), SHOP, SHOP_CPE);
    /* No pool at all. */
    cr_assert_eq(place_of(&places, policy, "192.0.2.1"), -1);
    /* Each place once, found by pool and point. */
    for (size_t i = 0; i < places.count; i++) {
        cr_assert_eq(
            collateral_place_find(&places, places.items[i].pool, places.items[i].blocking_point),
            (int)i);
    }
    cr_assert_eq(collateral_place_find(&places, LTE, MOBILE), -1);
    collateral_places_free(&places);
    policy_free(policy);
}

Test(collateral_places, no_static_source_watched_leaves_port_25_alone)
{
    struct policy *policy = load("sensor: { name: unit, position: edge-side }\n"
                                 "own_prefixes: []\n"
                                 "blocking_points: [{ name: bras, level: terminator }]\n"
                                 "pools:\n"
                                 "  - { name: ftth, type: dynamic, prefixes: [10.1.0.0/16], "
                                 "blocking_point: bras }\n"
                                 "  - { name: business, type: static, prefixes: [10.9.0.0/24] }\n");
    struct collateral_places places;
    cr_assert_eq(collateral_places_build(policy, &places), 0);
    cr_assert_not(places.any_static);
    cr_assert_eq(places.count, 1);
    collateral_places_free(&places);
    policy_free(policy);

    /* A sensor core-side of every point sees no refusal at all. */
    policy = load("sensor: { name: unit, position: core-side }\n"
                  "own_prefixes: []\n"
                  "blocking_points: [{ name: bras, level: terminator }]\n"
                  "pools:\n"
                  "  - { name: ftth, type: dynamic, prefixes: [10.1.0.0/16], "
                  "blocking_point: bras }\n"
                  "  - { name: business, type: static, prefixes: [10.1.9.0/24] }\n");
    cr_assert_eq(collateral_places_build(policy, &places), 0);
    cr_assert_eq(places.count, 0);
    cr_assert_not(places.any_static);
    collateral_places_free(&places);
    policy_free(policy);
}

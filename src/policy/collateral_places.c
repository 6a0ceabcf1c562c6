/* Builds the places of collateral_places.h from the policy and the exemptions of its ACL. */
#include "policy/collateral_places.h"

#include <stdlib.h>

#include "policy/acl.h"

static bool watched(const struct policy *policy, int point)
{
    if (point == POLICY_NO_INDEX)
        return false;
    const struct blocking_point *entry = &policy->blocking_points[point];
    return entry->state == BLOCKING_ACTIVE && entry->position == POSITION_EDGE_SIDE;
}

int collateral_place_find(const struct collateral_places *places, int pool, int point)
{
    for (size_t i = 0; i < places->count; i++) {
        if (places->items[i].pool == pool && places->items[i].blocking_point == point)
            return (int)i;
    }
    return -1;
}

/* The place of pool at point, added when new; -1 when out of memory. Places are few (a
 * pool's own point, and the points of the blocks its prefixes are carved out of). */
static int add_place(struct collateral_places *places, size_t *capacity, int pool, int point)
{
    int found = collateral_place_find(places, pool, point);
    if (found >= 0)
        return found;
    if (places->count == *capacity) {
        size_t grown = *capacity == 0 ? 16 : *capacity * 2;
        struct collateral_place *items = realloc(places->items, grown * sizeof(*items));
        if (items == NULL)
            return -1;
        places->items = items;
        *capacity = grown;
    }
    places->items[places->count] = (struct collateral_place){pool, point};
    return (int)places->count++;
}

/* Static prefixes carved out of a dynamic block: the block's point must let their port 25
 * through (the ACL's exemption), so that is where a refusal happens. */
static int add_carved(const struct policy *policy, struct collateral_places *places,
                      size_t *capacity)
{
    struct acl acl;
    if (acl_build(policy, &acl) != 0)
        return -1;
    int status = 0;
    for (size_t i = 0; i < acl.count && status == 0; i++) {
        const struct acl_rule *rule = &acl.rules[i];
        if (rule->action != ACL_EXEMPT || policy->pools[rule->pool].type != POOL_STATIC ||
            !watched(policy, rule->blocking_point))
            continue;
        int place = add_place(places, capacity, rule->pool, rule->blocking_point);
        uint32_t existing;
        if (place < 0 ||
            prefix_table_add(places->carved, &rule->source, (uint32_t)place, &existing) == -2)
            status = -1;
    }
    acl_free(&acl);
    return status;
}

int collateral_places_build(const struct policy *policy, struct collateral_places *places)
{
    *places = (struct collateral_places){0};
    size_t capacity = 0;
    places->by_pool = malloc((policy->pool_count + 1) * sizeof(*places->by_pool));
    places->carved = prefix_table_new();
    if (places->by_pool == NULL || places->carved == NULL)
        goto fail;
    for (size_t p = 0; p < policy->pool_count; p++) {
        int point = policy->pools[p].blocking_point;
        places->by_pool[p] = -1;
        if (!watched(policy, point))
            continue;
        places->by_pool[p] = add_place(places, &capacity, (int)p, point);
        if (places->by_pool[p] < 0)
            goto fail;
        places->any_static |= policy->pools[p].type == POOL_STATIC;
    }
    if (add_carved(policy, places, &capacity) != 0 || prefix_table_build(places->carved) != 0)
        goto fail;
    places->any_static |= prefix_table_count(places->carved) > 0;
    return 0;

fail:
    collateral_places_free(places);
    return -1;
}

void collateral_places_free(struct collateral_places *places)
{
    free(places->items);
    free(places->by_pool);
    prefix_table_free(places->carved);
    *places = (struct collateral_places){0};
}

int collateral_place_of(const struct collateral_places *places, const struct policy *policy,
                        int pool, const struct address *address)
{
    if (pool < 0 || (size_t)pool >= policy->pool_count)
        return -1;
    uint32_t place;
    /* The carved prefix found must be this pool's: a static prefix nested deeper in a
     * carved one may belong to another pool. */
    if (policy->pools[pool].type == POOL_STATIC &&
        prefix_table_lookup(places->carved, address, &place) && places->items[place].pool == pool)
        return (int)place;
    return places->by_pool[pool];
}

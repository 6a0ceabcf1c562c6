/* Where the sensor can see an OP25B block refuse what it must let through (the
 * collateral_block finding, docs/concepts.md): the (pool, blocking point) pairs a pool's
 * connections pass, at points that are active and that the sensor sees from their
 * subscriber side. Behind a point (core-side) a refused SYN never reaches the mirror, and a
 * planned point refuses nothing yet, so neither is watched.
 *
 * A dynamic pool meets its own point. A static pool meets the point of the dynamic block it
 * is carved out of (the ACL's exemption, acl.h: a static /29 inside a DSL /20 passes the
 * DSL point, whose deny must not catch it), else its own blocking_point if it names one. */
#ifndef OP25B_COLLATERAL_PLACES_H
#define OP25B_COLLATERAL_PLACES_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/policy.h"
#include "policy/prefix.h"

struct collateral_place {
    int pool;
    int blocking_point;
};

struct collateral_places {
    struct collateral_place *items; /* pools at their own points in policy order, then carved */
    size_t count;
    int *by_pool; /* [pool]: the place of the pool at its own point, or -1 */
    /* Static prefixes carved out of a dynamic block at a watched point: value is a place. */
    struct prefix_table *carved;
    bool any_static; /* some static source is watched: port 25 is looked at too */
};

/* 0, or -1 when out of memory. */
int collateral_places_build(const struct policy *policy, struct collateral_places *places);
void collateral_places_free(struct collateral_places *places);

/* The place of a connection from address, a source of pool (policy_pool_of); -1 when the
 * sensor cannot see a block refuse it. */
int collateral_place_of(const struct collateral_places *places, const struct policy *policy,
                        int pool, const struct address *address);
/* The place of pool at point, or -1. */
int collateral_place_find(const struct collateral_places *places, int pool, int point);

#endif

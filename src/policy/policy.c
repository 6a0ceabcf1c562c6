/* The site policy's lookups, for the per-packet path and the writers: which pool, MSA or
 * resolver an address is, a subscriber's prefix, what an MSA allows, and the names of the
 * policy's choices. policy_load.c reads the file; acl.c derives the ACL and its count. */
#include "policy/policy.h"

#include <stdlib.h>
#include <string.h>

#include "policy/policy_reader.h"

const char *const policy_pool_type_names[2] = {"dynamic", "static"};
const char *const policy_position_names[2] = {"edge-side", "core-side"};
const char *const policy_level_names[4] = {"home-router", "terminator", "edge", "core"};
const char *const policy_state_names[2] = {"active", "planned"};
const char *const policy_reject_names[3] = {"drop", "icmp", "tcp-reset"};

void policy_free(struct policy *policy)
{
    if (policy == NULL)
        return;
    free(policy->path);
    free(policy->sensor_name);
    free(policy->own_prefixes);
    free(policy->resolvers);
    for (size_t i = 0; i < policy->pool_count; i++) {
        free(policy->pools[i].name);
        free(policy->pools[i].prefixes);
    }
    free(policy->pools);
    for (size_t i = 0; i < policy->msa_count; i++) {
        free(policy->msas[i].name);
        free(policy->msas[i].prefixes);
        free(policy->msas[i].ports);
        free(policy->msas[i].pools);
    }
    free(policy->msas);
    for (size_t i = 0; i < policy->blocking_point_count; i++)
        free(policy->blocking_points[i].name);
    free(policy->blocking_points);
    for (size_t i = 0; i < policy->segment_count; i++) {
        free(policy->segments[i].name);
        free(policy->segments[i].interface);
        free(policy->segments[i].expects);
    }
    free(policy->segments);
    for (size_t i = 0; i < policy->fleet_sensor_count; i++) {
        free(policy->fleet_sensors[i].name);
        free(policy->fleet_sensors[i].positions);
        free(policy->fleet_sensors[i].pools);
    }
    free(policy->fleet_sensors);
    free(policy->geoip_asn);
    free(policy->geoip_country);
    geoip_free(policy->geoip);
    prefix_table_free(policy->pool_table);
    prefix_table_free(policy->own_table);
    prefix_table_free(policy->msa_table);
    prefix_table_free(policy->resolver_table);
    free(policy);
}

/* ---- Lookups ---- */

int policy_pool_of(const struct policy *policy, const struct address *address)
{
    uint32_t pool;
    return prefix_table_lookup(policy->pool_table, address, &pool) ? (int)pool : POLICY_NO_INDEX;
}

int policy_msa_of(const struct policy *policy, const struct address *address)
{
    uint32_t msa;
    return prefix_table_lookup(policy->msa_table, address, &msa) ? (int)msa : POLICY_NO_INDEX;
}

bool policy_is_own(const struct policy *policy, const struct address *address)
{
    uint32_t unused;
    return prefix_table_lookup(policy->own_table, address, &unused);
}

bool policy_is_resolver(const struct policy *policy, const struct address *address)
{
    uint32_t unused;
    return prefix_table_lookup(policy->resolver_table, address, &unused);
}

struct prefix policy_subscriber(const struct policy *policy, int pool,
                                const struct address *address)
{
    struct prefix prefix = {.address = *address, .length = 32};
    if (address->family != ADDRESS_V6)
        return prefix;
    prefix.length = pool >= 0 && (size_t)pool < policy->pool_count
                        ? policy->pools[pool].ipv6_subscriber_length
                        : DEFAULT_IPV6_SUBSCRIBER_LENGTH;
    for (int i = 0; i < 16; i++) {
        int keep = prefix.length - i * 8;
        if (keep < 8)
            prefix.address.bytes[i] &= keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
    }
    return prefix;
}

unsigned policy_ipv6_subscriber_bits(const struct policy *policy)
{
    unsigned bits = DEFAULT_IPV6_SUBSCRIBER_LENGTH;
    for (size_t p = 0; p < policy->pool_count; p++) {
        if (policy->pools[p].ipv6_subscriber_length < bits)
            bits = policy->pools[p].ipv6_subscriber_length;
    }
    return bits;
}

int policy_fleet_sensor(const struct policy *policy, const char *name)
{
    for (size_t i = 0; i < policy->fleet_sensor_count; i++) {
        if (strcmp(policy->fleet_sensors[i].name, name) == 0)
            return (int)i;
    }
    return POLICY_NO_INDEX;
}

bool policy_fleet_carries(const struct policy *policy, int sensor, int pool)
{
    if (sensor < 0 || (size_t)sensor >= policy->fleet_sensor_count)
        return false;
    const struct fleet_sensor *entry = &policy->fleet_sensors[sensor];
    for (size_t i = 0; i < entry->pool_count; i++) {
        if (entry->pools[i] == pool)
            return true;
    }
    return false;
}

static bool msa_serves_pool(const struct msa *msa, int pool)
{
    if (msa->pool_count == 0)
        return true;
    for (size_t i = 0; i < msa->pool_count; i++) {
        if (msa->pools[i] == pool)
            return true;
    }
    return false;
}

bool policy_msa_allows(const struct policy *policy, int msa, int pool, uint16_t port)
{
    if (msa < 0 || (size_t)msa >= policy->msa_count)
        return false;
    const struct msa *entry = &policy->msas[msa];
    bool port_listed = false;
    for (size_t i = 0; i < entry->port_count && !port_listed; i++)
        port_listed = entry->ports[i] == port;
    return port_listed && msa_serves_pool(entry, pool);
}

enum sensor_position policy_pool_position(const struct policy *policy, int pool)
{
    int point = policy->pools[pool].blocking_point;
    return point == POLICY_NO_INDEX ? policy->position : policy->blocking_points[point].position;
}

bool policy_msa_closing(const struct policy *policy, int msa, uint16_t port)
{
    return msa >= 0 && (size_t)msa < policy->msa_count && port == 25 &&
           policy->msas[msa].port25_planned_close;
}

/* ---- Names ---- */

static const char *name_in(const char *const *names, size_t count, int index)
{
    return index >= 0 && (size_t)index < count ? names[index] : "unknown";
}

const char *pool_type_name(enum pool_type type)
{
    return name_in(policy_pool_type_names, COUNT_OF(policy_pool_type_names), (int)type);
}

const char *sensor_position_name(enum sensor_position position)
{
    return name_in(policy_position_names, COUNT_OF(policy_position_names), (int)position);
}

const char *blocking_level_name(enum blocking_level level)
{
    return name_in(policy_level_names, COUNT_OF(policy_level_names),
                   (int)level - LEVEL_HOME_ROUTER);
}

const char *blocking_state_name(enum blocking_state state)
{
    return name_in(policy_state_names, COUNT_OF(policy_state_names), (int)state);
}

const char *blocking_reject_name(enum blocking_reject reject)
{
    return name_in(policy_reject_names, COUNT_OF(policy_reject_names), (int)reject);
}

#include "app/check.h"

#include "capture/prefilter.h"
#include "policy/acl.h"

static void print_prefixes(FILE *out, const struct prefix *prefixes, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        char text[PREFIX_TEXT_MAX];
        prefix_format(&prefixes[i], text, sizeof(text));
        fprintf(out, "%s%s", i == 0 ? "" : " ", text);
    }
}

static void print_pools(FILE *out, const struct policy *policy)
{
    fprintf(out, "pools (%zu):\n", policy->pool_count);
    for (size_t i = 0; i < policy->pool_count; i++) {
        const struct pool *pool = &policy->pools[i];
        fprintf(out, "  %-16s %-8s ", pool->name, pool_type_name(pool->type));
        if (pool->blocking_point != POLICY_NO_INDEX)
            fprintf(out, "blocked at %s  ", policy->blocking_points[pool->blocking_point].name);
        else if (pool->type == POOL_DYNAMIC)
            fprintf(out, "NO BLOCKING POINT  ");
        print_prefixes(out, pool->prefixes, pool->prefix_count);
        fprintf(out, "\n");
    }
}

static void print_msas(FILE *out, const struct policy *policy)
{
    fprintf(out, "msas (%zu):\n", policy->msa_count);
    for (size_t i = 0; i < policy->msa_count; i++) {
        const struct msa *msa = &policy->msas[i];
        fprintf(out, "  %-16s ports ", msa->name);
        for (size_t p = 0; p < msa->port_count; p++)
            fprintf(out, "%s%u", p == 0 ? "" : ",", msa->ports[p]);
        fprintf(out, "  pools ");
        if (msa->pool_count == 0)
            fprintf(out, "all");
        for (size_t p = 0; p < msa->pool_count; p++)
            fprintf(out, "%s%s", p == 0 ? "" : ",", policy->pools[msa->pools[p]].name);
        if (msa->port25_planned_close)
            fprintf(out, "  planned_close [25]");
        fprintf(out, "  ");
        print_prefixes(out, msa->prefixes, msa->prefix_count);
        fprintf(out, "\n");
    }
}

static void print_blocking_points(FILE *out, const struct policy *policy)
{
    fprintf(out, "blocking points (%zu):\n", policy->blocking_point_count);
    for (size_t i = 0; i < policy->blocking_point_count; i++) {
        const struct blocking_point *point = &policy->blocking_points[i];
        /* Where the position comes from: a point's own key, its level, or the sensor's. */
        static const char *const origins[] = {
            [POSITION_FROM_SENSOR] = " (the sensor's)",
            [POSITION_FROM_LEVEL] = " (a home router is seen from behind)",
            [POSITION_FROM_POINT] = "",
        };
        fprintf(out, "  %-16s level %d %-11s %-7s reject %-9s position %s%s\n", point->name,
                (int)point->level, blocking_level_name(point->level),
                blocking_state_name(point->state), blocking_reject_name(point->reject),
                sensor_position_name(point->position), origins[point->position_source]);
    }
}

static void print_segments(FILE *out, const struct policy *policy)
{
    fprintf(out, "segments (%zu):\n", policy->segment_count);
    for (size_t i = 0; i < policy->segment_count; i++) {
        const struct segment *segment = &policy->segments[i];
        fprintf(out, "  %-16s ", segment->name);
        if (segment->match == SEGMENT_VLAN)
            fprintf(out, "vlan %u", segment->vlan);
        else if (segment->match == SEGMENT_INTERFACE)
            fprintf(out, "interface %s", segment->interface);
        else
            fprintf(out, "mac %02x:%02x:%02x:%02x:%02x:%02x", segment->mac[0], segment->mac[1],
                    segment->mac[2], segment->mac[3], segment->mac[4], segment->mac[5]);
        fprintf(out, "  expects ");
        for (size_t p = 0; p < segment->expects_count; p++)
            fprintf(out, "%s%s", p == 0 ? "" : ",", policy->pools[segment->expects[p]].name);
        fprintf(out, "\n");
    }
}

/* The counts come from the rules acl_build generates, the same the report lists and writes
 * as nftables, with the draft's formula beside them. */
static void print_acl_rules(FILE *out, const struct policy *policy)
{
    fprintf(out, "ACL rules (draft section 4: dynamic blocks x (MSA blocks on port 25 + 1), "
                 "plus exempt prefixes):\n");
    struct acl acl;
    if (acl_build(policy, &acl) != 0) {
        fprintf(out, "  not counted: out of memory\n");
        return;
    }
    acl_write_counts(&acl, "  ", out);
    acl_free(&acl);
}

static void print_prefilter(FILE *out, const struct policy *policy)
{
    static char prefilter[PREFILTER_TEXT_MAX];
    if (prefilter_expression(policy, true, prefilter, sizeof(prefilter)) > 0)
        fprintf(out,
                "kernel prefilter for live capture (off with --no-prefilter; without its "
                "vlan part on links that have none):\n  %s\n",
                prefilter);
    else
        fprintf(out, "kernel prefilter for live capture: none, the policy's prefixes make it "
                     "too long\n");
}

void check_print(const struct policy *policy, FILE *out)
{
    fprintf(out, "policy %s: valid\n", policy->path);
    fprintf(out, "sensor %s, %s\n", policy->sensor_name, sensor_position_name(policy->position));
    fprintf(out, "own prefixes: ");
    print_prefixes(out, policy->own_prefixes, policy->own_prefix_count);
    fprintf(out, "\nresolvers: ");
    print_prefixes(out, policy->resolvers, policy->resolver_count);
    fprintf(out, "\n");
    print_pools(out, policy);
    print_msas(out, policy);
    print_blocking_points(out, policy);
    print_segments(out, policy);
    print_acl_rules(out, policy);
    print_prefilter(out, policy);
}

/* libFuzzer target for the site policy loader (src/policy/policy.c): the input is the YAML
 * text. A refused policy must say where, as "NAME:LINE: message" (rules/README.md); an accepted
 * one must hold together: indexes in range, names as rules/README.md allows them, and lookups
 * that find what was declared, the longest prefix winning. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "policy/acl.h"
#include "policy/policy.h"
#include "policy/prefix.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NAME "fuzz.yaml"
#define ERROR_SIZE 512

/* An upper bound on the lines libyaml counts: every line break it knows (LF, CR, NEL, LS,
 * PS, in UTF-8 or UTF-16) holds at least one of these bytes. libyaml also ends an input that
 * lacks a final line break with one of its own (scanner.c, fetch_stream_end), so an error at
 * the very end of such an input is on the line after the last. */
FUZZ_CHECKER static bool line_break_byte(uint8_t c)
{
    return c == '\n' || c == '\r' || c == 0x85 || c == 0x28 || c == 0x29 || c == 0xa8 || c == 0xa9;
}

FUZZ_CHECKER static unsigned long most_lines(const uint8_t *text, size_t length)
{
    unsigned long lines = 1;
    for (size_t i = 0; i < length; i++)
        lines += line_break_byte(text[i]);
    if (length > 0 && !line_break_byte(text[length - 1]))
        lines++;
    return lines;
}

FUZZ_CHECKER static void check_error(const char *error, const uint8_t *text, size_t length)
{
    if (memchr(error, '\0', ERROR_SIZE) == NULL)
        FUZZ_FAIL("the error is not NUL-terminated");
    const char *prefix = NAME ":";
    if (strncmp(error, prefix, strlen(prefix)) != 0)
        FUZZ_FAIL("the error does not start with the file name: %s", error);
    const char *rest = error + strlen(prefix);
    /* The one message without a line (policy.c fail_memory). */
    if (strcmp(rest, " out of memory") == 0)
        return;
    char *after;
    unsigned long line = strtoul(rest, &after, 10);
    if (after == rest || rest[0] < '0' || rest[0] > '9')
        FUZZ_FAIL("the error has no line number: %s", error);
    if (line < 1 || line > most_lines(text, length))
        FUZZ_FAIL("the error's line number is not a line of the text: %s", error);
    if (after[0] != ':' || after[1] != ' ' || after[2] == '\0')
        FUZZ_FAIL("the error has no message after FILE:LINE: [%s]", error);
}

FUZZ_CHECKER static bool index_valid(int index, size_t count)
{
    return index >= 0 && (size_t)index < count;
}

FUZZ_CHECKER static void check_prefix(const struct prefix *prefix)
{
    size_t bits = address_length(&prefix->address) * 8;
    if (prefix->address.family != ADDRESS_V4 && prefix->address.family != ADDRESS_V6)
        FUZZ_FAIL("a prefix of unknown family");
    if (prefix->length > bits)
        FUZZ_FAIL("a prefix longer than its address");
    /* "host bits are zero" */
    for (size_t bit = prefix->length; bit < 128; bit++) {
        if (prefix->address.bytes[bit / 8] & (0x80 >> (bit % 8)))
            FUZZ_FAIL("a prefix with host bits set");
    }
    if (!prefix_contains(prefix, &prefix->address))
        FUZZ_FAIL("a prefix does not contain its own address");
}

/* The most specific prefix of any pool holding the address, as a routing table picks it. */
FUZZ_CHECKER static int longest_length_of_pools(const struct policy *policy,
                                                const struct address *address)
{
    int longest = -1;
    for (size_t p = 0; p < policy->pool_count; p++) {
        const struct pool *pool = &policy->pools[p];
        for (size_t i = 0; i < pool->prefix_count; i++) {
            if (prefix_contains(&pool->prefixes[i], address) && pool->prefixes[i].length > longest)
                longest = pool->prefixes[i].length;
        }
    }
    return longest;
}

FUZZ_CHECKER static bool pool_holds(const struct pool *pool, const struct address *address,
                                    int length)
{
    for (size_t i = 0; i < pool->prefix_count; i++) {
        if (pool->prefixes[i].length == length && prefix_contains(&pool->prefixes[i], address))
            return true;
    }
    return false;
}

FUZZ_CHECKER static void check_pools(const struct policy *policy)
{
    if (policy->pool_count > POLICY_POOLS_MAX)
        FUZZ_FAIL("too many pools");
    for (size_t p = 0; p < policy->pool_count; p++) {
        const struct pool *pool = &policy->pools[p];
        if (pool->name == NULL)
            FUZZ_FAIL("a pool without a name");
        if (pool->blocking_point != POLICY_NO_INDEX &&
            !index_valid(pool->blocking_point, policy->blocking_point_count))
            FUZZ_FAIL("a pool's blocking point index is out of range: %s", pool->name);
        for (size_t i = 0; i < pool->prefix_count; i++) {
            const struct prefix *prefix = &pool->prefixes[i];
            check_prefix(prefix);
            int found = policy_pool_of(policy, &prefix->address);
            if (!index_valid(found, policy->pool_count))
                FUZZ_FAIL("a pool's own prefix is not found: %s", pool->name);
            int longest = longest_length_of_pools(policy, &prefix->address);
            if (!pool_holds(&policy->pools[found], &prefix->address, longest))
                FUZZ_FAIL("the lookup did not pick the longest prefix: %s", pool->name);
            /* A prefix is in one pool only, so the same length means this very pool. */
            if (longest == prefix->length && (size_t)found != p)
                FUZZ_FAIL("a prefix was found in another pool: %s", pool->name);
        }
    }
}

FUZZ_CHECKER static void check_msas(const struct policy *policy)
{
    if (policy->msa_count > POLICY_MSAS_MAX)
        FUZZ_FAIL("too many MSAs");
    for (size_t m = 0; m < policy->msa_count; m++) {
        const struct msa *msa = &policy->msas[m];
        if (msa->name == NULL)
            FUZZ_FAIL("an MSA without a name");
        for (size_t i = 0; i < msa->prefix_count; i++) {
            check_prefix(&msa->prefixes[i]);
            if (!index_valid(policy_msa_of(policy, &msa->prefixes[i].address), policy->msa_count))
                FUZZ_FAIL("an MSA's own prefix is not found: %s", msa->name);
        }
        for (size_t i = 0; i < msa->pool_count; i++) {
            if (!index_valid(msa->pools[i], policy->pool_count))
                FUZZ_FAIL("an MSA's pool index is out of range: %s", msa->name);
        }
        /* Draft 4.3.2 permit lists: listed ports, to the listed pools (none listed: all). */
        for (size_t p = 0; p < policy->pool_count; p++) {
            bool listed = msa->pool_count == 0;
            for (size_t i = 0; i < msa->pool_count && !listed; i++)
                listed = msa->pools[i] == (int)p;
            for (size_t i = 0; i < msa->port_count; i++) {
                if (policy_msa_allows(policy, (int)m, (int)p, msa->ports[i]) != listed)
                    FUZZ_FAIL("policy_msa_allows disagrees with the MSA's lists: %s", msa->name);
            }
        }
    }
}

FUZZ_CHECKER static void check_segments(const struct policy *policy)
{
    if (policy->segment_count > POLICY_SEGMENTS_MAX)
        FUZZ_FAIL("too many segments");
    for (size_t s = 0; s < policy->segment_count; s++) {
        const struct segment *segment = &policy->segments[s];
        if (segment->name == NULL)
            FUZZ_FAIL("a segment without a name");
        if (segment->match == SEGMENT_INTERFACE && segment->interface == NULL)
            FUZZ_FAIL("an interface segment without an interface: %s", segment->name);
        for (size_t i = 0; i < segment->expects_count; i++) {
            if (!index_valid(segment->expects[i], policy->pool_count))
                FUZZ_FAIL("a segment's pool index is out of range: %s", segment->name);
        }
    }
}

/* rules/README.md's name: at most POLICY_NAME_MAX bytes, no C0, DEL or C1 control, none of
 * the bidirectional controls (U+202A..U+202E, U+2066..U+2069, U+200E, U+200F, U+061C). The
 * bytes are matched in UTF-8 (libyaml hands the loader nothing else). */
FUZZ_CHECKER static void check_name(const char *name, const char *what)
{
    size_t length = strlen(name);
    if (length == 0 || length > POLICY_NAME_MAX)
        FUZZ_FAIL("a %s of %zu bytes", what, length);
    const unsigned char *c = (const unsigned char *)name;
    for (size_t i = 0; i < length; i++) {
        if (c[i] < 0x20 || c[i] == 0x7f || (c[i] == 0xc2 && c[i + 1] >= 0x80 && c[i + 1] <= 0x9f))
            FUZZ_FAIL("a %s with a control character", what);
        bool bidi =
            (c[i] == 0xe2 && c[i + 1] == 0x80 &&
             ((c[i + 2] >= 0xaa && c[i + 2] <= 0xae) || c[i + 2] == 0x8e || c[i + 2] == 0x8f)) ||
            (c[i] == 0xe2 && c[i + 1] == 0x81 && c[i + 2] >= 0xa6 && c[i + 2] <= 0xa9) ||
            (c[i] == 0xd8 && c[i + 1] == 0x9c);
        if (bidi)
            FUZZ_FAIL("a %s with a bidirectional control character", what);
    }
}

FUZZ_CHECKER static void check_names(const struct policy *policy)
{
    check_name(policy->sensor_name, "sensor name");
    for (size_t i = 0; i < policy->blocking_point_count; i++)
        check_name(policy->blocking_points[i].name, "blocking point name");
    for (size_t i = 0; i < policy->pool_count; i++)
        check_name(policy->pools[i].name, "pool name");
    for (size_t i = 0; i < policy->msa_count; i++)
        check_name(policy->msas[i].name, "MSA name");
    for (size_t i = 0; i < policy->segment_count; i++) {
        check_name(policy->segments[i].name, "segment name");
        if (policy->segments[i].interface != NULL)
            check_name(policy->segments[i].interface, "interface name");
    }
}

/* The ACL's counts are those of the rules it holds, within the draft's formula but for the
 * exemptions, and each exemption is a prefix of its own pool inside a dynamic one. */
FUZZ_CHECKER static void check_acl(const struct policy *policy)
{
    struct acl acl;
    if (acl_build(policy, &acl) != 0)
        return;
    size_t rules[2] = {0, 0}, exempt[2] = {0, 0};
    for (size_t i = 0; i < acl.count; i++) {
        const struct acl_rule *rule = &acl.rules[i];
        if (rule->action == ACL_EXEMPT &&
            (policy_pool_of(policy, &rule->source.address) != rule->pool ||
             !index_valid(rule->inside, policy->pool_count) ||
             policy->pools[rule->inside].type != POOL_DYNAMIC))
            FUZZ_FAIL("an exempt prefix is not its own pool's inside a dynamic one");
        if (rule->blocking_point == POLICY_NO_INDEX)
            continue;
        int f = rule->family == ADDRESS_V6 ? 1 : 0;
        rules[f]++;
        exempt[f] += rule->action == ACL_EXEMPT;
    }
    for (int f = 0; f < 2; f++) {
        const struct acl_count *count = &acl.families[f];
        if (count->rules != rules[f] || count->exempt_permits != exempt[f] ||
            count->rules != count->msa_permits + count->exempt_permits + count->denies)
            FUZZ_FAIL("the ACL's counts are not those of its rules");
        if (count->denies != count->dynamic_blocks ||
            count->msa_permits + count->denies > count->formula)
            FUZZ_FAIL("the ACL rule count is outside the draft's formula");
    }
    acl_free(&acl);
}

/* The events: section: a leak is never summarized, every bit names a verdict, and a summary
 * table and interval exist whether or not the section set them. */
FUZZ_CHECKER static void check_events(const struct policy *policy)
{
    const struct policy_events *events = &policy->events;
    if (events->summarize & ~((1u << POLICY_VERDICTS) - 1))
        FUZZ_FAIL("summarize names a verdict that does not exist");
    for (unsigned v = 0; v < POLICY_VERDICTS; v++) {
        if ((events->summarize & (1u << v)) && strcmp(policy_verdict_names[v], "leaked") == 0)
            FUZZ_FAIL("leaked attempts are summarized");
    }
    if (events->summary_interval <= 0)
        FUZZ_FAIL("a summary interval of no time");
    if (events->summary_subscribers == 0 ||
        events->summary_subscribers > POLICY_SUMMARY_SUBSCRIBERS_MAX)
        FUZZ_FAIL("a summary table of %u subscribers", events->summary_subscribers);
}

FUZZ_CHECKER static void check_policy(const struct policy *policy)
{
    if (policy->sensor_name == NULL || policy->path == NULL || strcmp(policy->path, NAME) != 0)
        FUZZ_FAIL("sensor name or path missing");
    if (policy->blocking_point_count > POLICY_BLOCKING_POINTS_MAX)
        FUZZ_FAIL("too many blocking points");
    for (size_t i = 0; i < policy->blocking_point_count; i++) {
        if (policy->blocking_points[i].name == NULL)
            FUZZ_FAIL("a blocking point without a name");
    }
    for (size_t i = 0; i < policy->own_prefix_count; i++) {
        check_prefix(&policy->own_prefixes[i]);
        if (!policy_is_own(policy, &policy->own_prefixes[i].address))
            FUZZ_FAIL("an own prefix is not own");
    }
    for (size_t i = 0; i < policy->resolver_count; i++) {
        check_prefix(&policy->resolvers[i]);
        if (!policy_is_resolver(policy, &policy->resolvers[i].address))
            FUZZ_FAIL("a resolver is not found");
    }
    check_pools(policy);
    check_msas(policy);
    check_segments(policy);
    check_names(policy);
    if (policy->limits.flows == 0)
        FUZZ_FAIL("a flow table of no flows");
    check_acl(policy);
    check_events(policy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char error[ERROR_SIZE];
    memset(error, 0x7f, sizeof(error));
    struct policy *policy = policy_load_text(NAME, (const char *)data, size, error, sizeof(error));
    if (policy == NULL) {
        check_error(error, data, size);
        return 0;
    }
    check_policy(policy);
    policy_free(policy);
    return 0;
}

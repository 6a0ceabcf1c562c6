/* Builds the ACL of acl.h from the policy: which prefixes are dynamic blocks, which are
 * carved out of one (exemptions), in which order a first-match device must see them, and
 * the counts. acl_write.c writes it out. */
#include "policy/acl.h"

#include <stdlib.h>
#include <string.h>

#include "util/address.h"

#define SMTP_PORT 25
/* Nested prefixes have strictly growing lengths: at most 129 of them hold one another. */
#define NESTING_MAX 129

/* One prefix of a pool, and the nearest other pool prefix that holds it. */
struct entry {
    struct prefix prefix;
    int pool;
    size_t order;  /* pools in policy order, then their prefixes */
    size_t parent; /* index into the entries, or SIZE_MAX: held by no pool prefix */
};

/* The rules of one source prefix: a dynamic block (its MSA permits, then its deny) or an
 * exemption (one permit). */
struct block {
    const struct entry *entry;
    int point;  /* blocking point whose device holds the rules, or POLICY_NO_INDEX */
    int inside; /* exemptions: the dynamic pool it is carved out of; blocks: POLICY_NO_INDEX */
    size_t point_order;
};

static int family_slot(int family)
{
    return family == ADDRESS_V6 ? 1 : 0;
}

static int compare_entries(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    int order = address_compare(&x->prefix.address, &y->prefix.address);
    if (order != 0)
        return order;
    return (x->prefix.length > y->prefix.length) - (x->prefix.length < y->prefix.length);
}

/* Pool prefixes never overlap partly (two prefixes are nested or apart), so in address
 * order, shorter first, the prefixes holding the current one are exactly those still on a
 * stack: one pass finds every prefix's nearest holder, as a routing table's parent. */
static void find_parents(struct entry *entries, size_t count)
{
    size_t stack[NESTING_MAX];
    size_t depth = 0;
    for (size_t i = 0; i < count; i++) {
        while (depth > 0 &&
               !prefix_contains(&entries[stack[depth - 1]].prefix, &entries[i].prefix.address))
            depth--;
        entries[i].parent = depth > 0 ? stack[depth - 1] : SIZE_MAX;
        if (depth < NESTING_MAX)
            stack[depth++] = i;
    }
}

static struct entry *collect_entries(const struct policy *policy, size_t *count)
{
    size_t total = 0;
    for (size_t p = 0; p < policy->pool_count; p++)
        total += policy->pools[p].prefix_count;
    struct entry *entries = calloc(total > 0 ? total : 1, sizeof(*entries));
    if (entries == NULL)
        return NULL;
    size_t n = 0;
    for (size_t p = 0; p < policy->pool_count; p++) {
        for (size_t i = 0; i < policy->pools[p].prefix_count; i++, n++) {
            entries[n].prefix = policy->pools[p].prefixes[i];
            entries[n].pool = (int)p;
            entries[n].order = n;
        }
    }
    qsort(entries, total, sizeof(*entries), compare_entries);
    find_parents(entries, total);
    *count = total;
    return entries;
}

/* Devices in policy order, pools without a blocking point last; IPv4 first; then the most
 * specific source first, which makes first match the same as longest match. */
static int compare_blocks(const void *a, const void *b)
{
    const struct block *x = a, *y = b;
    if (x->point_order != y->point_order)
        return x->point_order < y->point_order ? -1 : 1;
    int fx = family_slot(x->entry->prefix.address.family);
    int fy = family_slot(y->entry->prefix.address.family);
    if (fx != fy)
        return fx - fy;
    if (x->entry->prefix.length != y->entry->prefix.length)
        return x->entry->prefix.length > y->entry->prefix.length ? -1 : 1;
    return (x->entry->order > y->entry->order) - (x->entry->order < y->entry->order);
}

static struct block make_block(const struct policy *policy, const struct entry *entry, int point,
                               int inside)
{
    struct block block = {.entry = entry, .point = point, .inside = inside};
    block.point_order = point == POLICY_NO_INDEX ? policy->blocking_point_count : (size_t)point;
    return block;
}

/* Every prefix of a dynamic pool is a block at its pool's point. A prefix whose nearest
 * holder is a dynamic block is also an exemption at that block's point, unless it is a
 * dynamic block of the same point itself (its own rules, listed first, already decide):
 * a static prefix, or a dynamic one another point governs, must not meet the holder's
 * deny. A prefix nested deeper is covered by its holder's exemption. */
static struct block *collect_blocks(const struct policy *policy, const struct entry *entries,
                                    size_t entry_count, size_t *count)
{
    struct block *blocks = calloc(2 * entry_count + 1, sizeof(*blocks));
    if (blocks == NULL)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < entry_count; i++) {
        const struct entry *entry = &entries[i];
        const struct pool *pool = &policy->pools[entry->pool];
        bool dynamic = pool->type == POOL_DYNAMIC;
        if (dynamic)
            blocks[n++] = make_block(policy, entry, pool->blocking_point, POLICY_NO_INDEX);
        if (entry->parent == SIZE_MAX)
            continue;
        int holder = entries[entry->parent].pool;
        const struct pool *outer = &policy->pools[holder];
        if (outer->type != POOL_DYNAMIC ||
            (dynamic && pool->blocking_point == outer->blocking_point))
            continue;
        blocks[n++] = make_block(policy, entry, outer->blocking_point, holder);
    }
    qsort(blocks, n, sizeof(*blocks), compare_blocks);
    *count = n;
    return blocks;
}

/* Adds one rule, growing the array by doubling (the ACL is built once, off the fast path),
 * and counts it. */
static int append(struct acl *acl, size_t *capacity, const struct policy *policy,
                  const struct acl_rule *rule)
{
    if (acl->count == *capacity) {
        size_t grown = *capacity == 0 ? 64 : *capacity * 2;
        struct acl_rule *rules = realloc(acl->rules, grown * sizeof(*rules));
        if (rules == NULL)
            return -1;
        acl->rules = rules;
        *capacity = grown;
    }
    acl->rules[acl->count++] = *rule;
    if (rule->blocking_point == POLICY_NO_INDEX) {
        acl->unassigned++;
        return 0;
    }
    struct acl_count *count = &acl->families[family_slot(rule->family)];
    count->msa_permits += rule->action == ACL_PERMIT;
    count->exempt_permits += rule->action == ACL_EXEMPT;
    count->denies += rule->action == ACL_DENY;
    count->rules++;
    count->planned += policy->blocking_points[rule->blocking_point].state == BLOCKING_PLANNED;
    return 0;
}

/* A dynamic block: permits to the MSA blocks of its family that serve this pool on port 25
 * (draft section 4.3.2 permit lists; an MSA without port 25 gets none), then the deny. */
static int add_dynamic(struct acl *acl, size_t *capacity, const struct policy *policy,
                       const struct block *block)
{
    const struct prefix *source = &block->entry->prefix;
    int pool = block->entry->pool;
    struct acl_rule rule = {
        .action = ACL_PERMIT,
        .family = source->address.family,
        .pool = pool,
        .inside = POLICY_NO_INDEX,
        .blocking_point = block->point,
        .source = *source,
    };
    for (size_t m = 0; m < policy->msa_count; m++) {
        const struct msa *msa = &policy->msas[m];
        if (!policy_msa_allows(policy, (int)m, pool, SMTP_PORT))
            continue;
        for (size_t i = 0; i < msa->prefix_count; i++) {
            if (msa->prefixes[i].address.family != source->address.family)
                continue;
            rule.msa = (int)m;
            rule.destination = msa->prefixes[i];
            if (append(acl, capacity, policy, &rule) != 0)
                return -1;
        }
    }
    rule.action = ACL_DENY;
    rule.msa = POLICY_NO_INDEX;
    memset(&rule.destination, 0, sizeof(rule.destination));
    if (block->point != POLICY_NO_INDEX)
        acl->families[family_slot(source->address.family)].dynamic_blocks++;
    return append(acl, capacity, policy, &rule);
}

static int add_block(struct acl *acl, size_t *capacity, const struct policy *policy,
                     const struct block *block)
{
    if (block->inside == POLICY_NO_INDEX)
        return add_dynamic(acl, capacity, policy, block);
    struct acl_rule rule = {
        .action = ACL_EXEMPT,
        .family = block->entry->prefix.address.family,
        .pool = block->entry->pool,
        .inside = block->inside,
        .blocking_point = block->point,
        .msa = POLICY_NO_INDEX,
        .source = block->entry->prefix,
    };
    return append(acl, capacity, policy, &rule);
}

/* The draft's formula counts every MSA block that takes port 25, whichever pools it serves;
 * an MSA on 587 or 465 only is never permitted on 25, so it is not counted. */
static void count_formula(const struct policy *policy, struct acl *acl)
{
    for (size_t m = 0; m < policy->msa_count; m++) {
        const struct msa *msa = &policy->msas[m];
        bool takes_25 = false;
        for (size_t i = 0; i < msa->port_count; i++)
            takes_25 = takes_25 || msa->ports[i] == SMTP_PORT;
        for (size_t i = 0; i < msa->prefix_count && takes_25; i++)
            acl->families[family_slot(msa->prefixes[i].address.family)].msa_blocks++;
    }
    for (int f = 0; f < 2; f++)
        acl->families[f].formula =
            acl->families[f].dynamic_blocks * (acl->families[f].msa_blocks + 1);
}

int acl_build(const struct policy *policy, struct acl *acl)
{
    memset(acl, 0, sizeof(*acl));
    size_t entry_count = 0, block_count = 0, capacity = 0;
    struct entry *entries = collect_entries(policy, &entry_count);
    struct block *blocks =
        entries == NULL ? NULL : collect_blocks(policy, entries, entry_count, &block_count);
    int status = blocks == NULL ? -1 : 0;
    for (size_t i = 0; i < block_count && status == 0; i++)
        status = add_block(acl, &capacity, policy, &blocks[i]);
    free(blocks);
    free(entries);
    if (status != 0) {
        acl_free(acl);
        return -1;
    }
    count_formula(policy, acl);
    return 0;
}

void acl_free(struct acl *acl)
{
    free(acl->rules);
    memset(acl, 0, sizeof(*acl));
}

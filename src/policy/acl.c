#include "policy/acl.h"

#include <stdlib.h>
#include <string.h>

#include "util/address.h"

#define SMTP_PORT 25

static const int families[2] = {ADDRESS_V4, ADDRESS_V6};

/* Adds one rule, growing the array by doubling (the ACL is built once, off the fast path). */
static int append(struct acl *acl, size_t *capacity, const struct acl_rule *rule)
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
    return 0;
}

/* One dynamic block: permits to the MSA blocks of its family that serve this pool on port
 * 25 (draft section 4.3.2 permit lists), then the deny. */
static int add_block(struct acl *acl, size_t *capacity, const struct policy *policy, int pool,
                     const struct prefix *block)
{
    const struct pool *entry = &policy->pools[pool];
    struct acl_rule rule = {
        .action = ACL_PERMIT,
        .family = block->address.family,
        .pool = pool,
        .blocking_point = entry->blocking_point,
        .source = *block,
    };
    for (size_t m = 0; m < policy->msa_count; m++) {
        const struct msa *msa = &policy->msas[m];
        if (!policy_msa_allows(policy, (int)m, pool, SMTP_PORT))
            continue;
        for (size_t i = 0; i < msa->prefix_count; i++) {
            if (msa->prefixes[i].address.family != block->address.family)
                continue;
            rule.msa = (int)m;
            rule.destination = msa->prefixes[i];
            if (append(acl, capacity, &rule) != 0)
                return -1;
        }
    }
    rule.action = ACL_DENY;
    rule.msa = POLICY_NO_INDEX;
    memset(&rule.destination, 0, sizeof(rule.destination));
    return append(acl, capacity, &rule);
}

static int add_pool(struct acl *acl, size_t *capacity, const struct policy *policy, int pool)
{
    const struct pool *entry = &policy->pools[pool];
    for (int f = 0; f < 2; f++) {
        for (size_t i = 0; i < entry->prefix_count; i++) {
            if (entry->prefixes[i].address.family != families[f])
                continue;
            size_t before = acl->count;
            if (add_block(acl, capacity, policy, pool, &entry->prefixes[i]) != 0)
                return -1;
            if (entry->blocking_point == POLICY_NO_INDEX)
                acl->unassigned += acl->count - before;
            else
                acl->assigned[f] += acl->count - before;
        }
    }
    return 0;
}

int acl_build(const struct policy *policy, struct acl *acl)
{
    memset(acl, 0, sizeof(*acl));
    size_t capacity = 0;
    for (size_t b = 0; b < policy->blocking_point_count; b++) {
        for (size_t p = 0; p < policy->pool_count; p++) {
            const struct pool *pool = &policy->pools[p];
            if (pool->type == POOL_DYNAMIC && pool->blocking_point == (int)b &&
                add_pool(acl, &capacity, policy, (int)p) != 0)
                goto fail;
        }
    }
    for (size_t p = 0; p < policy->pool_count; p++) {
        const struct pool *pool = &policy->pools[p];
        if (pool->type == POOL_DYNAMIC && pool->blocking_point == POLICY_NO_INDEX &&
            add_pool(acl, &capacity, policy, (int)p) != 0)
            goto fail;
    }
    return 0;

fail:
    acl_free(acl);
    return -1;
}

void acl_free(struct acl *acl)
{
    free(acl->rules);
    memset(acl, 0, sizeof(*acl));
}

size_t acl_rule_format(const struct acl_rule *rule, char *buffer, size_t size)
{
    char source[PREFIX_TEXT_MAX], destination[PREFIX_TEXT_MAX] = "any";
    prefix_format(&rule->source, source, sizeof(source));
    if (rule->action == ACL_PERMIT)
        prefix_format(&rule->destination, destination, sizeof(destination));
    int length =
        snprintf(buffer, size, "%-6s tcp %s -> %s dport %d",
                 rule->action == ACL_PERMIT ? "permit" : "deny", source, destination, SMTP_PORT);
    return length < 0 ? 0 : (size_t)length;
}

static void write_counts(const struct acl *acl, const struct policy *policy, FILE *out)
{
    static const char *const names[2] = {"IPv4", "IPv6"};
    for (int f = 0; f < 2; f++) {
        struct acl_rule_count count;
        policy_acl_rule_count(policy, families[f], &count);
        fprintf(out,
                "# %s: %zu dynamic blocks x (%zu MSA blocks + 1) = %zu rules by the draft's "
                "formula; %zu listed\n",
                names[f], count.dynamic_blocks, count.msa_blocks,
                count.dynamic_blocks * (count.msa_blocks + 1), acl->assigned[f]);
    }
    if (acl->unassigned > 0)
        fprintf(out, "# %zu more rules for dynamic pools that have no blocking point yet\n",
                acl->unassigned);
}

static void write_group_heading(const struct policy *policy, int point, FILE *out)
{
    if (point == POLICY_NO_INDEX) {
        fprintf(out, "# no blocking point: these pools are not filtered anywhere yet\n");
        return;
    }
    const struct blocking_point *entry = &policy->blocking_points[point];
    fprintf(out, "# blocking point %s (level %d %s, %s, reject %s)\n", entry->name,
            (int)entry->level, blocking_level_name(entry->level), blocking_state_name(entry->state),
            blocking_reject_name(entry->reject));
}

void acl_write_listing(const struct acl *acl, const struct policy *policy, FILE *out)
{
    fprintf(out, "# OP25B ACL for %s (draft-akagiri-op25b-dynamicip section 4):\n",
            policy->sensor_name);
    fprintf(out, "# per dynamic block, permit TCP/25 to each designated MSA block, then deny "
                 "TCP/25.\n");
    write_counts(acl, policy, out);
    int group = -2; /* no group yet */
    for (size_t i = 0; i < acl->count; i++) {
        const struct acl_rule *rule = &acl->rules[i];
        if (rule->blocking_point != group) {
            group = rule->blocking_point;
            write_group_heading(policy, group, out);
        }
        char text[2 * PREFIX_TEXT_MAX + 32];
        acl_rule_format(rule, text, sizeof(text));
        fprintf(out, "%5zu  %-70s # pool %s", i + 1, text, policy->pools[rule->pool].name);
        if (rule->action == ACL_PERMIT)
            fprintf(out, ", msa %s", policy->msas[rule->msa].name);
        fputc('\n', out);
    }
}

/* nftables identifiers are letters, digits and '_'; names from the policy may hold more. */
static void identifier(const char *name, char *buffer, size_t size)
{
    size_t length = 0;
    for (const char *c = name; *c != '\0' && length + 1 < size; c++) {
        bool keep =
            (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9');
        buffer[length++] = keep ? *c : '_';
    }
    buffer[length] = '\0';
}

/* A comment is a quoted string: keep printable ASCII without quotes or backslashes. */
static void comment_text(const char *text, char *buffer, size_t size)
{
    size_t length = 0;
    for (const char *c = text; *c != '\0' && length + 1 < size; c++) {
        bool keep = *c >= 0x20 && *c < 0x7f && *c != '"' && *c != '\\';
        buffer[length++] = keep ? *c : '_';
    }
    buffer[length] = '\0';
}

static const char *verdict_statement(enum blocking_reject reject, int family)
{
    switch (reject) {
    case REJECT_ICMP:
        /* ICMP 3/13 and ICMPv6 1/1: what the sensor reads as icmp_admin_prohibited. */
        return family == ADDRESS_V6 ? "reject with icmpv6 type admin-prohibited"
                                    : "reject with icmp type admin-prohibited";
    case REJECT_TCP_RESET:
        return "reject with tcp reset";
    case REJECT_DROP:
    default:
        return "drop";
    }
}

static void write_nft_rule(const struct acl_rule *rule, const struct policy *policy,
                           const char *indent, FILE *out)
{
    const char *ip = rule->family == ADDRESS_V6 ? "ip6" : "ip";
    char source[PREFIX_TEXT_MAX], destination[PREFIX_TEXT_MAX], comment[160], raw[160];
    prefix_format(&rule->source, source, sizeof(source));
    fprintf(out, "%s%s saddr %s ", indent, ip, source);
    if (rule->action == ACL_PERMIT) {
        prefix_format(&rule->destination, destination, sizeof(destination));
        fprintf(out, "%s daddr %s ", ip, destination);
        snprintf(raw, sizeof(raw), "%s to %s", policy->pools[rule->pool].name,
                 policy->msas[rule->msa].name);
    } else {
        snprintf(raw, sizeof(raw), "%s", policy->pools[rule->pool].name);
    }
    /* nftables keeps at most 128 bytes of comment. */
    comment_text(raw, comment, 128);
    enum blocking_reject reject = rule->blocking_point == POLICY_NO_INDEX
                                      ? REJECT_DROP
                                      : policy->blocking_points[rule->blocking_point].reject;
    fprintf(out, "tcp dport %d %s comment \"%s\"\n", SMTP_PORT,
            rule->action == ACL_PERMIT ? "accept" : verdict_statement(reject, rule->family),
            comment);
}

void acl_write_nftables(const struct acl *acl, const struct policy *policy, FILE *out)
{
    fprintf(out, "#!/usr/sbin/nft -f\n");
    fprintf(out, "# OP25B ACL for %s (draft-akagiri-op25b-dynamicip section 4).\n",
            policy->sensor_name);
    fprintf(out, "# One table per blocking point: load each on the device at that point.\n");
    write_counts(acl, policy, out);
    size_t i = 0;
    while (i < acl->count) {
        int point = acl->rules[i].blocking_point;
        size_t end = i;
        while (end < acl->count && acl->rules[end].blocking_point == point)
            end++;
        fputc('\n', out);
        write_group_heading(policy, point, out);
        if (point == POLICY_NO_INDEX) {
            for (; i < end; i++)
                write_nft_rule(&acl->rules[i], policy, "# ", out);
            continue;
        }
        const struct blocking_point *entry = &policy->blocking_points[point];
        char name[128];
        identifier(entry->name, name, sizeof(name));
        /* Two names may map to one identifier: the index keeps tables apart. */
        for (int other = 0; other < point; other++) {
            char other_name[128];
            identifier(policy->blocking_points[other].name, other_name, sizeof(other_name));
            if (strcmp(other_name, name) == 0) {
                size_t length = strlen(name);
                snprintf(name + length, sizeof(name) - length, "_%d", point);
                break;
            }
        }
        if (entry->state == BLOCKING_PLANNED)
            fprintf(out, "# planned: not active yet, so the sensor reports would_block\n");
        /* Declaring, then flushing, makes the file safe to load again after a change. */
        fprintf(out, "table inet op25b_%s\nflush table inet op25b_%s\n", name, name);
        fprintf(out, "table inet op25b_%s {\n", name);
        fprintf(out, "\tchain forward {\n");
        fprintf(out, "\t\ttype filter hook forward priority filter; policy accept;\n");
        for (; i < end; i++)
            write_nft_rule(&acl->rules[i], policy, "\t\t", out);
        fprintf(out, "\t}\n}\n");
    }
}

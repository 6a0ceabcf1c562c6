/* Writes the ACL of acl.h: its counts, a neutral listing and nftables text. */
#include <stdbool.h>
#include <string.h>

#include "policy/acl.h"
#include "util/address.h"

#define SMTP_PORT 25

const char *acl_action_name(enum acl_action action)
{
    return action == ACL_DENY ? "deny" : "permit";
}

size_t acl_rule_format(const struct acl_rule *rule, char *buffer, size_t size)
{
    char source[PREFIX_TEXT_MAX], destination[PREFIX_TEXT_MAX] = "any";
    prefix_format(&rule->source, source, sizeof(source));
    if (rule->action == ACL_PERMIT)
        prefix_format(&rule->destination, destination, sizeof(destination));
    int length = snprintf(buffer, size, "%-6s tcp %s -> %s dport %d", acl_action_name(rule->action),
                          source, destination, SMTP_PORT);
    return length < 0 ? 0 : (size_t)length;
}

void acl_write_counts(const struct acl *acl, const char *indent, FILE *out)
{
    static const char *const names[2] = {"IPv4", "IPv6"};
    for (int f = 0; f < 2; f++) {
        const struct acl_count *count = &acl->families[f];
        fprintf(out,
                "%s%s: %zu dynamic blocks x (%zu MSA blocks + 1) = %zu rules by the draft's "
                "formula\n",
                indent, names[f], count->dynamic_blocks, count->msa_blocks, count->formula);
        fprintf(out,
                "%s      generated %zu rules (%zu at planned points): MSA permits %zu, exempt "
                "permits %zu, denies %zu\n",
                indent, count->rules, count->planned, count->msa_permits, count->exempt_permits,
                count->denies);
    }
    if (acl->unassigned > 0)
        fprintf(out, "%sdynamic pools without a blocking point would need %zu more rules\n", indent,
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
    if (entry->state == BLOCKING_PLANNED)
        fprintf(out, "# planned: not active yet (the sensor reports would_block); these rules are "
                     "what its ACL will be\n");
}

static void write_header(const struct acl *acl, const struct policy *policy, FILE *out)
{
    fprintf(out, "# OP25B ACL for %s (draft-akagiri-op25b-dynamicip section 4):\n",
            policy->sensor_name);
    fprintf(out, "# per dynamic block, permit TCP/25 to each designated MSA block, then deny "
                 "TCP/25;\n# first, permit TCP/25 from the prefixes carved out of the block "
                 "(exempt: static senders).\n");
    acl_write_counts(acl, "# ", out);
}

void acl_write_listing(const struct acl *acl, const struct policy *policy, FILE *out)
{
    write_header(acl, policy, out);
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
            fprintf(out, ", msa %s%s", policy->msas[rule->msa].name,
                    policy->msas[rule->msa].port25_planned_close ? " (port 25 planned to close)"
                                                                 : "");
        else if (rule->action == ACL_EXEMPT)
            fprintf(out, ", exempt inside %s", policy->pools[rule->inside].name);
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
    const char *pool = policy->pools[rule->pool].name;
    char source[PREFIX_TEXT_MAX], destination[PREFIX_TEXT_MAX], comment[160], raw[160];
    prefix_format(&rule->source, source, sizeof(source));
    fprintf(out, "%s%s saddr %s ", indent, ip, source);
    if (rule->action == ACL_PERMIT) {
        prefix_format(&rule->destination, destination, sizeof(destination));
        fprintf(out, "%s daddr %s ", ip, destination);
        /* Kept until the MSA's port 25 is closed: then the permit goes. */
        snprintf(raw, sizeof(raw), "%s to %s%s", pool, policy->msas[rule->msa].name,
                 policy->msas[rule->msa].port25_planned_close ? ", port 25 planned to close" : "");
    } else if (rule->action == ACL_EXEMPT) {
        snprintf(raw, sizeof(raw), "%s exempt inside %s", pool, policy->pools[rule->inside].name);
    } else {
        snprintf(raw, sizeof(raw), "%s", pool);
    }
    /* nftables keeps at most 128 bytes of comment. */
    comment_text(raw, comment, 128);
    enum blocking_reject reject = rule->blocking_point == POLICY_NO_INDEX
                                      ? REJECT_DROP
                                      : policy->blocking_points[rule->blocking_point].reject;
    fprintf(out, "tcp dport %d %s comment \"%s\"\n", SMTP_PORT,
            rule->action == ACL_DENY ? verdict_statement(reject, rule->family) : "accept", comment);
}

/* Two names may map to one identifier: the index keeps tables apart. */
static void table_name(const struct policy *policy, int point, char *name, size_t size)
{
    identifier(policy->blocking_points[point].name, name, size);
    for (int other = 0; other < point; other++) {
        char other_name[128];
        identifier(policy->blocking_points[other].name, other_name, sizeof(other_name));
        if (strcmp(other_name, name) == 0) {
            size_t length = strlen(name);
            snprintf(name + length, size - length, "_%d", point);
            return;
        }
    }
}

/* One blocking point's rules, [begin, end), as a table of its own. Rules in separate tables
 * do not see each other's accept: each table only ever judges its own pools' addresses, and
 * exempts what it holds but another point governs. */
static void write_table(const struct acl *acl, const struct policy *policy, size_t begin,
                        size_t end, FILE *out)
{
    int point = acl->rules[begin].blocking_point;
    write_group_heading(policy, point, out);
    if (point == POLICY_NO_INDEX) {
        for (size_t i = begin; i < end; i++)
            write_nft_rule(&acl->rules[i], policy, "# ", out);
        return;
    }
    char name[128];
    table_name(policy, point, name, sizeof(name));
    /* Declaring, then flushing, makes the file safe to load again after a change. */
    fprintf(out, "table inet op25b_%s\nflush table inet op25b_%s\n", name, name);
    fprintf(out, "table inet op25b_%s {\n", name);
    fprintf(out, "\tchain forward {\n");
    fprintf(out, "\t\ttype filter hook forward priority filter; policy accept;\n");
    for (size_t i = begin; i < end; i++)
        write_nft_rule(&acl->rules[i], policy, "\t\t", out);
    fprintf(out, "\t}\n}\n");
}

void acl_write_nftables(const struct acl *acl, const struct policy *policy, FILE *out)
{
    fprintf(out, "#!/usr/sbin/nft -f\n");
    fprintf(out, "# One table per blocking point: load each on the device at that point.\n");
    write_header(acl, policy, out);
    size_t i = 0;
    while (i < acl->count) {
        size_t end = i;
        while (end < acl->count && acl->rules[end].blocking_point == acl->rules[i].blocking_point)
            end++;
        fputc('\n', out);
        write_table(acl, policy, i, end, out);
        i = end;
    }
}

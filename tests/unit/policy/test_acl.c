/* The ACL of draft section 4: rule order and count (the draft's own 100 x (10 + 1) = 1100
 * example), permit lists of MSAs limited to some pools, MSAs without port 25 neither
 * permitted nor counted, prefixes carved out of a dynamic block permitted before its deny
 * (IPv4 and IPv6, nested any way), pools without a blocking point, planned points, and the
 * nftables text for each reject mode. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/acl.h"
#include "policy/policy.h"

static const char example_policy[] =
    "sensor: {name: acl-test, position: edge-side}\n"
    "own_prefixes: [203.0.113.0/24, 198.51.96.0/20, 2001:db8::/32]\n"
    "blocking_points:\n"
    "  - {name: bras.east-1, level: terminator, state: active, reject: drop}\n"
    "  - {name: edge-west, level: edge, state: planned, reject: icmp}\n"
    "  - {name: cmts, level: terminator, state: active, reject: tcp-reset}\n"
    "pools:\n"
    "  - {name: ftth, type: dynamic, prefixes: [203.0.113.0/25, 2001:db8:100::/40],\n"
    "     blocking_point: bras.east-1}\n"
    "  - {name: dsl, type: dynamic, prefixes: [198.51.96.0/21, 2001:db8:200::/40],\n"
    "     blocking_point: edge-west}\n"
    "  - {name: cable, type: dynamic, prefixes: [198.51.104.0/22], blocking_point: cmts}\n"
    "  - {name: forgotten, type: dynamic, prefixes: [198.51.108.0/22]}\n"
    "  - {name: business, type: static, prefixes: [203.0.113.128/26]}\n"
    "msas:\n"
    "  - {name: isp-msa, prefixes: [203.0.113.225/32, 2001:db8:ffff::25/128],\n"
    "     ports: [25, 587, 465]}\n"
    "  - {name: partner, prefixes: [192.0.2.0/29], ports: [25, 587], pools: [ftth]}\n"
    "  - {name: submission-only, prefixes: [192.0.2.64/32], ports: [587]}\n";

/* The example with static prefixes carved out of dynamic blocks, as rules/example.yaml
 * does: a business /29 in the DSL /21 and a business /56 in the DSL /40, and the ISP's MX
 * (a server that sends on port 25: a static pool) inside the FTTH /40. */
static const char carved_policy[] =
    "sensor: {name: acl-test, position: edge-side}\n"
    "own_prefixes: [203.0.113.0/24, 198.51.96.0/20, 2001:db8::/32]\n"
    "blocking_points:\n"
    "  - {name: bras, level: terminator, state: active, reject: drop}\n"
    "  - {name: edge-west, level: edge, state: planned, reject: icmp}\n"
    "pools:\n"
    "  - {name: ftth, type: dynamic, prefixes: [203.0.113.0/25, 2001:db8:100::/40],\n"
    "     blocking_point: bras}\n"
    "  - {name: dsl, type: dynamic, prefixes: [198.51.96.0/21, 2001:db8:200::/40],\n"
    "     blocking_point: edge-west}\n"
    "  - {name: business, type: static,\n"
    "     prefixes: [198.51.103.248/29, 2001:db8:2ff:ff00::/56, 203.0.113.128/26]}\n"
    "  - {name: isp-mx, type: static, prefixes: [2001:db8:100:ffff::25/128]}\n"
    "msas:\n"
    "  - {name: isp-msa, prefixes: [203.0.113.225/32, 2001:db8:ffff::25/128],\n"
    "     ports: [25, 587, 465]}\n";

static struct policy *load(const char *text)
{
    char error[512] = "";
    struct policy *policy = policy_load_text("test.yaml", text, strlen(text), error, sizeof(error));
    cr_assert_not_null(policy, "policy: %s", error);
    return policy;
}

static char *capture(void (*write)(const struct acl *, const struct policy *, FILE *),
                     const struct acl *acl, const struct policy *policy)
{
    char *text = NULL;
    size_t length = 0;
    FILE *out = open_memstream(&text, &length);
    cr_assert_not_null(out);
    write(acl, policy, out);
    fclose(out);
    return text;
}

static size_t count_lines_with(const char *text, const char *needle)
{
    size_t count = 0;
    for (const char *line = text; line != NULL && *line != '\0';) {
        const char *end = strchr(line, '\n');
        size_t length = end != NULL ? (size_t)(end - line) : strlen(line);
        char buffer[512];
        snprintf(buffer, sizeof(buffer), "%.*s", (int)length, line);
        count += strstr(buffer, needle) != NULL;
        line = end != NULL ? end + 1 : NULL;
    }
    return count;
}

static struct address address_of(const char *text)
{
    struct address address;
    cr_assert(address_parse(text, &address), "%s", text);
    return address;
}

/* What a first-match device at one blocking point does with TCP/25 from source to
 * destination: the first rule of that point matching both decides; none: it passes. */
enum outcome { PASSES, ACCEPTED, DENIED };
static enum outcome first_match(const struct acl *acl, int point, const struct address *source,
                                const struct address *destination)
{
    for (size_t i = 0; i < acl->count; i++) {
        const struct acl_rule *rule = &acl->rules[i];
        if (rule->blocking_point != point || !prefix_contains(&rule->source, source))
            continue;
        if (rule->action == ACL_PERMIT && !prefix_contains(&rule->destination, destination))
            continue;
        return rule->action == ACL_DENY ? DENIED : ACCEPTED;
    }
    return PASSES;
}

/* The policy's own answer, as the sensor judges by longest match: TCP/25 from source may go
 * to destination unless the source's pool is dynamic, blocked at point, and the
 * destination is no MSA that serves the pool on port 25. */
static bool policy_lets_through(const struct policy *policy, int point,
                                const struct address *source, const struct address *destination)
{
    int pool = policy_pool_of(policy, source);
    if (pool == POLICY_NO_INDEX || policy->pools[pool].type != POOL_DYNAMIC ||
        policy->pools[pool].blocking_point != point)
        return true;
    return policy_msa_allows(policy, policy_msa_of(policy, destination), pool, 25);
}

/* Every source against every destination of its family, at every blocking point (and
 * none). */
static void expect_longest_match(const struct policy *policy, const struct acl *acl,
                                 const char *const *sources, size_t source_count,
                                 const char *const *destinations, size_t destination_count)
{
    for (int point = POLICY_NO_INDEX; point < (int)policy->blocking_point_count; point++) {
        for (size_t s = 0; s < source_count; s++) {
            for (size_t d = 0; d < destination_count; d++) {
                struct address source = address_of(sources[s]);
                struct address destination = address_of(destinations[d]);
                if (source.family != destination.family)
                    continue;
                bool through = first_match(acl, point, &source, &destination) != DENIED;
                cr_expect_eq(through, policy_lets_through(policy, point, &source, &destination),
                             "point %d: %s -> %s:25 %s by the ACL", point, sources[s],
                             destinations[d], through ? "passes" : "is denied");
            }
        }
    }
}

Test(acl, each_block_permits_its_msas_then_denies)
{
    struct policy *policy = load(example_policy);
    struct acl acl;
    cr_assert_eq(acl_build(policy, &acl), 0);
    char text[256];
    /* ftth's IPv4 block: the ISP's MSA, the partner (which serves ftth), then the deny. */
    acl_rule_format(&acl.rules[0], text, sizeof(text));
    cr_expect_str_eq(text, "permit tcp 203.0.113.0/25 -> 203.0.113.225/32 dport 25");
    acl_rule_format(&acl.rules[1], text, sizeof(text));
    cr_expect_str_eq(text, "permit tcp 203.0.113.0/25 -> 192.0.2.0/29 dport 25");
    acl_rule_format(&acl.rules[2], text, sizeof(text));
    cr_expect_str_eq(text, "deny   tcp 203.0.113.0/25 -> any dport 25");
    /* Every block ends in its deny, and a deny is followed by a new block's first rule. */
    for (size_t i = 0; i + 1 < acl.count; i++) {
        if (acl.rules[i].action == ACL_PERMIT)
            cr_expect(prefix_contains(&acl.rules[i + 1].source, &acl.rules[i].source.address) &&
                          acl.rules[i + 1].source.length == acl.rules[i].source.length,
                      "rule %zu: a permit is followed by another rule of its block", i + 1);
        cr_expect_eq(acl.rules[i].family, acl.rules[i].source.address.family);
        cr_expect_neq(acl.rules[i].action, ACL_EXEMPT, "nothing is carved out here");
    }
    cr_expect_eq(acl.rules[acl.count - 1].action, ACL_DENY);
    acl_free(&acl);
    policy_free(policy);
}

Test(acl, counts_are_those_of_the_rules_with_the_formula_beside_them)
{
    struct policy *policy = load(example_policy);
    struct acl acl;
    cr_assert_eq(acl_build(policy, &acl), 0);
    /* IPv4: ftth /25, dsl /21, cable /22 are dynamic blocks with a point; isp-msa and the
     * partner take port 25, submission-only does not: 3 x (2 + 1) = 9 by the formula.
     * Generated: ftth 2 permits + deny, dsl 1 + 1 (the partner serves ftth only), cable
     * 1 + 1 = 7. IPv6: ftth and dsl /40s, isp-msa's /128: 2 x (1 + 1) = 4, all generated. */
    const struct acl_count *v4 = &acl.families[0], *v6 = &acl.families[1];
    cr_expect_eq(v4->dynamic_blocks, 3);
    cr_expect_eq(v4->msa_blocks, 2);
    cr_expect_eq(v4->formula, 9);
    cr_expect_eq(v4->msa_permits, 4);
    cr_expect_eq(v4->exempt_permits, 0);
    cr_expect_eq(v4->denies, 3);
    cr_expect_eq(v4->rules, 7);
    cr_expect_eq(v4->planned, 2, "dsl's permit and deny at the planned edge-west");
    cr_expect_eq(v6->dynamic_blocks, 2);
    cr_expect_eq(v6->msa_blocks, 1);
    cr_expect_eq(v6->formula, 4);
    cr_expect_eq(v6->rules, 4);
    cr_expect_eq(v6->planned, 2);
    /* The counts are the rules themselves. */
    size_t listed[2] = {0, 0};
    for (size_t i = 0; i < acl.count; i++) {
        if (acl.rules[i].blocking_point != POLICY_NO_INDEX)
            listed[acl.rules[i].family == ADDRESS_V6]++;
    }
    cr_expect_eq(listed[0], v4->rules);
    cr_expect_eq(listed[1], v6->rules);
    cr_expect_eq(acl.count, v4->rules + v6->rules + acl.unassigned);
    acl_free(&acl);
    policy_free(policy);
}

Test(acl, an_msa_that_does_not_take_port_25_is_neither_permitted_nor_counted)
{
    /* The 587/465-only MSA alone: before, the formula counted it (4 x (1 + 1) = 8 rules)
     * while the ACL listed 4. */
    struct policy *policy =
        load("sensor: {name: s, position: edge-side}\nown_prefixes: [10.0.0.0/8]\n"
             "blocking_points: [{name: edge, level: edge}]\n"
             "pools: [{name: d, type: dynamic, blocking_point: edge,\n"
             "         prefixes: [10.1.0.0/16, 10.2.0.0/16, 10.3.0.0/16, 10.4.0.0/16]}]\n"
             "msas: [{name: submission, prefixes: [192.0.2.1], ports: [587, 465]}]\n");
    struct acl acl;
    cr_assert_eq(acl_build(policy, &acl), 0);
    cr_expect_eq(acl.families[0].msa_blocks, 0);
    cr_expect_eq(acl.families[0].formula, 4);
    cr_expect_eq(acl.families[0].rules, 4);
    cr_expect_eq(acl.count, 4);
    for (size_t i = 0; i < acl.count; i++)
        cr_expect_eq(acl.rules[i].action, ACL_DENY);
    char *listing = capture(acl_write_listing, &acl, policy);
    cr_expect(strstr(listing, "IPv4: 4 dynamic blocks x (0 MSA blocks + 1) = 4 rules by the "
                              "draft's formula\n") != NULL,
              "%s", listing);
    cr_expect(strstr(listing, "generated 4 rules (0 at planned points): MSA permits 0, exempt "
                              "permits 0, denies 4\n") != NULL,
              "%s", listing);
    free(listing);
    acl_free(&acl);
    policy_free(policy);
}

Test(acl, the_drafts_example_is_1100_rules)
{
    /* Draft section 4: "if the number of dynamic IP address blocks is 100 and the number
     * of MSA address blocks is 10, the number of ACL rules is 1100 = 100 * (10+1)". */
    size_t size = 16384;
    char *text = malloc(size);
    cr_assert_not_null(text);
    size_t length = (size_t)snprintf(
        text, size,
        "sensor: {name: draft, position: edge-side}\n"
        "own_prefixes: [10.0.0.0/8]\n"
        "blocking_points: [{name: edge, level: edge, state: active, reject: drop}]\n"
        "pools:\n  - name: dynamic\n    type: dynamic\n    blocking_point: edge\n"
        "    prefixes:\n");
    for (int i = 0; i < 100; i++)
        length += (size_t)snprintf(text + length, size - length, "      - 10.%d.0.0/16\n", i);
    length += (size_t)snprintf(text + length, size - length, "msas:\n");
    for (int i = 0; i < 10; i++)
        length += (size_t)snprintf(text + length, size - length,
                                   "  - {name: msa%d, prefixes: [192.0.2.%d/32], ports: [25]}\n", i,
                                   i + 1);
    struct policy *policy = load(text);
    struct acl acl;
    cr_assert_eq(acl_build(policy, &acl), 0);
    cr_expect_eq(acl.count, 1100);
    cr_expect_eq(acl.families[0].formula, 1100);
    cr_expect_eq(acl.families[0].rules, 1100);
    size_t denies = 0;
    for (size_t i = 0; i < acl.count; i++)
        denies += acl.rules[i].action == ACL_DENY;
    cr_expect_eq(denies, 100);
    char *listing = capture(acl_write_listing, &acl, policy);
    cr_expect(strstr(listing, "100 dynamic blocks x (10 MSA blocks + 1) = 1100 rules") != NULL,
              "%s", listing);
    cr_expect(strstr(listing, "generated 1100 rules (0 at planned points)") != NULL);
    cr_expect_eq(count_lines_with(listing, " dport 25 "), 1100);
    free(listing);
    acl_free(&acl);
    policy_free(policy);
    free(text);
}

/* Appends the lines "      - TEXT" for count prefixes made by format from i. */
static void put_prefixes(FILE *stream, const char *format, int first, int count)
{
    for (int i = first; i < first + count; i++) {
        fputs("      - ", stream);
        fprintf(stream, format, i);
        fputc('\n', stream);
    }
}

Test(acl, per_family_and_per_pool)
{
    /* Pool a: dynamic, blocked, 3 v4 + 2 v6.  Pool b: dynamic, blocked, 2 v4.
     * Pool c: dynamic without a blocking point (no ACL yet), 5 v4.
     * Pool d: static, with a blocking point, 4 v4: static space is never blocked.
     * MSA m1: every pool, 2 v4 + 1 v6.  m2: pool b only, 3 v4 + 2 v6.  m3: pool c, 1 v4.
     *
     * IPv4: dynamic blocks 3 + 2 = 5; MSA blocks 2 + 3 + 1 = 6; formula 5 x 7 = 35;
     *       generated a: 3 x (2 + 1) = 9, b: 2 x (2 + 3 + 1) = 12, total 21.
     * IPv6: dynamic blocks 2; MSA blocks 1 + 2 = 3; formula 2 x 4 = 8; generated a:
     *       2 x (1 + 1) = 4; b has no IPv6 block.
     * c, unassigned: 5 x (m1's 2 + m3's 1 + 1) = 20. */
    char *text = NULL;
    size_t size = 0;
    FILE *stream = open_memstream(&text, &size);
    fputs("sensor: {name: s1, position: edge-side}\nown_prefixes: []\n"
          "blocking_points: [{name: bras, level: terminator}]\npools:\n",
          stream);
    fputs("  - name: a\n    type: dynamic\n    blocking_point: bras\n    prefixes:\n", stream);
    put_prefixes(stream, "10.1.%d.0/24", 0, 3);
    put_prefixes(stream, "2001:db8:%x::/48", 1, 2);
    fputs("  - name: b\n    type: dynamic\n    blocking_point: bras\n    prefixes:\n", stream);
    put_prefixes(stream, "10.2.%d.0/24", 0, 2);
    fputs("  - name: c\n    type: dynamic\n    prefixes:\n", stream);
    put_prefixes(stream, "10.3.%d.0/24", 0, 5);
    fputs("  - name: d\n    type: static\n    blocking_point: bras\n    prefixes:\n", stream);
    put_prefixes(stream, "10.4.%d.0/24", 0, 4);
    fputs("msas:\n  - name: m1\n    ports: [25]\n    prefixes:\n", stream);
    put_prefixes(stream, "192.0.2.%d", 1, 2);
    put_prefixes(stream, "2001:db8:ffff::%x", 1, 1);
    fputs("  - name: m2\n    ports: [25]\n    pools: [b]\n    prefixes:\n", stream);
    put_prefixes(stream, "192.0.2.%d", 11, 3);
    put_prefixes(stream, "2001:db8:ffff::%x", 11, 2);
    fputs("  - name: m3\n    ports: [25]\n    pools: [c]\n    prefixes:\n", stream);
    put_prefixes(stream, "192.0.2.%d", 21, 1);
    fclose(stream);
    struct policy *policy = load(text);
    struct acl acl;
    cr_assert_eq(acl_build(policy, &acl), 0);
    cr_expect_eq(acl.families[0].dynamic_blocks, 5);
    cr_expect_eq(acl.families[0].msa_blocks, 6);
    cr_expect_eq(acl.families[0].formula, 35);
    cr_expect_eq(acl.families[0].rules, 21);
    cr_expect_eq(acl.families[1].dynamic_blocks, 2);
    cr_expect_eq(acl.families[1].msa_blocks, 3);
    cr_expect_eq(acl.families[1].formula, 8);
    cr_expect_eq(acl.families[1].rules, 4);
    cr_expect_eq(acl.unassigned, 20);
    acl_free(&acl);
    policy_free(policy);
    free(text);
}

Test(acl, static_prefixes_inside_a_dynamic_block_are_permitted_before_its_deny)
{
    struct policy *policy = load(carved_policy);
    struct acl acl;
    cr_assert_eq(acl_build(policy, &acl), 0);
    char *listing = capture(acl_write_listing, &acl, policy);
    /* bras: FTTH v4 (permit, deny), then v6: the MX's /128 first, then the /40's rules. */
    const char *expected_bras = "# blocking point bras (level 2 terminator, active, reject drop)\n"
                                "    1  permit tcp 203.0.113.0/25 -> 203.0.113.225/32 dport 25 ";
    cr_expect(strstr(listing, expected_bras) != NULL, "%s", listing);
    char text[256];
    acl_rule_format(&acl.rules[2], text, sizeof(text));
    cr_expect_str_eq(text, "permit tcp 2001:db8:100:ffff::25/128 -> any dport 25");
    cr_assert_eq(acl.rules[2].action, ACL_EXEMPT);
    cr_expect_str_eq(policy->pools[acl.rules[2].pool].name, "isp-mx");
    cr_expect_str_eq(policy->pools[acl.rules[2].inside].name, "ftth");
    acl_rule_format(&acl.rules[4], text, sizeof(text));
    cr_expect_str_eq(text, "deny   tcp 2001:db8:100::/40 -> any dport 25");
    /* edge-west: the /29 before the /21's rules, the /56 before the /40's. */
    acl_rule_format(&acl.rules[5], text, sizeof(text));
    cr_expect_str_eq(text, "permit tcp 198.51.103.248/29 -> any dport 25");
    acl_rule_format(&acl.rules[8], text, sizeof(text));
    cr_expect_str_eq(text, "permit tcp 2001:db8:2ff:ff00::/56 -> any dport 25");
    cr_expect(strstr(listing, "# pool business, exempt inside dsl\n") != NULL, "%s", listing);
    cr_expect(strstr(listing, "# planned: not active yet") != NULL);
    /* The business /26 is inside no dynamic block: no rule. 203.0.113.128/26 is absent. */
    cr_expect(strstr(listing, "203.0.113.128/26") == NULL);
    cr_expect_eq(acl.families[0].exempt_permits, 1);
    cr_expect_eq(acl.families[1].exempt_permits, 2);
    cr_expect_eq(acl.families[0].rules, 2 + 1 + 2);
    cr_expect_eq(acl.families[1].rules, 1 + 2 + 1 + 2);
    cr_expect_eq(acl.families[1].planned, 3);
    cr_expect_eq(acl.families[1].formula, 4, "exemptions are counted beside the formula");
    free(listing);

    static const char *const sources[] = {
        "203.0.113.5",     "198.51.96.1",          "198.51.103.249",        "198.51.103.247",
        "203.0.113.130",   "2001:db8:100::1",      "2001:db8:100:ffff::25", "2001:db8:100:ffff::26",
        "2001:db8:200::1", "2001:db8:2ff:ff00::1", "2001:db8:2ff:ff01::1"};
    static const char *const destinations[] = {"192.0.2.10", "203.0.113.225", "2001:db8:ffff::25",
                                               "3fff::25"};
    expect_longest_match(policy, &acl, sources, sizeof(sources) / sizeof(*sources), destinations,
                         sizeof(destinations) / sizeof(*destinations));
    acl_free(&acl);
    policy_free(policy);
}

Test(acl, nested_pools_are_judged_by_their_most_specific_prefix)
{
    /* Every way pools nest: a dynamic /28 of another pool inside a dynamic /16 at the same
     * point (its rules must come first), a static /24 holding a dynamic /26 of the outer
     * pool's point, a dynamic /24 another point governs and one no point governs (exempt at
     * the outer point), a static /28 inside that /24 (exempt at the inner point), and the
     * same in IPv6. Policy order puts the outer pools first on purpose. */
    struct policy *policy =
        load("sensor: {name: s, position: edge-side}\nown_prefixes: [10.0.0.0/8, 2001:db8::/32]\n"
             "blocking_points: [{name: edge, level: edge}, {name: home, level: home-router, "
             "reject: tcp-reset}]\n"
             "pools:\n"
             "  - {name: outer, type: dynamic, blocking_point: edge,\n"
             "     prefixes: [10.1.0.0/16, 2001:db8:100::/40]}\n"
             "  - {name: hotspot, type: dynamic, blocking_point: edge,\n"
             "     prefixes: [10.1.0.16/28, 10.1.2.64/26, 2001:db8:100:1::/64]}\n"
             "  - {name: business, type: static, prefixes: [10.1.2.0/24, 10.1.3.0/28,\n"
             "     2001:db8:100:2::/64]}\n"
             "  - {name: homes, type: dynamic, blocking_point: home,\n"
             "     prefixes: [10.1.3.0/24, 2001:db8:100:3::/64]}\n"
             "  - {name: unplanned, type: dynamic, prefixes: [10.1.4.0/24]}\n"
             "msas:\n"
             "  - {name: all, prefixes: [192.0.2.1, 2001:db8:ffff::1], ports: [25]}\n"
             "  - {name: hot, prefixes: [192.0.2.2, 2001:db8:ffff::2], ports: [25], pools: "
             "[hotspot]}\n"
             "  - {name: home-msa, prefixes: [192.0.2.3], ports: [25], pools: [homes]}\n");
    struct acl acl;
    cr_assert_eq(acl_build(policy, &acl), 0);
    static const char *const sources[] = {
        "10.1.0.1",         "10.1.0.17",       "10.1.2.1",          "10.1.2.65",
        "10.1.3.1",         "10.1.3.17",       "10.1.3.5",          "10.1.4.1",
        "10.2.0.1",         "2001:db8:100::1", "2001:db8:100:1::1", "2001:db8:100:2::1",
        "2001:db8:100:3::1"};
    static const char *const destinations[] = {
        "192.0.2.1",        "192.0.2.2",        "192.0.2.3", "198.18.0.25",
        "2001:db8:ffff::1", "2001:db8:ffff::2", "3fff::25"};
    expect_longest_match(policy, &acl, sources, sizeof(sources) / sizeof(*sources), destinations,
                         sizeof(destinations) / sizeof(*destinations));
    /* The first-match check above only fails on denies; rules never contradict the pools. */
    for (size_t i = 0; i < acl.count; i++) {
        const struct acl_rule *rule = &acl.rules[i];
        if (rule->action == ACL_EXEMPT)
            cr_expect_neq(rule->blocking_point,
                          policy->pools[rule->pool].type == POOL_DYNAMIC
                              ? policy->pools[rule->pool].blocking_point
                              : -2,
                          "rule %zu exempts a pool at its own point", i + 1);
    }
    /* edge: 10.1.0.0/16 exempts the static /24, homes and unplanned (3); the /40 exempts
     * the static /64 and homes' /64 (2). home: 10.1.3.0/24 exempts the static /28. */
    cr_expect_eq(acl.families[0].exempt_permits, 4);
    cr_expect_eq(acl.families[1].exempt_permits, 2);
    acl_free(&acl);
    policy_free(policy);
}

Test(acl, pools_without_a_blocking_point_come_last_and_are_not_counted_as_configured)
{
    struct policy *policy = load(example_policy);
    struct acl acl;
    cr_assert_eq(acl_build(policy, &acl), 0);
    cr_expect_eq(acl.unassigned, 2); /* forgotten: permit to isp-msa, deny */
    cr_expect_eq(acl.rules[acl.count - 1].blocking_point, POLICY_NO_INDEX);
    cr_expect_eq(acl.rules[acl.count - 2].blocking_point, POLICY_NO_INDEX);
    cr_expect_str_eq(policy->pools[acl.rules[acl.count - 1].pool].name, "forgotten");
    char *nft = capture(acl_write_nftables, &acl, policy);
    /* Written, but only as comments: there is no device to load them on. */
    cr_expect(strstr(nft, "# ip saddr 198.51.108.0/22 tcp dport 25 drop comment \"forgotten\"") !=
                  NULL,
              "%s", nft);
    cr_expect(strstr(nft, "\n\t\tip saddr 198.51.108.0/22") == NULL);
    cr_expect(strstr(nft, "# dynamic pools without a blocking point would need 2 more rules\n") !=
              NULL);
    free(nft);
    acl_free(&acl);
    policy_free(policy);
}

Test(acl, nftables_rejects_as_each_blocking_point_declares)
{
    struct policy *policy = load(example_policy);
    struct acl acl;
    cr_assert_eq(acl_build(policy, &acl), 0);
    char *nft = capture(acl_write_nftables, &acl, policy);
    /* Identifiers keep letters, digits and '_' only. */
    cr_expect(strstr(nft, "table inet op25b_bras_east_1 {\n") != NULL, "%s", nft);
    cr_expect(strstr(nft, "flush table inet op25b_bras_east_1\n") != NULL);
    cr_expect(strstr(nft, "ip saddr 203.0.113.0/25 ip daddr 203.0.113.225/32 tcp dport 25 "
                          "accept comment \"ftth to isp-msa\"") != NULL);
    cr_expect(strstr(nft, "ip saddr 203.0.113.0/25 tcp dport 25 drop comment \"ftth\"") != NULL);
    cr_expect(strstr(nft, "ip saddr 198.51.96.0/21 tcp dport 25 reject with icmp type "
                          "admin-prohibited") != NULL);
    cr_expect(strstr(nft, "ip6 saddr 2001:db8:200::/40 tcp dport 25 reject with icmpv6 type "
                          "admin-prohibited") != NULL);
    cr_expect(strstr(nft, "ip saddr 198.51.104.0/22 tcp dport 25 reject with tcp reset") != NULL);
    cr_expect(strstr(nft, "# planned: not active yet") != NULL);
    /* One accept per permit and one verdict per deny among the assigned rules. */
    cr_expect_eq(count_lines_with(nft, "\t\tip"), acl.families[0].rules + acl.families[1].rules);
    free(nft);
    acl_free(&acl);
    policy_free(policy);
}

Test(acl, nftables_accepts_an_exempt_prefix_before_the_deny_of_its_block)
{
    struct policy *policy = load(carved_policy);
    struct acl acl;
    cr_assert_eq(acl_build(policy, &acl), 0);
    char *nft = capture(acl_write_nftables, &acl, policy);
    const char *exempt =
        strstr(nft, "\t\tip saddr 198.51.103.248/29 tcp dport 25 accept comment \"business "
                    "exempt inside dsl\"\n");
    const char *deny = strstr(nft, "\t\tip saddr 198.51.96.0/21 tcp dport 25 reject with icmp");
    cr_expect(exempt != NULL && deny != NULL && exempt < deny, "%s", nft);
    const char *exempt6 = strstr(nft, "\t\tip6 saddr 2001:db8:100:ffff::25/128 tcp dport 25 "
                                      "accept comment \"isp-mx exempt inside ftth\"\n");
    const char *deny6 = strstr(nft, "\t\tip6 saddr 2001:db8:100::/40 tcp dport 25 drop");
    cr_expect(exempt6 != NULL && deny6 != NULL && exempt6 < deny6, "%s", nft);
    cr_expect(strstr(nft, "#       generated 6 rules (3 at planned points): MSA permits 2, exempt "
                          "permits 2, denies 2\n") != NULL,
              "%s", nft);
    free(nft);
    acl_free(&acl);
    policy_free(policy);
}

Test(acl, a_permit_to_an_msa_whose_port_25_closes_stays_and_says_so)
{
    /* Until the MSA's port 25 is closed the ACL must still let the pools reach it: the
     * permit stays, counted as before, and the listing and nftables name the plan. */
    static const char closing_policy[] =
        "sensor: {name: acl-test, position: edge-side}\n"
        "own_prefixes: [203.0.113.0/24]\n"
        "blocking_points:\n"
        "  - {name: bras, level: terminator, state: active, reject: drop}\n"
        "pools:\n"
        "  - {name: ftth, type: dynamic, prefixes: [203.0.113.0/25], blocking_point: bras}\n"
        "msas:\n"
        "  - {name: isp-msa, prefixes: [203.0.113.225/32], ports: [25, 587],\n"
        "     planned_close: [25]}\n"
        "  - {name: partner, prefixes: [192.0.2.0/29], ports: [25]}\n";
    struct policy *policy = load(closing_policy);
    struct acl acl;
    cr_assert_eq(acl_build(policy, &acl), 0);
    cr_assert_eq(acl.families[0].msa_permits, 2);
    cr_assert_eq(acl.families[0].formula, 3);
    char *nft = capture(acl_write_nftables, &acl, policy);
    cr_expect(strstr(nft, "ip daddr 203.0.113.225/32 tcp dport 25 accept comment \"ftth to "
                          "isp-msa, port 25 planned to close\"\n") != NULL,
              "%s", nft);
    cr_expect(strstr(nft, "ip daddr 192.0.2.0/29 tcp dport 25 accept comment \"ftth to "
                          "partner\"\n") != NULL,
              "%s", nft);
    char *listing = capture(acl_write_listing, &acl, policy);
    cr_expect_eq(count_lines_with(listing, "msa isp-msa (port 25 planned to close)"), 1, "%s",
                 listing);
    cr_expect_eq(count_lines_with(listing, "planned to close"), 1, "%s", listing);
    free(nft);
    free(listing);
    acl_free(&acl);
    policy_free(policy);
}

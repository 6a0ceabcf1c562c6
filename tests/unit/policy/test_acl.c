/* The ACL of draft section 4: rule order and count (the draft's own 100 x (10 + 1) = 1100
 * example), permit lists of MSAs limited to some pools, pools without a blocking point, and
 * the nftables text for each reject mode. */
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
    }
    cr_expect_eq(acl.rules[acl.count - 1].action, ACL_DENY);
    acl_free(&acl);
    policy_free(policy);
}

Test(acl, counts_agree_with_the_policy_where_every_msa_takes_port_25)
{
    /* Without the 587-only MSA, the listing is exactly policy_acl_rule_count's figure. */
    const char *cut = strstr(example_policy, "  - {name: submission-only");
    char text[sizeof(example_policy)];
    snprintf(text, sizeof(text), "%.*s", (int)(cut - example_policy), example_policy);
    struct policy *policy = load(text);
    struct acl acl;
    cr_assert_eq(acl_build(policy, &acl), 0);
    struct acl_rule_count v4, v6;
    policy_acl_rule_count(policy, ADDRESS_V4, &v4);
    policy_acl_rule_count(policy, ADDRESS_V6, &v6);
    cr_expect_eq(acl.assigned[0], v4.rules);
    cr_expect_eq(acl.assigned[1], v6.rules);
    /* ftth v4: 2 permits + deny; dsl v4: 1 + 1; cable: 1 + 1 = 7. v6: ftth 2, dsl 2 = 4. */
    cr_expect_eq(acl.assigned[0], 7);
    cr_expect_eq(acl.assigned[1], 4);
    acl_free(&acl);
    policy_free(policy);
}

Test(acl, an_msa_that_does_not_take_port_25_gets_no_permit)
{
    struct policy *policy = load(example_policy);
    struct acl acl;
    cr_assert_eq(acl_build(policy, &acl), 0);
    for (size_t i = 0; i < acl.count; i++) {
        if (acl.rules[i].action == ACL_PERMIT)
            cr_expect_str_neq(policy->msas[acl.rules[i].msa].name, "submission-only");
    }
    cr_expect_eq(acl.assigned[0], 7);
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
    cr_expect_eq(acl.assigned[0], 1100);
    size_t denies = 0;
    for (size_t i = 0; i < acl.count; i++)
        denies += acl.rules[i].action == ACL_DENY;
    cr_expect_eq(denies, 100);
    char *listing = capture(acl_write_listing, &acl, policy);
    cr_expect(strstr(listing, "100 dynamic blocks x (10 MSA blocks + 1) = 1100 rules") != NULL,
              "%s", listing);
    cr_expect_eq(count_lines_with(listing, " dport 25 "), 1100);
    free(listing);
    acl_free(&acl);
    policy_free(policy);
    free(text);
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
    cr_expect_eq(count_lines_with(nft, "\t\tip"), acl.assigned[0] + acl.assigned[1]);
    free(nft);
    acl_free(&acl);
    policy_free(policy);
}

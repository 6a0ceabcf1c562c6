#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "detect/detect_submission.h"

static struct policy *load(bool with_geoip)
{
    char text[2048];
    snprintf(text, sizeof(text),
             "sensor: {name: s, position: edge-side}\n"
             "own_prefixes: [198.51.100.0/22]\n"
             "pools:\n"
             "  - {name: p, type: dynamic, prefixes: [198.51.100.0/24]}\n"
             "%s%s%s",
             with_geoip ? "geoip: {asn: " : "",
             with_geoip ? OP25B_CORPUS_DIR "/mmdb/GeoLite2-ASN-Test.mmdb" : "",
             with_geoip ? "}\n" : "");
    char error[1024];
    struct policy *policy = policy_load_text("t.yaml", text, strlen(text), error, sizeof(error));
    cr_assert_not_null(policy, "%s", error);
    return policy;
}

static bool same_provider(const struct policy *policy, const char *a, const char *b)
{
    struct address first, second, key_a, key_b;
    cr_assert(address_parse(a, &first));
    cr_assert(address_parse(b, &second));
    submission_provider_key(policy, &first, &key_a);
    submission_provider_key(policy, &second, &key_b);
    return memcmp(&key_a, &key_b, sizeof(key_a)) == 0;
}

Test(provider, by_prefix_without_an_asn_database)
{
    struct policy *policy = load(false);
    cr_assert(same_provider(policy, "203.0.113.70", "203.0.113.71"));
    cr_assert(same_provider(policy, "203.0.113.70", "203.0.113.70"));
    cr_assert(!same_provider(policy, "203.0.113.70", "203.0.114.70"));
    cr_assert(same_provider(policy, "2001:db8:f000:1::1", "2001:db8:f000:ffff::2"));
    cr_assert(!same_provider(policy, "2001:db8:f000::1", "2001:db8:f001::1"));
    /* An IPv4 /24 and an IPv6 prefix with the same leading bytes are not one. */
    cr_assert(!same_provider(policy, "32.1.13.1", "2001:db8::1"));
    cr_assert(!same_provider(policy, "1.128.0.10", "1.130.0.5"));
    policy_free(policy);
}

Test(provider, by_autonomous_system_with_one)
{
    struct policy *policy = load(true);
    /* 1.128.0.0/11 is AS1221 in MaxMind's test database: two /24s, one provider. */
    cr_assert(same_provider(policy, "1.128.0.10", "1.130.0.5"));
    /* 89.160.20.112/28 is AS29518, 216.160.83.56 AS209. */
    cr_assert(!same_provider(policy, "89.160.20.113", "216.160.83.56"));
    /* Addresses the database does not know fall back to their prefix. */
    cr_assert(same_provider(policy, "203.0.113.70", "203.0.113.71"));
    cr_assert(!same_provider(policy, "203.0.113.70", "1.128.0.10"));
    policy_free(policy);
}

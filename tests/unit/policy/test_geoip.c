#include <criterion/criterion.h>

#include <string.h>

#include "policy/geoip.h"

/* MaxMind's test databases; corpus/PROVENANCE.md names the networks each one holds. */
#define MMDB OP25B_CORPUS_DIR "/mmdb/"

static char reason[256];

static struct geoip *open_both(const char *asn, const char *country)
{
    struct geoip *geoip = geoip_new();
    cr_assert_not_null(geoip);
    if (asn != NULL)
        cr_assert_eq(geoip_open(geoip, GEOIP_ASN, asn, reason, sizeof(reason)), 0, "%s", reason);
    if (country != NULL)
        cr_assert_eq(geoip_open(geoip, GEOIP_COUNTRY, country, reason, sizeof(reason)), 0, "%s",
                     reason);
    return geoip;
}

static bool lookup(const struct geoip *geoip, const char *text, struct geoip_result *result)
{
    struct address address;
    cr_assert(address_parse(text, &address), "%s", text);
    return geoip_lookup(geoip, &address, result);
}

Test(geoip, asn_and_country_from_the_test_databases)
{
    struct geoip *geoip =
        open_both(MMDB "GeoLite2-ASN-Test.mmdb", MMDB "GeoLite2-Country-Test.mmdb");
    struct geoip_result result;

    /* 89.160.20.112/28 is in both: Bredband2 AB, Sweden. */
    cr_assert(lookup(geoip, "89.160.20.113", &result));
    cr_assert(result.has_asn);
    cr_assert_eq(result.asn, 29518);
    cr_assert_str_eq(result.as_org, "Bredband2 AB");
    cr_assert(result.has_country);
    cr_assert_str_eq(result.country, "SE");

    /* 1.128.0.0/11 only in the ASN database (Telstra); 81.2.69.142 only in the country one. */
    cr_assert(lookup(geoip, "1.128.0.1", &result));
    cr_assert(result.has_asn);
    cr_assert_eq(result.asn, 1221);
    cr_assert_str_eq(result.as_org, "Telstra Pty Ltd");
    cr_assert(!result.has_country);
    cr_assert_str_eq(result.country, "");
    cr_assert(lookup(geoip, "81.2.69.142", &result));
    cr_assert(!result.has_asn);
    cr_assert_str_eq(result.country, "GB");

    /* An ASN entry without an organisation. */
    cr_assert(lookup(geoip, "216.160.83.56", &result));
    cr_assert_eq(result.asn, 209);
    cr_assert_str_eq(result.as_org, "");
    cr_assert_str_eq(result.country, "US");

    /* IPv6, and an address neither database holds. */
    cr_assert(lookup(geoip, "2003::1", &result));
    cr_assert_eq(result.asn, 3320);
    cr_assert_str_eq(result.as_org, "Deutsche Telekom AG");
    cr_assert(lookup(geoip, "2001:218::1", &result));
    cr_assert_str_eq(result.country, "JP");
    cr_assert(!lookup(geoip, "175.16.199.1", &result));
    cr_assert(!result.has_asn && !result.has_country);
    cr_assert(!lookup(geoip, "198.51.100.1", &result));
    geoip_free(geoip);
}

Test(geoip, city_and_isp_databases_serve_too)
{
    struct geoip *geoip = open_both(MMDB "GeoIP2-ISP-Test.mmdb", MMDB "GeoIP2-City-Test.mmdb");
    struct geoip_result result;
    cr_assert(lookup(geoip, "89.160.20.113", &result));
    cr_assert_eq(result.asn, 29518);
    cr_assert_str_eq(result.as_org, "Bredband2 AB");
    cr_assert_str_eq(result.country, "SE");
    geoip_free(geoip);

    /* Zeek's small custom databases: types My-ASN-DB and My-City-DB. */
    geoip = open_both(MMDB "zeek__GeoLite2-ASN.mmdb", MMDB "zeek__GeoLite2-City.mmdb");
    cr_assert(lookup(geoip, "128.3.0.1", &result));
    cr_assert_eq(result.asn, 16);
    cr_assert_str_eq(result.as_org, "Lawrence Berkeley National Laboratory");
    cr_assert_str_eq(result.country, "US");
    cr_assert(lookup(geoip, "2607:f140::1", &result));
    cr_assert_eq(result.asn, 16);
    geoip_free(geoip);
}

Test(geoip, only_what_is_configured_is_looked_up)
{
    struct geoip *geoip = open_both(NULL, MMDB "GeoLite2-Country-Test.mmdb");
    cr_assert(!geoip_has(geoip, GEOIP_ASN));
    cr_assert(geoip_has(geoip, GEOIP_COUNTRY));
    struct geoip_result result;
    cr_assert(lookup(geoip, "89.160.20.113", &result));
    cr_assert(!result.has_asn);
    cr_assert_str_eq(result.country, "SE");
    geoip_free(geoip);
    cr_assert(!geoip_has(NULL, GEOIP_ASN));
    cr_assert(!geoip_lookup(NULL, &(struct address){.family = ADDRESS_V4}, &result));
}

Test(geoip, refuses_files_that_are_no_fitting_database)
{
    struct geoip *geoip = geoip_new();
    cr_assert_neq(geoip_open(geoip, GEOIP_ASN, MMDB "missing.mmdb", reason, sizeof(reason)), 0);
    cr_assert_neq(geoip_open(geoip, GEOIP_ASN, MMDB "../PROVENANCE.md", reason, sizeof(reason)), 0);
    cr_assert(strlen(reason) > 0);
    cr_assert_neq(
        geoip_open(geoip, GEOIP_ASN, MMDB "GeoLite2-Country-Test.mmdb", reason, sizeof(reason)), 0);
    cr_assert_str_eq(reason, "a GeoLite2-Country database holds no ASN data");
    cr_assert_neq(geoip_open(geoip, GEOIP_COUNTRY, MMDB "MaxMind-DB-test-decoder.mmdb", reason,
                             sizeof(reason)),
                  0);
    cr_assert_str_eq(reason, "a MaxMind DB Decoder Test database holds no Country data");
    cr_assert(!geoip_has(geoip, GEOIP_ASN));
    cr_assert(!geoip_has(geoip, GEOIP_COUNTRY));
    geoip_free(geoip);
}

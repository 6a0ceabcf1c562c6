#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "policy/acl.h"
#include "policy/policy.h"

#define NAME "site.yaml"

static char error[2048];

static struct policy *load(const char *text)
{
    error[0] = '\0';
    return policy_load_text(NAME, text, strlen(text), error, sizeof(error));
}

static struct policy *load_ok(const char *text)
{
    struct policy *policy = load(text);
    cr_assert_not_null(policy, "policy should load: %s", error);
    return policy;
}

/* Asserts text is refused with "site.yaml:LINE: " followed by a message holding part. */
static void expect_error(const char *text, int line, const char *part)
{
    struct policy *policy = load(text);
    if (policy != NULL) {
        policy_free(policy);
        cr_assert_fail("policy should be refused with '%s'", part);
    }
    char prefix[64];
    snprintf(prefix, sizeof(prefix), NAME ":%d: ", line);
    cr_assert(strncmp(error, prefix, strlen(prefix)) == 0, "error '%s' should start with '%s'",
              error, prefix);
    cr_assert(strstr(error, part) != NULL, "error '%s' should contain '%s'", error, part);
}

static void expect_exact(const char *text, const char *message)
{
    struct policy *policy = load(text);
    if (policy != NULL) {
        policy_free(policy);
        cr_assert_fail("policy should be refused with '%s'", message);
    }
    cr_assert_str_eq(error, message);
}

static struct address addr(const char *text)
{
    struct address address;
    cr_assert(address_parse(text, &address), "'%s' should be an address", text);
    return address;
}

static int pool_of(const struct policy *policy, const char *text)
{
    struct address address = addr(text);
    return policy_pool_of(policy, &address);
}

static int msa_of(const struct policy *policy, const char *text)
{
    struct address address = addr(text);
    return policy_msa_of(policy, &address);
}

static bool is_own(const struct policy *policy, const char *text)
{
    struct address address = addr(text);
    return policy_is_own(policy, &address);
}

static bool is_resolver(const struct policy *policy, const char *text)
{
    struct address address = addr(text);
    return policy_is_resolver(policy, &address);
}

static void expect_prefix(const struct prefix *prefix, const char *text)
{
    char written[PREFIX_TEXT_MAX];
    prefix_format(prefix, written, sizeof(written));
    cr_assert_str_eq(written, text);
}

static char *make_temp_dir(void)
{
    const char *base = getenv("TMPDIR");
    char *path;
    cr_assert_geq(asprintf(&path, "%s/op25b-policy-XXXXXX", base != NULL ? base : "/tmp"), 0);
    cr_assert_not_null(mkdtemp(path), "mkdtemp: %s", strerror(errno));
    return path;
}

static char *write_file(const char *dir, const char *name, const char *text)
{
    char *path;
    cr_assert_geq(asprintf(&path, "%s/%s", dir, name), 0);
    FILE *file = fopen(path, "w");
    cr_assert_not_null(file);
    fputs(text, file);
    fclose(file);
    return path;
}

/* Five lines every error case below starts with; pools begin on line 6. */
#define HEAD                                                                                       \
    "sensor:\n"                                                                                    \
    "  name: s1\n"                                                                                 \
    "  position: edge-side\n"                                                                      \
    "own_prefixes: [198.51.100.0/22]\n"                                                            \
    "pools:\n"

/* Lines 6 to 8: one dynamic pool named p. */
#define POOL_P                                                                                     \
    "  - name: p\n"                                                                                \
    "    type: dynamic\n"                                                                          \
    "    prefixes: [198.51.100.0/24]\n"

/* ---- valid policies ---- */

Test(policy, every_field)
{
    /* MaxMind's own test databases (corpus/mmdb, see its PROVENANCE). */
    const char *asn = OP25B_CORPUS_DIR "/mmdb/GeoLite2-ASN-Test.mmdb";
    const char *country = OP25B_CORPUS_DIR "/mmdb/GeoIP2-City-Test.mmdb";
    char *text;
    cr_assert_geq(asprintf(&text,
                           "sensor:\n"
                           "  name: span-bras-east-1\n"
                           "  position: core-side\n"
                           "  stats_interval: 90s\n"
                           "own_prefixes: [198.51.100.0/22, 2001:db8::/32]\n"
                           "resolvers: [198.51.100.53, 2001:db8:ffff::/120]\n"
                           "pools:\n"
                           "  - name: ftth-east\n"
                           "    type: dynamic\n"
                           "    prefixes: [198.51.100.0/24, 2001:db8:100::/40]\n"
                           "    blocking_point: bras-east\n"
                           "    ipv6_subscriber_length: 56\n"
                           "  - name: business\n"
                           "    type: static\n"
                           "    prefixes: [198.51.101.0/24]\n"
                           "msas:\n"
                           "  - name: isp-msa\n"
                           "    prefixes: [198.51.102.25/32]\n"
                           "    ports: [25, 587, 465]\n"
                           "    pools: [business, ftth-east]\n"
                           "  - name: open-msa\n"
                           "    prefixes: [192.0.2.0/28, 2001:db8:ffff::25]\n"
                           "    ports: [587]\n"
                           "blocking_points:\n"
                           "  - name: core-1\n"
                           "    level: core\n"
                           "    state: planned\n"
                           "    reject: tcp-reset\n"
                           "  - name: bras-east\n"
                           "    level: terminator\n"
                           "    state: active\n"
                           "    reject: icmp\n"
                           "  - name: home\n"
                           "    level: home-router\n"
                           "  - name: edge-1\n"
                           "    level: edge\n"
                           "    reject: drop\n"
                           "segments:\n"
                           "  - name: dynamic-vlan\n"
                           "    vlan: 100\n"
                           "    expects: [ftth-east]\n"
                           "  - name: uplink\n"
                           "    interface: eth1\n"
                           "    expects: [ftth-east, business]\n"
                           "  - name: router\n"
                           "    mac: 02-00-5E-00-53-0a\n"
                           "    expects: [business]\n"
                           "  - name: untagged\n"
                           "    vlan: 0\n"
                           "    expects: [business]\n"
                           "geoip:\n"
                           "  asn: %s\n"
                           "  country: '%s'\n"
                           "thresholds: { window: 5m, fanout: 20, mx_direct: 4294967295,\n"
                           "              attempts: 7, rcpt: 1, score: 100 }\n"
                           "timeouts: { syn: 1500ms, smtp_idle: 45, pop_before_smtp: 2h }\n"
                           "limits: { flows: 100000000, sessions: 1 }\n",
                           asn, country),
                  0);
    struct policy *policy = load_ok(text);

    cr_assert_str_eq(policy->path, NAME);
    cr_assert_str_eq(policy->sensor_name, "span-bras-east-1");
    cr_assert_eq(policy->position, POSITION_CORE_SIDE);
    cr_assert_eq(policy->stats_interval, 90 * PACKET_TIME_SECOND);

    cr_assert_eq(policy->own_prefix_count, 2);
    expect_prefix(&policy->own_prefixes[0], "198.51.100.0/22");
    expect_prefix(&policy->own_prefixes[1], "2001:db8::/32");
    cr_assert_eq(policy->resolver_count, 2);
    expect_prefix(&policy->resolvers[0], "198.51.100.53/32");
    expect_prefix(&policy->resolvers[1], "2001:db8:ffff::/120");

    cr_assert_eq(policy->pool_count, 2);
    const struct pool *ftth = &policy->pools[0];
    cr_assert_str_eq(ftth->name, "ftth-east");
    cr_assert_eq(ftth->type, POOL_DYNAMIC);
    cr_assert_eq(ftth->prefix_count, 2);
    expect_prefix(&ftth->prefixes[1], "2001:db8:100::/40");
    cr_assert_eq(ftth->blocking_point, 1);
    cr_assert_eq(ftth->ipv6_subscriber_length, 56);
    cr_assert_eq(ftth->line, 8);
    const struct pool *business = &policy->pools[1];
    cr_assert_str_eq(business->name, "business");
    cr_assert_eq(business->type, POOL_STATIC);
    cr_assert_eq(business->blocking_point, POLICY_NO_INDEX);
    cr_assert_eq(business->ipv6_subscriber_length, 64);
    cr_assert_eq(business->line, 13);
    /* The shortest of the pools: how --workers spreads IPv6 traffic (fanout.h). */
    cr_assert_eq(policy_ipv6_subscriber_bits(policy), 56);

    cr_assert_eq(policy->msa_count, 2);
    const struct msa *isp = &policy->msas[0];
    cr_assert_str_eq(isp->name, "isp-msa");
    cr_assert_eq(isp->prefix_count, 1);
    cr_assert_eq(isp->port_count, 3);
    cr_assert_eq(isp->ports[0], 25);
    cr_assert_eq(isp->ports[1], 587);
    cr_assert_eq(isp->ports[2], 465);
    cr_assert_eq(isp->pool_count, 2);
    cr_assert_eq(isp->pools[0], 1);
    cr_assert_eq(isp->pools[1], 0);
    const struct msa *open = &policy->msas[1];
    cr_assert_eq(open->pool_count, 0);
    cr_assert_eq(open->prefix_count, 2);
    expect_prefix(&open->prefixes[1], "2001:db8:ffff::25/128");

    cr_assert_eq(policy->blocking_point_count, 4);
    const struct blocking_point *points = policy->blocking_points;
    cr_assert_str_eq(points[0].name, "core-1");
    cr_assert_eq(points[0].level, LEVEL_CORE);
    cr_assert_eq(points[0].state, BLOCKING_PLANNED);
    cr_assert_eq(points[0].reject, REJECT_TCP_RESET);
    cr_assert_eq(points[1].level, LEVEL_TERMINATOR);
    cr_assert_eq(points[1].state, BLOCKING_ACTIVE);
    cr_assert_eq(points[1].reject, REJECT_ICMP);
    cr_assert_eq(points[2].level, LEVEL_HOME_ROUTER);
    cr_assert_eq(points[2].state, BLOCKING_ACTIVE);
    cr_assert_eq(points[2].reject, REJECT_DROP);
    cr_assert_eq(points[3].level, LEVEL_EDGE);
    cr_assert_eq(points[3].reject, REJECT_DROP);

    cr_assert_eq(policy->segment_count, 4);
    const struct segment *segments = policy->segments;
    cr_assert_str_eq(segments[0].name, "dynamic-vlan");
    cr_assert_eq(segments[0].match, SEGMENT_VLAN);
    cr_assert_eq(segments[0].vlan, 100);
    cr_assert_eq(segments[0].expects_count, 1);
    cr_assert_eq(segments[0].expects[0], 0);
    cr_assert_eq(segments[1].match, SEGMENT_INTERFACE);
    cr_assert_str_eq(segments[1].interface, "eth1");
    cr_assert_eq(segments[1].expects_count, 2);
    cr_assert_eq(segments[1].expects[1], 1);
    cr_assert_eq(segments[2].match, SEGMENT_MAC);
    const uint8_t mac[6] = {0x02, 0x00, 0x5e, 0x00, 0x53, 0x0a};
    cr_assert_arr_eq(segments[2].mac, mac, 6);
    cr_assert_eq(segments[3].match, SEGMENT_VLAN);
    cr_assert_eq(segments[3].vlan, 0);

    cr_assert_str_eq(policy->geoip_asn, asn);
    cr_assert_str_eq(policy->geoip_country, country);
    cr_assert(geoip_has(policy->geoip, GEOIP_ASN));
    cr_assert(geoip_has(policy->geoip, GEOIP_COUNTRY));
    cr_assert_eq(policy->thresholds.window, 300 * PACKET_TIME_SECOND);
    cr_assert_eq(policy->thresholds.fanout, 20);
    cr_assert_eq(policy->thresholds.mx_direct, UINT32_MAX);
    cr_assert_eq(policy->thresholds.attempts, 7);
    cr_assert_eq(policy->thresholds.rcpt, 1);
    cr_assert_eq(policy->thresholds.score, 100);
    cr_assert_eq(policy->timeouts.syn, 1500 * (PACKET_TIME_SECOND / 1000));
    cr_assert_eq(policy->timeouts.smtp_idle, 45 * PACKET_TIME_SECOND);
    cr_assert_eq(policy->timeouts.pop_before_smtp, 7200 * PACKET_TIME_SECOND);
    cr_assert_eq(policy->limits.flows, 100000000);
    cr_assert_eq(policy->limits.sessions, 1);

    cr_assert_eq(prefix_table_count(policy->pool_table), 3);
    cr_assert_eq(prefix_table_count(policy->msa_table), 3);
    cr_assert_eq(prefix_table_count(policy->own_table), 2);
    cr_assert_eq(prefix_table_count(policy->resolver_table), 2);

    policy_free(policy);
    free(text);
}

Test(policy, defaults)
{
    struct policy *policy = load_ok("sensor: {name: s1, position: edge-side}\n"
                                    "own_prefixes: []\n"
                                    "pools:\n"
                                    "  - {name: p, type: dynamic, prefixes: [10.0.0.0/8]}\n");
    cr_assert_eq(policy->position, POSITION_EDGE_SIDE);
    cr_assert_eq(policy->stats_interval, 60 * PACKET_TIME_SECOND);
    cr_assert_eq(policy->own_prefix_count, 0);
    cr_assert_eq(policy->resolver_count, 0);
    cr_assert_eq(policy->msa_count, 0);
    cr_assert_eq(policy->blocking_point_count, 0);
    cr_assert_eq(policy->segment_count, 0);
    cr_assert_null(policy->geoip_asn);
    cr_assert_null(policy->geoip_country);
    cr_assert_null(policy->geoip);
    cr_assert_eq(policy->pools[0].blocking_point, POLICY_NO_INDEX);
    cr_assert_eq(policy->pools[0].ipv6_subscriber_length, 64);
    cr_assert_eq(policy_ipv6_subscriber_bits(policy), 64);
    cr_assert_eq(policy->thresholds.window, 300 * PACKET_TIME_SECOND);
    cr_assert_eq(policy->thresholds.fanout, 10);
    cr_assert_eq(policy->thresholds.mx_direct, 10);
    cr_assert_eq(policy->thresholds.attempts, 30);
    cr_assert_eq(policy->thresholds.rcpt, 50);
    cr_assert_eq(policy->thresholds.score, 50);
    cr_assert_eq(policy->timeouts.syn, 30 * PACKET_TIME_SECOND);
    cr_assert_eq(policy->timeouts.smtp_idle, 600 * PACKET_TIME_SECOND);
    cr_assert_eq(policy->timeouts.pop_before_smtp, 1800 * PACKET_TIME_SECOND);
    cr_assert_eq(policy->limits.flows, 1000000);
    cr_assert_eq(policy->limits.sessions, 65536);
    /* Nothing is own and nothing is a resolver when none are listed. */
    cr_assert(!is_own(policy, "10.0.0.1"));
    cr_assert(!is_resolver(policy, "10.0.0.1"));
    cr_assert_eq(msa_of(policy, "10.0.0.1"), POLICY_NO_INDEX);
    cr_assert_eq(pool_of(policy, "10.0.0.1"), 0);
    policy_free(policy);

    /* Empty lists and partial mappings keep the defaults of what they leave out. */
    policy = load_ok(HEAD POOL_P "msas: []\nblocking_points: []\nsegments: []\nresolvers: []\n"
                                 "geoip: {}\nthresholds: {fanout: 3}\ntimeouts: {syn: 1m}\n"
                                 "limits: {sessions: 10}\n");
    cr_assert_eq(policy->thresholds.fanout, 3);
    cr_assert_eq(policy->thresholds.window, 300 * PACKET_TIME_SECOND);
    cr_assert_eq(policy->timeouts.syn, 60 * PACKET_TIME_SECOND);
    cr_assert_eq(policy->timeouts.smtp_idle, 600 * PACKET_TIME_SECOND);
    cr_assert_eq(policy->limits.sessions, 10);
    cr_assert_eq(policy->limits.flows, 1000000);
    cr_assert_null(policy->geoip_asn);
    policy_free(policy);
}

Test(policy, durations)
{
    static const struct {
        const char *text;
        packet_time value;
    } cases[] = {
        {"250ms", 250000}, {"300s", 300000000}, {"5m", 300000000},   {"1h", 3600000000},
        {"7", 7000000},    {"1ms", 1000},       {"'5m'", 300000000}, {"0ms", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[512];
        snprintf(text, sizeof(text), HEAD POOL_P "timeouts: {syn: %s}\n", cases[i].text);
        if (cases[i].value == 0) {
            expect_error(text, 9, "syn must be longer than 0");
            continue;
        }
        struct policy *policy = load_ok(text);
        cr_assert_eq(policy->timeouts.syn, cases[i].value, "%s", cases[i].text);
        policy_free(policy);
    }
    const char *const bad[] = {"5x",   "1.5s", "-5s", "5 s", "05s",  "s",
                               "5sec", "1e3",  "5S",  "ms",  "5ms5", "+5s"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[512];
        snprintf(text, sizeof(text), HEAD POOL_P "thresholds:\n  window: %s\n", bad[i]);
        expect_error(text, 10, "bad duration");
        cr_assert(strstr(error, "for window (expected") != NULL, "%s", error);
    }
    /* Too long for microseconds in 64 bits. */
    /* INT64_MAX microseconds is 2,562,047,788 hours and 9,223,372,036,854 seconds. */
    expect_error(HEAD POOL_P "timeouts: {smtp_idle: 2562047789h}\n", 9,
                 "duration '2562047789h' for smtp_idle is too long");
    expect_error(HEAD POOL_P "timeouts: {smtp_idle: 9223372036855}\n", 9, "too long");
    expect_error(HEAD POOL_P "timeouts: {smtp_idle: 99999999999999999999999}\n", 9, "too long");
    struct policy *policy = load_ok(HEAD POOL_P "timeouts: {smtp_idle: 2562047788h}\n");
    cr_assert_eq(policy->timeouts.smtp_idle, (packet_time)2562047788 * 3600 * PACKET_TIME_SECOND);
    policy_free(policy);
    policy = load_ok(HEAD POOL_P "timeouts: {smtp_idle: 9223372036854}\n");
    cr_assert_eq(policy->timeouts.smtp_idle, (packet_time)9223372036854 * PACKET_TIME_SECOND);
    policy_free(policy);
    expect_error("sensor:\n  name: s1\n  position: edge-side\n  stats_interval: 0\n", 4,
                 "stats_interval must be longer than 0");
}

/* ---- errors: the examples of the contract ---- */

Test(policy_errors, unknown_key_in_pool)
{
    expect_exact(HEAD "  - name: ftth-east\n"
                      "    type: dynamic\n"
                      "    prefixes: [198.51.100.0/24]\n"
                      "    blockng_point: bras-east\n",
                 "site.yaml:9: unknown key 'blockng_point' in pool (expected one of: name, type, "
                 "prefixes, blocking_point, ipv6_subscriber_length)");
}

Test(policy_errors, unknown_keys_elsewhere)
{
    expect_error(HEAD POOL_P "msa:\n  - name: m\n", 9, "unknown key 'msa' at the top level");
    expect_error("sensor:\n  name: s1\n  postion: edge-side\n", 3,
                 "unknown key 'postion' in sensor (expected one of: name, position, "
                 "stats_interval)");
    expect_error(HEAD POOL_P "thresholds: {window: 5m, fan_out: 3}\n", 9,
                 "unknown key 'fan_out' in thresholds");
    expect_error(HEAD POOL_P "geoip:\n  city: /x\n", 10, "unknown key 'city' in geoip");
}

Test(policy_errors, bad_prefix)
{
    expect_exact(HEAD "  - name: ftth-east\n"
                      "    type: dynamic\n"
                      "    prefixes:\n"
                      "      - 198.51.100.128/25\n"
                      "      - 198.51.100.1/24\n",
                 "site.yaml:10: bad prefix '198.51.100.1/24': host bits set");
    expect_error(HEAD "  - name: p\n    type: dynamic\n    prefixes: [2001:db8::/129]\n", 8,
                 "bad prefix '2001:db8::/129': prefix length out of range");
    expect_error(HEAD "  - name: p\n    type: dynamic\n    prefixes: [10.0.0.0/]\n", 8,
                 "bad prefix '10.0.0.0/'");
    expect_error(HEAD "  - name: p\n    type: dynamic\n    prefixes: [ftth]\n", 8,
                 "bad prefix 'ftth': not an IP address");
    expect_error("sensor: {name: s1, position: edge-side}\nown_prefixes: [10.0.0.0/08]\n", 2,
                 "bad prefix '10.0.0.0/08'");
    expect_error(HEAD POOL_P "resolvers: [198.51.100.53, 198.51.100.530]\n", 9,
                 "bad prefix '198.51.100.530'");
}

Test(policy_errors, missing_blocking_point)
{
    expect_exact(HEAD "  - name: ftth-east\n"
                      "    type: dynamic\n"
                      "    prefixes: [198.51.100.0/24]\n"
                      "    blocking_point: bras-west\n"
                      "blocking_points:\n"
                      "  - name: bras-east\n"
                      "    level: terminator\n",
                 "site.yaml:9: pool 'ftth-east' names blocking point 'bras-west', which is not "
                 "defined");
}

Test(policy_errors, prefix_in_two_pools)
{
    const char *head = HEAD "  - name: ftth-east\n"
                            "    type: dynamic\n"
                            "    prefixes:\n"
                            "      - 198.51.100.0/24\n"
                            "      - 2001:db8:100::/40\n"
                            "  - name: business\n"
                            "    type: static\n";
    char text[1024];
    snprintf(text, sizeof(text), "%s    prefixes: [198.51.101.0/24, 198.51.100.0/24]\n", head);
    expect_exact(text, "site.yaml:13: prefix 198.51.100.0/24 is already in pool 'ftth-east' "
                       "(line 9)");
    /* Spelled differently, the same prefix. */
    snprintf(text, sizeof(text), "%s    prefixes:\n      - 2001:db8:100:0:0::/40\n", head);
    expect_exact(text, "site.yaml:14: prefix 2001:db8:100::/40 is already in pool 'ftth-east' "
                       "(line 10)");
    /* Nested is fine: the longest match decides. */
    snprintf(text, sizeof(text), "%s    prefixes: [198.51.100.8/29, 2001:db8:100::/48]\n", head);
    policy_free(load_ok(text));
}

Test(policy_errors, prefix_twice_in_one_pool)
{
    expect_exact(HEAD "  - name: p\n"
                      "    type: dynamic\n"
                      "    prefixes:\n"
                      "      - 198.51.100.0/24\n"
                      "      - 198.51.101.0/24\n"
                      "      - 198.51.100.0/24\n",
                 "site.yaml:11: prefix 198.51.100.0/24 is already in pool 'p' (line 9)");
}

Test(policy_errors, msa_prefix_in_two_msas)
{
    expect_exact(HEAD POOL_P "msas:\n"
                             "  - name: a\n"
                             "    prefixes: [192.0.2.25/32]\n"
                             "    ports: [587]\n"
                             "  - name: b\n"
                             "    prefixes:\n"
                             "      - 192.0.2.26\n"
                             "      - 192.0.2.25\n"
                             "    ports: [587]\n",
                 "site.yaml:16: prefix 192.0.2.25/32 is already in MSA 'a' (line 11)");
    /* An MSA inside a pool's space is fine: they are different tables. */
    policy_free(
        load_ok(HEAD POOL_P "msas:\n  - {name: a, prefixes: [198.51.100.25], ports: [25]}\n"));
}

Test(policy_errors, own_prefix_and_resolver_twice)
{
    expect_error("sensor: {name: s1, position: edge-side}\n"
                 "own_prefixes:\n"
                 "  - 198.51.100.0/22\n"
                 "  - 2001:db8::/32\n"
                 "  - 198.51.100.0/22\n",
                 5, "prefix 198.51.100.0/22 is listed twice in own_prefixes (line 3)");
    expect_error(HEAD POOL_P "resolvers:\n  - 198.51.100.53\n  - 198.51.100.53/32\n", 11,
                 "resolver 198.51.100.53/32 is listed twice (line 10)");
}

Test(policy_errors, bad_position)
{
    expect_exact("sensor:\n"
                 "  name: s1\n"
                 "  position: edgeside\n",
                 "site.yaml:3: bad value 'edgeside' for position (expected edge-side or "
                 "core-side)");
}

Test(policy_errors, bad_choices)
{
    expect_error(HEAD "  - name: p\n    type: dynamc\n    prefixes: [10.0.0.0/8]\n", 7,
                 "bad value 'dynamc' for type (expected dynamic or static)");
    const char *point = HEAD POOL_P "blocking_points:\n  - name: b\n";
    char text[1024];
    snprintf(text, sizeof(text), "%s    level: border\n", point);
    expect_error(text, 11,
                 "bad value 'border' for level (expected one of: home-router, terminator, edge, "
                 "core)");
    snprintf(text, sizeof(text), "%s    level: edge\n    state: on\n", point);
    expect_error(text, 12, "bad value 'on' for state (expected active or planned)");
    snprintf(text, sizeof(text), "%s    level: edge\n    reject: rst\n", point);
    expect_error(text, 12, "bad value 'rst' for reject (expected one of: drop, icmp, tcp-reset)");
    /* Case matters. */
    snprintf(text, sizeof(text), "%s    level: Edge\n", point);
    expect_error(text, 11, "bad value 'Edge' for level");
    snprintf(text, sizeof(text), "%s    level: edge\n    position: core\n", point);
    expect_error(text, 12, "bad value 'core' for position (expected edge-side or core-side)");
    snprintf(text, sizeof(text), "%s    level: edge\n    position: [edge-side]\n", point);
    expect_error(text, 12, "position");
}

/* A blocking point's position: its own key, else core-side for a home router (the ISP's
 * mirror is always behind it), else the sensor's; a pool follows its point's, and a pool
 * without one the sensor's. */
Test(policy, position_per_blocking_point)
{
    struct policy *policy = load_ok(
        "sensor: {name: s1, position: edge-side}\n"
        "own_prefixes: [198.51.100.0/22]\n"
        "blocking_points:\n"
        "  - {name: bras, level: terminator}\n"
        "  - {name: cpe, level: home-router}\n"
        "  - {name: border, level: core, position: core-side}\n"
        "  - {name: lab-cpe, level: home-router, position: edge-side}\n"
        "pools:\n"
        "  - {name: a, type: dynamic, prefixes: [198.51.100.0/24], blocking_point: bras}\n"
        "  - {name: b, type: dynamic, prefixes: [198.51.101.0/24], blocking_point: cpe}\n"
        "  - {name: c, type: dynamic, prefixes: [198.51.102.0/24], blocking_point: border}\n"
        "  - {name: d, type: dynamic, prefixes: [198.51.103.0/25], blocking_point: lab-cpe}\n"
        "  - {name: e, type: dynamic, prefixes: [198.51.103.128/25]}\n");
    const struct blocking_point *points = policy->blocking_points;
    cr_assert_eq(points[0].position, POSITION_EDGE_SIDE);
    cr_assert_eq(points[0].position_source, POSITION_FROM_SENSOR);
    cr_assert_eq(points[1].position, POSITION_CORE_SIDE);
    cr_assert_eq(points[1].position_source, POSITION_FROM_LEVEL);
    cr_assert_eq(points[2].position, POSITION_CORE_SIDE);
    cr_assert_eq(points[2].position_source, POSITION_FROM_POINT);
    cr_assert_eq(points[3].position, POSITION_EDGE_SIDE);
    cr_assert_eq(points[3].position_source, POSITION_FROM_POINT);
    enum sensor_position want[] = {POSITION_EDGE_SIDE, POSITION_CORE_SIDE, POSITION_CORE_SIDE,
                                   POSITION_EDGE_SIDE, POSITION_EDGE_SIDE};
    for (int p = 0; p < 5; p++)
        cr_assert_eq(policy_pool_position(policy, p), want[p], "pool %d", p);
    policy_free(policy);

    /* A core-side sensor: points without the key are core-side, and so are their pools. */
    policy = load_ok("sensor: {name: s1, position: core-side}\n"
                     "own_prefixes: []\n"
                     "blocking_points: [{name: bras, level: terminator},\n"
                     "                  {name: near, level: edge, position: edge-side}]\n"
                     "pools:\n"
                     "  - {name: a, type: dynamic, prefixes: [10.0.0.0/8], blocking_point: bras}\n"
                     "  - {name: b, type: dynamic, prefixes: [11.0.0.0/8], blocking_point: near}\n"
                     "  - {name: c, type: dynamic, prefixes: [12.0.0.0/8]}\n");
    cr_assert_eq(policy_pool_position(policy, 0), POSITION_CORE_SIDE);
    cr_assert_eq(policy_pool_position(policy, 1), POSITION_EDGE_SIDE);
    cr_assert_eq(policy_pool_position(policy, 2), POSITION_CORE_SIDE);
    policy_free(policy);
}

Test(policy_errors, yaml_syntax)
{
    expect_error("sensor:\n"
                 "  name: s1\n"
                 "  position: edge-side: oops\n",
                 3, "YAML syntax error: mapping values are not allowed");
    expect_error(HEAD "  - name: p\n    type: dynamic\n    prefixes: [10.0.0.0/8\n", 9,
                 "YAML syntax error");
    /* Bytes that are not UTF-8. */
    expect_error("sensor:\n  name: s1\n  position: \xff\xfe\n", 3, "YAML syntax error");
}

Test(policy_errors, missing_required_keys)
{
    expect_error(HEAD "  - name: p\n    prefixes: [10.0.0.0/8]\n", 6,
                 "missing required key 'type' in pool");
    expect_error("sensor:\n  name: s1\n  position: edge-side\nown_prefixes: []\n", 1,
                 "missing required key 'pools' at the top level");
    expect_error("own_prefixes: []\npools: []\n", 1, "missing required key 'sensor'");
    expect_error("# the sensor\nsensor:\n  position: edge-side\n", 3,
                 "missing required key 'name' in sensor");
    expect_error(HEAD POOL_P "msas:\n  - name: m\n    prefixes: [192.0.2.1]\n", 10,
                 "missing required key 'ports' in MSA");
    expect_error(HEAD POOL_P "blocking_points:\n  - name: b\n", 10,
                 "missing required key 'level' in blocking point");
    expect_error(HEAD POOL_P "segments:\n  - name: s\n    vlan: 5\n", 10,
                 "missing required key 'expects' in segment");
}

Test(policy_errors, wrong_node_types)
{
    expect_error("sensor:\n  name: s1\n  position: edge-side\nown_prefixes: 198.51.100.0/22\n", 4,
                 "expected a list for own_prefixes, found a single value");
    expect_error("sensor: span-1\n", 1, "expected a mapping for sensor, found a single value");
    expect_error("sensor: [a, b]\n", 1, "expected a mapping for sensor, found a list");
    expect_error(HEAD "  - ftth-east\n", 6, "expected a mapping for pool, found a single value");
    expect_error(HEAD "  - name: [a, b]\n    type: dynamic\n    prefixes: [10.0.0.0/8]\n", 6,
                 "expected a single value for pool name, found a list");
    expect_error(HEAD "  - name: p\n    type: dynamic\n    prefixes: [[10.0.0.0/8]]\n", 8,
                 "expected a single value for a prefix, found a list");
    expect_error(HEAD "  name: p\n", 6, "expected a list for pools, found a mapping");
    expect_error(HEAD POOL_P "msas:\n", 9, "expected a list for msas, found no value");
    expect_error(HEAD POOL_P "thresholds: [1, 2]\n", 9, "expected a mapping for thresholds");
    expect_error(HEAD POOL_P "limits:\n  flows: {a: 1}\n", 10,
                 "expected a single value for flows, found a mapping");
    expect_error(HEAD "  - name: p\n    type:\n    prefixes: [10.0.0.0/8]\n", 7,
                 "type must not be empty");
    expect_error(HEAD "  - name: ~\n    type: static\n    prefixes: [10.0.0.0/8]\n", 6,
                 "pool name must not be empty");
    expect_error(HEAD "  - name: ''\n    type: static\n    prefixes: [10.0.0.0/8]\n", 6,
                 "pool name must not be empty");
    expect_error(HEAD POOL_P "? [a, b]\n: c\n", 9, "expected a plain key at the top level");
}

Test(policy_errors, duplicate_keys)
{
    expect_exact(HEAD "  - name: p\n"
                      "    type: dynamic\n"
                      "    prefixes: [10.0.0.0/8]\n"
                      "    type: static\n",
                 "site.yaml:9: duplicate key 'type' in pool (first at line 7)");
    expect_error(HEAD POOL_P "sensor: {name: s2, position: core-side}\n", 9,
                 "duplicate key 'sensor' at the top level (first at line 1)");
    expect_error(HEAD POOL_P "timeouts: {syn: 5s, syn: 6s}\n", 9,
                 "duplicate key 'syn' in timeouts");
}

Test(policy_errors, duplicate_names)
{
    expect_exact(HEAD POOL_P "  - name: p\n"
                             "    type: static\n"
                             "    prefixes: [198.51.101.0/24]\n",
                 "site.yaml:9: duplicate pool name 'p' (first at line 6)");
    expect_error(HEAD POOL_P "msas:\n"
                             "  - {name: m, prefixes: [192.0.2.1], ports: [25]}\n"
                             "  - {name: m, prefixes: [192.0.2.2], ports: [25]}\n",
                 11, "duplicate MSA name 'm' (first at line 10)");
    expect_error(HEAD POOL_P "blocking_points:\n"
                             "  - {name: b, level: edge}\n"
                             "  - {name: c, level: core}\n"
                             "  - {name: b, level: core}\n",
                 12, "duplicate blocking point name 'b' (first at line 10)");
    expect_error(HEAD POOL_P "segments:\n"
                             "  - {name: s, vlan: 1, expects: [p]}\n"
                             "  - {name: s, vlan: 2, expects: [p]}\n",
                 11, "duplicate segment name 's' (first at line 10)");
}

Test(policy_errors, references_to_missing_pools)
{
    expect_exact(HEAD POOL_P "segments:\n"
                             "  - name: v100\n"
                             "    vlan: 100\n"
                             "    expects: [p, q]\n",
                 "site.yaml:12: segment 'v100' expects pool 'q', which is not defined");
    expect_exact(HEAD POOL_P "msas:\n"
                             "  - name: m\n"
                             "    prefixes: [192.0.2.25]\n"
                             "    ports: [25]\n"
                             "    pools:\n"
                             "      - p\n"
                             "      - ftth\n",
                 "site.yaml:15: MSA 'm' names pool 'ftth', which is not defined");
    expect_error(HEAD POOL_P "msas:\n  - name: m\n    prefixes: [192.0.2.25]\n    ports: [25]\n"
                             "    pools: [p, p]\n",
                 13, "pool 'p' is listed twice in pools (line 13)");
    expect_error(HEAD POOL_P "segments:\n  - {name: s, vlan: 1, expects: []}\n", 10,
                 "expects must list at least one pool");
}

Test(policy_errors, empty_lists_that_must_not_be)
{
    expect_error(HEAD "  []\n", 6, "pools must list at least one pool");
    expect_error("sensor: {name: s1, position: edge-side}\nown_prefixes: []\npools: []\n", 3,
                 "pools must list at least one pool");
    expect_error(HEAD "  - name: p\n    type: dynamic\n    prefixes: []\n", 8,
                 "prefixes must list at least one prefix");
    expect_error(HEAD POOL_P "msas:\n  - name: m\n    prefixes: []\n    ports: [25]\n", 11,
                 "prefixes must list at least one prefix");
    expect_error(HEAD POOL_P "msas:\n  - name: m\n    prefixes: [192.0.2.1]\n    ports: []\n", 12,
                 "ports must list at least one port");
}

Test(policy_errors, ports)
{
    const char *msa = HEAD POOL_P "msas:\n  - name: m\n    prefixes: [192.0.2.1]\n    ports:\n";
    char text[1024];
    snprintf(text, sizeof(text), "%s      - 25\n      - 587\n      - 25\n", msa);
    expect_exact(text, "site.yaml:15: port 25 is listed twice in MSA 'm' (line 13)");
    snprintf(text, sizeof(text), "%s      - 0\n", msa);
    expect_error(text, 13, "value '0' for port is out of range (expected 1 to 65535)");
    snprintf(text, sizeof(text), "%s      - 65536\n", msa);
    expect_error(text, 13, "value '65536' for port is out of range");
    snprintf(text, sizeof(text), "%s      - smtp\n", msa);
    expect_error(text, 13, "bad value 'smtp' for port");
    snprintf(text, sizeof(text), "%s      - 65535\n      - 1\n", msa);
    policy_free(load_ok(text));
}

Test(policy_errors, numbers_and_overflow)
{
    expect_error(HEAD POOL_P "thresholds: {fanout: 4294967296}\n", 9,
                 "value '4294967296' for fanout is out of range (expected 1 to 4294967295)");
    expect_error(HEAD POOL_P "thresholds: {fanout: 18446744073709551616}\n", 9,
                 "for fanout is out of range");
    expect_error(HEAD POOL_P "thresholds: {mx_direct: 99999999999999999999999999999}\n", 9,
                 "for mx_direct is out of range");
    expect_error(HEAD POOL_P "thresholds: {fanout: 0}\n", 9, "for fanout is out of range");
    expect_error(HEAD POOL_P "thresholds: {fanout: -1}\n", 9, "bad value '-1' for fanout");
    expect_error(HEAD POOL_P "thresholds: {fanout: 010}\n", 9, "bad value '010' for fanout");
    expect_error(HEAD POOL_P "thresholds: {fanout: 0x10}\n", 9, "bad value '0x10' for fanout");
    expect_error(HEAD POOL_P "limits: {flows: 100000001}\n", 9,
                 "value '100000001' for flows is out of range (expected 1 to 100000000)");
    expect_error(HEAD POOL_P "limits: {sessions: 0}\n", 9, "for sessions is out of range");
    expect_error(HEAD "  - name: p\n    type: dynamic\n    prefixes: [10.0.0.0/8]\n"
                      "    ipv6_subscriber_length: 31\n",
                 9, "for ipv6_subscriber_length is out of range (expected 32 to 128)");
    expect_error(HEAD "  - name: p\n    type: dynamic\n    prefixes: [10.0.0.0/8]\n"
                      "    ipv6_subscriber_length: 129\n",
                 9, "for ipv6_subscriber_length is out of range");
}

Test(policy_errors, segments)
{
    const char *head = HEAD POOL_P "segments:\n  - name: s\n    expects: [p]\n";
    char text[1024];
    snprintf(text, sizeof(text), "%s    vlan: 4096\n", head);
    expect_error(text, 12, "value '4096' for vlan is out of range (expected 0 to 4095)");
    snprintf(text, sizeof(text), "%s    vlan: 100\n    mac: 02:00:00:00:00:01\n", head);
    expect_error(text, 13, "segment 's' has both vlan and mac (expected exactly one");
    expect_error(HEAD POOL_P "segments:\n  - name: s\n    expects: [p]\n", 10,
                 "segment 's' needs one of vlan, interface or mac");
    const char *const bad_macs[] = {
        "02:00:00:00:00", "02:00:00:00:00:0g",  "02:00-00:00:00:01", "0200.0000.0001",
        "2:0:0:0:0:1",    "02:00:00:00:00:01:", "02:00:00:00:00:001"};
    for (size_t i = 0; i < sizeof(bad_macs) / sizeof(bad_macs[0]); i++) {
        snprintf(text, sizeof(text), "%s    mac: '%s'\n", head, bad_macs[i]);
        expect_error(text, 12, "bad MAC address");
    }
    /* Two segments on one VLAN: the second could never match. */
    expect_error(HEAD POOL_P "segments:\n"
                             "  - {name: a, vlan: 7, expects: [p]}\n"
                             "  - {name: b, interface: eth0, expects: [p]}\n"
                             "  - {name: c, vlan: 7, expects: [p]}\n",
                 12, "vlan of segment 'c' is already used by segment 'a' (line 10)");
    expect_error(HEAD POOL_P "segments:\n"
                             "  - {name: a, mac: 02:00:00:00:00:01, expects: [p]}\n"
                             "  - {name: b, mac: 02-00-00-00-00-01, expects: [p]}\n",
                 11, "mac of segment 'b' is already used by segment 'a'");
    /* The most segments a flow can name. */
    char *many = NULL;
    size_t size = 0;
    FILE *stream = open_memstream(&many, &size);
    fputs(HEAD POOL_P "segments:\n", stream);
    for (int i = 0; i <= POLICY_SEGMENTS_MAX; i++)
        fprintf(stream, "  - {name: s%d, vlan: %d, expects: [p]}\n", i, i);
    fclose(stream);
    expect_error(many, 10, "too many segments (128; at most 127)");
    free(many);
}

Test(policy_errors, geoip_files)
{
    char *dir = make_temp_dir();
    char text[2048];
    snprintf(text, sizeof(text), HEAD POOL_P "geoip:\n  asn: %s/missing.mmdb\n", dir);
    char part[1024];
    snprintf(part, sizeof(part), "cannot open geoip asn database '%s/missing.mmdb': %s", dir,
             strerror(ENOENT));
    expect_error(text, 10, part);
    /* A directory opens, but is no database. */
    snprintf(text, sizeof(text), HEAD POOL_P "geoip:\n  country: %s\n", dir);
    expect_error(text, 10, "geoip country database");
    cr_assert(strstr(error, "is not a regular file") != NULL, "%s", error);

    /* A file that is no MaxMind database, and a real one cut in half. */
    char *junk = write_file(dir, "junk.mmdb", "not really a database");
    snprintf(text, sizeof(text), HEAD POOL_P "geoip:\n  country: %s\n", junk);
    snprintf(part, sizeof(part), "geoip country database '%s' cannot be used: ", junk);
    expect_error(text, 10, part);
    FILE *whole = fopen(OP25B_CORPUS_DIR "/mmdb/GeoLite2-ASN-Test.mmdb", "rb");
    cr_assert_not_null(whole);
    static char bytes[8192];
    size_t half = fread(bytes, 1, sizeof(bytes), whole);
    fclose(whole);
    cr_assert_eq(half, sizeof(bytes), "the ASN test database is larger than %zu", sizeof(bytes));
    char *cut;
    cr_assert_geq(asprintf(&cut, "%s/cut.mmdb", dir), 0);
    FILE *out = fopen(cut, "wb");
    cr_assert_not_null(out);
    fwrite(bytes, 1, half, out);
    fclose(out);
    snprintf(text, sizeof(text), HEAD POOL_P "geoip:\n  asn: %s\n", cut);
    expect_error(text, 10, "cannot be used");

    /* A database of the wrong kind, on the second key's line: the first one was fine. */
    snprintf(text, sizeof(text),
             HEAD POOL_P "geoip:\n  asn: %s/mmdb/GeoIP2-ISP-Test.mmdb\n"
                         "  country: %s/mmdb/GeoLite2-ASN-Test.mmdb\n",
             OP25B_CORPUS_DIR, OP25B_CORPUS_DIR);
    expect_error(text, 11, "cannot be used: a GeoLite2-ASN database holds no Country data");
    snprintf(text, sizeof(text), HEAD POOL_P "geoip:\n  asn: %s/mmdb/%s\n", OP25B_CORPUS_DIR,
             "MaxMind-DB-test-broken-pointers-24.mmdb");
    expect_error(text, 10, "a Test database holds no ASN data");
    snprintf(text, sizeof(text), HEAD POOL_P "geoip:\n  asn: %s/mmdb/%s\n", OP25B_CORPUS_DIR,
             "GeoLite2-Country-Test.mmdb");
    expect_error(text, 10, "a GeoLite2-Country database holds no ASN data");

    unlink(junk);
    unlink(cut);
    free(junk);
    free(cut);
    rmdir(dir);
    free(dir);
}

Test(policy_errors, empty_or_not_a_mapping)
{
    expect_error("", 1, "the policy is empty");
    expect_error("# nothing here yet\n\n", 1, "the policy is empty");
    expect_error("---\n", 1, "the policy is empty");
    expect_error("- sensor\n- pools\n", 1, "the policy must be a mapping");
    expect_error("just text\n", 1, "the policy must be a mapping");
}

Test(policy_errors, anchors_aliases_documents)
{
    expect_error("sensor:\n  name: &n s1\n  position: edge-side\n", 2,
                 "YAML anchors (&n) are not supported");
    expect_error(HEAD "  - &pool\n    name: p\n", 6, "YAML anchors (&pool) are not supported");
    expect_error(HEAD "  - name: p\n    type: dynamic\n    prefixes: *space\n", 8,
                 "YAML aliases (*space) are not supported");
    expect_error(HEAD POOL_P "---\n" HEAD POOL_P, 9, "a second YAML document");
    expect_error(HEAD POOL_P "...\n---\n" HEAD POOL_P, 10, "a second YAML document");
}

Test(policy_errors, hostile_text)
{
    /* A NUL inside a double-quoted scalar, and a control character in a name. */
    expect_error("sensor:\n  name: \"s\\0x\"\n  position: core-side\n", 2,
                 "sensor name contains a NUL character");
    expect_error("sensor:\n  name: \"s\\tx\"\n  position: core-side\n", 2,
                 "contains a control character");
    /* Deep nesting is refused early: libyaml's cost grows with the square of the depth. */
    char *deep = malloc(200020);
    cr_assert_not_null(deep);
    strcpy(deep, "sensor: ");
    memset(deep + 8, '[', 100000);
    memset(deep + 100008, ']', 100000);
    strcpy(deep + 200008, "\n");
    expect_error(deep, 1, "nested deeper than");
    /* The root mapping and sensor are two levels; 30 lists make 32, the most allowed. */
    char nested[128];
    snprintf(nested, sizeof(nested), "sensor:\n  name: %.*s%.*s\n", 31, deep + 8, 31,
             deep + 100008);
    expect_error(nested, 2, "nested deeper than 32 levels");
    snprintf(nested, sizeof(nested), "sensor:\n  position: edge-side\n  name: %.*s%.*s\n", 30,
             deep + 8, 30, deep + 100008);
    expect_error(nested, 3, "expected a single value for sensor name, found a list");
    free(deep);
    /* A length that stops before the NUL: the loader reads only length bytes. */
    const char *text = HEAD POOL_P "garbage: [";
    struct policy *policy =
        policy_load_text(NAME, text, strlen(text) - strlen("garbage: ["), error, sizeof(error));
    cr_assert_not_null(policy, "%s", error);
    policy_free(policy);
}

/* HEAD POOL_P with the sensor named NAME (a C string literal of YAML). */
#define AFTER_SENSOR_NAME                                                                          \
    "\n  position: edge-side\nown_prefixes: [198.51.100.0/22]\npools:\n" POOL_P
#define SENSOR_NAMED(NAME) "sensor:\n  name: " NAME AFTER_SENSOR_NAME

/* Names go into every event, report and metric label: at most POLICY_NAME_MAX bytes of
 * printable UTF-8, without the controls that reorder text around them; refused with the
 * line of the name, whichever list it is in. */
Test(policy_errors, names_are_short_printable_utf8)
{
    char name[POLICY_NAME_MAX + 2], text[1024];
    memset(name, 'n', sizeof(name) - 1);
    name[POLICY_NAME_MAX] = '\0';
    snprintf(text, sizeof(text), SENSOR_NAMED("%s"), name);
    struct policy *policy = load(text);
    cr_assert_not_null(policy, "a name of %d bytes: %s", POLICY_NAME_MAX, error);
    policy_free(policy);
    name[POLICY_NAME_MAX] = 'n';
    name[POLICY_NAME_MAX + 1] = '\0';
    snprintf(text, sizeof(text), SENSOR_NAMED("%s"), name);
    expect_exact(text, NAME ":2: sensor name is 65 bytes long (at most 64)");
    /* Right-to-left override, written out and as a YAML escape; the other bidi controls. */
    expect_exact(SENSOR_NAMED("\"ab\\u202Ecd\""),
                 NAME ":2: sensor name contains a bidirectional control character (U+202E, "
                      "byte 3)");
    expect_error(SENSOR_NAMED("ab\xe2\x80\xae"
                              "cd"),
                 2, "bidirectional control character (U+202E, byte 3)");
    const char *const bidi[] = {"\\u202A", "\\u202B", "\\u202C", "\\u202D", "\\u2066", "\\u2067",
                                "\\u2068", "\\u2069", "\\u200E", "\\u200F", "\\u061C"};
    for (size_t i = 0; i < sizeof(bidi) / sizeof(bidi[0]); i++) {
        snprintf(text, sizeof(text),
                 HEAD "  - name: \"p%s\"\n    type: dynamic\n    prefixes: [198.51.100.0/24]\n",
                 bidi[i]);
        expect_error(text, 6, "pool name contains a bidirectional control character");
    }
    /* C0, DEL and C1 controls (NEL, U+0085, is one), in each kind of name. */
    expect_error(HEAD POOL_P
                 "msas:\n  - {name: \"m\\x7f\", prefixes: [198.51.100.25], ports: [25]}\n",
                 10, "MSA name contains a control character (U+007F, byte 2)");
    expect_error(HEAD POOL_P "blocking_points:\n  - {name: \"b\\x85\", level: edge}\n", 10,
                 "blocking point name contains a control character (U+0085, byte 2)");
    expect_error(HEAD POOL_P "segments:\n  - {name: \"\\e\", vlan: 7, expects: [p]}\n", 10,
                 "segment name contains a control character (U+001B, byte 1)");
    /* libyaml refuses raw bytes that are no UTF-8 before the loader sees them, and escapes
     * cannot make them; the loader checks again. What passes is printable text, in any
     * script. */
    expect_error(SENSOR_NAMED("a\xff"
                              "b"),
                 2, "invalid leading UTF-8 octet");
    policy = load(SENSOR_NAMED("\"東京-ü\""));
    cr_assert_not_null(policy, "%s", error);
    cr_assert_str_eq(policy->sensor_name, "東京-ü");
    policy_free(policy);
    /* A 50 MB name is refused by its length, without being echoed into the message. */
    size_t huge = 50u << 20;
    char *long_text = malloc(huge + 256);
    cr_assert_not_null(long_text);
    strcpy(long_text, "sensor:\n  name: ");
    size_t start = strlen(long_text);
    memset(long_text + start, 'x', huge);
    strcpy(long_text + start + huge, AFTER_SENSOR_NAME);
    expect_exact(long_text, NAME ":2: sensor name is 52428800 bytes long (at most 64)");
    free(long_text);
}

/* ---- files ---- */

Test(policy_files, names_the_file)
{
    char *dir = make_temp_dir();
    char *good = write_file(dir, "good.yaml", HEAD POOL_P);
    char *bad = write_file(dir, "bad.yaml", "sensor:\n  name: s1\n  position: sideways\n");
    char *missing;
    cr_assert_geq(asprintf(&missing, "%s/missing.yaml", dir), 0);

    struct policy *policy = policy_load(good, error, sizeof(error));
    cr_assert_not_null(policy, "%s", error);
    cr_assert_str_eq(policy->path, good);
    cr_assert_eq(policy->pool_count, 1);
    policy_free(policy);

    cr_assert_null(policy_load(bad, error, sizeof(error)));
    char expected[1024];
    snprintf(expected, sizeof(expected),
             "%s:3: bad value 'sideways' for position (expected edge-side or core-side)", bad);
    cr_assert_str_eq(error, expected);

    cr_assert_null(policy_load(missing, error, sizeof(error)));
    snprintf(expected, sizeof(expected), "%s: cannot open: %s", missing, strerror(ENOENT));
    cr_assert_str_eq(error, expected);

    /* A small error buffer is cut short, never overrun. */
    char small[12];
    memset(small, 'x', sizeof(small));
    cr_assert_null(policy_load(missing, small, 8));
    cr_assert_eq(strlen(small), 7);
    cr_assert_eq(small[8], 'x');
    cr_assert_null(policy_load(missing, NULL, 0));

    unlink(good);
    unlink(bad);
    rmdir(dir);
    free(good);
    free(bad);
    free(missing);
    free(dir);
}

Test(policy_files, example_is_valid)
{
    struct policy *policy =
        policy_load(OP25B_SOURCE_DIR "/rules/example.yaml", error, sizeof(error));
    cr_assert_not_null(policy, "rules/example.yaml: %s", error);
    /* What the example promises its readers. */
    size_t dynamic = 0;
    size_t with_v6 = 0;
    for (size_t p = 0; p < policy->pool_count; p++) {
        const struct pool *pool = &policy->pools[p];
        dynamic += pool->type == POOL_DYNAMIC;
        for (size_t i = 0; i < pool->prefix_count; i++) {
            if (pool->prefixes[i].address.family == ADDRESS_V6) {
                with_v6++;
                break;
            }
        }
    }
    cr_assert_geq(dynamic, 2);
    cr_assert_lt(dynamic, policy->pool_count, "a static pool too");
    cr_assert_geq(with_v6, 1);
    cr_assert_geq(policy->msa_count, 2);
    cr_assert_geq(policy->blocking_point_count, 2);
    cr_assert_geq(policy->segment_count, 1);
    cr_assert_geq(policy->resolver_count, 1);
    bool restricted_msa = false;
    for (size_t m = 0; m < policy->msa_count; m++)
        restricted_msa |= policy->msas[m].pool_count == 1;
    cr_assert(restricted_msa, "one MSA is for one pool only");

    /* A static prefix carved out of a dynamic one resolves to the static pool, and the
     * address just below it still to the dynamic one. */
    bool carved = false;
    for (size_t s = 0; s < policy->pool_count; s++) {
        const struct pool *pool = &policy->pools[s];
        if (pool->type != POOL_STATIC)
            continue;
        for (size_t i = 0; i < pool->prefix_count; i++) {
            struct address inside = pool->prefixes[i].address;
            int holder = POLICY_NO_INDEX;
            for (size_t d = 0; d < policy->pool_count; d++) {
                const struct pool *outer = &policy->pools[d];
                for (size_t j = 0; j < outer->prefix_count && outer->type == POOL_DYNAMIC; j++) {
                    if (outer->prefixes[j].length < pool->prefixes[i].length &&
                        prefix_contains(&outer->prefixes[j], &inside))
                        holder = (int)d;
                }
            }
            if (holder == POLICY_NO_INDEX)
                continue;
            carved = true;
            cr_assert_eq(policy_pool_of(policy, &inside), (int)s);
        }
    }
    cr_assert(carved, "the example carves a static prefix out of a dynamic one");
    cr_assert_eq(pool_of(policy, "198.51.111.249"), 2);
    cr_assert_eq(pool_of(policy, "198.51.111.247"), 1);
    policy_free(policy);
}

/* ---- lookups ---- */

static const char lookup_policy[] = "sensor: {name: s1, position: edge-side}\n"
                                    "own_prefixes: [198.51.96.0/20, 203.0.113.0/24, "
                                    "2001:db8::/32]\n"
                                    "resolvers: [203.0.113.53, 2001:db8:ffff::/120]\n"
                                    "pools:\n"
                                    "  - name: dsl\n"
                                    "    type: dynamic\n"
                                    "    prefixes: [198.51.96.0/20, 2001:db8:200::/40]\n"
                                    "    blocking_point: bras\n"
                                    "  - name: business\n"
                                    "    type: static\n"
                                    "    prefixes: [198.51.111.248/29, 2001:db8:200:ff00::/56]\n"
                                    "msas:\n"
                                    "  - name: isp\n"
                                    "    prefixes: [203.0.113.25, 2001:db8:ffff:1::25]\n"
                                    "    ports: [25, 587, 465]\n"
                                    "  - name: partner\n"
                                    "    prefixes: [192.0.2.0/29]\n"
                                    "    ports: [587]\n"
                                    "    pools: [business]\n"
                                    "blocking_points:\n"
                                    "  - {name: bras, level: terminator}\n";

Test(policy_lookup, longest_match_through_the_tables)
{
    struct policy *policy = load_ok(lookup_policy);
    enum { DSL = 0, BUSINESS = 1, ISP = 0, PARTNER = 1 };
    cr_assert_eq(pool_of(policy, "198.51.95.255"), POLICY_NO_INDEX);
    cr_assert_eq(pool_of(policy, "198.51.96.0"), DSL);
    cr_assert_eq(pool_of(policy, "198.51.111.247"), DSL);
    cr_assert_eq(pool_of(policy, "198.51.111.248"), BUSINESS);
    cr_assert_eq(pool_of(policy, "198.51.111.255"), BUSINESS);
    cr_assert_eq(pool_of(policy, "198.51.112.0"), POLICY_NO_INDEX);
    cr_assert_eq(pool_of(policy, "2001:db8:200::1"), DSL);
    cr_assert_eq(pool_of(policy, "2001:db8:200:feff:ffff:ffff:ffff:ffff"), DSL);
    cr_assert_eq(pool_of(policy, "2001:db8:200:ff00::"), BUSINESS);
    cr_assert_eq(pool_of(policy, "2001:db8:200:ffff:ffff:ffff:ffff:ffff"), BUSINESS);
    cr_assert_eq(pool_of(policy, "2001:db8:2ff:ffff::1"), DSL);
    cr_assert_eq(pool_of(policy, "2001:db8:300::"), POLICY_NO_INDEX);
    cr_assert_eq(pool_of(policy, "203.0.113.25"), POLICY_NO_INDEX);
    /* IPv4 text inside IPv6 is IPv6. */
    cr_assert_eq(pool_of(policy, "::ffff:198.51.100.1"), POLICY_NO_INDEX);

    cr_assert_eq(msa_of(policy, "203.0.113.25"), ISP);
    cr_assert_eq(msa_of(policy, "203.0.113.26"), POLICY_NO_INDEX);
    cr_assert_eq(msa_of(policy, "2001:db8:ffff:1::25"), ISP);
    cr_assert_eq(msa_of(policy, "192.0.2.0"), PARTNER);
    cr_assert_eq(msa_of(policy, "192.0.2.7"), PARTNER);
    cr_assert_eq(msa_of(policy, "192.0.2.8"), POLICY_NO_INDEX);

    cr_assert(is_own(policy, "198.51.100.1"));
    cr_assert(is_own(policy, "203.0.113.255"));
    cr_assert(is_own(policy, "2001:db8:1234::1"));
    cr_assert(!is_own(policy, "198.51.112.0"));
    cr_assert(!is_own(policy, "192.0.2.1"));
    cr_assert(!is_own(policy, "2001:db9::"));

    cr_assert(is_resolver(policy, "203.0.113.53"));
    cr_assert(!is_resolver(policy, "203.0.113.54"));
    cr_assert(is_resolver(policy, "2001:db8:ffff::ff"));
    cr_assert(!is_resolver(policy, "2001:db8:ffff::100"));
    policy_free(policy);
}

Test(policy_lookup, msa_allows)
{
    struct policy *policy = load_ok(lookup_policy);
    enum { DSL = 0, BUSINESS = 1, ISP = 0, PARTNER = 1 };
    cr_assert(policy_msa_allows(policy, ISP, DSL, 25));
    cr_assert(policy_msa_allows(policy, ISP, BUSINESS, 465));
    cr_assert(policy_msa_allows(policy, ISP, DSL, 587));
    cr_assert(!policy_msa_allows(policy, ISP, DSL, 2525));
    cr_assert(!policy_msa_allows(policy, ISP, DSL, 0));
    cr_assert(policy_msa_allows(policy, PARTNER, BUSINESS, 587));
    cr_assert(!policy_msa_allows(policy, PARTNER, DSL, 587), "partner serves business only");
    cr_assert(!policy_msa_allows(policy, PARTNER, BUSINESS, 25), "partner has no port 25");
    cr_assert(!policy_msa_allows(policy, POLICY_NO_INDEX, DSL, 25));
    cr_assert(!policy_msa_allows(policy, 2, DSL, 25));
    cr_assert(!policy_msa_allows(policy, PARTNER, POLICY_NO_INDEX, 587));
    /* An MSA open to every pool serves even an address in no pool. */
    cr_assert(policy_msa_allows(policy, ISP, POLICY_NO_INDEX, 25));
    policy_free(policy);
}

/* ---- ACL sizes (draft section 4) ---- */

/* ---- scale ---- */

static double seconds_now(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

Test(policy_scale, hundred_thousand_prefixes, .timeout = 60)
{
    /* 100 pools of 1,000 prefixes each, half IPv4 /28s and half IPv6 /56s; prefix k of the
     * whole policy is in pool k / 1000. */
    enum { POOLS = 100, PER_POOL = 1000 };
    char *text = NULL;
    size_t size = 0;
    FILE *stream = open_memstream(&text, &size);
    fputs("sensor: {name: s1, position: edge-side}\nown_prefixes: [10.0.0.0/8, 2001:db8::/32]\n"
          "pools:\n",
          stream);
    for (int p = 0; p < POOLS; p++) {
        fprintf(stream, "  - name: pool-%d\n    type: %s\n    prefixes:\n", p,
                p % 2 == 0 ? "dynamic" : "static");
        for (int j = 0; j < PER_POOL; j++) {
            unsigned k = (unsigned)(p * PER_POOL + j);
            if (j % 2 == 0)
                fprintf(stream, "      - 10.%u.%u.%u/28\n", k >> 12, (k >> 4) & 255, (k & 15) << 4);
            else
                fprintf(stream, "      - 2001:db8:%x:%x00::/56\n", k >> 8, k & 255);
        }
    }
    fclose(stream);

    double start = seconds_now();
    struct policy *policy = load_ok(text);
    double elapsed = seconds_now() - start;
    cr_assert_lt(elapsed, 10.0, "loading took %.2f s", elapsed);
    cr_assert_eq(prefix_table_count(policy->pool_table), POOLS * PER_POOL);

    for (unsigned k = 0; k < POOLS * PER_POOL; k += 997) {
        char address[64];
        if (k % 2 == 0)
            snprintf(address, sizeof(address), "10.%u.%u.%u", k >> 12, (k >> 4) & 255,
                     ((k & 15) << 4) | 15);
        else
            snprintf(address, sizeof(address), "2001:db8:%x:%xff:ffff::1", k >> 8, k & 255);
        cr_assert_eq(pool_of(policy, address), (int)(k / PER_POOL), "%s", address);
    }
    /* Pool 0 holds 500 IPv4 and 500 IPv6 /28s and /56s; 50 of the pools are dynamic, none
     * has a blocking point, so no ACL rules are counted, but each of their 50,000 blocks
     * would need its deny. The ACL of so many prefixes is built in a fraction of a second
     * (the bound is loose for sanitizer builds). */
    start = seconds_now();
    struct acl acl;
    cr_assert_eq(acl_build(policy, &acl), 0);
    elapsed = seconds_now() - start;
    cr_assert_lt(elapsed, 5.0, "building the ACL took %.2f s", elapsed);
    cr_assert_eq(acl.families[0].dynamic_blocks, 0);
    cr_assert_eq(acl.families[0].rules + acl.families[1].rules, 0);
    cr_assert_eq(acl.unassigned, POOLS / 2 * PER_POOL);
    acl_free(&acl);
    policy_free(policy);
    free(text);
}

/* ---- names ---- */

Test(policy_names, enums_name_themselves)
{
    cr_assert_str_eq(pool_type_name(POOL_DYNAMIC), "dynamic");
    cr_assert_str_eq(pool_type_name(POOL_STATIC), "static");
    cr_assert_str_eq(sensor_position_name(POSITION_EDGE_SIDE), "edge-side");
    cr_assert_str_eq(sensor_position_name(POSITION_CORE_SIDE), "core-side");
    cr_assert_str_eq(blocking_level_name(LEVEL_HOME_ROUTER), "home-router");
    cr_assert_str_eq(blocking_level_name(LEVEL_TERMINATOR), "terminator");
    cr_assert_str_eq(blocking_level_name(LEVEL_EDGE), "edge");
    cr_assert_str_eq(blocking_level_name(LEVEL_CORE), "core");
    cr_assert_str_eq(blocking_state_name(BLOCKING_ACTIVE), "active");
    cr_assert_str_eq(blocking_state_name(BLOCKING_PLANNED), "planned");
    cr_assert_str_eq(blocking_reject_name(REJECT_DROP), "drop");
    cr_assert_str_eq(blocking_reject_name(REJECT_ICMP), "icmp");
    cr_assert_str_eq(blocking_reject_name(REJECT_TCP_RESET), "tcp-reset");
    cr_assert_str_eq(blocking_level_name((enum blocking_level)0), "unknown");
    cr_assert_str_eq(pool_type_name((enum pool_type)7), "unknown");
    /* The draft numbers the levels from the edge (1) to the core (4). */
    cr_assert_eq(LEVEL_HOME_ROUTER, 1);
    cr_assert_eq(LEVEL_CORE, 4);
}

Test(policy, a_subscriber_is_an_ipv4_address_or_its_pools_ipv6_prefix)
{
    struct policy *policy = load_ok(
        "sensor: {name: s1, position: edge-side}\n"
        "own_prefixes: []\n"
        "pools:\n"
        "  - { name: ftth, type: dynamic, prefixes: [2001:db8:100::/40], "
        "ipv6_subscriber_length: 56 }\n"
        "  - { name: odd, type: dynamic, prefixes: [2001:db8:200::/40], "
        "ipv6_subscriber_length: 61 }\n"
        "  - { name: dsl, type: dynamic, prefixes: [198.51.96.0/20, 2001:db8:300::/40] }\n");
    static const struct {
        int pool;
        const char *address, *subscriber;
    } cases[] = {
        {0, "2001:db8:100:12ab:1:2:3:4", "2001:db8:100:1200::/56"},
        {1, "2001:db8:200:12ff::1", "2001:db8:200:12f8::/61"},
        {2, "2001:db8:300:1:2:3:4:5", "2001:db8:300:1::/64"},
        {-1, "2001:db8:9999:1:ffff::1", "2001:db8:9999:1::/64"}, /* in no pool */
        {2, "198.51.100.7", "198.51.100.7/32"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct address address;
        cr_assert(address_parse(cases[i].address, &address));
        struct prefix subscriber = policy_subscriber(policy, cases[i].pool, &address);
        char text_out[PREFIX_TEXT_MAX];
        prefix_format(&subscriber, text_out, sizeof(text_out));
        cr_assert_str_eq(text_out, cases[i].subscriber, "%s in pool %d", cases[i].address,
                         cases[i].pool);
    }
    cr_assert_eq(policy_ipv6_subscriber_bits(policy), 56);
    policy_free(policy);
}

/* ---- sensors: (the fleet, read by op25b-correlate) ---- */

#define FLEET_BASE                                                                                 \
    "own_prefixes: [198.51.100.0/22]\n"                                                            \
    "blocking_points:\n"                                                                           \
    "  - {name: bras, level: terminator}\n"                                                        \
    "  - {name: border, level: core}\n"                                                            \
    "pools:\n"                                                                                     \
    "  - {name: ftth, type: dynamic, prefixes: [198.51.100.0/24], blocking_point: bras}\n"         \
    "  - {name: dsl, type: dynamic, prefixes: [198.51.101.0/24], blocking_point: border}\n"

static struct policy *load_fleet(const char *text)
{
    error[0] = '\0';
    return policy_load_fleet_text(NAME, text, strlen(text), error, sizeof(error));
}

Test(policy_fleet, sensors_with_defaults_and_overrides)
{
    struct policy *policy = load_fleet(FLEET_BASE "sensors:\n"
                                                  "  - name: span-bras\n"
                                                  "    position: edge-side\n"
                                                  "    positions: {border: core-side}\n"
                                                  "    pools: [ftth, dsl]\n"
                                                  "  - name: span-border\n"
                                                  "    position: core-side\n"
                                                  "    pools: [dsl]\n");
    cr_assert_not_null(policy, "%s", error);
    cr_assert_str_eq(policy->sensor_name, "fleet");
    cr_assert_eq(policy->fleet_sensor_count, 2);
    const struct fleet_sensor *bras = &policy->fleet_sensors[0];
    cr_assert_eq(bras->positions[0], POSITION_EDGE_SIDE);
    cr_assert_eq(bras->positions[1], POSITION_CORE_SIDE);
    cr_assert_eq(policy_fleet_sensor(policy, "span-border"), 1);
    cr_assert_eq(policy_fleet_sensor(policy, "elsewhere"), POLICY_NO_INDEX);
    cr_assert(policy_fleet_carries(policy, 0, 0) && policy_fleet_carries(policy, 0, 1));
    cr_assert(!policy_fleet_carries(policy, 1, 0) && policy_fleet_carries(policy, 1, 1));
    policy_free(policy);
}

Test(policy_fleet, the_sensor_reads_and_ignores_sensors)
{
    struct policy *policy =
        load_ok("sensor: {name: s, position: edge-side}\n" FLEET_BASE
                "sensors:\n  - {name: a, position: edge-side, pools: [ftth]}\n");
    cr_assert_str_eq(policy->sensor_name, "s");
    policy_free(policy);
}

Test(policy_fleet, errors)
{
    struct policy *policy = load_fleet(FLEET_BASE);
    cr_assert_null(policy);
    cr_assert_str_eq(error, NAME ":1: missing required key 'sensors' at the top level");
    expect_error("sensor: {name: s, position: edge-side}\n" FLEET_BASE
                 "sensors:\n  - {name: a, position: edge-side, pools: [cable]}\n",
                 10, "sensor 'a' carries pool 'cable', which is not defined");
    expect_error("sensor: {name: s, position: edge-side}\n" FLEET_BASE
                 "sensors:\n  - {name: a, position: middle, pools: [ftth]}\n",
                 10, "bad value 'middle' for position");
    expect_error("sensor: {name: s, position: edge-side}\n" FLEET_BASE
                 "sensors:\n  - {name: a, position: edge-side, positions: {x: core-side}, "
                 "pools: [ftth]}\n",
                 10, "positions names blocking point 'x', which is not defined");
    expect_error("sensor: {name: s, position: edge-side}\n" FLEET_BASE
                 "sensors:\n  - {name: a, position: edge-side, pools: [ftth]}\n"
                 "  - {name: a, position: core-side, pools: [ftth]}\n",
                 11, "duplicate sensor name 'a' (first at line 10)");
    expect_error("sensor: {name: s, position: edge-side}\n" FLEET_BASE "sensors: []\n", 9,
                 "sensors must list at least one sensor");
}

/* thresholds.msa_abuse: counts from 1 in a mapping of its own; each key left out keeps its
 * default (rules/README.md, "The msa_abuse thresholds"). */
Test(policy, msa_abuse_thresholds)
{
    struct policy *policy = load_ok(HEAD POOL_P "thresholds: {score: 60}\n");
    cr_assert_eq(policy->thresholds.msa_abuse.connections, 30);
    cr_assert_eq(policy->thresholds.msa_abuse.concurrency, 10);
    cr_assert_eq(policy->thresholds.msa_abuse.auth_failures, 10);
    cr_assert_eq(policy->thresholds.msa_abuse.quota_replies, 3);
    cr_assert_eq(policy->thresholds.msa_abuse.rcpt, 200);
    policy_free(policy);
    policy = load_ok(HEAD POOL_P "thresholds:\n  msa_abuse: {connections: 1, rcpt: 4294967295}\n");
    cr_assert_eq(policy->thresholds.msa_abuse.connections, 1);
    cr_assert_eq(policy->thresholds.msa_abuse.rcpt, UINT32_MAX);
    cr_assert_eq(policy->thresholds.msa_abuse.concurrency, 10);
    policy_free(policy);
}

Test(policy_errors, msa_abuse_thresholds)
{
    expect_error(HEAD POOL_P "thresholds:\n  msa_abuse: 5\n", 10, "msa_abuse");
    expect_error(HEAD POOL_P "thresholds:\n  msa_abuse:\n    concurrency: 0\n", 11, "concurrency");
    expect_error(HEAD POOL_P "thresholds:\n  msa_abuse:\n    auth_failures: 4294967296\n", 11,
                 "auth_failures");
    expect_error(HEAD POOL_P "thresholds:\n  msa_abuse:\n    quota: 3\n", 11,
                 "unknown key 'quota' in msa_abuse");
}

Test(policy, planned_close_of_port_25)
{
    struct policy *policy = load_ok(
        HEAD POOL_P "msas:\n"
                    "  - {name: a, prefixes: [192.0.2.25], ports: [25, 587], planned_close: [25]}\n"
                    "  - {name: b, prefixes: [192.0.2.26], ports: [25, 587], planned_close: []}\n"
                    "  - {name: c, prefixes: [192.0.2.27], ports: [25]}\n");
    cr_assert(policy->msas[0].port25_planned_close);
    cr_assert(!policy->msas[1].port25_planned_close);
    cr_assert(!policy->msas[2].port25_planned_close);
    cr_assert(policy_msa_closing(policy, 0, 25));
    cr_assert(!policy_msa_closing(policy, 0, 587));
    cr_assert(!policy_msa_closing(policy, 1, 25));
    cr_assert(!policy_msa_closing(policy, -1, 25));
    /* The MSA still serves port 25 until it closes: the pool may use it. */
    cr_assert(policy_msa_allows(policy, 0, 0, 25));
    policy_free(policy);
}

Test(policy_errors, planned_close)
{
    /* A port the MSA does not serve, another port than 25, a repeat, a list of no port. */
    expect_error(HEAD POOL_P "msas:\n"
                             "  - name: a\n"
                             "    prefixes: [192.0.2.25]\n"
                             "    ports: [587, 465]\n"
                             "    planned_close: [25]\n",
                 13, "planned_close: MSA 'a' does not serve port 25 (not in its ports)");
    expect_error(HEAD POOL_P "msas:\n"
                             "  - name: a\n"
                             "    prefixes: [192.0.2.25]\n"
                             "    ports: [25, 587]\n"
                             "    planned_close:\n"
                             "      - 25\n"
                             "      - 587\n",
                 15, "only port 25 can be planned to close");
    expect_error(HEAD POOL_P "msas:\n"
                             "  - name: a\n"
                             "    prefixes: [192.0.2.25]\n"
                             "    ports: [25]\n"
                             "    planned_close: [25, 25]\n",
                 13, "port 25 is listed twice in planned_close of MSA 'a'");
    expect_error(HEAD POOL_P "msas:\n"
                             "  - name: a\n"
                             "    prefixes: [192.0.2.25]\n"
                             "    ports: [25]\n"
                             "    planned_close: 25\n",
                 13, "planned_close");
    expect_error(HEAD POOL_P "msas:\n"
                             "  - name: a\n"
                             "    prefixes: [192.0.2.25]\n"
                             "    ports: [25]\n"
                             "    planned_close: [smtp]\n",
                 13, "port");
}

Test(policy_events, defaults_write_every_attempt)
{
    struct policy *policy = load_ok(HEAD POOL_P);
    cr_assert_eq(policy->events.summarize, 0);
    /* The summary interval follows sensor.stats_interval unless set. */
    cr_assert_eq(policy->events.summary_interval, policy->stats_interval);
    cr_assert_eq(policy->events.summary_subscribers, 1u << 20);
    for (int t = 0; t < POLICY_FINDING_TYPES; t++)
        cr_assert_eq(policy->events.max_per_minute[t], 0);
    policy_free(policy);

    policy = load_ok("sensor: {name: s1, position: edge-side, stats_interval: 5m}\n"
                     "own_prefixes: []\npools:\n" POOL_P "events: {summarize: []}\n");
    cr_assert_eq(policy->events.summarize, 0);
    cr_assert_eq(policy->events.summary_interval, 300 * PACKET_TIME_SECOND);
    policy_free(policy);
}

Test(policy_events, every_key)
{
    struct policy *policy = load_ok(HEAD POOL_P "events:\n"
                                                "  summarize: [blocked, would_block, unknown]\n"
                                                "  summary_interval: 10m\n"
                                                "  summary_subscribers: 5000\n"
                                                "  max_per_minute:\n"
                                                "    bot_suspect: 100\n"
                                                "    spoofed_source: 1\n"
                                                "    third_party_submission: 4294967295\n");
    cr_assert_eq(policy->events.summarize, (1u << 1) | (1u << 3) | (1u << 4));
    cr_assert_eq(policy->events.summary_interval, 600 * PACKET_TIME_SECOND);
    cr_assert_eq(policy->events.summary_subscribers, 5000);
    cr_assert_eq(policy->events.max_per_minute[4], 100); /* bot_suspect */
    cr_assert_eq(policy->events.max_per_minute[1], 1);   /* spoofed_source */
    cr_assert_eq(policy->events.max_per_minute[8], UINT32_MAX);
    cr_assert_eq(policy->events.max_per_minute[0], 0);
    policy_free(policy);

    policy = load_ok(HEAD POOL_P "events: {summarize: [allowed]}\n");
    cr_assert_eq(policy->events.summarize, 1u);
    policy_free(policy);
}

Test(policy_events, errors_say_where)
{
    /* HEAD and POOL_P take lines 1 to 8; "events:" is line 9. */
    expect_error(HEAD POOL_P "events:\n  summarize: [blocked, leaked]\n", 10,
                 "leaked attempts cannot be summarized");
    expect_error(HEAD POOL_P "events:\n  summarize:\n    - blocked\n    - leaked\n", 12,
                 "leaked attempts cannot be summarized");
    expect_error(HEAD POOL_P "events:\n  summarize: [blocked, blocked]\n", 10,
                 "verdict 'blocked' is listed twice in summarize");
    expect_error(HEAD POOL_P "events:\n  summarize: [held]\n", 10,
                 "bad value 'held' for summarize (expected one of: allowed, blocked, leaked, "
                 "would_block, unknown)");
    expect_error(HEAD POOL_P "events:\n  summarize: blocked\n", 10, "summarize");
    expect_error(HEAD POOL_P "events:\n  summary_interval: 0s\n", 10,
                 "summary_interval must be longer than 0");
    expect_error(HEAD POOL_P "events:\n  summary_interval: soon\n", 10, "bad duration 'soon'");
    expect_error(HEAD POOL_P "events:\n  summary_subscribers: 0\n", 10,
                 "value '0' for summary_subscribers is out of range (expected 1 to 16777216)");
    expect_error(HEAD POOL_P "events:\n  max_per_minute: {attempt: 10}\n", 10,
                 "unknown key 'attempt' in max_per_minute (expected one of: asymmetric_routing");
    expect_error(HEAD POOL_P "events:\n  max_per_minute:\n    bot_suspect: 0\n", 11,
                 "value '0' for bot_suspect is out of range (expected 1 to 4294967295)");
    expect_error(HEAD POOL_P "events:\n  max_per_minute: [bot_suspect]\n", 10,
                 "expected a mapping for max_per_minute");
    expect_error(HEAD POOL_P "events:\n  summarise: [blocked]\n", 10,
                 "unknown key 'summarise' in events (expected one of: summarize, "
                 "summary_interval, summary_subscribers, max_per_minute)");
    expect_error(HEAD POOL_P "events: [blocked]\n", 9, "expected a mapping for events");
}

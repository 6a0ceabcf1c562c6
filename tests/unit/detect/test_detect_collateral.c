/* The collateral_block detector (src/detect/detect_collateral.c): findings from the attempt
 * records (port 25 to a designated MSA, allowed but refused) and from its own tracker (587,
 * 465, static port 25), once per subscriber, server, port and reason in a window, each
 * counted in the pool's coverage and naming the point that refused it. */
#include <criterion/criterion.h>
#include <string.h>

#include "detect/detect_collateral.h"

static const char policy_text[] =
    "sensor: { name: unit-collateral, position: edge-side }\n"
    "own_prefixes: [198.51.100.0/22, 2001:db8:1000::/36]\n"
    "blocking_points:\n"
    "  - { name: bras, level: terminator }\n"
    "  - { name: dsl-acl, level: edge, reject: icmp }\n"
    "  - { name: lte-acl, level: edge, state: planned }\n"
    "pools:\n"
    "  - { name: ftth, type: dynamic, prefixes: [198.51.100.0/24, 2001:db8:1000::/40],\n"
    "      blocking_point: bras }\n"
    "  - { name: dsl, type: dynamic, prefixes: [198.51.101.0/25], blocking_point: dsl-acl }\n"
    "  - { name: lte, type: dynamic, prefixes: [198.51.102.0/24], blocking_point: lte-acl }\n"
    "  - { name: business, type: static, prefixes: [198.51.101.8/29] }\n"
    "msas:\n"
    "  - { name: isp-msa, prefixes: [192.0.2.25/32], ports: [25, 587] }\n"
    "segments: [{ name: access, vlan: 100, expects: [ftth, dsl, lte, business] }]\n"
    "thresholds: { window: 300s }\n";

enum { FTTH = 0, DSL, LTE, BUSINESS };
enum { BRAS = 0, DSL_ACL };
enum { ACCESS = 0 };

#define T0 (1768467600LL * PACKET_TIME_SECOND) /* a multiple of the window */
#define FINDINGS_MAX 16

static struct policy *policy;
static struct bus bus;
static struct coverage coverage;
static struct sensor_counters counters;
static bool return_seen[2];
static struct detector *detector;
static struct finding findings[FINDINGS_MAX];
static size_t finding_count;

static void keep(void *context, const struct finding *finding)
{
    (void)context;
    cr_assert_lt(finding_count, FINDINGS_MAX);
    findings[finding_count++] = *finding;
}

static void setup(void)
{
    char error[256];
    policy = policy_load_text("unit.yaml", policy_text, strlen(policy_text), error, sizeof(error));
    cr_assert_not_null(policy, "%s", error);
    bus_init(&bus);
    cr_assert_eq(bus_subscribe(&bus, (struct bus_subscriber){.finding = keep}), 0);
    cr_assert_eq(coverage_init(&coverage, policy->pool_count), 0);
    memset(&counters, 0, sizeof(counters));
    memset(return_seen, 0, sizeof(return_seen));
    return_seen[ACCESS + 1] = true;
    finding_count = 0;
    struct detector_context context = {
        .policy = policy,
        .bus = &bus,
        .counters = &counters,
        .return_seen = return_seen,
        .coverage = &coverage,
    };
    bool disabled = true;
    detector = detect_collateral_new(&context, &disabled);
    cr_assert_not_null(detector);
    cr_assert_not(disabled);
}

static void teardown(void)
{
    detector->ops->free(detector);
    coverage_free(&coverage);
    policy_free(policy);
}

TestSuite(collateral, .init = setup, .fini = teardown);

static packet_time at(double seconds)
{
    return T0 + (packet_time)(seconds * PACKET_TIME_SECOND + 0.5);
}

static struct address ip(const char *text)
{
    struct address address;
    cr_assert(address_parse(text, &address), "bad address %s", text);
    return address;
}

/* A closed attempt as the tracker describes it. */
static struct attempt_record attempt(double seconds, const char *client, uint16_t port,
                                     const char *server, int pool, evidence_set evidence,
                                     uint16_t syns)
{
    struct attempt_record record;
    memset(&record, 0, sizeof(record));
    record.flow.src = ip(client);
    record.flow.dst = ip(server);
    record.flow.src_port = port;
    record.flow.dst_port = 25;
    record.flow.proto = IPPROTO_NUMBER_TCP;
    record.first_seen = record.last_seen = at(seconds);
    record.last_syn = at(seconds + syns - 1);
    record.pool = pool;
    record.segment = ACCESS;
    record.msa = policy_msa_of(policy, &record.flow.dst);
    record.to_designated_msa = policy_msa_allows(policy, record.msa, pool, 25);
    record.evidence = evidence;
    record.verdict = record.to_designated_msa ? VERDICT_ALLOWED : VERDICT_BLOCKED;
    record.syn_count = syns;
    record.close_reason = "syn_timeout";
    return record;
}

static void feed(struct packet *packet)
{
    if (packet->ts >= detector->due)
        detector->ops->advance(detector, packet->ts);
    detector->ops->packet(detector, packet, ACCESS);
}

/* A SYN and the ICMP 3/13 that refuses it. */
static void refused(double seconds, const char *client, uint16_t port, const char *server,
                    uint16_t server_port)
{
    struct packet packet;
    memset(&packet, 0, sizeof(packet));
    packet.ts = at(seconds);
    packet.src = ip(client);
    packet.dst = ip(server);
    packet.ip_version = packet.src.family == ADDRESS_V4 ? 4 : 6;
    packet.proto = IPPROTO_NUMBER_TCP;
    packet.src_port = port;
    packet.dst_port = server_port;
    packet.tcp_flags = TCP_SYN;
    packet.seq = 1000;
    feed(&packet);
    struct packet error = packet;
    error.ts = at(seconds + 0.001);
    error.src = ip(packet.ip_version == 4 ? "198.51.100.1" : "2001:db8:1000::1");
    error.dst = packet.src;
    error.proto = packet.ip_version == 4 ? IPPROTO_NUMBER_ICMP : IPPROTO_NUMBER_ICMPV6;
    error.is_icmp_error = true;
    error.icmp_type = packet.ip_version == 4 ? 3 : 1;
    error.icmp_code = packet.ip_version == 4 ? 13 : 1;
    error.quote.src = packet.src;
    error.quote.dst = packet.dst;
    error.quote.proto = IPPROTO_NUMBER_TCP;
    error.quote.has_ports = error.quote.has_seq = true;
    error.quote.src_port = port;
    error.quote.dst_port = server_port;
    error.quote.seq = 1000;
    feed(&error);
}

Test(collateral, an_allowed_attempt_with_block_evidence_is_a_refused_msa)
{
    struct attempt_record record =
        attempt(0, "198.51.100.10", 40000, "192.0.2.25", FTTH, EVIDENCE_BIT(EVIDENCE_NO_REPLY), 3);
    bus_attempt(&bus, &record);
    cr_assert_eq(finding_count, 1);
    const struct finding *f = &findings[0];
    cr_assert_eq(f->type, EVENT_COLLATERAL_BLOCK);
    cr_assert_eq(f->ts, at(0));
    cr_assert_eq(f->pool, FTTH);
    cr_assert_eq(finding_blocking_point(f, policy), BRAS);
    cr_assert_eq(f->as.collateral.reason, COLLATERAL_DESIGNATED_MSA);
    cr_assert_eq(f->as.collateral.evidence, COLLATERAL_NO_REPLY);
    cr_assert_eq(f->as.collateral.msa, 0);
    cr_assert_eq(f->as.collateral.syn_count, 3);
    cr_assert_eq(f->as.collateral.last_syn, at(2));
    cr_assert_not(f->as.collateral.icmp_seen);
    cr_assert_eq(coverage_get(&coverage, FTTH, ADDRESS_V4)->collateral, 1);

    /* The strongest evidence names it: an ICMP error over silence. */
    record = attempt(1, "198.51.100.11", 40001, "192.0.2.25", FTTH,
                     EVIDENCE_BIT(EVIDENCE_ICMP_ADMIN_PROHIBITED), 1);
    record.icmp_seen = true;
    record.icmp_type = 3;
    record.icmp_code = 13;
    bus_attempt(&bus, &record);
    cr_assert_eq(finding_count, 2);
    cr_assert_eq(findings[1].as.collateral.evidence, COLLATERAL_ICMP_PROHIBITED);
    cr_assert(findings[1].as.collateral.icmp_seen);
    cr_assert_eq(coverage_get(&coverage, FTTH, ADDRESS_V4)->collateral, 2);
}

Test(collateral, attempts_that_are_no_refused_msa_give_nothing)
{
    /* A lone SYN's silence; leak evidence beside block evidence; an MSA the pool may not use;
     * a pool behind a planned point; no block evidence at all. */
    struct attempt_record records[] = {
        attempt(0, "198.51.100.10", 40000, "192.0.2.25", FTTH, EVIDENCE_BIT(EVIDENCE_NO_REPLY), 1),
        attempt(0, "198.51.100.11", 40001, "192.0.2.25", FTTH,
                EVIDENCE_BIT(EVIDENCE_ICMP_ADMIN_PROHIBITED) | EVIDENCE_BIT(EVIDENCE_SYN_ACK), 1),
        attempt(0, "198.51.100.12", 40002, "203.0.113.9", FTTH,
                EVIDENCE_BIT(EVIDENCE_ICMP_ADMIN_PROHIBITED), 2),
        attempt(0, "198.51.102.10", 40003, "192.0.2.25", LTE, EVIDENCE_BIT(EVIDENCE_NO_REPLY), 3),
        attempt(0, "198.51.100.13", 40004, "192.0.2.25", FTTH, 0, 2),
    };
    for (size_t i = 0; i < sizeof(records) / sizeof(records[0]); i++)
        bus_attempt(&bus, &records[i]);
    cr_assert_eq(finding_count, 0);
    cr_assert_eq(coverage_get(&coverage, FTTH, ADDRESS_V4)->collateral, 0);
}

Test(collateral, once_per_subscriber_server_port_and_reason_in_a_window)
{
    refused(1, "198.51.101.20", 40000, "203.0.113.50", 587);
    refused(2, "198.51.101.20", 40001, "203.0.113.50", 587); /* retried: the same finding */
    refused(3, "198.51.101.20", 40002, "203.0.113.50", 465); /* another port */
    refused(4, "198.51.101.20", 40003, "203.0.113.51", 587); /* another server */
    refused(5, "198.51.101.21", 40004, "203.0.113.50", 587); /* another subscriber */
    cr_assert_eq(finding_count, 4);
    /* One IPv6 subscriber is its /64: two of its addresses are one. */
    refused(6, "2001:db8:1000:5::1", 40005, "2001:db8:f000::50", 587);
    refused(7, "2001:db8:1000:5::2", 40006, "2001:db8:f000::50", 587);
    cr_assert_eq(finding_count, 5);
    char text[PREFIX_TEXT_MAX];
    prefix_format(&findings[4].as.collateral.subscriber, text, sizeof(text));
    cr_assert_str_eq(text, "2001:db8:1000:5::/64");
    cr_assert_eq(coverage_get(&coverage, FTTH, ADDRESS_V6)->collateral, 1);
    /* The next window writes it again. */
    refused(300, "198.51.101.20", 40007, "203.0.113.50", 587);
    cr_assert_eq(finding_count, 6);
    cr_assert_eq(findings[5].ts, at(300));
    cr_assert_eq(coverage_get(&coverage, DSL, ADDRESS_V4)->collateral, 5);
    /* The same subscriber refused on port 25 of its MSA: another server, port and reason. */
    struct attempt_record record = attempt(301, "198.51.101.20", 40008, "192.0.2.25", DSL,
                                           EVIDENCE_BIT(EVIDENCE_ICMP_ADMIN_PROHIBITED), 1);
    bus_attempt(&bus, &record);
    bus_attempt(&bus, &record);
    cr_assert_eq(finding_count, 7);
    cr_assert_eq(findings[6].as.collateral.reason, COLLATERAL_DESIGNATED_MSA);
    cr_assert_eq(finding_blocking_point(&findings[6], policy), DSL_ACL);
}

Test(collateral, a_carved_static_pool_names_the_point_of_its_block)
{
    refused(1, "198.51.101.9", 40000, "203.0.113.50", 25);
    cr_assert_eq(finding_count, 1);
    const struct finding *f = &findings[0];
    cr_assert_eq(f->pool, BUSINESS);
    cr_assert_eq(policy->pools[BUSINESS].blocking_point, POLICY_NO_INDEX);
    cr_assert_eq(f->blocking_point, DSL_ACL);
    cr_assert_eq(finding_blocking_point(f, policy), DSL_ACL);
    cr_assert_eq(f->as.collateral.reason, COLLATERAL_STATIC_POOL);
    cr_assert_eq(f->as.collateral.msa, -1);
    cr_assert_eq(coverage_get(&coverage, BUSINESS, ADDRESS_V4)->collateral, 1);
}

Test(collateral, nothing_to_watch_makes_no_detector)
{
    char error[256];
    const char *text = "sensor: { name: unit, position: core-side }\n"
                       "own_prefixes: []\n"
                       "blocking_points: [{ name: bras, level: terminator }]\n"
                       "pools: [{ name: ftth, type: dynamic, prefixes: [10.0.0.0/8], "
                       "blocking_point: bras }]\n";
    struct policy *core = policy_load_text("unit.yaml", text, strlen(text), error, sizeof(error));
    cr_assert_not_null(core, "%s", error);
    struct detector_context context = {.policy = core,
                                       .bus = &bus,
                                       .counters = &counters,
                                       .return_seen = return_seen,
                                       .coverage = &coverage};
    bool disabled = false;
    cr_assert_null(detect_collateral_new(&context, &disabled));
    cr_assert(disabled);
    policy_free(core);
}

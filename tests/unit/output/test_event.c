/* Event lines: the fields of dashboards/events.md, their order and escaping, the Kafka key, and
 * which fields are left out when they are not known. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output/event.h"
#include "record/attempt_record.h"
#include "policy/policy.h"

static const char policy_text[] = "sensor:\n"
                                  "  name: test-sensor\n"
                                  "  position: edge-side\n"
                                  "own_prefixes: [128.232.0.0/16, 2001:db8::/32]\n"
                                  "blocking_points:\n"
                                  "  - name: bras-1\n"
                                  "    level: terminator\n"
                                  "    state: active\n"
                                  "    reject: icmp\n"
                                  "pools:\n"
                                  "  - name: ftth\n"
                                  "    type: dynamic\n"
                                  "    prefixes: [128.232.110.0/24, 2001:db8:1::/48]\n"
                                  "    blocking_point: bras-1\n"
                                  "    ipv6_subscriber_length: 56\n"
                                  "  - name: v4only\n"
                                  "    type: dynamic\n"
                                  "    prefixes: [128.232.111.0/24]\n"
                                  "  - name: shop\n"
                                  "    type: static\n"
                                  "    prefixes: [128.232.112.0/24]\n"
                                  "segments:\n"
                                  "  - name: access\n"
                                  "    vlan: 100\n"
                                  "    expects: [ftth]\n";

/* A sink that keeps what it is given, and can be told to fail. */
#define KEPT_MAX 16
struct memory_sink {
    struct sink base;
    char lines[KEPT_MAX][EVENT_LINE_MAX];
    char keys[KEPT_MAX][64];
    char types[KEPT_MAX][32];
    size_t count;
    bool fail;
    bool closed;
};

static int memory_write(struct sink *sink, const struct event_line *line)
{
    struct memory_sink *memory = (struct memory_sink *)sink;
    if (memory->fail || memory->count == KEPT_MAX)
        return -1;
    memcpy(memory->lines[memory->count], line->text, line->length);
    memory->lines[memory->count][line->length] = '\0';
    snprintf(memory->keys[memory->count], sizeof(memory->keys[0]), "%.*s", (int)line->key_length,
             line->key != NULL ? line->key : "");
    snprintf(memory->types[memory->count], sizeof(memory->types[0]), "%s", line->type);
    memory->count++;
    return 0;
}

static int memory_flush(struct sink *sink)
{
    (void)sink;
    return 0;
}

static uint64_t memory_close(struct sink *sink)
{
    ((struct memory_sink *)sink)->closed = true;
    return 0;
}

static const struct sink_ops memory_ops = {memory_write, memory_flush, memory_close};

static struct policy *policy;
static struct events events;
static struct memory_sink memory;

static void setup(void)
{
    char error[256];
    policy = policy_load_text("test.yaml", policy_text, strlen(policy_text), error, sizeof(error));
    cr_assert_not_null(policy, "%s", error);
    memset(&memory, 0, sizeof(memory));
    memory.base.ops = &memory_ops;
    memory.base.name = "memory";
    events_init(&events, policy);
    cr_assert_eq(events_add_sink(&events, &memory.base), 0);
}

static void teardown(void)
{
    events_close(&events);
    policy_free(policy);
}

TestSuite(event, .init = setup, .fini = teardown);

/* The Community ID specification's own TCP example: 128.232.110.120:34855 ->
 * 66.35.250.204:80 is 1:LQU9qZlK+B5F3KDmev6m5PMibrg= (seed 0). */
static void spec_attempt(struct attempt_record *attempt)
{
    memset(attempt, 0, sizeof(*attempt));
    attempt->flow.src.family = attempt->flow.dst.family = ADDRESS_V4;
    attempt->flow.proto = 6;
    const uint8_t client[4] = {128, 232, 110, 120};
    const uint8_t server[4] = {66, 35, 250, 204};
    memcpy(attempt->flow.src.bytes, client, 4);
    memcpy(attempt->flow.dst.bytes, server, 4);
    attempt->flow.src_port = 34855;
    attempt->flow.dst_port = 80;
    attempt->pool = 0;
    attempt->msa = -1;
    attempt->segment = 0;
    attempt->first_seen = 1768467600LL * PACKET_TIME_SECOND + 250000;
    attempt->last_seen = attempt->first_seen + 1500000;
    attempt->syn_count = 2;
    attempt->client_bytes = 10;
    attempt->server_bytes = 20;
}

Test(event, attempt_without_dialogue)
{
    struct attempt_record attempt;
    spec_attempt(&attempt);
    attempt.verdict = VERDICT_BLOCKED;
    attempt.evidence = EVIDENCE_BIT(EVIDENCE_NO_REPLY);
    attempt.close_reason = "syn_timeout";
    event_attempt(&events, &attempt);
    cr_assert_eq(memory.count, 1);
    cr_assert_str_eq(memory.lines[0],
                     "{\"type\":\"attempt\",\"v\":1,\"ts\":\"2026-01-15T09:00:00.250000Z\","
                     "\"sensor\":\"test-sensor\",\"src_ip\":\"128.232.110.120\",\"src_port\":34855,"
                     "\"dst_ip\":\"66.35.250.204\",\"dst_port\":80,\"proto\":\"tcp\","
                     "\"community_id\":\"1:LQU9qZlK+B5F3KDmev6m5PMibrg=\",\"pool\":\"ftth\","
                     "\"blocking_point\":\"bras-1\",\"segment\":\"access\",\"verdict\":\"blocked\","
                     "\"evidence\":[\"no_reply\"],\"syn_count\":2,\"close_reason\":\"syn_timeout\","
                     "\"duration\":1.500000,\"client_bytes\":10,\"server_bytes\":20}\n");
    cr_assert_str_eq(memory.keys[0], "128.232.110.120", "the Kafka key is the subscriber");
    cr_assert_str_eq(memory.types[0], "attempt");
}

Test(event, attempt_evidence_in_fixed_order_and_icmp_fields)
{
    struct attempt_record attempt;
    spec_attempt(&attempt);
    attempt.icmp_seen = true;
    attempt.icmp_type = 3;
    attempt.icmp_code = 13;
    attempt.icmp_from.family = ADDRESS_V4;
    const uint8_t router[4] = {128, 232, 110, 1};
    memcpy(attempt.icmp_from.bytes, router, 4);
    attempt.verdict = VERDICT_LEAKED;
    /* Set out of order on purpose: the event lists them in level order. */
    attempt.evidence = EVIDENCE_BIT(EVIDENCE_DATA) | EVIDENCE_BIT(EVIDENCE_SYN_ACK) |
                       EVIDENCE_BIT(EVIDENCE_ICMP_ADMIN_PROHIBITED);
    attempt.close_reason = "fin";
    event_attempt(&events, &attempt);
    cr_assert_not_null(
        strstr(memory.lines[0], "\"evidence\":[\"icmp_admin_prohibited\",\"syn_ack\",\"data\"]"),
        "%s", memory.lines[0]);
    cr_assert_not_null(
        strstr(memory.lines[0], "\"icmp_type\":3,\"icmp_code\":13,\"icmp_from\":\"128.232.110.1\""),
        "%s", memory.lines[0]);
}

Test(event, attempt_smtp_object_escapes_and_leaves_out_unknowns)
{
    struct attempt_record attempt;
    spec_attempt(&attempt);
    attempt.server_stream = true;
    struct smtp_facts smtp;
    memset(&smtp, 0, sizeof(smtp));
    smtp.banner_seen = true;
    smtp.banner_code = 220;
    /* Attacker-chosen text must come out as valid JSON. */
    snprintf(smtp.banner, sizeof(smtp.banner), "mx \"quoted\" \\ tab\there");
    smtp.helo_seen = true;
    smtp.ehlo = true;
    snprintf(smtp.helo, sizeof(smtp.helo), "bot\x01.example");
    smtp.auth_attempted = true; /* answer not seen: auth must be absent, not false */
    smtp.mail_count = 1;
    snprintf(smtp.mail_from_domain, sizeof(smtp.mail_from_domain), "spam.example");
    smtp.rcpt_count = 3;
    smtp.rcpt_accepted = 2;
    smtp.rcpt_rejected = 1;
    smtp.last_reply_code = 250;
    attempt.smtp = &smtp;
    attempt.verdict = VERDICT_LEAKED;
    attempt.evidence = EVIDENCE_BIT(EVIDENCE_RCPT);
    attempt.close_reason = "idle";
    event_attempt(&events, &attempt);
    const char *smtp_text = strstr(memory.lines[0], "\"smtp\":{");
    cr_assert_not_null(smtp_text, "%s", memory.lines[0]);
    cr_assert_str_eq(smtp_text, "\"smtp\":{\"banner\":\"mx \\\"quoted\\\" \\\\ tab\\there\","
                                "\"banner_code\":220,\"helo\":\"bot\\u0001.example\","
                                "\"helo_command\":\"EHLO\",\"starttls\":false,"
                                "\"mail_from_domain\":\"spam.example\",\"mail_count\":1,"
                                "\"rcpt_count\":3,\"rcpt_accepted\":2,\"rcpt_rejected\":1,"
                                "\"data_count\":0,\"messages_accepted\":0,\"last_reply\":250,"
                                "\"quit\":false}}\n");
}

Test(event, attempt_ipv6_addresses_in_canonical_form)
{
    struct attempt_record attempt;
    spec_attempt(&attempt);
    attempt.flow.src.family = attempt.flow.dst.family = ADDRESS_V6;
    const uint8_t client[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10};
    const uint8_t server[16] = {0x20, 0x01, 0x0d, 0xb8, 0xf0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x25};
    memcpy(attempt.flow.src.bytes, client, 16);
    memcpy(attempt.flow.dst.bytes, server, 16);
    attempt.verdict = VERDICT_UNKNOWN;
    attempt.close_reason = "end_of_input";
    event_attempt(&events, &attempt);
    /* RFC 5952: lower case, longest zero run compressed. */
    cr_assert_not_null(strstr(memory.lines[0], "\"src_ip\":\"2001:db8:1::10\""), "%s",
                       memory.lines[0]);
    cr_assert_not_null(strstr(memory.lines[0], "\"dst_ip\":\"2001:db8:f000::25\""), "%s",
                       memory.lines[0]);
    cr_assert_not_null(strstr(memory.lines[0], "\"evidence\":[]"), "%s", memory.lines[0]);
    cr_assert_str_eq(memory.keys[0], "2001:db8:1::/56", "the key is the subscriber prefix");
}

static void set_v6(struct address *address, uint16_t group3, uint16_t group4, uint8_t last)
{
    const uint8_t bytes[16] = {
        0x20, 0x01, 0x0d, 0xb8, group3 >> 8, group3 & 0xff, group4 >> 8, group4 & 0xff, 0, 0,
        0,    0,    0,    0,    0,           last};
    address->family = ADDRESS_V6;
    memcpy(address->bytes, bytes, 16);
}

/* Every event about one subscriber carries one key, so all of them meet in one Kafka
 * partition: two /64s of one delegated /56 (ftth: ipv6_subscriber_length 56), a finding
 * keyed by one of its addresses, and one keyed by the prefix itself (bot_suspect). */
Test(event, every_event_of_a_subscriber_has_its_prefix_as_key)
{
    struct attempt_record attempt;
    spec_attempt(&attempt);
    attempt.verdict = VERDICT_UNKNOWN;
    attempt.close_reason = "end_of_input";
    set_v6(&attempt.flow.src, 1, 0x210, 5);
    set_v6(&attempt.flow.dst, 0xf000, 0, 0x25);
    event_attempt(&events, &attempt);
    set_v6(&attempt.flow.src, 1, 0x2ff, 9);
    event_attempt(&events, &attempt);
    struct finding finding;
    finding_init(&finding, EVENT_ASYMMETRIC_ROUTING, attempt.first_seen);
    finding_set_flow(&finding, &attempt.flow);
    finding.pool = 0;
    finding.as.window.close_reason = "window_end";
    event_finding(&events, &finding);
    struct address prefix_start;
    set_v6(&prefix_start, 1, 0x200, 0);
    finding_init(&finding, EVENT_BOT_SUSPECT, attempt.first_seen);
    finding_set_key(&finding, &prefix_start);
    event_finding(&events, &finding);
    cr_assert_eq(memory.count, 4);
    for (size_t i = 0; i < memory.count; i++)
        cr_assert_str_eq(memory.keys[i], "2001:db8:1:200::/56", "event %zu (%s)", i,
                         memory.types[i]);
}

/* An IPv6 address in no pool is its /64 (policy_subscriber's default); an IPv4 address is
 * itself, for findings as for attempts; an event about no one is the sensor's. */
Test(event, keys_outside_pools_and_without_subscriber)
{
    struct finding finding;
    finding_init(&finding, EVENT_SPOOFED_SOURCE, 1768467600LL * PACKET_TIME_SECOND);
    struct flow_tuple flow = {.proto = 6, .src_port = 4000, .dst_port = 25};
    set_v6(&flow.src, 0xf000, 0x12, 7);
    set_v6(&flow.dst, 0xf000, 0, 0x25);
    finding_set_flow(&finding, &flow);
    finding.as.window.close_reason = "window_end";
    event_finding(&events, &finding);
    const uint8_t v4[4] = {198, 51, 100, 9};
    flow.src.family = flow.dst.family = ADDRESS_V4;
    memcpy(flow.src.bytes, v4, 4);
    memcpy(flow.dst.bytes, v4, 4);
    finding_set_flow(&finding, &flow);
    event_finding(&events, &finding);
    finding_init(&finding, EVENT_OPEN_SUBMISSION, 1768467600LL * PACKET_TIME_SECOND);
    finding.as.submission.msa = -1;
    event_finding(&events, &finding);
    cr_assert_eq(memory.count, 3);
    cr_assert_str_eq(memory.keys[0], "2001:db8:f000:12::/64");
    cr_assert_str_eq(memory.keys[1], "198.51.100.9");
    cr_assert_str_eq(memory.keys[2], "test-sensor");
}

Test(event, coverage_per_dynamic_pool_and_family)
{
    struct coverage coverage;
    cr_assert_eq(coverage_init(&coverage, policy->pool_count), 0);
    coverage_add(&coverage, 0, ADDRESS_V4, VERDICT_BLOCKED);
    coverage_add(&coverage, 0, ADDRESS_V4, VERDICT_BLOCKED);
    coverage_add(&coverage, 0, ADDRESS_V4, VERDICT_BLOCKED);
    coverage_add(&coverage, 0, ADDRESS_V4, VERDICT_LEAKED);
    coverage_add(&coverage, 0, ADDRESS_V4, VERDICT_ALLOWED);
    /* collateral_block findings are counted beside the attempts, never among them. */
    coverage_add_collateral(&coverage, 0, ADDRESS_V4);
    coverage_add_collateral(&coverage, 0, ADDRESS_V4);
    coverage_add_collateral(&coverage, 0, ADDRESS_V6);
    event_coverage(&events, &coverage, 1768467660LL * PACKET_TIME_SECOND, true);
    coverage_free(&coverage);
    /* ftth has IPv4 and IPv6 prefixes, v4only only IPv4, the static pool none. */
    cr_assert_eq(memory.count, 3);
    cr_assert_str_eq(memory.lines[0],
                     "{\"type\":\"coverage\",\"v\":1,\"ts\":\"2026-01-15T09:01:00.000000Z\","
                     "\"sensor\":\"test-sensor\",\"pool\":\"ftth\",\"blocking_point\":"
                     "\"bras-1\",\"level\":\"terminator\",\"state\":\"active\",\"reject\":"
                     "\"icmp\",\"position\":\"edge-side\",\"ip_version\":4,\"attempts\":5,"
                     "\"allowed\":1,\"blocked\":3,\"leaked\":1,\"would_block\":0,\"unknown\":0,"
                     "\"coverage\":0.7500,\"collateral\":2,\"final\":true}\n");
    /* Nothing blocked or leaked: the ratio is unknown, so it is left out, not 0. */
    cr_assert_null(strstr(memory.lines[1], "\"coverage\":"), "%s", memory.lines[1]);
    cr_assert_not_null(strstr(memory.lines[1], "\"ip_version\":6"));
    cr_assert_not_null(strstr(memory.lines[1], "\"collateral\":1,"), "%s", memory.lines[1]);
    cr_assert_not_null(strstr(memory.lines[2], "\"pool\":\"v4only\""));
    cr_assert_null(strstr(memory.lines[2], "blocking_point"), "no blocking point named");
    cr_assert_str_eq(memory.keys[0], "test-sensor");
}

Test(event, sensor_stats_counts_itself_and_sink_errors)
{
    struct attempt_record attempt;
    spec_attempt(&attempt);
    attempt.verdict = VERDICT_UNKNOWN;
    attempt.close_reason = "shutdown";
    event_attempt(&events, &attempt);
    memory.fail = true;
    event_attempt(&events, &attempt);
    memory.fail = false;
    struct sensor_counters counters;
    memset(&counters, 0, sizeof(counters));
    counters.packets = 7;
    counters.decode[DECODE_TRUNCATED] = 2;
    counters.packets_cut = 5;
    counters.time_outliers = 3;
    event_sensor_stats(&events, &counters, 96, attempt.first_seen, false);
    cr_assert_eq(memory.count, 2);
    const char *stats = memory.lines[1];
    cr_assert_not_null(strstr(stats, "\"packets\":7,"), "%s", stats);
    cr_assert_not_null(strstr(stats, "\"decode_truncated\":2,"), "%s", stats);
    cr_assert_not_null(strstr(stats, "\"snaplen\":96,\"packets_cut\":5,"), "%s", stats);
    cr_assert_not_null(strstr(stats, "\"time_outliers\":3,"), "%s", stats);
    cr_assert_not_null(strstr(stats, "\"events_attempt\":2,"), "%s", stats);
    cr_assert_not_null(strstr(stats, "\"events_sensor_stats\":1,"), "%s", stats);
    cr_assert_not_null(strstr(stats, "\"sink_errors\":1,"), "%s", stats);
    cr_assert_not_null(strstr(stats, "\"final\":false}\n"), "%s", stats);
}

Test(event, close_closes_every_sink)
{
    cr_assert_eq(events_close(&events), 0);
    cr_assert(memory.closed);
}

/* Pools and segments past the ones whose members are formatted once at start (the first
 * EVENT_PLACES_CACHED of each) are written as the cached ones are. */
Test(event_places, pools_past_the_cached_ones_read_the_same)
{
    enum { POOLS = EVENT_PLACES_CACHED + 6 };
    static char text[32768];
    int used = snprintf(text, sizeof(text),
                        "sensor:\n  name: \"quoted \\\"name\\\"\"\n  position: edge-side\n"
                        "own_prefixes: [10.0.0.0/8]\nblocking_points:\n"
                        "  - name: bp\n    level: edge\n    state: active\n    reject: drop\n"
                        "pools:\n");
    for (int p = 0; p < POOLS; p++)
        used += snprintf(text + used, sizeof(text) - (size_t)used,
                         "  - name: pool-%d\n    type: dynamic\n    prefixes: [10.%d.0.0/16]\n%s",
                         p, p, p % 2 == 0 ? "    blocking_point: bp\n" : "");
    used += snprintf(text + used, sizeof(text) - (size_t)used, "segments:\n");
    for (int s = 0; s < POOLS; s++)
        used += snprintf(text + used, sizeof(text) - (size_t)used,
                         "  - name: seg-%d\n    vlan: %d\n    expects: [pool-%d]\n", s, s + 1, s);
    char error[256];
    struct policy *many = policy_load_text("many.yaml", text, (size_t)used, error, sizeof(error));
    cr_assert_not_null(many, "%s", error);
    struct memory_sink kept;
    memset(&kept, 0, sizeof(kept));
    kept.base.ops = &memory_ops;
    kept.base.name = "memory";
    struct events *lines = malloc(sizeof(*lines));
    cr_assert_not_null(lines);
    events_init(lines, many);
    cr_assert_eq(events_add_sink(lines, &kept.base), 0);
    const int pools[] = {
        0, 1, EVENT_PLACES_CACHED - 1, EVENT_PLACES_CACHED, EVENT_PLACES_CACHED + 1, POOLS - 1, -1};
    for (size_t i = 0; i < sizeof(pools) / sizeof(pools[0]); i++) {
        struct attempt_record attempt;
        spec_attempt(&attempt);
        attempt.pool = pools[i];
        attempt.segment = pools[i];
        attempt.verdict = VERDICT_BLOCKED;
        attempt.close_reason = "syn_timeout";
        event_attempt(lines, &attempt);
        char want[256];
        if (pools[i] < 0)
            snprintf(want, sizeof(want),
                     "\"community_id\":\"1:LQU9qZlK+B5F3KDmev6m5PMibrg=\","
                     "\"verdict\"");
        else
            snprintf(want, sizeof(want),
                     "\"pool\":\"pool-%d\",%s\"segment\":\"seg-%d\",\"verdict\"", pools[i],
                     pools[i] % 2 == 0 ? "\"blocking_point\":\"bp\"," : "", pools[i]);
        cr_assert_not_null(strstr(kept.lines[i], want), "pool %d: %s", pools[i], kept.lines[i]);
        cr_assert_not_null(strstr(kept.lines[i], ",\"sensor\":\"quoted \\\"name\\\"\",\"src_ip\""),
                           "%s", kept.lines[i]);
    }
    events_close(lines);
    free(lines);
    policy_free(many);
}

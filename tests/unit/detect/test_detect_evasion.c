/* The evasion detections (src/detect/detect_evasion.c), fed decoded packets built here: each
 * detection, each false-positive trap of docs/concepts.md, the windows and the bounds. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/detect_evasion.h"
#include "output/event.h"
#include "policy/policy.h"

/* The address plan of tests/scenarios/evasion.yaml, in small. */
static const char policy_text[] =
    "sensor: { name: unit-evasion, position: edge-side }\n"
    "own_prefixes: [198.51.100.0/22, 2001:db8:1000::/36, 198.18.10.0/24]\n"
    "pools:\n"
    "  - { name: ftth, type: dynamic, prefixes: [198.51.100.0/24, 2001:db8:1000::/40],\n"
    "      blocking_point: bras }\n"
    "  - { name: dsl, type: dynamic, prefixes: [198.51.101.0/24] }\n"
    "  - { name: business, type: static, prefixes: [198.51.103.0/24] }\n"
    "  - { name: isp-b, type: dynamic, prefixes: [198.18.64.0/20] }\n"
    "  - { name: hosted, type: static, prefixes: [198.18.20.0/24] }\n"
    "msas:\n"
    "  - { name: isp-msa, prefixes: [192.0.2.25/32], ports: [25, 587] }\n"
    "  - { name: partner-msa, prefixes: [192.0.2.26/32], ports: [25], pools: [dsl] }\n"
    "  - { name: isp-b-msa, prefixes: [198.18.90.25/32], ports: [25, 587], pools: [isp-b] }\n"
    "blocking_points:\n"
    "  - { name: bras, level: terminator }\n"
    "segments:\n"
    "  - { name: access-a, vlan: 100, expects: [ftth, dsl] }\n"
    "  - { name: access-b, vlan: 110, expects: [ftth] }\n"
    "  - { name: business, vlan: 200, expects: [business] }\n"
    "  - { name: transit-b, vlan: 400, expects: [isp-b] }\n"
    "thresholds: { window: 60s }\n"
    "timeouts: { syn: 30s, smtp_idle: 600s }\n";

enum { ACCESS_A = 0, ACCESS_B, BUSINESS, TRANSIT_B, NO_SEGMENT = -1 };

#define KEPT_MAX 64
struct memory_sink {
    struct sink base;
    char lines[KEPT_MAX][EVENT_LINE_MAX];
    char keys[KEPT_MAX][64];
    size_t count;
};

static int memory_write(struct sink *sink, const struct event_line *line)
{
    struct memory_sink *memory = (struct memory_sink *)sink;
    if (memory->count == KEPT_MAX)
        return -1;
    memcpy(memory->lines[memory->count], line->text, line->length);
    memory->lines[memory->count][line->length] = '\0';
    snprintf(memory->keys[memory->count], sizeof(memory->keys[0]), "%.*s", (int)line->key_length,
             line->key != NULL ? line->key : "");
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
    (void)sink;
    return 0;
}

static const struct sink_ops memory_ops = {
    .write = memory_write, .flush = memory_flush, .close = memory_close};

static struct policy *policy;
static struct events events;
static struct bus bus; /* the detectors' findings become the events' lines */
static struct memory_sink memory;
static struct sensor_counters counters;
static bool return_seen[8];
static struct detector *detector;

#define T0 (1768467600LL * PACKET_TIME_SECOND)

static void start(const char *text)
{
    char error[256];
    policy = policy_load_text("unit.yaml", text, strlen(text), error, sizeof(error));
    cr_assert_not_null(policy, "%s", error);
    memset(&memory, 0, sizeof(memory));
    memory.base.ops = &memory_ops;
    memory.base.name = "memory";
    events_init(&events, policy);
    cr_assert_eq(events_add_sink(&events, &memory.base), 0);
    bus_init(&bus);
    cr_assert_eq(bus_subscribe(&bus, events_subscriber(&events)), 0);
    struct detector_context context = {
        .policy = policy,
        .bus = &bus,
        .counters = &counters,
        .return_seen = return_seen,
    };
    bool disabled = true;
    detector = detect_evasion_new(&context, &disabled);
    cr_assert_not_null(detector);
    cr_assert_not(disabled);
}

/* What makes the mirror two-way on a segment: traffic leaving the ISP seen there. */
static void outbound_web(int segment);

static void setup(void)
{
    start(policy_text);
    for (int segment = 0; segment < 4; segment++)
        outbound_web(segment);
}

static void teardown(void)
{
    detector->ops->free(detector);
    events_close(&events);
    policy_free(policy);
}

TestSuite(evasion, .init = setup, .fini = teardown);

static struct address ip(const char *text)
{
    struct address address;
    cr_assert(address_parse(text, &address), "bad address %s", text);
    return address;
}

/* A TCP packet as decode_packet() leaves it, on the VLAN of segment (none for -1). */
static struct packet tcp(double seconds, const char *src, uint16_t src_port, const char *dst,
                         uint16_t dst_port, uint8_t flags, uint32_t seq, uint32_t ack,
                         uint32_t payload_length)
{
    static const uint8_t payload[1500];
    struct packet packet;
    memset(&packet, 0, sizeof(packet));
    packet.ts = T0 + (packet_time)(seconds * PACKET_TIME_SECOND);
    packet.src = ip(src);
    packet.dst = ip(dst);
    packet.ip_version = packet.src.family == ADDRESS_V4 ? 4 : 6;
    packet.proto = IPPROTO_NUMBER_TCP;
    packet.ttl = 64;
    packet.src_port = src_port;
    packet.dst_port = dst_port;
    packet.tcp_flags = flags;
    packet.seq = seq;
    packet.ack = ack;
    packet.payload = payload;
    packet.payload_length = payload_length;
    packet.has_mac = true;
    const uint8_t src_mac[6] = {0x02, 0, 0x5e, 0x10, 0, 0x01};
    const uint8_t dst_mac[6] = {0x02, 0, 0x5e, 0x10, 0, 0x02};
    memcpy(packet.src_mac, src_mac, 6);
    memcpy(packet.dst_mac, dst_mac, 6);
    return packet;
}

/* The packet as seen on segment's VLAN (none for -1). */
static struct packet on_segment(const struct packet *packet, int segment)
{
    static const uint16_t vlans[] = {100, 110, 200, 400};
    struct packet copy = *packet;
    if (segment >= 0) {
        copy.vlan_count = 1;
        copy.vlan[0] = vlans[segment];
    }
    return copy;
}

/* What the sensor does per packet: time first, then the packet with its segment. */
static void feed(const struct packet *packet, int segment)
{
    struct packet copy = on_segment(packet, segment);
    detector->ops->advance(detector, copy.ts);
    detector->ops->packet(detector, &copy, segment);
}

static void outbound_web(int segment)
{
    struct packet p = tcp(0.0, "198.51.100.200", 52000, "203.0.113.80", 443, TCP_SYN, 1, 0, 0);
    p.proto = IPPROTO_NUMBER_UDP; /* any protocol will do */
    feed(&p, segment);
}

static void finish(double seconds)
{
    detector->ops->finish(detector, T0 + (packet_time)(seconds * PACKET_TIME_SECOND),
                          "end_of_input");
}

/* The lines of one event type, in order. */
static size_t lines_of(const char *type, const char **found, size_t capacity)
{
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "{\"type\":\"%s\",", type);
    size_t count = 0;
    for (size_t i = 0; i < memory.count; i++) {
        if (strncmp(memory.lines[i], prefix, strlen(prefix)) == 0 && count < capacity)
            found[count++] = memory.lines[i];
    }
    return count;
}

static const char *only(const char *type)
{
    const char *found[KEPT_MAX];
    size_t count = lines_of(type, found, KEPT_MAX);
    cr_assert_eq(count, 1, "%zu %s events, expected 1", count, type);
    return found[0];
}

static void has(const char *line, const char *fragment)
{
    cr_assert_not_null(strstr(line, fragment), "no %s in\n%s", fragment, line);
}

static void lacks(const char *line, const char *fragment)
{
    cr_assert_null(strstr(line, fragment), "%s should not be in\n%s", fragment, line);
}

static const char *key_of(const char *line)
{
    for (size_t i = 0; i < memory.count; i++) {
        if (memory.lines[i] == line)
            return memory.keys[i];
    }
    return "";
}

static void a_session(double t, const char *client, uint16_t port, const char *server, int segment)
{
    struct packet p = tcp(t, client, port, server, 25, TCP_SYN, 1000, 0, 0);
    feed(&p, segment);
    p = tcp(t + 0.01, client, port, server, 25, TCP_ACK, 1001, 5001, 0);
    feed(&p, segment);
    p = tcp(t + 0.02, client, port, server, 25, TCP_ACK | TCP_PSH, 1001, 5001, 20);
    feed(&p, segment);
}

/* Asymmetric routing ----------------------------------------------------------------- */

Test(evasion, asymmetric_routing_dynamic_source_on_the_static_segment)
{
    a_session(1.0, "198.51.100.10", 40001, "203.0.113.10", BUSINESS);
    /* The answers come back on the subscriber's own segment: nothing to say about them. */
    struct packet answer =
        tcp(1.015, "203.0.113.10", 25, "198.51.100.10", 40001, TCP_ACK | TCP_PSH, 5001, 1021, 30);
    feed(&answer, ACCESS_A);
    cr_assert_eq(memory.count, 0, "written before its window closed: %s", memory.lines[0]);
    finish(2.0);
    cr_assert_eq(memory.count, 1);
    const char *line = only("asymmetric_routing");
    has(line, "\"ts\":\"2026-01-15T09:00:01.000000Z\"");
    has(line, "\"src_ip\":\"198.51.100.10\",\"src_port\":40001,\"dst_ip\":\"203.0.113.10\","
              "\"dst_port\":25,\"proto\":\"tcp\"");
    has(line, "\"pool\":\"ftth\",\"blocking_point\":\"bras\",\"segment\":\"business\"");
    has(line, "\"expected_segments\":[\"access-a\",\"access-b\"]");
    has(line, "\"count\":3,\"syn_count\":1,\"payload_packets\":1");
    has(line, "\"first_seen\":\"2026-01-15T09:00:01.000000Z\"");
    has(line, "\"last_seen\":\"2026-01-15T09:00:01.020000Z\"");
    has(line, "\"vlan\":200");
    has(line, "\"src_mac\":\"02:00:5e:10:00:01\"");
    has(line, "\"close_reason\":\"end\"");
    cr_assert_str_eq(key_of(line), "198.51.100.10");
}

Test(evasion, asymmetric_routing_one_event_per_subscriber_segment_and_window)
{
    a_session(1.0, "198.51.100.10", 40001, "203.0.113.10", BUSINESS);
    a_session(20.0, "198.51.100.10", 40002, "203.0.113.11", BUSINESS);
    a_session(30.0, "198.51.101.10", 40003, "203.0.113.12", ACCESS_B); /* dsl: not on b */
    a_session(70.0, "198.51.100.10", 40004, "203.0.113.13", BUSINESS);
    /* The window of 60 s from 1.0 closed at 61.0, when time passed it. */
    const char *found[KEPT_MAX];
    cr_assert_eq(lines_of("asymmetric_routing", found, KEPT_MAX), 1);
    has(found[0], "\"count\":6,\"syn_count\":2");
    has(found[0], "\"close_reason\":\"window\"");
    finish(80.0);
    cr_assert_eq(lines_of("asymmetric_routing", found, KEPT_MAX), 3);
    has(found[1], "\"src_ip\":\"198.51.101.10\"");
    has(found[1], "\"pool\":\"dsl\",\"segment\":\"access-b\"");
    has(found[1], "\"expected_segments\":[\"access-a\"]");
    has(found[2], "\"src_ip\":\"198.51.100.10\",\"src_port\":40004");
    has(found[2], "\"count\":3,");
    has(found[2], "\"close_reason\":\"end\"");
}

Test(evasion, ecmp_a_pool_expected_on_two_segments_is_no_finding)
{
    a_session(1.0, "198.51.100.10", 40001, "203.0.113.10", ACCESS_A);
    a_session(2.0, "198.51.100.10", 40002, "203.0.113.10", ACCESS_B);
    a_session(3.0, "198.51.100.11", 40003, "203.0.113.10", ACCESS_B);
    a_session(4.0, "198.51.101.11", 40004, "203.0.113.10", ACCESS_A);
    finish(5.0);
    cr_assert_eq(memory.count, 0, "%s", memory.lines[0]);
}

Test(evasion, a_packet_on_no_segment_says_nothing_about_its_path)
{
    a_session(1.0, "198.51.100.10", 40001, "203.0.113.10", NO_SEGMENT);
    a_session(1.5, "198.18.64.10", 40002, "203.0.113.10", NO_SEGMENT);
    finish(2.0);
    cr_assert_eq(memory.count, 0, "%s", memory.lines[0]);
}

Test(evasion, asymmetric_routing_ipv6_subscriber_is_its_prefix)
{
    a_session(1.0, "2001:db8:1000:1::10", 40001, "2001:db8:f000::25", BUSINESS);
    a_session(2.0, "2001:db8:1000:1:abcd::99", 40002, "2001:db8:f000::25", BUSINESS);
    a_session(3.0, "2001:db8:1000:2::10", 40003, "2001:db8:f000::25", BUSINESS);
    finish(4.0);
    const char *found[KEPT_MAX];
    cr_assert_eq(lines_of("asymmetric_routing", found, KEPT_MAX), 2);
    has(found[0], "\"src_ip\":\"2001:db8:1000:1::10\"");
    has(found[0], "\"subscriber_prefix\":\"2001:db8:1000:1::/64\"");
    has(found[0], "\"count\":6,\"syn_count\":2");
    has(found[1], "\"subscriber_prefix\":\"2001:db8:1000:2::/64\"");
}

Test(evasion, only_port_25_and_only_dynamic_sources)
{
    struct packet p = tcp(1.0, "198.51.100.10", 40001, "203.0.113.10", 587, TCP_SYN, 1, 0, 0);
    feed(&p, BUSINESS);
    p = tcp(1.1, "198.51.100.10", 40001, "203.0.113.10", 443, TCP_SYN, 1, 0, 0);
    feed(&p, BUSINESS);
    p = tcp(1.2, "198.51.103.10", 40001, "203.0.113.10", 25, TCP_SYN, 1, 0, 0);
    feed(&p, ACCESS_A); /* a static line on the dynamic segment is no way around OP25B */
    finish(2.0);
    cr_assert_eq(memory.count, 0, "%s", memory.lines[0]);
}

/* Spoofed sources --------------------------------------------------------------------- */

Test(evasion, spoofed_source_ipv4_with_its_segment)
{
    struct packet p = tcp(1.0, "192.0.2.99", 50001, "203.0.113.20", 25, TCP_SYN, 7, 0, 0);
    p.has_pppoe = true;
    p.pppoe_session = 0x1234;
    feed(&p, ACCESS_A);
    p.ts += PACKET_TIME_SECOND;
    feed(&p, ACCESS_A);
    finish(3.0);
    const char *line = only("spoofed_source");
    has(line, "\"src_ip\":\"192.0.2.99\",\"src_port\":50001,\"dst_ip\":\"203.0.113.20\"");
    has(line, "\"segment\":\"access-a\",\"count\":2,\"syn_count\":2");
    has(line, "\"pppoe_session\":4660");
    lacks(line, "\"pool\"");
    cr_assert_str_eq(key_of(line), "192.0.2.99");
}

Test(evasion, spoofed_source_ipv6)
{
    struct packet p =
        tcp(1.0, "2001:db8:e000::99", 50001, "2001:db8:f000::25", 25, TCP_SYN, 7, 0, 0);
    feed(&p, ACCESS_B);
    finish(2.0);
    const char *line = only("spoofed_source");
    has(line, "\"src_ip\":\"2001:db8:e000::99\"");
    has(line, "\"segment\":\"access-b\"");
}

Test(evasion, not_spoofed_own_space_pools_outside_it_inbound_and_off_segment)
{
    /* A multihomed customer's own block is in own_prefixes but in no pool. */
    a_session(1.0, "198.18.10.5", 40001, "203.0.113.10", BUSINESS);
    /* A model-B ISP's subscribers: not the ISP's space, but a declared pool. */
    a_session(2.0, "198.18.64.10", 40002, "198.18.90.25", TRANSIT_B);
    /* The Internet reaching a subscriber's own MTA (draft 4.4.6): towards the ISP. */
    a_session(3.0, "203.0.113.7", 40003, "198.51.100.30", ACCESS_A);
    a_session(3.5, "203.0.113.7", 40004, "198.18.10.25", BUSINESS);
    /* A static pool outside own_prefixes (a customer's own space, named by the policy). */
    a_session(3.8, "198.18.20.5", 40006, "203.0.113.10", BUSINESS);
    /* Seen on no subscriber segment: transit, not a subscriber without validation. */
    a_session(4.0, "192.0.2.99", 40005, "203.0.113.10", NO_SEGMENT);
    finish(5.0);
    cr_assert_eq(memory.count, 0, "%s", memory.lines[0]);
}

Test(evasion, without_own_prefixes_no_source_is_called_spoofed)
{
    detector->ops->free(detector);
    events_close(&events);
    policy_free(policy);
    start("sensor: { name: unit, position: edge-side }\n"
          "own_prefixes: []\n"
          "pools: [{ name: ftth, type: dynamic, prefixes: [198.51.100.0/24] }]\n");
    struct packet p = tcp(1.0, "192.0.2.99", 50001, "203.0.113.20", 25, TCP_SYN, 7, 0, 0);
    feed(&p, NO_SEGMENT);
    finish(2.0);
    cr_assert_eq(memory.count, 0, "%s", memory.lines[0]);
}

Test(evasion, without_segments_the_whole_capture_is_a_subscriber_segment)
{
    detector->ops->free(detector);
    events_close(&events);
    policy_free(policy);
    start("sensor: { name: unit, position: edge-side }\n"
          "own_prefixes: [198.51.100.0/24]\n"
          "pools: [{ name: ftth, type: dynamic, prefixes: [198.51.100.0/24] }]\n");
    struct packet p = tcp(1.0, "192.0.2.99", 50001, "203.0.113.20", 25, TCP_SYN, 7, 0, 0);
    feed(&p, NO_SEGMENT);
    finish(2.0);
    const char *line = only("spoofed_source");
    lacks(line, "\"segment\"");
}

/* Triangular spamming --------------------------------------------------------------- */

/* The bot's spoofed SYN: relay R as source, target M, ISN x. */
static void spoofed_syn(double t, const char *relay, const char *target, uint32_t isn, int segment)
{
    struct packet p = tcp(t, relay, 50001, target, 25, TCP_SYN, isn, 0, 0);
    feed(&p, segment);
}

Test(evasion, triangular_spam_rewritten_destination)
{
    spoofed_syn(1.0, "192.0.2.66", "203.0.113.30", 900000, ACCESS_A);
    /* The relay rewrote the destination to the bot: SYN-ACK, then the banner (same ack). */
    struct packet p =
        tcp(1.2, "203.0.113.30", 25, "198.51.100.40", 50001, TCP_SYN | TCP_ACK, 77, 900001, 0);
    feed(&p, ACCESS_A);
    p = tcp(1.3, "203.0.113.30", 25, "198.51.100.40", 50001, TCP_ACK | TCP_PSH, 78, 900001, 30);
    feed(&p, ACCESS_A);
    const char *line = only("triangular_spam");
    has(line, "\"ts\":\"2026-01-15T09:00:01.000000Z\"");
    has(line, "\"src_ip\":\"198.51.100.40\",\"src_port\":50001,\"dst_ip\":\"203.0.113.30\","
              "\"dst_port\":25");
    has(line, "\"pool\":\"ftth\",\"blocking_point\":\"bras\",\"segment\":\"access-a\"");
    has(line, "\"relay_ip\":\"192.0.2.66\",\"variant\":\"rewritten\"");
    has(line, "\"reply_segment\":\"access-a\",\"isn\":900000,\"syn_count\":1");
    has(line, "\"reply_seen\":\"2026-01-15T09:00:01.200000Z\"");
    lacks(line, "\"tunnel\"");
    cr_assert_str_eq(key_of(line), "198.51.100.40");
    finish(2.0);
    /* The same packets also show the missing source validation and the missing inbound ACL. */
    has(only("spoofed_source"), "\"src_ip\":\"192.0.2.66\"");
    const char *inbound = only("inbound_acl_violation");
    has(inbound, "\"src_ip\":\"203.0.113.30\",\"src_port\":25,\"dst_ip\":\"198.51.100.40\"");
    has(inbound, "\"backscatter\":false");
}

static void tunnelled_answer(double t, enum tunnel_kind kind, const char *relay,
                             const char *spammer, const char *target, uint32_t ack)
{
    struct packet p = tcp(t, target, 25, relay, 50001, TCP_SYN | TCP_ACK, 77, ack, 0);
    p.tunnel = (uint8_t)kind;
    p.tunnel_depth = 1;
    p.outer_src = ip(relay);
    p.outer_dst = ip(spammer);
    feed(&p, ACCESS_A);
}

Test(evasion, triangular_spam_in_ip_in_ip)
{
    spoofed_syn(1.0, "192.0.2.67", "203.0.113.31", 123, ACCESS_A);
    tunnelled_answer(1.2, TUNNEL_IPIP, "192.0.2.67", "198.51.100.41", "203.0.113.31", 124);
    const char *line = only("triangular_spam");
    has(line, "\"src_ip\":\"198.51.100.41\",\"src_port\":50001,\"dst_ip\":\"203.0.113.31\"");
    has(line, "\"relay_ip\":\"192.0.2.67\",\"variant\":\"tunnelled\",\"tunnel\":\"ipip\","
              "\"tunnel_src\":\"192.0.2.67\"");
    finish(2.0);
    /* Inside the tunnel the answer goes to the relay: no port-25 packet reached the bot. */
    const char *found[KEPT_MAX];
    cr_assert_eq(lines_of("inbound_acl_violation", found, KEPT_MAX), 0);
}

Test(evasion, triangular_spam_in_gre_and_ipv6)
{
    spoofed_syn(1.0, "192.0.2.68", "203.0.113.32", 0xffffffffu, ACCESS_A);
    tunnelled_answer(1.2, TUNNEL_GRE, "192.0.2.68", "198.51.100.42", "203.0.113.32", 0);
    spoofed_syn(2.0, "2001:db8:e000::66", "2001:db8:f000::25", 55, ACCESS_B);
    tunnelled_answer(2.2, TUNNEL_6IN6, "2001:db8:e000::66", "2001:db8:1000:5::42",
                     "2001:db8:f000::25", 56);
    const char *found[KEPT_MAX];
    cr_assert_eq(lines_of("triangular_spam", found, KEPT_MAX), 2);
    has(found[0], "\"relay_ip\":\"192.0.2.68\",\"variant\":\"tunnelled\",\"tunnel\":\"gre\"");
    has(found[0], "\"isn\":4294967295"); /* x + 1 wraps to 0 (RFC 9293 3.4) */
    has(found[1], "\"src_ip\":\"2001:db8:1000:5::42\"");
    has(found[1], "\"dst_ip\":\"2001:db8:f000::25\"");
    has(found[1], "\"relay_ip\":\"2001:db8:e000::66\",\"variant\":\"tunnelled\","
                  "\"tunnel\":\"6in6\"");
    has(found[1], "\"segment\":\"access-b\"");
}

Test(evasion, triangular_spam_not_across_address_families)
{
    /* IPv6 answers in IPv4 tunnels (6in4, GRE) to an IPv4 subscriber: spammer and target
     * would not make one flow, so they are not joined. */
    spoofed_syn(1.0, "2001:db8:e000::66", "2001:db8:f000::30", 55, ACCESS_A);
    static const enum tunnel_kind kinds[] = {TUNNEL_6IN4, TUNNEL_GRE};
    for (int i = 0; i < 2; i++) {
        struct packet p = tcp(1.2 + i * 0.1, "2001:db8:f000::30", 25, "2001:db8:e000::66", 50001,
                              TCP_SYN | TCP_ACK, 77, 56, 0);
        p.tunnel = (uint8_t)kinds[i];
        p.tunnel_depth = 1;
        p.outer_src = ip("192.0.2.66");
        p.outer_dst = ip("198.51.100.43");
        feed(&p, ACCESS_A);
    }
    finish(2.0);
    const char *found[KEPT_MAX];
    cr_assert_eq(lines_of("triangular_spam", found, KEPT_MAX), 0, "%s", found[0]);
}

Test(evasion, triangular_spam_needs_the_ack_of_the_spoofed_isn_in_time)
{
    spoofed_syn(1.0, "192.0.2.66", "203.0.113.30", 900000, ACCESS_A);
    /* Wrong ack: some other connection's answer. */
    struct packet p =
        tcp(1.2, "203.0.113.30", 25, "198.51.100.40", 50001, TCP_SYN | TCP_ACK, 77, 900002, 0);
    feed(&p, ACCESS_A);
    /* Right ack on another client port. */
    p = tcp(1.3, "203.0.113.30", 25, "198.51.100.40", 50002, TCP_SYN | TCP_ACK, 77, 900001, 0);
    feed(&p, ACCESS_A);
    /* Right everything, but after timeouts.syn. */
    spoofed_syn(10.0, "192.0.2.66", "203.0.113.33", 5, ACCESS_A);
    p = tcp(40.5, "203.0.113.33", 25, "198.51.100.40", 50001, TCP_SYN | TCP_ACK, 77, 6, 0);
    feed(&p, ACCESS_A);
    /* A tunnel to the bot whose inner packet goes to some other address than the relay. */
    spoofed_syn(41.0, "192.0.2.67", "203.0.113.34", 300, ACCESS_A);
    tunnelled_answer(41.2, TUNNEL_IPIP, "192.0.2.69", "198.51.100.41", "203.0.113.34", 301);
    finish(42.0);
    const char *found[KEPT_MAX];
    cr_assert_eq(lines_of("triangular_spam", found, KEPT_MAX), 0, "%s", found[0]);
}

Test(evasion, triangular_spam_not_when_the_subscriber_opened_the_connection)
{
    /* The subscriber's own SYN with the same ports and ISN: an ordinary attempt. */
    struct packet p = tcp(0.9, "198.51.100.40", 50001, "203.0.113.30", 25, TCP_SYN, 900000, 0, 0);
    feed(&p, ACCESS_A);
    spoofed_syn(1.0, "192.0.2.66", "203.0.113.30", 900000, ACCESS_A);
    p = tcp(1.2, "203.0.113.30", 25, "198.51.100.40", 50001, TCP_SYN | TCP_ACK, 77, 900001, 0);
    feed(&p, ACCESS_A);
    finish(2.0);
    const char *found[KEPT_MAX];
    cr_assert_eq(lines_of("triangular_spam", found, KEPT_MAX), 0, "%s", found[0]);
    cr_assert_eq(lines_of("inbound_acl_violation", found, KEPT_MAX), 0, "%s", found[0]);
}

/* The inbound ACL ------------------------------------------------------------------- */

Test(evasion, inbound_acl_violation_with_payload)
{
    struct packet p =
        tcp(1.0, "203.0.113.50", 25, "198.51.100.60", 33000, TCP_ACK | TCP_PSH, 10, 20, 120);
    feed(&p, ACCESS_A);
    p = tcp(1.5, "203.0.113.50", 25, "198.51.100.60", 33000, TCP_ACK | TCP_PSH, 130, 20, 80);
    feed(&p, ACCESS_A);
    finish(2.0);
    const char *line = only("inbound_acl_violation");
    has(line, "\"src_ip\":\"203.0.113.50\",\"src_port\":25,\"dst_ip\":\"198.51.100.60\","
              "\"dst_port\":33000");
    has(line, "\"pool\":\"ftth\",\"blocking_point\":\"bras\",\"segment\":\"access-a\"");
    has(line, "\"count\":2,\"syn_ack_count\":0,\"rst_count\":0,\"payload_packets\":2,"
              "\"payload_bytes\":200,\"backscatter\":false,\"ports_varied\":false");
    cr_assert_str_eq(key_of(line), "198.51.100.60");
}

Test(evasion, inbound_bare_acks_are_no_backscatter)
{
    /* No payload, but plain ACKs: an established connection's, not answers to SYNs. */
    struct packet p = tcp(1.0, "203.0.113.58", 25, "198.51.100.68", 40001, TCP_ACK, 1, 1, 0);
    feed(&p, ACCESS_A);
    p = tcp(1.1, "203.0.113.58", 25, "198.51.100.68", 40001, TCP_SYN | TCP_ACK, 1, 1, 0);
    feed(&p, ACCESS_A);
    finish(2.0);
    const char *line = only("inbound_acl_violation");
    has(line, "\"payload_packets\":0,\"payload_bytes\":0,\"backscatter\":false");
}

Test(evasion, inbound_backscatter_is_told_apart_one_event_per_sender_and_subscriber)
{
    /* Someone flooded M with SYNs in the subscriber's name; M answers the subscriber. */
    for (int i = 0; i < 5; i++) {
        struct packet p = tcp(1.0 + i * 0.1, "203.0.113.51", 25, "198.51.100.61",
                              (uint16_t)(1024 + i), TCP_SYN | TCP_ACK, 10, (uint32_t)i, 0);
        feed(&p, ACCESS_A);
    }
    struct packet p =
        tcp(2.0, "203.0.113.51", 25, "198.51.100.61", 2000, TCP_RST | TCP_ACK, 0, 5, 0);
    feed(&p, ACCESS_A);
    /* Another sender, another event. */
    p = tcp(2.5, "203.0.113.52", 25, "198.51.100.61", 2001, TCP_RST, 0, 0, 0);
    feed(&p, ACCESS_A);
    finish(3.0);
    const char *found[KEPT_MAX];
    cr_assert_eq(lines_of("inbound_acl_violation", found, KEPT_MAX), 2);
    has(found[0], "\"count\":6,\"syn_ack_count\":5,\"rst_count\":1,\"payload_packets\":0,"
                  "\"payload_bytes\":0,\"backscatter\":true,\"ports_varied\":true");
    has(found[1], "\"src_ip\":\"203.0.113.52\"");
    has(found[1], "\"backscatter\":true");
    cr_assert_eq(lines_of("triangular_spam", found, KEPT_MAX), 0);
}

Test(evasion, inbound_answers_designated_msas_and_the_self_hosted_mta_are_no_violation)
{
    /* Answers to the subscriber's own attempt. */
    a_session(1.0, "198.51.100.62", 40001, "203.0.113.53", ACCESS_A);
    struct packet p =
        tcp(1.05, "203.0.113.53", 25, "198.51.100.62", 40001, TCP_ACK | TCP_PSH, 5001, 1021, 30);
    feed(&p, ACCESS_A);
    /* A designated MSA, and a model-B ISP's MSA towards its own subscribers. */
    p = tcp(2.0, "192.0.2.25", 25, "198.51.100.63", 40002, TCP_ACK | TCP_PSH, 1, 1, 30);
    feed(&p, ACCESS_A);
    p = tcp(2.5, "198.18.90.25", 25, "198.18.64.10", 40003, TCP_ACK | TCP_PSH, 1, 1, 30);
    feed(&p, TRANSIT_B);
    /* A subscriber's own MTA (draft 4.4.6): mail comes in to its port 25, it answers from
     * port 25 to the sender's port, and a sender may even use port 25 as its own. */
    a_session(3.0, "203.0.113.54", 51000, "198.51.100.64", ACCESS_A);
    p = tcp(3.01, "198.51.100.64", 25, "203.0.113.54", 51000, TCP_ACK | TCP_PSH, 1, 1, 30);
    feed(&p, ACCESS_A);
    p = tcp(3.5, "203.0.113.55", 25, "198.51.100.64", 25, TCP_ACK | TCP_PSH, 1, 1, 30);
    feed(&p, ACCESS_A);
    finish(4.0);
    cr_assert_eq(memory.count, 0, "%s", memory.lines[0]);
}

Test(evasion, inbound_from_an_msa_of_another_pool_is_a_violation_naming_it)
{
    struct packet p =
        tcp(1.0, "192.0.2.26", 25, "198.51.100.65", 40001, TCP_ACK | TCP_PSH, 1, 1, 30);
    feed(&p, ACCESS_A);
    p = tcp(1.0, "192.0.2.26", 25, "198.51.101.65", 40001, TCP_ACK | TCP_PSH, 1, 1, 30);
    feed(&p, ACCESS_A); /* the partner MSA serves dsl */
    finish(2.0);
    const char *line = only("inbound_acl_violation");
    has(line, "\"dst_ip\":\"198.51.100.65\"");
    has(line, "\"msa\":\"partner-msa\"");
}

Test(evasion, inbound_seen_before_the_client_side_of_a_joined_connection_is_an_answer)
{
    /* The capture began mid-connection and the server's segment came first. */
    struct packet p =
        tcp(1.0, "203.0.113.56", 25, "198.51.100.66", 40001, TCP_ACK | TCP_PSH, 1, 1, 30);
    feed(&p, ACCESS_A);
    p = tcp(1.01, "198.51.100.66", 40001, "203.0.113.56", 25, TCP_ACK | TCP_PSH, 1, 31, 10);
    feed(&p, ACCESS_A);
    /* A SYN on that port afterwards starts something new: it explains nothing earlier. */
    p = tcp(2.0, "203.0.113.57", 25, "198.51.100.67", 40002, TCP_ACK | TCP_PSH, 1, 1, 30);
    feed(&p, ACCESS_A);
    p = tcp(2.5, "198.51.100.67", 40002, "203.0.113.57", 25, TCP_SYN, 1, 0, 0);
    feed(&p, ACCESS_A);
    finish(3.0);
    const char *line = only("inbound_acl_violation");
    has(line, "\"src_ip\":\"203.0.113.57\"");
}

Test(evasion, inbound_on_a_mirror_that_shows_only_what_comes_in_says_nothing)
{
    /* Nothing leaving the ISP was seen off the segments yet: answers look unanswered. */
    struct packet p =
        tcp(1.0, "203.0.113.59", 25, "198.51.100.69", 40001, TCP_ACK | TCP_PSH, 1, 1, 30);
    feed(&p, NO_SEGMENT);
    struct packet out = tcp(1.5, "198.51.100.200", 52000, "203.0.113.80", 443, TCP_ACK, 1, 1, 0);
    feed(&out, NO_SEGMENT);
    /* Now it can tell. */
    p.ts = T0 + 2 * PACKET_TIME_SECOND;
    feed(&p, NO_SEGMENT);
    finish(3.0);
    const char *line = only("inbound_acl_violation");
    has(line, "\"count\":1,");
    has(line, "\"first_seen\":\"2026-01-15T09:00:02.000000Z\"");
}

Test(evasion, inbound_ipv6_subscriber_is_its_prefix)
{
    struct packet p =
        tcp(1.0, "2001:db8:f000::50", 25, "2001:db8:1000:7::1", 40001, TCP_ACK | TCP_PSH, 1, 1, 30);
    feed(&p, ACCESS_A);
    p = tcp(1.1, "2001:db8:f000::50", 25, "2001:db8:1000:7::2", 40002, TCP_ACK | TCP_PSH, 1, 1, 30);
    feed(&p, ACCESS_A);
    finish(2.0);
    const char *line = only("inbound_acl_violation");
    has(line, "\"subscriber_prefix\":\"2001:db8:1000:7::/64\"");
    has(line, "\"count\":2,");
}

/* Bounds ---------------------------------------------------------------------------- */

Test(evasion, a_full_table_writes_the_oldest_window_early_and_keeps_every_count)
{
    detector->ops->free(detector);
    events_close(&events);
    policy_free(policy);
    char text[sizeof(policy_text) + 64];
    snprintf(text, sizeof(text), "%slimits: { flows: 2 }\n", policy_text);
    start(text);
    a_session(1.0, "198.51.100.10", 40001, "203.0.113.10", BUSINESS);
    a_session(2.0, "198.51.100.11", 40001, "203.0.113.10", BUSINESS);
    a_session(3.0, "198.51.100.12", 40001, "203.0.113.10", BUSINESS);
    const char *found[KEPT_MAX];
    cr_assert_eq(lines_of("asymmetric_routing", found, KEPT_MAX), 1);
    has(found[0], "\"src_ip\":\"198.51.100.10\"");
    has(found[0], "\"count\":3,");
    has(found[0], "\"close_reason\":\"evicted\"");
    finish(4.0);
    cr_assert_eq(lines_of("asymmetric_routing", found, KEPT_MAX), 3);
    has(found[1], "\"src_ip\":\"198.51.100.11\"");
    has(found[2], "\"src_ip\":\"198.51.100.12\"");
    has(found[2], "\"close_reason\":\"end\"");
}

Test(evasion, only_tcp_is_looked_at)
{
    struct packet p = tcp(1.0, "192.0.2.99", 50001, "203.0.113.20", 25, 0, 0, 0, 0);
    p.proto = IPPROTO_NUMBER_UDP;
    feed(&p, ACCESS_A);
    p = tcp(1.0, "203.0.113.20", 25, "198.51.100.60", 50001, 0, 0, 0, 10);
    p.proto = IPPROTO_NUMBER_UDP;
    feed(&p, ACCESS_A);
    finish(2.0);
    cr_assert_eq(memory.count, 0, "%s", memory.lines[0]);
}

/* Across workers (--workers) ------------------------------------------------------- */

/* Two workers' evasion detectors over one inbox set, writing into the same sink, beside
 * the suite's single detector: the fanout hands a spoofed SYN to the relay's worker and
 * the answer to the spammer's, and together they must report what one sensor would. */
static struct inbox_set *share;
static struct worker_share shared;
static struct detector *workers[2];

static void feed_worker(int w, const struct packet *packet, int segment);

static void setup_workers(void)
{
    setup();
    share = inbox_set_new(2, 64, sizeof(struct shared_syn));
    cr_assert_not_null(share);
    shared = (struct worker_share){.syns = share};
    struct detector_context context = {
        .policy = policy,
        .bus = &bus,
        .counters = &counters,
        .return_seen = return_seen,
        .share = &shared,
    };
    for (int w = 0; w < 2; w++) {
        bool disabled = true;
        workers[w] = detect_evasion_new(&context, &disabled);
        cr_assert_not_null(workers[w]);
    }
    /* Both see traffic leaving the ISP on every segment, as the suite's detector does. */
    for (int segment = 0; segment < 4; segment++) {
        struct packet p = tcp(0.0, "198.51.100.200", 52000, "203.0.113.80", 443, TCP_SYN, 1, 0, 0);
        p.proto = IPPROTO_NUMBER_UDP;
        feed_worker(0, &p, segment);
        feed_worker(1, &p, segment);
    }
    memset(&counters, 0, sizeof(counters));
}

static void teardown_workers(void)
{
    for (int w = 0; w < 2; w++)
        workers[w]->ops->free(workers[w]);
    inbox_set_free(share);
    teardown();
}

TestSuite(evasion_workers, .init = setup_workers, .fini = teardown_workers);

/* A worker's own process takes its own inbox: the share says which one is this. */
static void feed_worker(int w, const struct packet *packet, int segment)
{
    struct packet copy = on_segment(packet, segment);
    inbox_set_worker(share, (unsigned)w);
    if (copy.ts >= workers[w]->due) /* as the sensor calls it */
        workers[w]->ops->advance(workers[w], copy.ts);
    workers[w]->ops->packet(workers[w], &copy, segment);
}

/* Time passing without a packet (sensor_tick): the timers that are due run. */
static void advance_worker(int w, double seconds)
{
    packet_time now = T0 + (packet_time)(seconds * PACKET_TIME_SECOND);
    inbox_set_worker(share, (unsigned)w);
    if (now >= workers[w]->due)
        workers[w]->ops->advance(workers[w], now);
}

/* The scenario's triangles (rewritten, IP-in-IP, GRE, 6in6), each packet tagged with the
 * worker the fanout gives it: the SYN to the relay's, the answers to the spammer's. */
struct tagged {
    int worker;
    int segment;
    struct packet packet;
};

static size_t triangles(struct tagged *out)
{
    size_t n = 0;
    out[n++] = (struct tagged){
        0, ACCESS_A, tcp(1.0, "192.0.2.66", 50001, "203.0.113.30", 25, TCP_SYN, 900000, 0, 0)};
    out[n++] = (struct tagged){
        1, ACCESS_A,
        tcp(1.2, "203.0.113.30", 25, "198.51.100.40", 50001, TCP_SYN | TCP_ACK, 77, 900001, 0)};
    out[n++] = (struct tagged){
        1, ACCESS_A,
        tcp(1.3, "203.0.113.30", 25, "198.51.100.40", 50001, TCP_ACK | TCP_PSH, 78, 900001, 30)};
    static const struct {
        enum tunnel_kind kind;
        const char *relay, *spammer, *target;
        int segment;
    } tunnels[] = {
        {TUNNEL_IPIP, "192.0.2.67", "198.51.100.41", "203.0.113.31", ACCESS_A},
        {TUNNEL_GRE, "192.0.2.68", "198.51.100.42", "203.0.113.32", ACCESS_A},
        {TUNNEL_6IN6, "2001:db8:e000::66", "2001:db8:1000:5::42", "2001:db8:f000::25", ACCESS_B},
    };
    for (int i = 0; i < 3; i++) {
        double t = 2.0 + i;
        out[n++] = (struct tagged){0, tunnels[i].segment,
                                   tcp(t, tunnels[i].relay, 50001, tunnels[i].target, 25, TCP_SYN,
                                       300u + (uint32_t)i, 0, 0)};
        struct packet answer = tcp(t + 0.2, tunnels[i].target, 25, tunnels[i].relay, 50001,
                                   TCP_SYN | TCP_ACK, 77, 301u + (uint32_t)i, 0);
        answer.tunnel = (uint8_t)tunnels[i].kind;
        answer.tunnel_depth = 1;
        answer.outer_src = ip(tunnels[i].relay);
        answer.outer_dst = ip(tunnels[i].spammer);
        out[n++] = (struct tagged){1, tunnels[i].segment, answer};
    }
    return n;
}

/* What the suite's single detector writes for the triangles: the lines to match. */
static size_t one_sensor(char lines[][EVENT_LINE_MAX], size_t capacity)
{
    struct tagged packets[16];
    size_t count = triangles(packets);
    for (size_t i = 0; i < count; i++)
        feed(&packets[i].packet, packets[i].segment);
    const char *found[KEPT_MAX];
    size_t joined = lines_of("triangular_spam", found, KEPT_MAX);
    cr_assert_eq(joined, 4, "one sensor joined %zu triangles", joined);
    for (size_t i = 0; i < joined && i < capacity; i++)
        snprintf(lines[i], EVENT_LINE_MAX, "%s", found[i]);
    memory.count = 0;
    return joined;
}

static void same_lines(char expected[][EVENT_LINE_MAX], size_t count)
{
    const char *found[KEPT_MAX];
    size_t joined = lines_of("triangular_spam", found, KEPT_MAX);
    cr_assert_eq(joined, count, "the workers joined %zu triangles, one sensor %zu", joined, count);
    for (size_t i = 0; i < count; i++)
        cr_assert_str_eq(found[i], expected[i]);
}

Test(evasion_workers, a_triangle_split_over_two_workers_is_joined_as_one_sensor_joins_it)
{
    char expected[8][EVENT_LINE_MAX];
    size_t count = one_sensor(expected, 8);
    struct tagged packets[16];
    size_t n = triangles(packets);
    for (size_t i = 0; i < n; i++)
        feed_worker(packets[i].worker, &packets[i].packet, packets[i].segment);
    same_lines(expected, count);
    cr_assert_eq(counters.detector_exhausted, 0);
}

/* The relay's worker may be a capture block behind: each answer comes first, and waits. */
Test(evasion_workers, an_answer_that_comes_before_its_syn_waits_for_it)
{
    char expected[8][EVENT_LINE_MAX];
    size_t count = one_sensor(expected, 8);
    struct tagged packets[16];
    size_t n = triangles(packets);
    const char *found[KEPT_MAX];
    for (size_t first = 0; first < n;) {
        size_t end = first + 1; /* a triangle: its SYN (worker 0) and what answers it */
        while (end < n && packets[end].worker == 1)
            end++;
        for (size_t i = first + 1; i < end; i++)
            feed_worker(1, &packets[i].packet, packets[i].segment);
        size_t before = lines_of("triangular_spam", found, KEPT_MAX);
        feed_worker(0, &packets[first].packet, packets[first].segment);
        /* Told, but not yet taken: worker 1 has had no packet and no timer since. */
        cr_assert_eq(lines_of("triangular_spam", found, KEPT_MAX), before);
        /* Its next look, at most ANSWER_POLL later when no packet comes. */
        advance_worker(1, (double)(packets[end - 1].packet.ts - T0) / PACKET_TIME_SECOND + 0.1);
        cr_assert_eq(lines_of("triangular_spam", found, KEPT_MAX), before + 1);
        first = end;
    }
    same_lines(expected, count);
}

Test(evasion_workers, an_answer_waits_two_seconds_at_most)
{
    struct tagged packets[16];
    triangles(packets);
    feed_worker(1, &packets[1].packet, packets[1].segment); /* the SYN-ACK at 1.2 s */
    advance_worker(1, 3.25);                                /* given up at 3.2 s */
    feed_worker(0, &packets[0].packet, packets[0].segment); /* its SYN, at 1.0 s */
    advance_worker(1, 3.3);
    const char *found[KEPT_MAX];
    cr_assert_eq(lines_of("triangular_spam", found, KEPT_MAX), 0, "%s", found[0]);
    /* The SYN was taken all the same: an answer that comes now (within timeouts.syn)
     * joins it at once. */
    struct packet again = packets[1].packet;
    again.ts = T0 + (packet_time)(3.4 * PACKET_TIME_SECOND);
    feed_worker(1, &again, packets[1].segment);
    has(only("triangular_spam"), "\"reply_seen\":\"2026-01-15T09:00:03.400000Z\"");
}

Test(evasion_workers, the_answer_to_a_subscribers_own_connection_is_no_triangle)
{
    /* The subscriber's own SYN and its answer are both the subscriber's worker's. */
    struct packet p = tcp(0.9, "198.51.100.40", 50001, "203.0.113.30", 25, TCP_SYN, 900000, 0, 0);
    feed_worker(1, &p, ACCESS_A);
    p = tcp(1.2, "203.0.113.30", 25, "198.51.100.40", 50001, TCP_SYN | TCP_ACK, 77, 900001, 0);
    feed_worker(1, &p, ACCESS_A);
    p = tcp(1.0, "192.0.2.66", 50001, "203.0.113.30", 25, TCP_SYN, 900000, 0, 0);
    feed_worker(0, &p, ACCESS_A);
    advance_worker(1, 1.3);
    advance_worker(1, 4.0);
    const char *found[KEPT_MAX];
    cr_assert_eq(lines_of("triangular_spam", found, KEPT_MAX), 0, "%s", found[0]);
}

Test(evasion_workers, a_spoofed_syn_another_worker_has_no_room_for_is_counted)
{
    /* 64 cells in worker 1's inbox: the 65th SYN before it takes any is lost to it. */
    for (uint32_t i = 0; i < 70; i++) {
        struct packet p = tcp(1.0 + i * 0.001, "192.0.2.66", (uint16_t)(50000 + i), "203.0.113.30",
                              25, TCP_SYN, i, 0, 0);
        feed_worker(0, &p, ACCESS_A);
    }
    cr_assert_eq(counters.detector_exhausted, 6);
    /* The first 64 it still joins. */
    struct packet p =
        tcp(1.5, "203.0.113.30", 25, "198.51.100.40", 50063, TCP_SYN | TCP_ACK, 7, 64, 0);
    feed_worker(1, &p, ACCESS_A);
    p = tcp(1.6, "203.0.113.30", 25, "198.51.100.40", 50064, TCP_SYN | TCP_ACK, 7, 65, 0);
    feed_worker(1, &p, ACCESS_A);
    advance_worker(1, 4.0);
    has(only("triangular_spam"), "\"src_port\":50063");
}

/* Two workers whose segment flags are one array (--workers) or each its own: traffic
 * leaving the ISP off the segments, seen only by worker 0, and then an unanswered port-25
 * packet to a subscriber of worker 1's. */
static size_t inbound_with_flags_shared(bool shared_flags)
{
    static bool outbound_seen[8];
    memset(outbound_seen, 0, sizeof(outbound_seen));
    struct worker_share pair = {.outbound_seen = shared_flags ? outbound_seen : NULL};
    struct detector_context context = {
        .policy = policy,
        .bus = &bus,
        .counters = &counters,
        .return_seen = return_seen,
        .share = &pair,
    };
    struct detector *two[2];
    for (int w = 0; w < 2; w++) {
        bool disabled = true;
        two[w] = detect_evasion_new(&context, &disabled);
        cr_assert_not_null(two[w]);
    }
    memory.count = 0;
    struct packet out = tcp(1.0, "198.51.100.200", 52000, "203.0.113.80", 443, TCP_ACK, 1, 1, 0);
    two[0]->ops->packet(two[0], &out, NO_SEGMENT);
    struct packet in =
        tcp(1.5, "203.0.113.59", 25, "198.51.100.69", 40001, TCP_ACK | TCP_PSH, 1, 1, 30);
    two[1]->ops->packet(two[1], &in, NO_SEGMENT);
    for (int w = 0; w < 2; w++) {
        two[w]->ops->finish(two[w], T0 + 3 * PACKET_TIME_SECOND, "end_of_input");
        two[w]->ops->free(two[w]);
    }
    const char *found[KEPT_MAX];
    return lines_of("inbound_acl_violation", found, KEPT_MAX);
}

Test(evasion_workers, traffic_leaving_the_isp_seen_by_one_worker_counts_for_every_worker)
{
    cr_assert_eq(inbound_with_flags_shared(true), 1);
    /* Each with its own flags, worker 1 cannot tell the mirror shows both directions. */
    cr_assert_eq(inbound_with_flags_shared(false), 0);
}

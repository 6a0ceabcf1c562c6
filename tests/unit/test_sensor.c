/* The per-packet pipeline (src/sensor.c) fed raw Ethernet frames built here: the packet
 * clock (periodic records at stats_interval boundaries, the final one only at the end, time
 * regressions, ticks on a quiet link), decode results counted, the segment a frame was seen
 * on deciding whether silence is evidence, and every attempt published once. Records are
 * taken off the bus as values. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"
#include "record/bus.h"
#include "sensor.h"

static const char policy_text[] =
    "sensor: { name: unit-sensor, position: edge-side, stats_interval: 60s }\n"
    "own_prefixes: [198.51.100.0/22, 2001:db8:1000::/36]\n"
    "pools:\n"
    "  - { name: ftth, type: dynamic, prefixes: [198.51.100.0/24, 2001:db8:1000::/40],\n"
    "      blocking_point: bras }\n"
    "blocking_points:\n"
    "  - { name: bras, level: terminator }\n"
    "segments:\n"
    "  - { name: access-a, vlan: 100, expects: [ftth] }\n"
    "  - { name: access-b, vlan: 110, expects: [ftth] }\n"
    "  - { name: mirror-1, interface: mirror1, expects: [ftth] }\n"
    "timeouts: { syn: 30s, smtp_idle: 600s }\n";

enum { ACCESS_A = 0, ACCESS_B, MIRROR_1 };
enum { VLAN_A = 100, VLAN_B = 110, UNTAGGED = 0 };
enum { SOURCE_0 = 0, SOURCE_1 = 1 }; /* capture sources "mirror0" and "mirror1" */

#define LINKTYPE_ETHERNET 1 /* DLT_EN10MB */
#define CLIENT "198.51.100.10"
#define CLIENT6 "2001:db8:1000::10"
#define SERVER "203.0.113.25"
#define SERVER6 "2001:db8:ffff::25"
#define ROUTER "198.51.100.1"

/* On a minute boundary, so stats_interval boundaries fall on whole minutes from it. */
#define T0 (1768467600LL * PACKET_TIME_SECOND)

/* ---- what the bus hands out, kept as values ---- */

#define KEPT_MAX 32
static struct attempt_record attempts[KEPT_MAX];
static size_t attempt_count;

struct periodic_kept {
    packet_time now;
    bool final;
    bool has_coverage;
    struct sensor_counters counters;
};
static struct periodic_kept periodics[KEPT_MAX];
static size_t periodic_count;

static void keep_attempt(void *context, const struct attempt_record *attempt)
{
    (void)context;
    cr_assert_lt(attempt_count, KEPT_MAX);
    attempts[attempt_count] = *attempt;
    attempts[attempt_count].smtp = NULL; /* the tracker's; not kept */
    attempt_count++;
}

static void keep_periodic(void *context, const struct periodic_record *periodic)
{
    (void)context;
    cr_assert_lt(periodic_count, KEPT_MAX);
    struct periodic_kept *p = &periodics[periodic_count++];
    p->now = periodic->now;
    p->final = periodic->final;
    p->has_coverage = periodic->coverage != NULL;
    cr_assert_not_null(periodic->counters);
    p->counters = *periodic->counters;
}

static struct policy *policy;
static struct bus bus;
static struct sensor *sensor;

static void setup(void)
{
    char error[256];
    policy = policy_load_text("unit.yaml", policy_text, strlen(policy_text), error, sizeof(error));
    cr_assert_not_null(policy, "%s", error);
    attempt_count = periodic_count = 0;
    bus_init(&bus);
    struct bus_subscriber subscriber = {.attempt = keep_attempt, .periodic = keep_periodic};
    cr_assert_eq(bus_subscribe(&bus, subscriber), 0);
    static const char *const sources[] = {"mirror0", "mirror1"};
    sensor = sensor_new(policy, &bus, sources, 2, NULL);
    cr_assert_not_null(sensor);
}

static void teardown(void)
{
    sensor_free(sensor);
    policy_free(policy);
}

TestSuite(sensor, .init = setup, .fini = teardown);

static packet_time at(double seconds)
{
    return T0 + (packet_time)(seconds * PACKET_TIME_SECOND + 0.5);
}

/* ---- frames, byte by byte ---- */

struct frame {
    uint8_t bytes[1600];
    uint32_t length;
};

static void put16(uint8_t *p, uint16_t value)
{
    p[0] = (uint8_t)(value >> 8);
    p[1] = (uint8_t)value;
}

static void put32(uint8_t *p, uint32_t value)
{
    put16(p, (uint16_t)(value >> 16));
    put16(p + 2, (uint16_t)value);
}

static bool is_v6(const char *address)
{
    return strchr(address, ':') != NULL;
}

static void put_address(uint8_t *p, const char *address)
{
    cr_assert_eq(inet_pton(is_v6(address) ? AF_INET6 : AF_INET, address, p), 1, "%s", address);
}

/* An IP header for l4_length bytes of protocol proto; returns its length. Checksums stay
 * zero: the decoder does not check them. */
static uint32_t ip_header(uint8_t *p, const char *src, const char *dst, uint8_t proto,
                          uint32_t l4_length)
{
    if (is_v6(src)) {
        memset(p, 0, 40);
        p[0] = 0x60;
        put16(p + 4, (uint16_t)l4_length);
        p[6] = proto;
        p[7] = 64;
        put_address(p + 8, src);
        put_address(p + 24, dst);
        return 40;
    }
    memset(p, 0, 20);
    p[0] = 0x45;
    put16(p + 2, (uint16_t)(20 + l4_length));
    p[6] = 0x40; /* don't fragment */
    p[8] = 64;
    p[9] = proto;
    put_address(p + 12, src);
    put_address(p + 16, dst);
    return 20;
}

/* An IP packet carrying a TCP segment; returns its length. */
static uint32_t ip_tcp(uint8_t *p, const char *src, uint16_t src_port, const char *dst,
                       uint16_t dst_port, uint8_t flags, uint32_t seq, uint32_t ack,
                       const char *payload)
{
    uint32_t payload_length = payload != NULL ? (uint32_t)strlen(payload) : 0;
    uint32_t offset = ip_header(p, src, dst, IPPROTO_NUMBER_TCP, 20 + payload_length);
    uint8_t *t = p + offset;
    memset(t, 0, 20);
    put16(t, src_port);
    put16(t + 2, dst_port);
    put32(t + 4, seq);
    put32(t + 8, ack);
    t[12] = 5 << 4;
    t[13] = flags;
    put16(t + 14, 65535);
    if (payload_length > 0)
        memcpy(t + 20, payload, payload_length);
    return offset + 20 + payload_length;
}

/* The Ethernet header, 802.1Q-tagged unless vlan is UNTAGGED; returns its length. */
static uint32_t ethernet(uint8_t *p, uint16_t vlan, bool ipv6)
{
    static const uint8_t macs[12] = {0x02, 0, 0x5e, 0x10, 0, 0x02, 0x02, 0, 0x5e, 0x10, 0, 0x01};
    memcpy(p, macs, sizeof(macs));
    uint32_t offset = 12;
    if (vlan != UNTAGGED) {
        put16(p + offset, 0x8100);
        put16(p + offset + 2, vlan);
        offset += 4;
    }
    put16(p + offset, ipv6 ? 0x86dd : 0x0800);
    return offset + 2;
}

static struct frame tcp_frame(uint16_t vlan, const char *src, uint16_t src_port, const char *dst,
                              uint16_t dst_port, uint8_t flags, uint32_t seq, uint32_t ack,
                              const char *payload)
{
    struct frame f;
    memset(&f, 0, sizeof(f));
    f.length = ethernet(f.bytes, vlan, is_v6(src));
    f.length += ip_tcp(f.bytes + f.length, src, src_port, dst, dst_port, flags, seq, ack, payload);
    return f;
}

/* ICMP 3/13 from `from`, quoting the IPv4 header and 8 bytes of TCP of the SYN it answers. */
static struct frame icmp_prohibited_frame(uint16_t vlan, const char *from, const char *client,
                                          uint16_t client_port, const char *server, uint32_t isn)
{
    uint8_t quoted[64];
    ip_tcp(quoted, client, client_port, server, 25, TCP_SYN, isn, 0, NULL);
    struct frame f;
    memset(&f, 0, sizeof(f));
    f.length = ethernet(f.bytes, vlan, false);
    uint32_t icmp_length = 8 + 28;
    f.length += ip_header(f.bytes + f.length, from, client, IPPROTO_NUMBER_ICMP, icmp_length);
    uint8_t *icmp = f.bytes + f.length;
    memset(icmp, 0, 8);
    icmp[0] = 3;
    icmp[1] = 13;
    memcpy(icmp + 8, quoted, 28);
    f.length += icmp_length;
    return f;
}

static void send_on(uint16_t source, double seconds, const struct frame *f)
{
    sensor_packet(sensor, LINKTYPE_ETHERNET, source, at(seconds), f->bytes, f->length, f->length);
}

static void send_frame(double seconds, const struct frame *f)
{
    send_on(SOURCE_0, seconds, f);
}

/* A decodable frame of no interest to the tracker: it only moves the clock. */
static void web(double seconds)
{
    struct frame f = tcp_frame(VLAN_A, CLIENT, 52000, "203.0.113.80", 443, TCP_ACK, 1, 1, NULL);
    send_frame(seconds, &f);
}

static const struct attempt_record *attempt_from(uint16_t port)
{
    const struct attempt_record *found = NULL;
    for (size_t i = 0; i < attempt_count; i++) {
        if (attempts[i].flow.src_port != port)
            continue;
        cr_assert_null(found, "port %u: published twice", port);
        found = &attempts[i];
    }
    cr_assert_not_null(found, "port %u: never published", port);
    return found;
}

Test(sensor, a_periodic_record_at_each_stats_interval_boundary_of_packet_time)
{
    web(0); /* on a boundary: the clock starts here, nothing is due yet */
    web(10);
    web(59.999);
    cr_assert_eq(periodic_count, 0);
    web(60);
    cr_assert_eq(periodic_count, 1);
    cr_assert_eq(periodics[0].now, at(60));
    cr_assert_not(periodics[0].final);
    cr_assert(periodics[0].has_coverage);
    web(61);
    web(119.5);
    cr_assert_eq(periodic_count, 1);
    /* Four quiet minutes: a packet that far ahead waits for the next to confirm the jump
     * (util/packet_clock.h), then writes one record, at its own time, and the boundaries
     * count on from there. */
    web(250);
    cr_assert_eq(periodic_count, 1, "a jump is held until the next packet confirms it");
    web(299);
    cr_assert_eq(periodic_count, 2);
    cr_assert_eq(periodics[1].now, at(250));
    web(300);
    cr_assert_eq(periodic_count, 3);
    cr_assert_eq(periodics[2].now, at(300));
    for (size_t i = 0; i < periodic_count; i++)
        cr_assert_not(periodics[i].final, "record %zu", i);

    sensor_finish(sensor, "end_of_input");
    cr_assert_eq(periodic_count, 4);
    cr_assert(periodics[3].final);
    cr_assert_eq(periodics[3].now, at(300), "the last packet's time");
    cr_assert_eq(periodics[3].counters.packets, 9);
    cr_assert_eq(sensor_now(sensor), at(300));
}

Test(sensor, an_older_packet_counts_a_regression_and_leaves_the_clock)
{
    web(10);
    /* A SYN 5 s older: processed all the same, but time does not go back. */
    struct frame syn = tcp_frame(VLAN_A, CLIENT, 40000, SERVER, 25, TCP_SYN, 1000, 0, NULL);
    send_frame(5, &syn);
    const struct sensor_counters *counters = sensor_counters(sensor);
    cr_assert_eq(counters->time_regressions, 1);
    cr_assert_eq(sensor_now(sensor), at(10));
    cr_assert_eq(counters->packets, 2);
    cr_assert_eq(counters->decode[DECODE_OK], 2);
    cr_assert_eq(counters->flows_created, 1, "the older packet was still tracked");
    web(10); /* the same time again is no regression */
    web(20);
    cr_assert_eq(counters->time_regressions, 1);
    cr_assert_eq(sensor_now(sensor), at(20));
    /* Its SYN timer runs from its own time, on the clock that did not go back. */
    web(34.9);
    cr_assert_eq(attempt_count, 0);
    web(35);
    cr_assert_eq(attempt_count, 1);
    cr_assert_eq(attempts[0].first_seen, at(5));
    cr_assert_str_eq(attempts[0].close_reason, "syn_timeout");
}

Test(sensor, decode_results_are_counted_and_only_decoded_packets_go_on)
{
    struct frame syn = tcp_frame(VLAN_A, CLIENT, 40000, SERVER, 25, TCP_SYN, 1000, 0, NULL);
    /* Cut inside the TCP header: a truncated frame, never an attempt. */
    sensor_packet(sensor, LINKTYPE_ETHERNET, SOURCE_0, at(0), syn.bytes, syn.length - 6,
                  syn.length);
    /* Cut inside the IPv4 header. */
    sensor_packet(sensor, LINKTYPE_ETHERNET, SOURCE_0, at(1), syn.bytes, 18 + 10, syn.length);
    /* ARP: not IP, not an error. */
    struct frame arp;
    memset(&arp, 0, sizeof(arp));
    arp.length = ethernet(arp.bytes, UNTAGGED, false);
    put16(arp.bytes + arp.length - 2, 0x0806);
    arp.length += 28;
    send_frame(2, &arp);
    /* An IPv4 ethertype whose header says version 7. */
    struct frame bad = syn;
    bad.bytes[18] = 0x75;
    send_frame(3, &bad);
    /* A link type the decoder does not know (DLT_USER0). */
    sensor_packet(sensor, 147, SOURCE_0, at(4), syn.bytes, syn.length, syn.length);
    /* One good frame, whose wire length is more than was captured of it (a snaplen). */
    sensor_packet(sensor, LINKTYPE_ETHERNET, SOURCE_0, at(5), syn.bytes, syn.length, 1500);

    const struct sensor_counters *counters = sensor_counters(sensor);
    cr_assert_eq(counters->packets, 6);
    cr_assert_eq(counters->bytes, 4 * syn.length + arp.length + 1500, "wire lengths");
    cr_assert_eq(counters->decode[DECODE_TRUNCATED], 2);
    cr_assert_eq(counters->decode[DECODE_NOT_IP], 1);
    cr_assert_eq(counters->decode[DECODE_MALFORMED], 1);
    cr_assert_eq(counters->decode[DECODE_UNSUPPORTED], 1);
    cr_assert_eq(counters->decode[DECODE_OK], 1);
    uint64_t total = 0;
    for (int r = 0; r < DECODE_RESULT_COUNT; r++)
        total += counters->decode[r];
    cr_assert_eq(total, counters->packets, "every packet has one result");
    cr_assert_eq(counters->flows_created, 1, "only the decoded SYN opened an attempt");
    sensor_finish(sensor, "end_of_input");
    cr_assert_eq(attempt_count, 1);
    cr_assert_eq(attempts[0].first_seen, at(5));
}

Test(sensor, a_tick_starts_the_clock_on_a_quiet_link_and_runs_the_timers)
{
    cr_assert_eq(sensor_now(sensor), 0);
    sensor_tick(sensor, at(5));
    cr_assert_eq(sensor_now(sensor), at(5));
    sensor_tick(sensor, at(59));
    cr_assert_eq(periodic_count, 0);
    sensor_tick(sensor, at(60));
    cr_assert_eq(periodic_count, 1);
    cr_assert_eq(periodics[0].now, at(60));
    cr_assert_not(periodics[0].final);
    cr_assert_eq(periodics[0].counters.packets, 0);

    /* The SYN timer runs on ticks too, where the segment shows return traffic. */
    struct frame reply = tcp_frame(VLAN_A, "203.0.113.80", 443, CLIENT, 52000, TCP_ACK, 1, 1, NULL);
    send_frame(61, &reply);
    struct frame syn = tcp_frame(VLAN_A, CLIENT, 40000, SERVER, 25, TCP_SYN, 1000, 0, NULL);
    send_frame(61, &syn);
    sensor_tick(sensor, at(90.9));
    cr_assert_eq(attempt_count, 0);
    sensor_tick(sensor, at(91));
    cr_assert_eq(attempt_count, 1);
    cr_assert_eq(attempts[0].verdict, VERDICT_BLOCKED);

    sensor_finish(sensor, "end_of_input");
    cr_assert_eq(periodic_count, 2);
    cr_assert(periodics[1].final);
    cr_assert_eq(periodics[1].now, at(91), "the final record has the tick's time, not 1970");
}

Test(sensor, the_final_record_of_a_run_without_packets_or_ticks_is_the_only_one)
{
    sensor_finish(sensor, "end_of_input");
    cr_assert_eq(periodic_count, 1);
    cr_assert(periodics[0].final);
    cr_assert_eq(attempt_count, 0);
}

Test(sensor, capture_counters_reach_the_periodic_records)
{
    web(0);
    sensor_set_capture_stats(sensor, 1000, 7, 2);
    web(60);
    cr_assert_eq(periodic_count, 1);
    cr_assert_eq(periodics[0].counters.capture_received, 1000);
    cr_assert_eq(periodics[0].counters.capture_drops, 7);
    cr_assert_eq(periodics[0].counters.capture_errors, 2);
}

/* Seven attempts over three segments, each with a fate of its own (the test lists them). */
static void seven_attempts(void)
{
    /* Traffic towards the ISP on access-a only: silence is evidence there alone. */
    struct frame reply = tcp_frame(VLAN_A, "203.0.113.80", 443, CLIENT, 52000, TCP_ACK, 1, 1, NULL);
    send_frame(0, &reply);
    /* Traffic leaving the ISP is no return traffic. */
    struct frame out = tcp_frame(VLAN_B, CLIENT, 52001, "203.0.113.80", 443, TCP_ACK, 1, 1, NULL);
    send_frame(0, &out);

    struct frame f;
    f = tcp_frame(VLAN_A, CLIENT, 40000, SERVER, 25, TCP_SYN, 1000, 0, NULL);
    send_frame(1, &f); /* silent on access-a: blocked */
    f = tcp_frame(VLAN_B, CLIENT, 40001, SERVER, 25, TCP_SYN, 1000, 0, NULL);
    send_frame(1, &f); /* silent on access-b: unknown */
    f = tcp_frame(UNTAGGED, CLIENT, 40002, SERVER, 25, TCP_SYN, 1000, 0, NULL);
    send_on(SOURCE_1, 1, &f); /* silent on interface mirror1: unknown */
    f = tcp_frame(VLAN_A, CLIENT6, 40003, SERVER6, 25, TCP_SYN, 1000, 0, NULL);
    send_frame(1, &f); /* IPv6, silent on access-a: blocked */
    f = tcp_frame(VLAN_B, CLIENT, 40004, SERVER, 25, TCP_SYN, 1000, 0, NULL);
    send_frame(1, &f);
    f = icmp_prohibited_frame(VLAN_B, ROUTER, CLIENT, 40004, SERVER, 1000);
    send_frame(1.1, &f); /* the ACL's ICMP: blocked; from the ISP: not return traffic */

    /* A whole dialogue on access-a (its answers on access-b would make that segment
     * two-way): leaked, closed by both FINs. */
    f = tcp_frame(VLAN_A, CLIENT, 40005, SERVER, 25, TCP_SYN, 500, 0, NULL);
    send_frame(2, &f);
    f = tcp_frame(VLAN_A, SERVER, 25, CLIENT, 40005, TCP_SYN | TCP_ACK, 9000, 501, NULL);
    send_frame(2.1, &f);
    f = tcp_frame(VLAN_A, CLIENT, 40005, SERVER, 25, TCP_ACK, 501, 9001, NULL);
    send_frame(2.2, &f);
    const char *banner = "220 mx.example.net ESMTP\r\n";
    f = tcp_frame(VLAN_A, SERVER, 25, CLIENT, 40005, TCP_ACK | TCP_PSH, 9001, 501, banner);
    send_frame(2.3, &f);
    uint32_t server_fin = 9001 + (uint32_t)strlen(banner);
    f = tcp_frame(VLAN_A, CLIENT, 40005, SERVER, 25, TCP_ACK | TCP_FIN, 501, server_fin, NULL);
    send_frame(2.4, &f);
    f = tcp_frame(VLAN_A, SERVER, 25, CLIENT, 40005, TCP_ACK | TCP_FIN, server_fin, 502, NULL);
    send_frame(2.5, &f);
    cr_assert_eq(attempt_count, 1, "both FINs close it at once");
    f = tcp_frame(VLAN_A, CLIENT, 40005, SERVER, 25, TCP_ACK, 502, server_fin + 1, NULL);
    send_frame(2.6, &f); /* the last ACK: no second attempt */

    /* A connection joined midway, still open at the end. */
    f = tcp_frame(VLAN_A, CLIENT, 40006, SERVER, 25, TCP_ACK | TCP_PSH, 7000, 8000,
                  "RCPT TO:<x@example.net>\r\n");
    send_frame(3, &f);
}

Test(sensor, every_attempt_is_published_once_with_the_segment_it_was_seen_on)
{
    seven_attempts();
    web(100);
    web(101); /* confirms the jump past every SYN timer (util/packet_clock.h) */
    sensor_finish(sensor, "end_of_input");

    cr_assert_eq(attempt_count, 7);
    const struct {
        uint16_t port;
        int segment;
        enum verdict verdict;
        const char *close_reason;
    } expected[] = {
        {40000, ACCESS_A, VERDICT_BLOCKED, "syn_timeout"},
        {40001, ACCESS_B, VERDICT_UNKNOWN, "syn_timeout"},
        {40002, MIRROR_1, VERDICT_UNKNOWN, "syn_timeout"},
        {40003, ACCESS_A, VERDICT_BLOCKED, "syn_timeout"},
        {40004, ACCESS_B, VERDICT_BLOCKED, "syn_timeout"},
        {40005, ACCESS_A, VERDICT_LEAKED, "fin"},
        {40006, ACCESS_A, VERDICT_LEAKED, "end_of_input"},
    };
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
        const struct attempt_record *r = attempt_from(expected[i].port);
        cr_assert_eq(r->segment, expected[i].segment, "port %u", expected[i].port);
        cr_assert_eq(r->verdict, expected[i].verdict, "port %u: %s", expected[i].port,
                     verdict_name(r->verdict));
        cr_assert_str_eq(r->close_reason, expected[i].close_reason, "port %u", expected[i].port);
    }
    cr_assert(attempt_from(40004)->evidence & EVIDENCE_BIT(EVIDENCE_ICMP_ADMIN_PROHIBITED));
    cr_assert(attempt_from(40005)->evidence & EVIDENCE_BIT(EVIDENCE_BANNER));
    cr_assert_eq(attempt_from(40003)->flow.src.family, ADDRESS_V6);

    /* The coverage the final record points at counts each attempt once. */
    const struct coverage *coverage = sensor_coverage(sensor);
    uint64_t total = coverage_attempts(coverage_get(coverage, 0, ADDRESS_V4)) +
                     coverage_attempts(coverage_get(coverage, 0, ADDRESS_V6));
    cr_assert_eq(total, attempt_count);
    cr_assert_eq(coverage_get(coverage, 0, ADDRESS_V4)->by_verdict[VERDICT_BLOCKED], 2);
    cr_assert_eq(coverage_get(coverage, 0, ADDRESS_V6)->by_verdict[VERDICT_BLOCKED], 1);
    cr_assert_eq(sensor_counters(sensor)->flows_created, 7);
    cr_assert_eq(sensor_counters(sensor)->flows_active, 0);
    cr_assert(periodics[periodic_count - 1].final);
    cr_assert_eq(periodics[periodic_count - 1].counters.flows_created, 7);
}

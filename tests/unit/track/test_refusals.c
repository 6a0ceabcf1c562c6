/* The refusal tracker (src/track/refusals.c) fed decoded packets built here: which SYNs it
 * follows (587 and 465 from any pool, 25 from watched static sources, only behind active
 * edge-side points), what it calls a refusal (ICMP administratively prohibited, the point's
 * reset, silence after a resent SYN where replies are seen) and what not, its timers in
 * packet time, and its bounded table. */
#include <criterion/criterion.h>
#include <string.h>

#include "policy/collateral_places.h"
#include "track/refusals.h"

/* ftth drops, dsl answers ICMP, cable resets; lte is planned, core is seen from behind; a
 * business /29 is carved out of dsl's block, another static pool is carved out of nothing. */
static const char policy_text[] =
    "sensor: { name: unit-refusals, position: edge-side }\n"
    "own_prefixes: [198.51.100.0/22, 2001:db8:1000::/36]\n"
    "blocking_points:\n"
    "  - { name: bras, level: terminator }\n"
    "  - { name: dsl-acl, level: edge, reject: icmp }\n"
    "  - { name: cable-acl, level: edge, reject: tcp-reset }\n"
    "  - { name: lte-acl, level: edge, state: planned }\n"
    "  - { name: border, level: core, position: core-side }\n"
    "pools:\n"
    "  - { name: ftth, type: dynamic, prefixes: [198.51.100.0/24, 2001:db8:1000::/40],\n"
    "      blocking_point: bras }\n"
    "  - { name: dsl, type: dynamic, prefixes: [198.51.101.0/25], blocking_point: dsl-acl }\n"
    "  - { name: cable, type: dynamic, prefixes: [198.51.101.128/25], blocking_point: cable-acl "
    "}\n"
    "  - { name: lte, type: dynamic, prefixes: [198.51.102.0/25], blocking_point: lte-acl }\n"
    "  - { name: far, type: dynamic, prefixes: [198.51.102.128/25], blocking_point: border }\n"
    "  - { name: business, type: static, prefixes: [198.51.101.8/29] }\n"
    "  - { name: colo, type: static, prefixes: [198.51.103.0/24] }\n"
    "segments:\n"
    "  - { name: access, vlan: 100, expects: [ftth, dsl, cable, lte, far, business, colo] }\n"
    "  - { name: dark, vlan: 110, expects: [ftth] }\n"
    "timeouts: { syn: 30s }\n";

enum { FTTH = 0, DSL, CABLE, LTE, FAR, BUSINESS, COLO };
enum { BRAS = 0, DSL_ACL, CABLE_ACL };
enum { ACCESS = 0, DARK = 1 };

#define T0 (1768467600LL * PACKET_TIME_SECOND)
#define SERVER "203.0.113.50"
#define REPORTS_MAX 16

static struct policy *policy;
static struct collateral_places places;
static struct sensor_counters counters;
static bool return_seen[3]; /* [segment + 1]: access shows replies, dark does not */
static packet_time due;
static struct refusal_tracker *tracker;
static struct refusal_report reports[REPORTS_MAX];
static size_t report_count;

static void keep(void *context, const struct refusal_report *report)
{
    (void)context;
    cr_assert_lt(report_count, REPORTS_MAX);
    reports[report_count++] = *report;
}

static void start_with(uint32_t capacity)
{
    char error[256];
    policy = policy_load_text("unit.yaml", policy_text, strlen(policy_text), error, sizeof(error));
    cr_assert_not_null(policy, "%s", error);
    cr_assert_eq(collateral_places_build(policy, &places), 0);
    memset(&counters, 0, sizeof(counters));
    memset(return_seen, 0, sizeof(return_seen));
    return_seen[ACCESS + 1] = true;
    report_count = 0;
    due = INT64_MAX;
    tracker =
        refusal_tracker_new(policy, &places, capacity, &counters, return_seen, &due, keep, NULL);
    cr_assert_not_null(tracker);
}

static void setup(void)
{
    start_with(64);
}

static void teardown(void)
{
    refusal_tracker_free(tracker);
    collateral_places_free(&places);
    policy_free(policy);
}

TestSuite(refusals, .init = setup, .fini = teardown);

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

static struct packet tcp(double seconds, const char *src, uint16_t src_port, const char *dst,
                         uint16_t dst_port, uint8_t flags, uint32_t seq, uint32_t ack)
{
    struct packet packet;
    memset(&packet, 0, sizeof(packet));
    packet.ts = at(seconds);
    packet.src = ip(src);
    packet.dst = ip(dst);
    packet.ip_version = packet.src.family == ADDRESS_V4 ? 4 : 6;
    packet.proto = IPPROTO_NUMBER_TCP;
    packet.src_port = src_port;
    packet.dst_port = dst_port;
    packet.tcp_flags = flags;
    packet.seq = seq;
    packet.ack = ack;
    packet.payload = (const uint8_t *)"";
    return packet;
}

/* What the sensor does per packet: timers first, then the packet. */
static void feed(const struct packet *packet, int segment)
{
    if (packet->ts >= due)
        refusal_advance(tracker, packet->ts);
    refusal_packet(tracker, packet, segment);
}

static void advance(double seconds)
{
    refusal_advance(tracker, at(seconds));
}

static void syn(double seconds, const char *client, uint16_t port, const char *server,
                uint16_t server_port, uint32_t isn, int segment)
{
    struct packet p = tcp(seconds, client, port, server, server_port, TCP_SYN, isn, 0);
    feed(&p, segment);
}

static void icmp(double seconds, const char *from, uint8_t type, uint8_t code, const char *client,
                 uint16_t port, const char *server, uint16_t server_port, uint32_t seq)
{
    struct packet packet;
    memset(&packet, 0, sizeof(packet));
    packet.ts = at(seconds);
    packet.src = ip(from);
    packet.dst = ip(client);
    packet.ip_version = packet.src.family == ADDRESS_V4 ? 4 : 6;
    packet.proto = packet.ip_version == 4 ? IPPROTO_NUMBER_ICMP : IPPROTO_NUMBER_ICMPV6;
    packet.is_icmp_error = true;
    packet.icmp_type = type;
    packet.icmp_code = code;
    packet.quote.src = ip(client);
    packet.quote.dst = ip(server);
    packet.quote.proto = IPPROTO_NUMBER_TCP;
    packet.quote.has_ports = true;
    packet.quote.has_seq = true;
    packet.quote.src_port = port;
    packet.quote.dst_port = server_port;
    packet.quote.seq = seq;
    feed(&packet, ACCESS);
}

Test(refusals, an_icmp_prohibited_error_refuses_587_at_once)
{
    syn(0, "198.51.101.20", 40000, SERVER, 587, 1000, ACCESS);
    cr_assert_eq(refusal_count(tracker), 1);
    icmp(0.001, "198.51.101.1", 3, 13, "198.51.101.20", 40000, SERVER, 587, 1000);
    cr_assert_eq(report_count, 1);
    cr_assert_eq(refusal_count(tracker), 0, "a refused connection is done with");
    const struct refusal_report *r = &reports[0];
    cr_assert_eq(r->evidence, COLLATERAL_ICMP_PROHIBITED);
    cr_assert_eq(r->reason, COLLATERAL_SUBMISSION_PORT);
    cr_assert_eq(r->pool, DSL);
    cr_assert_eq(places.items[r->place].pool, DSL);
    cr_assert_eq(places.items[r->place].blocking_point, DSL_ACL);
    cr_assert_eq(r->segment, ACCESS);
    cr_assert_eq(r->syn_count, 1);
    cr_assert_eq(r->first_syn, at(0));
    cr_assert_eq(r->last_syn, at(0));
    cr_assert_eq(r->now, at(0.001));
    cr_assert(r->icmp_seen);
    cr_assert_eq(r->icmp_type, 3);
    cr_assert_eq(r->icmp_code, 13);
    struct address router = ip("198.51.101.1"), client = ip("198.51.101.20");
    cr_assert(address_equal(&r->icmp_from, &router));
    cr_assert(address_equal(&r->flow.src, &client));
    cr_assert_eq(r->flow.src_port, 40000);
    cr_assert_eq(r->flow.dst_port, 587);

    /* ICMPv6 1/1, on 465. */
    syn(1, "2001:db8:1000::10", 40001, "2001:db8:f000::50", 465, 7, ACCESS);
    icmp(1.001, "2001:db8:1000::1", 1, 1, "2001:db8:1000::10", 40001, "2001:db8:f000::50", 465, 7);
    cr_assert_eq(report_count, 2);
    cr_assert_eq(reports[1].evidence, COLLATERAL_ICMP_PROHIBITED);
    cr_assert_eq(reports[1].pool, FTTH);
}

Test(refusals, another_icmp_error_or_an_older_connections_is_no_refusal)
{
    syn(0, "198.51.100.10", 40000, SERVER, 587, 1000, ACCESS);
    syn(0.5, "198.51.100.10", 40000, SERVER, 587, 1000, ACCESS);
    /* Quoting a sequence number before this connection's: another connection's error. */
    icmp(0.6, "198.51.100.1", 3, 13, "198.51.100.10", 40000, SERVER, 587, 900);
    cr_assert_eq(report_count, 0);
    /* Host unreachable: an answer, though no ACL's, so no silence either. */
    icmp(0.7, "203.0.113.1", 3, 1, "198.51.100.10", 40000, SERVER, 587, 1000);
    advance(100);
    cr_assert_eq(report_count, 0);
    cr_assert_eq(refusal_count(tracker), 0);
}

Test(refusals, a_reset_is_the_points_only_where_it_rejects_with_resets)
{
    syn(0, "198.51.101.130", 40000, SERVER, 465, 1000, ACCESS);
    struct packet rst =
        tcp(0.001, SERVER, 465, "198.51.101.130", 40000, TCP_RST | TCP_ACK, 0, 1001);
    feed(&rst, ACCESS);
    cr_assert_eq(report_count, 1);
    cr_assert_eq(reports[0].evidence, COLLATERAL_RST_BLOCKING_POINT);
    cr_assert_eq(places.items[reports[0].place].blocking_point, CABLE_ACL);
    cr_assert_not(reports[0].icmp_seen);

    /* bras drops: a reset is the server's, which the SYN reached. */
    syn(1, "198.51.100.10", 40001, SERVER, 587, 1000, ACCESS);
    rst = tcp(1.04, SERVER, 587, "198.51.100.10", 40001, TCP_RST | TCP_ACK, 0, 1001);
    feed(&rst, ACCESS);
    cr_assert_eq(refusal_count(tracker), 0);
    /* dsl-acl answers ICMP errors, not resets: a reset there is the server's too. */
    syn(1.5, "198.51.101.21", 40003, SERVER, 587, 1000, ACCESS);
    rst = tcp(1.54, SERVER, 587, "198.51.101.21", 40003, TCP_RST | TCP_ACK, 0, 1001);
    feed(&rst, ACCESS);
    cr_assert_eq(refusal_count(tracker), 0);
    cr_assert_eq(report_count, 1);
    /* A reset acknowledging another sequence number answers no SYN of this one. */
    syn(2, "198.51.101.131", 40002, SERVER, 587, 1000, ACCESS);
    rst = tcp(2.001, SERVER, 587, "198.51.101.131", 40002, TCP_RST | TCP_ACK, 0, 5000);
    feed(&rst, ACCESS);
    cr_assert_eq(refusal_count(tracker), 1);
    advance(100);
    cr_assert_eq(report_count, 1, "one SYN: its silence is no refusal");
}

Test(refusals, silence_after_a_resent_syn_where_replies_are_seen_is_no_reply)
{
    syn(0, "198.51.100.10", 40000, SERVER, 587, 1000, ACCESS);
    syn(1, "198.51.100.10", 40000, SERVER, 587, 1000, ACCESS);
    syn(3, "198.51.100.10", 40000, SERVER, 587, 1000, ACCESS);
    cr_assert_eq(due, at(30), "the first deadline, set when the first SYN came");
    advance(32.999);
    cr_assert_eq(report_count, 0, "decided before timeouts.syn after the last SYN");
    advance(33);
    cr_assert_eq(report_count, 1);
    const struct refusal_report *r = &reports[0];
    cr_assert_eq(r->evidence, COLLATERAL_NO_REPLY);
    cr_assert_eq(r->syn_count, 3);
    cr_assert_eq(r->first_syn, at(0));
    cr_assert_eq(r->last_syn, at(3));
    cr_assert_eq(r->now, at(33));
    cr_assert_eq(places.items[r->place].blocking_point, BRAS);

    /* One SYN only (a scanner's), or where no reply travels, or answered by SYN-ACK. */
    syn(40, "198.51.100.11", 40001, SERVER, 587, 1, ACCESS);
    syn(40, "198.51.100.12", 40002, SERVER, 465, 1, DARK);
    syn(41, "198.51.100.12", 40002, SERVER, 465, 1, DARK);
    syn(40, "198.51.100.13", 40003, SERVER, 587, 1, ACCESS);
    syn(41, "198.51.100.13", 40003, SERVER, 587, 1, ACCESS);
    struct packet answer = tcp(41.02, SERVER, 587, "198.51.100.13", 40003, TCP_SYN | TCP_ACK, 9, 2);
    feed(&answer, ACCESS);
    cr_assert_eq(refusal_count(tracker), 2, "the answered one is forgotten at once");
    advance(200);
    cr_assert_eq(report_count, 1);
    cr_assert_eq(refusal_count(tracker), 0);
}

Test(refusals, the_clients_ack_of_a_handshake_not_seen_is_an_answer)
{
    syn(0, "198.51.100.10", 40000, SERVER, 587, 1000, ACCESS);
    syn(1, "198.51.100.10", 40000, SERVER, 587, 1000, ACCESS);
    struct packet ack = tcp(1.05, "198.51.100.10", 40000, SERVER, 587, TCP_ACK, 1001, 77);
    feed(&ack, ACCESS);
    cr_assert_eq(refusal_count(tracker), 0);
    advance(100);
    cr_assert_eq(report_count, 0);
}

Test(refusals, a_stack_backing_off_waits_longer)
{
    /* 16 s between SYNs: the next would come 32 s later, past timeouts.syn. */
    syn(0, "198.51.100.10", 40000, SERVER, 587, 1000, ACCESS);
    syn(16, "198.51.100.10", 40000, SERVER, 587, 1000, ACCESS);
    advance(55.9);
    cr_assert_eq(report_count, 0, "not at 16 + 30 s");
    syn(48, "198.51.100.10", 40000, SERVER, 587, 1000, ACCESS);
    advance(87.9);
    cr_assert_eq(report_count, 0);
    advance(88);
    cr_assert_eq(report_count, 1);
    cr_assert_eq(reports[0].syn_count, 3);
}

Test(refusals, a_new_isn_on_the_same_ports_is_a_new_connection)
{
    syn(0, "198.51.100.10", 40000, SERVER, 587, 1000, ACCESS);
    syn(1, "198.51.100.10", 40000, SERVER, 587, 5000, ACCESS);
    syn(2, "198.51.100.10", 40000, SERVER, 587, 5000, ACCESS);
    cr_assert_eq(refusal_count(tracker), 1);
    advance(100);
    cr_assert_eq(report_count, 1);
    cr_assert_eq(reports[0].syn_count, 2);
    cr_assert_eq(reports[0].first_syn, at(1));
    /* The client gives up with a reset: no refusal, whatever came before. */
    syn(110, "198.51.100.10", 40001, SERVER, 587, 1, ACCESS);
    syn(111, "198.51.100.10", 40001, SERVER, 587, 1, ACCESS);
    struct packet rst = tcp(112, "198.51.100.10", 40001, SERVER, 587, TCP_RST, 2, 0);
    feed(&rst, ACCESS);
    cr_assert_eq(refusal_count(tracker), 0);
}

Test(refusals, port_25_only_from_static_sources_the_sensor_can_blame_a_point_for)
{
    cr_assert(places.any_static);
    /* The /29 carved out of dsl's block: dsl-acl must let its port 25 through. */
    syn(0, "198.51.101.9", 40000, SERVER, 25, 1000, ACCESS);
    icmp(0.001, "198.51.101.1", 3, 13, "198.51.101.9", 40000, SERVER, 25, 1000);
    cr_assert_eq(report_count, 1);
    cr_assert_eq(reports[0].reason, COLLATERAL_STATIC_POOL);
    cr_assert_eq(reports[0].pool, BUSINESS);
    cr_assert_eq(places.items[reports[0].place].pool, BUSINESS);
    cr_assert_eq(places.items[reports[0].place].blocking_point, DSL_ACL);
    /* ... and its 587 as well. */
    syn(1, "198.51.101.9", 40001, SERVER, 587, 1000, ACCESS);
    icmp(1.001, "198.51.101.1", 3, 13, "198.51.101.9", 40001, SERVER, 587, 1000);
    cr_assert_eq(report_count, 2);
    cr_assert_eq(reports[1].reason, COLLATERAL_SUBMISSION_PORT);
    /* Dynamic port 25 is the attempt tracker's; a static pool behind no point is no one's. */
    syn(2, "198.51.101.20", 40002, SERVER, 25, 1000, ACCESS);
    syn(2, "198.51.103.10", 40003, SERVER, 25, 1000, ACCESS);
    syn(2, "198.51.103.10", 40004, SERVER, 587, 1000, ACCESS);
    syn(2, "203.0.113.9", 40005, SERVER, 587, 1000, ACCESS);
    /* Not submission, and not a SYN. */
    syn(2, "198.51.100.10", 40006, SERVER, 443, 1000, ACCESS);
    struct packet ack = tcp(2, "198.51.100.10", 40007, SERVER, 587, TCP_ACK, 1000, 1);
    feed(&ack, ACCESS);
    cr_assert_eq(refusal_count(tracker), 0);
}

Test(refusals, planned_and_core_side_points_are_not_watched)
{
    syn(0, "198.51.102.10", 40000, SERVER, 587, 1000, ACCESS);
    syn(0, "198.51.102.200", 40001, SERVER, 587, 1000, ACCESS);
    cr_assert_eq(refusal_count(tracker), 0);
    cr_assert_eq(collateral_place_of(&places, policy, LTE, &(struct address){0}), -1);
    struct address far = ip("198.51.102.200");
    cr_assert_eq(collateral_place_of(&places, policy, FAR, &far), -1);
}

Test(refusals, a_full_table_gives_up_the_connection_waiting_longest)
{
    teardown();
    start_with(2);
    syn(0, "198.51.100.10", 40000, SERVER, 587, 1, ACCESS);
    syn(1, "198.51.100.11", 40001, SERVER, 587, 1, ACCESS);
    syn(2, "198.51.100.12", 40002, SERVER, 587, 1, ACCESS);
    cr_assert_eq(refusal_count(tracker), 2);
    cr_assert_eq(counters.detector_evictions, 1);
    /* The first is gone: its ICMP error refuses nothing now. */
    icmp(3, "198.51.100.1", 3, 13, "198.51.100.10", 40000, SERVER, 587, 1);
    icmp(3, "198.51.100.1", 3, 13, "198.51.100.12", 40002, SERVER, 587, 1);
    cr_assert_eq(report_count, 1);
    cr_assert_eq(reports[0].flow.src_port, 40002);
}

Test(refusals, the_end_of_input_forgets_what_still_waits)
{
    syn(0, "198.51.100.10", 40000, SERVER, 587, 1, ACCESS);
    syn(1, "198.51.100.10", 40000, SERVER, 587, 1, ACCESS);
    refusal_finish(tracker);
    cr_assert_eq(refusal_count(tracker), 0);
    cr_assert_eq(refusal_next_deadline(tracker), INT64_MAX);
    advance(100);
    cr_assert_eq(report_count, 0);
}

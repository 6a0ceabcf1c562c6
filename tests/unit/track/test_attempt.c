/* The attempt tracker (src/track/attempt.c) fed decoded packets built here, its attempt
 * records taken off the bus as values: each verdict and its evidence as docs/concepts.md
 * ("Verdicts and evidence") states them, when an attempt is decided and written, the
 * bounded table and its evictions, and the coverage tallies beside the records. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record/bus.h"
#include "record/coverage.h"
#include "policy/policy.h"
#include "track/attempt.h"

/* Three dynamic pools, one behind each kind of blocking point, and a static one. */
static const char policy_template[] =
    "sensor: { name: unit-attempt, position: %s }\n"
    "own_prefixes: [198.51.100.0/22, 2001:db8:1000::/36]\n"
    "pools:\n"
    "  - { name: ftth, type: dynamic, prefixes: [198.51.100.0/24, 2001:db8:1000::/40],\n"
    "      blocking_point: bras }\n"
    "  - { name: dsl, type: dynamic, prefixes: [198.51.101.0/24], blocking_point: dsl-acl }\n"
    "  - { name: mobile, type: dynamic, prefixes: [198.51.102.0/24], blocking_point: mobile-acl "
    "}\n"
    "  - { name: business, type: static, prefixes: [198.51.103.0/24] }\n"
    "msas:\n"
    "  - { name: isp-msa, prefixes: [192.0.2.25/32, 2001:db8:25::25/128], ports: [25, 587] }\n"
    "  - { name: dsl-msa, prefixes: [192.0.2.26/32], ports: [25], pools: [dsl] }\n"
    "  - { name: submission-only, prefixes: [192.0.2.27/32], ports: [587] }\n"
    "blocking_points:\n"
    "  - { name: bras, level: terminator }\n"
    "  - { name: dsl-acl, level: edge, reject: tcp-reset }\n"
    "  - { name: mobile-acl, level: edge, state: planned }\n"
    "segments:\n"
    "  - { name: access-a, vlan: 100, expects: [ftth, dsl, mobile] }\n"
    "  - { name: access-b, vlan: 110, expects: [ftth] }\n"
    "timeouts: { syn: 30s, smtp_idle: 600s }\n"
    "limits: { flows: %u, sessions: %u }\n";

enum { FTTH = 0, DSL, MOBILE, BUSINESS };
enum { ISP_MSA = 0, DSL_MSA, SUBMISSION_ONLY };
enum { ACCESS_A = 0, ACCESS_B = 1, NO_SEGMENT = -1 };

#define FTTH_CLIENT "198.51.100.10"
#define DSL_CLIENT "198.51.101.10"
#define MOBILE_CLIENT "198.51.102.10"
#define STATIC_CLIENT "198.51.103.10"
#define SERVER "203.0.113.25"
#define ROUTER "198.51.100.1"

#define T0 (1768467600LL * PACKET_TIME_SECOND)

/* A record as a subscriber keeps it: the dialogue copied, since the tracker's lives only
 * while the record is handed out. */
struct kept {
    struct attempt_record record;
    bool has_smtp;
    struct smtp_facts smtp;
};

#define KEPT_MAX 64
static struct kept kept[KEPT_MAX];
static size_t kept_count;

static struct policy *policy;
static struct bus bus;
static struct coverage coverage;
static struct sensor_counters counters;
static bool return_seen[3]; /* [segment + 1] */
static struct attempt_tracker *tracker;

static void keep_attempt(void *context, const struct attempt_record *attempt)
{
    (void)context;
    cr_assert_lt(kept_count, KEPT_MAX);
    struct kept *k = &kept[kept_count++];
    k->record = *attempt;
    k->has_smtp = attempt->smtp != NULL;
    if (k->has_smtp)
        k->smtp = *attempt->smtp;
    k->record.smtp = NULL; /* the tracker's: only the copy is read after the call */
}

static void start_policy(const char *text)
{
    char error[256];
    policy = policy_load_text("unit.yaml", text, strlen(text), error, sizeof(error));
    cr_assert_not_null(policy, "%s", error);
    memset(kept, 0, sizeof(kept));
    kept_count = 0;
    memset(&counters, 0, sizeof(counters));
    memset(return_seen, 0, sizeof(return_seen));
    cr_assert_eq(coverage_init(&coverage, policy->pool_count), 0);
    bus_init(&bus);
    struct bus_subscriber subscriber = {.attempt = keep_attempt};
    cr_assert_eq(bus_subscribe(&bus, subscriber), 0);
    tracker = attempt_tracker_new(policy, &bus, &coverage, &counters, return_seen);
    cr_assert_not_null(tracker);
}

static void start(const char *position, unsigned flows, unsigned sessions)
{
    char text[sizeof(policy_template) + 64];
    int length = snprintf(text, sizeof(text), policy_template, position, flows, sessions);
    cr_assert(length > 0 && (size_t)length < sizeof(text));
    start_policy(text);
}

static void stop(void)
{
    attempt_tracker_free(tracker);
    coverage_free(&coverage);
    policy_free(policy);
}

/* Another policy for the rest of a test. */
static void restart(const char *position, unsigned flows, unsigned sessions)
{
    stop();
    start(position, flows, sessions);
}

static void setup(void)
{
    start("edge-side", 64, 2);
}

TestSuite(attempt, .init = setup, .fini = stop);

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

/* A TCP packet as decode_packet() leaves it. */
static struct packet tcp(double seconds, const char *src, uint16_t src_port, const char *dst,
                         uint16_t dst_port, uint8_t flags, uint32_t seq, uint32_t ack,
                         const char *payload)
{
    struct packet packet;
    memset(&packet, 0, sizeof(packet));
    packet.ts = at(seconds);
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
    packet.payload = (const uint8_t *)(payload != NULL ? payload : "");
    packet.payload_length = payload != NULL ? (uint32_t)strlen(payload) : 0;
    return packet;
}

/* What the sensor does per packet: time first, then the packet. */
static void feed(const struct packet *packet, int segment)
{
    attempt_advance(tracker, packet->ts);
    if (packet->is_icmp_error)
        attempt_icmp(tracker, packet);
    else
        attempt_tcp(tracker, packet, segment);
}

static void advance(double seconds)
{
    attempt_advance(tracker, at(seconds));
}

static void syn(double seconds, const char *client, uint16_t port, const char *server, uint32_t isn,
                int segment)
{
    struct packet p = tcp(seconds, client, port, server, 25, TCP_SYN, isn, 0, NULL);
    feed(&p, segment);
}

/* One connection's two sequence spaces, so a dialogue is written as what each side says. */
struct conn {
    const char *client;
    uint16_t port;
    const char *server;
    uint32_t client_next;
    uint32_t server_next;
    int segment;
};

static struct conn conn_open(double seconds, const char *client, uint16_t port, const char *server,
                             int segment)
{
    struct conn c = {client, port, server, 1000, 90000, segment};
    syn(seconds, client, port, server, c.client_next++, segment);
    return c;
}

static void server_syn_ack(struct conn *c, double seconds)
{
    struct packet p = tcp(seconds, c->server, 25, c->client, c->port, TCP_SYN | TCP_ACK,
                          c->server_next++, c->client_next, NULL);
    feed(&p, c->segment);
}

static void client_says(struct conn *c, double seconds, uint8_t flags, const char *text)
{
    struct packet p = tcp(seconds, c->client, c->port, c->server, 25, TCP_ACK | flags,
                          c->client_next, c->server_next, text);
    feed(&p, c->segment);
    c->client_next += p.payload_length + ((flags & TCP_FIN) ? 1 : 0);
}

static void server_says(struct conn *c, double seconds, uint8_t flags, const char *text)
{
    struct packet p = tcp(seconds, c->server, 25, c->client, c->port, TCP_ACK | flags,
                          c->server_next, c->client_next, text);
    feed(&p, c->segment);
    c->server_next += p.payload_length + ((flags & TCP_FIN) ? 1 : 0);
}

/* SYN, SYN-ACK and the client's ACK. */
static struct conn handshake(double seconds, const char *client, uint16_t port, int segment)
{
    struct conn c = conn_open(seconds, client, port, SERVER, segment);
    server_syn_ack(&c, seconds + 0.01);
    client_says(&c, seconds + 0.02, 0, NULL);
    return c;
}

/* An ICMP error from `from` quoting the packet `quoted` (its first 8 bytes of TCP). */
static struct packet icmp(double seconds, const char *from, uint8_t type, uint8_t code,
                          const struct packet *quoted)
{
    struct packet packet;
    memset(&packet, 0, sizeof(packet));
    packet.ts = at(seconds);
    packet.src = ip(from);
    packet.dst = quoted->src;
    packet.ip_version = packet.src.family == ADDRESS_V4 ? 4 : 6;
    packet.proto = packet.ip_version == 4 ? IPPROTO_NUMBER_ICMP : IPPROTO_NUMBER_ICMPV6;
    packet.is_icmp_error = true;
    packet.icmp_type = type;
    packet.icmp_code = code;
    packet.quote.src = quoted->src;
    packet.quote.dst = quoted->dst;
    packet.quote.proto = IPPROTO_NUMBER_TCP;
    packet.quote.has_ports = true;
    packet.quote.has_seq = true;
    packet.quote.src_port = quoted->src_port;
    packet.quote.dst_port = quoted->dst_port;
    packet.quote.seq = quoted->seq;
    return packet;
}

static bool has(evidence_set set, enum evidence evidence)
{
    return (set & EVIDENCE_BIT(evidence)) != 0;
}

/* The record of the attempt from this client port; exactly one must exist. */
static const struct kept *record_of(uint16_t port)
{
    const struct kept *found = NULL;
    for (size_t i = 0; i < kept_count; i++) {
        if (kept[i].record.flow.src_port != port)
            continue;
        cr_assert_null(found, "port %u: written twice", port);
        found = &kept[i];
    }
    cr_assert_not_null(found, "port %u: no attempt written", port);
    return found;
}

static void assert_only(evidence_set set, evidence_set expected)
{
    cr_assert_eq(set, expected, "evidence %#x, expected %#x", (unsigned)set, (unsigned)expected);
}

Test(attempt, silence_on_a_two_way_segment_is_no_reply_at_the_syn_timeout)
{
    return_seen[ACCESS_A + 1] = true;
    syn(0, FTTH_CLIENT, 40000, SERVER, 1000, ACCESS_A);
    advance(29.999);
    cr_assert_eq(kept_count, 0, "decided before timeouts.syn");
    cr_assert_eq(counters.flows_active, 1);
    advance(30);
    cr_assert_eq(kept_count, 1);
    const struct attempt_record *r = &kept[0].record;
    cr_assert_eq(r->verdict, VERDICT_BLOCKED);
    assert_only(r->evidence, EVIDENCE_BIT(EVIDENCE_NO_REPLY));
    cr_assert_str_eq(r->close_reason, "syn_timeout");
    cr_assert_eq(r->syn_count, 1);
    cr_assert_eq(r->pool, FTTH);
    cr_assert_eq(r->segment, ACCESS_A);
    cr_assert_eq(r->msa, -1);
    cr_assert_not(r->to_designated_msa);
    cr_assert_not(r->icmp_seen);
    cr_assert_not(r->server_stream);
    cr_assert_not(kept[0].has_smtp, "a lone SYN has no dialogue");
    cr_assert_eq(r->first_seen, at(0));
    cr_assert_eq(r->last_seen, at(0));
    struct address client = ip(FTTH_CLIENT), server = ip(SERVER);
    cr_assert(address_equal(&r->flow.src, &client));
    cr_assert(address_equal(&r->flow.dst, &server));
    cr_assert_eq(r->flow.src_port, 40000);
    cr_assert_eq(r->flow.dst_port, 25);
    cr_assert_eq(r->flow.proto, IPPROTO_NUMBER_TCP);
    cr_assert_eq(counters.flows_active, 0);
    cr_assert_eq(counters.flows_created, 1);
}

Test(attempt, silence_on_a_one_way_segment_is_unknown)
{
    /* Return traffic was seen on access-b only: silence on access-a, or on no segment,
     * proves nothing. */
    return_seen[ACCESS_B + 1] = true;
    syn(0, FTTH_CLIENT, 40000, SERVER, 1000, ACCESS_A);
    syn(0, FTTH_CLIENT, 40001, SERVER, 1000, NO_SEGMENT);
    syn(0, FTTH_CLIENT, 40002, SERVER, 1000, ACCESS_B);
    advance(31);
    cr_assert_eq(kept_count, 3);
    for (uint16_t port = 40000; port <= 40001; port++) {
        const struct attempt_record *r = &record_of(port)->record;
        cr_assert_eq(r->verdict, VERDICT_UNKNOWN, "port %u", port);
        assert_only(r->evidence, 0);
        cr_assert_str_eq(r->close_reason, "syn_timeout");
    }
    cr_assert_eq(record_of(40001)->record.segment, NO_SEGMENT);
    cr_assert_eq(record_of(40002)->record.verdict, VERDICT_BLOCKED);

    /* Packets on no segment have a flag of their own (index 0). */
    return_seen[0] = true;
    syn(40, FTTH_CLIENT, 40003, SERVER, 1000, NO_SEGMENT);
    advance(70);
    cr_assert_eq(record_of(40003)->record.verdict, VERDICT_BLOCKED);
}

Test(attempt, a_retransmitted_syn_is_the_same_attempt_and_restarts_the_timer)
{
    return_seen[ACCESS_A + 1] = true;
    syn(0, FTTH_CLIENT, 40000, SERVER, 7777, ACCESS_A);
    syn(3, FTTH_CLIENT, 40000, SERVER, 7777, ACCESS_A);
    advance(32.9);
    cr_assert_eq(kept_count, 0, "the timer runs from the last SYN");
    advance(33);
    cr_assert_eq(kept_count, 1);
    const struct attempt_record *r = &kept[0].record;
    cr_assert_eq(r->syn_count, 2);
    cr_assert_eq(r->first_seen, at(0));
    cr_assert_eq(r->last_seen, at(3));
    cr_assert_eq(r->verdict, VERDICT_BLOCKED);
    cr_assert_eq(counters.flows_created, 1);
}

Test(attempt, a_new_isn_on_the_same_ports_closes_the_first_as_port_reused)
{
    return_seen[ACCESS_A + 1] = true;
    syn(0, FTTH_CLIENT, 40000, SERVER, 1000, ACCESS_A);
    syn(5, FTTH_CLIENT, 40000, SERVER, 5000, ACCESS_A);
    cr_assert_eq(kept_count, 1, "the new ISN closes the first attempt at once");
    const struct attempt_record *first = &kept[0].record;
    cr_assert_str_eq(first->close_reason, "port_reused");
    cr_assert_eq(first->syn_count, 1);
    /* Its SYN timer had not run out: silence is not yet evidence. */
    cr_assert_eq(first->verdict, VERDICT_UNKNOWN);
    assert_only(first->evidence, 0);

    advance(34.9);
    cr_assert_eq(kept_count, 1);
    advance(35);
    cr_assert_eq(kept_count, 2);
    const struct attempt_record *second = &kept[1].record;
    cr_assert_str_eq(second->close_reason, "syn_timeout");
    cr_assert_eq(second->first_seen, at(5));
    cr_assert_eq(second->syn_count, 1);
    cr_assert_eq(second->verdict, VERDICT_BLOCKED);
    cr_assert_eq(counters.flows_created, 2);
}

Test(attempt, a_dialogue_is_leaked_with_every_stage_and_its_smtp_facts)
{
    return_seen[ACCESS_A + 1] = true;
    struct conn c = handshake(0, FTTH_CLIENT, 40000, ACCESS_A);
    server_says(&c, 0.20, TCP_PSH, "220 mx.example.net ESMTP ready\r\n");
    client_says(&c, 0.30, TCP_PSH, "EHLO pc1.example.jp\r\n");
    server_says(&c, 0.35, TCP_PSH, "250-mx.example.net\r\n250 PIPELINING\r\n");
    client_says(&c, 0.40, TCP_PSH, "MAIL FROM:<bulk@Spam.Example>\r\n");
    server_says(&c, 0.45, TCP_PSH, "250 ok\r\n");
    client_says(&c, 0.50, TCP_PSH, "RCPT TO:<victim@example.net>\r\n");
    server_says(&c, 0.55, TCP_PSH, "250 ok\r\n");
    client_says(&c, 0.60, TCP_PSH, "DATA\r\n");
    server_says(&c, 0.65, TCP_PSH, "354 go ahead\r\n");
    const char *body = "Subject: hi\r\n\r\nhello\r\n.\r\n";
    uint32_t body_seq = c.client_next;
    client_says(&c, 0.70, TCP_PSH, body);
    /* The body again (a retransmission): its bytes are counted once. */
    struct packet again =
        tcp(0.72, FTTH_CLIENT, 40000, SERVER, 25, TCP_ACK | TCP_PSH, body_seq, c.server_next, body);
    feed(&again, ACCESS_A);
    server_says(&c, 0.75, TCP_PSH, "250 queued\r\n");

    /* Leak evidence settled it: the SYN timer no longer decides it. */
    advance(45);
    cr_assert_eq(kept_count, 0);

    client_says(&c, 45.0, TCP_PSH | TCP_FIN, "QUIT\r\n");
    cr_assert_eq(kept_count, 0, "one FIN does not end it");
    server_says(&c, 45.1, TCP_PSH | TCP_FIN, "221 bye\r\n");
    cr_assert_eq(kept_count, 1);

    const struct kept *k = &kept[0];
    const struct attempt_record *r = &k->record;
    cr_assert_eq(r->verdict, VERDICT_LEAKED);
    cr_assert_str_eq(r->close_reason, "fin");
    const enum evidence stages[] = {EVIDENCE_SYN_ACK, EVIDENCE_CLIENT_ACK, EVIDENCE_BANNER,
                                    EVIDENCE_EHLO,    EVIDENCE_MAIL_FROM,  EVIDENCE_RCPT,
                                    EVIDENCE_DATA};
    evidence_set expected = 0;
    for (size_t i = 0; i < sizeof(stages) / sizeof(stages[0]); i++)
        expected |= EVIDENCE_BIT(stages[i]);
    assert_only(r->evidence, expected);
    cr_assert_eq(evidence_highest_leak(r->evidence), EVIDENCE_DATA);
    cr_assert(r->server_stream);
    cr_assert_eq(r->syn_count, 1);
    cr_assert_eq(r->first_seen, at(0));
    cr_assert_eq(r->last_seen, at(45.1));
    cr_assert_eq(r->client_bytes, strlen("EHLO pc1.example.jp\r\n") +
                                      strlen("MAIL FROM:<bulk@Spam.Example>\r\n") +
                                      strlen("RCPT TO:<victim@example.net>\r\n") +
                                      strlen("DATA\r\n") + strlen(body) + strlen("QUIT\r\n"));
    cr_assert_eq(r->server_bytes, strlen("220 mx.example.net ESMTP ready\r\n") +
                                      strlen("250-mx.example.net\r\n250 PIPELINING\r\n") +
                                      2 * strlen("250 ok\r\n") + strlen("354 go ahead\r\n") +
                                      strlen("250 queued\r\n") + strlen("221 bye\r\n"));

    cr_assert(k->has_smtp);
    cr_assert(k->smtp.banner_seen);
    cr_assert_eq(k->smtp.banner_code, 220);
    cr_assert_str_eq(k->smtp.helo, "pc1.example.jp");
    cr_assert(k->smtp.ehlo);
    cr_assert_str_eq(k->smtp.mail_from_domain, "spam.example");
    cr_assert_eq(k->smtp.mail_count, 1);
    cr_assert_eq(k->smtp.rcpt_count, 1);
    cr_assert_eq(k->smtp.rcpt_accepted, 1);
    cr_assert_eq(k->smtp.data_count, 1);
    cr_assert_eq(k->smtp.messages_accepted, 1);
    cr_assert(k->smtp.quit_seen);
    cr_assert_eq(counters.sessions_active, 0, "the dialogue's parser went back to the pool");
    cr_assert_eq(counters.flows_active, 0);
}

Test(attempt, starttls_is_the_last_stage_seen)
{
    struct conn c = handshake(0, FTTH_CLIENT, 40000, ACCESS_A);
    server_says(&c, 0.1, TCP_PSH, "220 mx.example.net ESMTP\r\n");
    client_says(&c, 0.2, TCP_PSH, "EHLO pc1.example.jp\r\n");
    server_says(&c, 0.3, TCP_PSH, "250-mx.example.net\r\n250 STARTTLS\r\n");
    client_says(&c, 0.4, TCP_PSH, "STARTTLS\r\n");
    server_says(&c, 0.5, TCP_PSH, "220 go ahead\r\n");
    /* Encrypted from here: what looks like commands is not read. */
    client_says(&c, 0.6, TCP_PSH, "MAIL FROM:<x@y.example>\r\n");
    attempt_finish(tracker, "end_of_input");
    cr_assert_eq(kept_count, 1);
    cr_assert_eq(evidence_highest_leak(kept[0].record.evidence), EVIDENCE_STARTTLS);
    cr_assert_not(has(kept[0].record.evidence, EVIDENCE_MAIL_FROM));
    cr_assert(kept[0].smtp.starttls_requested);
}

Test(attempt, an_answered_attempt_closes_after_smtp_idle_without_a_packet)
{
    struct conn c = conn_open(0, FTTH_CLIENT, 40000, SERVER, ACCESS_A);
    server_syn_ack(&c, 1);
    advance(600.9);
    cr_assert_eq(kept_count, 0);
    advance(601);
    cr_assert_eq(kept_count, 1);
    const struct attempt_record *r = &kept[0].record;
    cr_assert_str_eq(r->close_reason, "idle");
    cr_assert_eq(r->verdict, VERDICT_LEAKED);
    assert_only(r->evidence, EVIDENCE_BIT(EVIDENCE_SYN_ACK));
    cr_assert_eq(r->last_seen, at(1));
}

Test(attempt, an_acl_icmp_error_quoting_the_attempt_blocks_it)
{
    return_seen[ACCESS_A + 1] = true;
    /* ICMP 3/13, 3/9 and 3/10, and ICMPv6 1/1: what an ACL answers with. */
    const struct {
        const char *client, *server, *from;
        uint8_t type, code;
    } cases[] = {
        {FTTH_CLIENT, SERVER, ROUTER, 3, 13},
        {FTTH_CLIENT, SERVER, ROUTER, 3, 9},
        {FTTH_CLIENT, SERVER, ROUTER, 3, 10},
        {"2001:db8:1000::10", "2001:db8:ffff::25", "2001:db8:1000::1", 1, 1},
    };
    size_t count = sizeof(cases) / sizeof(cases[0]);
    for (size_t i = 0; i < count; i++) {
        struct packet s = tcp(0, cases[i].client, (uint16_t)(40000 + i), cases[i].server, 25,
                              TCP_SYN, 3000, 0, NULL);
        feed(&s, ACCESS_A);
        struct packet e = icmp(0.01, cases[i].from, cases[i].type, cases[i].code, &s);
        feed(&e, ACCESS_A);
    }
    advance(30);
    cr_assert_eq(kept_count, count);
    for (size_t i = 0; i < count; i++) {
        const struct attempt_record *r = &record_of((uint16_t)(40000 + i))->record;
        cr_assert_eq(r->verdict, VERDICT_BLOCKED, "case %zu", i);
        /* The ICMP answered it: no silence is added. */
        assert_only(r->evidence, EVIDENCE_BIT(EVIDENCE_ICMP_ADMIN_PROHIBITED));
        cr_assert(r->icmp_seen);
        cr_assert_eq(r->icmp_type, cases[i].type);
        cr_assert_eq(r->icmp_code, cases[i].code);
        struct address from = ip(cases[i].from);
        cr_assert(address_equal(&r->icmp_from, &from), "case %zu", i);
        cr_assert_str_eq(r->close_reason, "syn_timeout");
    }
    cr_assert_eq(record_of(40003)->record.flow.src.family, ADDRESS_V6);
}

Test(attempt, an_icmp_error_for_an_older_connection_or_another_flow_is_ignored)
{
    return_seen[ACCESS_A + 1] = true;
    struct packet s = tcp(0, FTTH_CLIENT, 40000, SERVER, 25, TCP_SYN, 5000, 0, NULL);
    feed(&s, ACCESS_A);
    /* An error quoting sequence number 4000: an earlier connection on the same ports. */
    struct packet old = icmp(0.1, ROUTER, 3, 13, &s);
    old.quote.seq = 4000;
    feed(&old, ACCESS_A);
    /* Errors quoting another client port, another server port, or UDP. */
    struct packet other_port = icmp(0.1, ROUTER, 3, 13, &s);
    other_port.quote.src_port = 40001;
    feed(&other_port, ACCESS_A);
    struct packet not_smtp = icmp(0.1, ROUTER, 3, 13, &s);
    not_smtp.quote.dst_port = 587;
    feed(&not_smtp, ACCESS_A);
    struct packet udp = icmp(0.1, ROUTER, 3, 13, &s);
    udp.quote.proto = IPPROTO_NUMBER_UDP;
    feed(&udp, ACCESS_A);
    advance(30);
    cr_assert_eq(kept_count, 1);
    const struct attempt_record *r = &kept[0].record;
    cr_assert_not(r->icmp_seen);
    assert_only(r->evidence, EVIDENCE_BIT(EVIDENCE_NO_REPLY));

    /* The same error quoting the attempt's own ISN, or one without a sequence number (a
     * router that quotes only 4 bytes of TCP), counts. */
    struct packet s2 = tcp(40, FTTH_CLIENT, 40002, SERVER, 25, TCP_SYN, 5000, 0, NULL);
    feed(&s2, ACCESS_A);
    struct packet own = icmp(40.1, ROUTER, 3, 13, &s2);
    feed(&own, ACCESS_A);
    struct packet s3 = tcp(40, FTTH_CLIENT, 40003, SERVER, 25, TCP_SYN, 5000, 0, NULL);
    feed(&s3, ACCESS_A);
    struct packet short_quote = icmp(40.1, ROUTER, 3, 13, &s3);
    short_quote.quote.has_seq = false;
    short_quote.quote.seq = 1;
    feed(&short_quote, ACCESS_A);
    advance(70.1);
    cr_assert(has(record_of(40002)->record.evidence, EVIDENCE_ICMP_ADMIN_PROHIBITED));
    cr_assert(has(record_of(40003)->record.evidence, EVIDENCE_ICMP_ADMIN_PROHIBITED));
}

Test(attempt, another_icmp_error_is_an_answer_not_silence)
{
    return_seen[ACCESS_A + 1] = true;
    struct packet s = tcp(0, FTTH_CLIENT, 40000, SERVER, 25, TCP_SYN, 5000, 0, NULL);
    feed(&s, ACCESS_A);
    struct packet host_unreachable = icmp(0.1, "192.0.2.1", 3, 1, &s);
    feed(&host_unreachable, ACCESS_A);
    advance(30);
    cr_assert_eq(kept_count, 1);
    const struct attempt_record *r = &kept[0].record;
    cr_assert(r->icmp_seen);
    cr_assert_eq(r->icmp_type, 3);
    cr_assert_eq(r->icmp_code, 1);
    assert_only(r->evidence, 0);
    cr_assert_eq(r->verdict, VERDICT_UNKNOWN);
}

Test(attempt, a_reset_for_the_syn_is_the_filter_only_where_one_is_declared)
{
    /* dsl's blocking point rejects with tcp-reset; ftth's drops. */
    struct conn dsl = conn_open(0, DSL_CLIENT, 40000, SERVER, ACCESS_A);
    struct packet rst =
        tcp(0.01, SERVER, 25, DSL_CLIENT, 40000, TCP_RST | TCP_ACK, 0, dsl.client_next, NULL);
    feed(&rst, ACCESS_A);
    cr_assert_eq(kept_count, 1, "a reset ends the attempt at once");
    cr_assert_eq(kept[0].record.verdict, VERDICT_BLOCKED);
    assert_only(kept[0].record.evidence, EVIDENCE_BIT(EVIDENCE_RST_FILTER));
    cr_assert_str_eq(kept[0].record.close_reason, "rst");

    struct conn ftth = conn_open(1, FTTH_CLIENT, 40001, SERVER, ACCESS_A);
    rst = tcp(1.01, SERVER, 25, FTTH_CLIENT, 40001, TCP_RST | TCP_ACK, 0, ftth.client_next, NULL);
    feed(&rst, ACCESS_A);
    cr_assert_eq(kept_count, 2);
    cr_assert_eq(kept[1].record.verdict, VERDICT_LEAKED, "the server's own reset");
    assert_only(kept[1].record.evidence, EVIDENCE_BIT(EVIDENCE_RST_SERVER));

    /* A reset that acknowledges another sequence number answers no SYN of this attempt. */
    struct conn stray = conn_open(2, DSL_CLIENT, 40002, SERVER, ACCESS_A);
    rst = tcp(2.01, SERVER, 25, DSL_CLIENT, 40002, TCP_RST | TCP_ACK, 0, stray.client_next + 100,
              NULL);
    feed(&rst, ACCESS_A);
    cr_assert_eq(kept_count, 3);
    assert_only(kept[2].record.evidence, 0);
    cr_assert_eq(kept[2].record.verdict, VERDICT_UNKNOWN);
    cr_assert_str_eq(kept[2].record.close_reason, "rst");
}

Test(attempt, a_reset_after_the_syn_ack_is_no_filter)
{
    struct conn c = conn_open(0, DSL_CLIENT, 40000, SERVER, ACCESS_A);
    server_syn_ack(&c, 0.01);
    struct packet rst = tcp(0.02, SERVER, 25, DSL_CLIENT, 40000, TCP_RST | TCP_ACK, c.server_next,
                            c.client_next, NULL);
    feed(&rst, ACCESS_A);
    cr_assert_eq(kept_count, 1);
    cr_assert_eq(kept[0].record.verdict, VERDICT_LEAKED);
    assert_only(kept[0].record.evidence, EVIDENCE_BIT(EVIDENCE_SYN_ACK));

    /* The client's own reset ends an attempt too, with what was seen. */
    conn_open(1, DSL_CLIENT, 40001, SERVER, ACCESS_A);
    struct packet client_rst = tcp(1.5, DSL_CLIENT, 40001, SERVER, 25, TCP_RST, 1001, 0, NULL);
    feed(&client_rst, ACCESS_A);
    cr_assert_eq(kept_count, 2);
    cr_assert_str_eq(kept[1].record.close_reason, "rst");
    cr_assert_eq(kept[1].record.verdict, VERDICT_UNKNOWN);
    cr_assert_eq(kept[1].record.last_seen, at(1.5));
}

Test(attempt, a_syn_ack_for_another_isn_is_no_evidence)
{
    return_seen[ACCESS_A + 1] = true;
    struct conn c = conn_open(0, FTTH_CLIENT, 40000, SERVER, ACCESS_A);
    struct packet stale =
        tcp(0.01, SERVER, 25, FTTH_CLIENT, 40000, TCP_SYN | TCP_ACK, 5, c.client_next + 7, NULL);
    feed(&stale, ACCESS_A);
    advance(30);
    cr_assert_eq(kept_count, 1);
    cr_assert_eq(kept[0].record.verdict, VERDICT_BLOCKED);
    assert_only(kept[0].record.evidence, EVIDENCE_BIT(EVIDENCE_NO_REPLY));
    cr_assert_not(kept[0].record.server_stream);
}

Test(attempt, core_side_any_syn_is_the_leak)
{
    restart("core-side", 64, 2);
    return_seen[ACCESS_A + 1] = true;
    syn(0, FTTH_CLIENT, 40000, SERVER, 1000, ACCESS_A);
    /* Settled at once: the SYN timer does not decide it (no no_reply at 30 s)... */
    advance(100);
    cr_assert_eq(kept_count, 0);
    /* ... the idle timer closes it. */
    advance(600);
    cr_assert_eq(kept_count, 1);
    const struct attempt_record *r = &kept[0].record;
    cr_assert_eq(r->verdict, VERDICT_LEAKED);
    assert_only(r->evidence, EVIDENCE_BIT(EVIDENCE_SYN_CORE_SIDE));
    cr_assert_str_eq(r->close_reason, "idle");

    /* A reset for the SYN, past a tcp-reset ACL, is the server's: the filter is behind us. */
    struct conn dsl = conn_open(700, DSL_CLIENT, 40001, SERVER, ACCESS_A);
    struct packet rst =
        tcp(700.01, SERVER, 25, DSL_CLIENT, 40001, TCP_RST | TCP_ACK, 0, dsl.client_next, NULL);
    feed(&rst, ACCESS_A);
    cr_assert_eq(kept_count, 2);
    cr_assert_eq(kept[1].record.verdict, VERDICT_LEAKED);
    assert_only(kept[1].record.evidence,
                EVIDENCE_BIT(EVIDENCE_SYN_CORE_SIDE) | EVIDENCE_BIT(EVIDENCE_RST_SERVER));
}

/* One mirror at a BRAS: behind the home routers' blocks (any SYN it sees got past one), in
 * front of its own ACL. The verdicts follow the position of the point that governs the
 * pool, not the sensor's. */
Test(attempt, each_pool_is_judged_by_the_position_of_its_blocking_point)
{
    stop();
    start_policy("sensor: { name: unit-attempt, position: edge-side }\n"
                 "own_prefixes: [198.51.100.0/22]\n"
                 "blocking_points:\n"
                 "  - { name: bras, level: terminator, reject: tcp-reset }\n"
                 "  - { name: cpe, level: home-router, reject: tcp-reset }\n"
                 "pools:\n"
                 "  - { name: ftth, type: dynamic, prefixes: [198.51.100.0/24], "
                 "blocking_point: bras }\n"
                 "  - { name: managed, type: dynamic, prefixes: [198.51.101.0/24], "
                 "blocking_point: cpe }\n"
                 "segments: [{ name: access-a, vlan: 100, expects: [ftth, managed] }]\n");
    return_seen[ACCESS_A + 1] = true;
    syn(0, FTTH_CLIENT, 40000, SERVER, 1000, ACCESS_A);
    syn(0, DSL_CLIENT, 40001, SERVER, 1000, ACCESS_A);
    struct conn reset_ftth = conn_open(1, FTTH_CLIENT, 40002, SERVER, ACCESS_A);
    struct conn reset_cpe = conn_open(1, DSL_CLIENT, 40003, SERVER, ACCESS_A);
    struct packet rst = tcp(1.01, SERVER, 25, FTTH_CLIENT, 40002, TCP_RST | TCP_ACK, 0,
                            reset_ftth.client_next, NULL);
    feed(&rst, ACCESS_A);
    rst =
        tcp(1.01, SERVER, 25, DSL_CLIENT, 40003, TCP_RST | TCP_ACK, 0, reset_cpe.client_next, NULL);
    feed(&rst, ACCESS_A);
    advance(31);
    attempt_finish(tracker, "end_of_input");
    cr_assert_eq(kept_count, 4);
    /* In front of the BRAS's ACL: silence and its reset are block evidence. */
    cr_assert_eq(record_of(40000)->record.verdict, VERDICT_BLOCKED);
    assert_only(record_of(40000)->record.evidence, EVIDENCE_BIT(EVIDENCE_NO_REPLY));
    cr_assert_eq(record_of(40002)->record.verdict, VERDICT_BLOCKED);
    assert_only(record_of(40002)->record.evidence, EVIDENCE_BIT(EVIDENCE_RST_FILTER));
    /* Behind the home router's: the SYN is the leak, and a reset the server's. */
    const struct attempt_record *through = &record_of(40001)->record;
    cr_assert_eq(through->verdict, VERDICT_LEAKED);
    assert_only(through->evidence, EVIDENCE_BIT(EVIDENCE_SYN_CORE_SIDE));
    cr_assert_str_eq(through->close_reason, "end_of_input", "settled, so no SYN timer");
    cr_assert_eq(record_of(40003)->record.verdict, VERDICT_LEAKED);
    assert_only(record_of(40003)->record.evidence,
                EVIDENCE_BIT(EVIDENCE_SYN_CORE_SIDE) | EVIDENCE_BIT(EVIDENCE_RST_SERVER));
}

Test(attempt, a_designated_msa_for_the_pool_and_port_is_allowed)
{
    return_seen[ACCESS_A + 1] = true;
    syn(0, FTTH_CLIENT, 40000, "192.0.2.25", 1000, ACCESS_A);           /* every pool, 25 */
    syn(0, "2001:db8:1000::10", 40001, "2001:db8:25::25", 1, ACCESS_A); /* over IPv6 */
    syn(0, DSL_CLIENT, 40002, "192.0.2.26", 1000, ACCESS_A);            /* dsl's own MSA */
    syn(0, FTTH_CLIENT, 40003, "192.0.2.26", 1000, ACCESS_A);           /* ... not ftth's */
    syn(0, FTTH_CLIENT, 40004, "192.0.2.27", 1000, ACCESS_A);           /* 587 only */
    syn(0, MOBILE_CLIENT, 40005, "192.0.2.25", 1000, ACCESS_A);         /* beats planned */
    advance(30);
    cr_assert_eq(kept_count, 6);
    const struct {
        uint16_t port;
        int msa;
        bool designated;
        enum verdict verdict;
    } expected[] = {
        {40000, ISP_MSA, true, VERDICT_ALLOWED},          {40001, ISP_MSA, true, VERDICT_ALLOWED},
        {40002, DSL_MSA, true, VERDICT_ALLOWED},          {40003, DSL_MSA, false, VERDICT_BLOCKED},
        {40004, SUBMISSION_ONLY, false, VERDICT_BLOCKED}, {40005, ISP_MSA, true, VERDICT_ALLOWED},
    };
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
        const struct attempt_record *r = &record_of(expected[i].port)->record;
        cr_assert_eq(r->msa, expected[i].msa, "port %u", expected[i].port);
        cr_assert_eq(r->to_designated_msa, expected[i].designated, "port %u", expected[i].port);
        cr_assert_eq(r->verdict, expected[i].verdict, "port %u: %s", expected[i].port,
                     verdict_name(r->verdict));
    }
}

Test(attempt, a_planned_blocking_point_gives_would_block)
{
    return_seen[ACCESS_A + 1] = true;
    syn(0, MOBILE_CLIENT, 40000, SERVER, 1000, ACCESS_A);
    handshake(1, MOBILE_CLIENT, 40001, ACCESS_A);
    advance(31);
    attempt_finish(tracker, "end_of_input");
    cr_assert_eq(kept_count, 2);
    const struct attempt_record *silent = &record_of(40000)->record;
    cr_assert_eq(silent->verdict, VERDICT_WOULD_BLOCK);
    assert_only(silent->evidence, EVIDENCE_BIT(EVIDENCE_NO_REPLY));
    /* What got through today would be stopped too: the evidence still says how far. */
    const struct attempt_record *through = &record_of(40001)->record;
    cr_assert_eq(through->verdict, VERDICT_WOULD_BLOCK);
    assert_only(through->evidence,
                EVIDENCE_BIT(EVIDENCE_SYN_ACK) | EVIDENCE_BIT(EVIDENCE_CLIENT_ACK));
}

Test(attempt, static_pools_and_outside_sources_open_no_attempt)
{
    syn(0, STATIC_CLIENT, 40000, SERVER, 1000, ACCESS_A);
    syn(0, "203.0.113.9", 40001, SERVER, 1000, ACCESS_A);
    /* Not towards port 25, and a SYN-ACK with no SYN before it. */
    struct packet web = tcp(0, FTTH_CLIENT, 40002, SERVER, 443, TCP_SYN, 1, 0, NULL);
    feed(&web, ACCESS_A);
    struct packet answer = tcp(0, SERVER, 25, FTTH_CLIENT, 40003, TCP_SYN | TCP_ACK, 9, 2, NULL);
    feed(&answer, ACCESS_A);
    attempt_finish(tracker, "end_of_input");
    cr_assert_eq(kept_count, 0);
    cr_assert_eq(counters.flows_created, 0);
}

Test(attempt, a_full_table_gives_up_the_oldest_silent_attempt_first)
{
    restart("edge-side", 4, 2);
    return_seen[ACCESS_A + 1] = true;
    /* The oldest of all has leak evidence; three silent ones follow. */
    handshake(0, FTTH_CLIENT, 40000, ACCESS_A);
    syn(1, FTTH_CLIENT, 40001, SERVER, 1000, ACCESS_A);
    syn(2, FTTH_CLIENT, 40002, SERVER, 1000, ACCESS_A);
    syn(3, FTTH_CLIENT, 40003, SERVER, 1000, ACCESS_A);
    cr_assert_eq(counters.flows_active, 4);
    cr_assert_eq(kept_count, 0);

    syn(4, FTTH_CLIENT, 40004, SERVER, 1000, ACCESS_A);
    cr_assert_eq(kept_count, 1);
    cr_assert_eq(kept[0].record.flow.src_port, 40001);
    cr_assert_str_eq(kept[0].record.close_reason, "evicted");
    /* Given up before its timer ran out: silence is not yet evidence. */
    cr_assert_eq(kept[0].record.verdict, VERDICT_UNKNOWN);
    cr_assert_eq(counters.flow_evictions, 1);

    syn(5, FTTH_CLIENT, 40005, SERVER, 1000, ACCESS_A);
    cr_assert_eq(kept_count, 2);
    cr_assert_eq(kept[1].record.flow.src_port, 40002);
    cr_assert_eq(counters.flow_evictions, 2);
    cr_assert_eq(counters.flows_active, 4);
    cr_assert_eq(counters.flows_created, 6);

    attempt_finish(tracker, "end_of_input");
    cr_assert_eq(kept_count, 6);
    cr_assert_eq(record_of(40000)->record.verdict, VERDICT_LEAKED, "the leak was kept");
    cr_assert_str_eq(record_of(40000)->record.close_reason, "end_of_input");
}

Test(attempt, a_full_table_of_answered_attempts_gives_up_the_one_idle_longest)
{
    restart("edge-side", 4, 2);
    struct conn first = handshake(0, FTTH_CLIENT, 40000, ACCESS_A);
    handshake(1, FTTH_CLIENT, 40001, ACCESS_A);
    handshake(2, FTTH_CLIENT, 40002, ACCESS_A);
    handshake(3, FTTH_CLIENT, 40003, ACCESS_A);
    client_says(&first, 3.5, 0, NULL); /* the first is active again */
    syn(4, FTTH_CLIENT, 40004, SERVER, 1000, ACCESS_A);
    cr_assert_eq(kept_count, 1);
    cr_assert_eq(kept[0].record.flow.src_port, 40001);
    cr_assert_str_eq(kept[0].record.close_reason, "evicted");
    cr_assert_eq(kept[0].record.verdict, VERDICT_LEAKED);
    cr_assert_eq(counters.flow_evictions, 1);
}

Test(attempt, finish_closes_every_open_attempt_with_the_reason)
{
    return_seen[ACCESS_A + 1] = true;
    syn(0, FTTH_CLIENT, 40000, SERVER, 1000, ACCESS_A); /* silent, timer running */
    handshake(1, FTTH_CLIENT, 40001, ACCESS_A);         /* answered */
    syn(2, "2001:db8:1000::10", 40002, "2001:db8:ffff::25", 1, ACCESS_A); /* IPv6 */
    cr_assert_eq(counters.flows_active, 3);
    attempt_finish(tracker, "shutdown");
    cr_assert_eq(kept_count, 3);
    for (size_t i = 0; i < kept_count; i++)
        cr_assert_str_eq(kept[i].record.close_reason, "shutdown");
    /* A SYN whose timer has not run out and no evidence: unknown, not no_reply. */
    cr_assert_eq(record_of(40000)->record.verdict, VERDICT_UNKNOWN);
    cr_assert_eq(record_of(40002)->record.verdict, VERDICT_UNKNOWN);
    cr_assert_eq(record_of(40001)->record.verdict, VERDICT_LEAKED);
    cr_assert_eq(counters.flows_active, 0);

    /* Nothing is left to write twice, and the table takes new attempts. */
    attempt_finish(tracker, "shutdown");
    cr_assert_eq(kept_count, 3);
    syn(3, FTTH_CLIENT, 40003, SERVER, 1000, ACCESS_A);
    advance(33);
    cr_assert_eq(kept_count, 4);
    cr_assert_eq(record_of(40003)->record.verdict, VERDICT_BLOCKED);
}

Test(attempt, coverage_tallies_match_the_verdicts)
{
    return_seen[ACCESS_A + 1] = true;
    syn(0, FTTH_CLIENT, 40000, SERVER, 1000, ACCESS_A);                   /* ftth v4 blocked */
    syn(0, FTTH_CLIENT, 40001, SERVER, 1000, ACCESS_A);                   /* ftth v4 blocked */
    handshake(0, FTTH_CLIENT, 40002, ACCESS_A);                           /* ftth v4 leaked */
    syn(0, FTTH_CLIENT, 40003, "192.0.2.25", 1000, ACCESS_A);             /* ftth v4 allowed */
    syn(0, FTTH_CLIENT, 40004, SERVER, 1000, ACCESS_B);                   /* ftth v4 unknown */
    syn(0, "2001:db8:1000::10", 40005, "2001:db8:ffff::25", 1, ACCESS_A); /* ftth v6 blocked */
    syn(0, MOBILE_CLIENT, 40006, SERVER, 1000, ACCESS_A); /* mobile v4 would_block */
    struct conn dsl = conn_open(0, DSL_CLIENT, 40007, SERVER, ACCESS_A);
    struct packet rst =
        tcp(0.1, SERVER, 25, DSL_CLIENT, 40007, TCP_RST | TCP_ACK, 0, dsl.client_next, NULL);
    feed(&rst, ACCESS_A); /* dsl v4 blocked */
    advance(30);
    attempt_finish(tracker, "end_of_input");
    cr_assert_eq(kept_count, 8);

    /* The tallies against the records, cell by cell... */
    for (int pool = 0; pool < (int)policy->pool_count; pool++) {
        for (int family = ADDRESS_V4; family <= ADDRESS_V6; family += 2) {
            uint64_t counted[VERDICT_COUNT] = {0};
            for (size_t i = 0; i < kept_count; i++)
                if (kept[i].record.pool == pool && kept[i].record.flow.src.family == family)
                    counted[kept[i].record.verdict]++;
            const struct coverage_counts *cell = coverage_get(&coverage, pool, family);
            for (int v = 0; v < VERDICT_COUNT; v++)
                cr_assert_eq(cell->by_verdict[v], counted[v], "pool %d family %d %s", pool, family,
                             verdict_name((enum verdict)v));
        }
    }
    /* ... and against what the attempts were made to be. */
    const struct coverage_counts *ftth4 = coverage_get(&coverage, FTTH, ADDRESS_V4);
    cr_assert_eq(ftth4->by_verdict[VERDICT_BLOCKED], 2);
    cr_assert_eq(ftth4->by_verdict[VERDICT_LEAKED], 1);
    cr_assert_eq(ftth4->by_verdict[VERDICT_ALLOWED], 1);
    cr_assert_eq(ftth4->by_verdict[VERDICT_UNKNOWN], 1);
    cr_assert_eq(coverage_attempts(ftth4), 5);
    double ratio = 0;
    cr_assert(coverage_ratio(ftth4, &ratio));
    cr_assert_float_eq(ratio, 2.0 / 3.0, 1e-9);
    cr_assert_eq(coverage_get(&coverage, FTTH, ADDRESS_V6)->by_verdict[VERDICT_BLOCKED], 1);
    cr_assert_eq(coverage_get(&coverage, MOBILE, ADDRESS_V4)->by_verdict[VERDICT_WOULD_BLOCK], 1);
    cr_assert_eq(coverage_get(&coverage, DSL, ADDRESS_V4)->by_verdict[VERDICT_BLOCKED], 1);
    cr_assert_eq(coverage_attempts(coverage_get(&coverage, BUSINESS, ADDRESS_V4)), 0);
}

Test(attempt, a_client_data_segment_midstream_opens_an_attempt_with_client_ack)
{
    struct packet data = tcp(0, FTTH_CLIENT, 40000, SERVER, 25, TCP_ACK | TCP_PSH, 555555, 777,
                             "RCPT TO:<someone@example.net>\r\n");
    feed(&data, ACCESS_A);
    cr_assert_eq(counters.flows_created, 1);
    attempt_finish(tracker, "end_of_input");
    cr_assert_eq(kept_count, 1);
    const struct attempt_record *r = &kept[0].record;
    cr_assert(has(r->evidence, EVIDENCE_CLIENT_ACK));
    cr_assert_eq(r->evidence & EVIDENCE_BLOCK_MASK, 0);
    cr_assert_eq(r->verdict, VERDICT_LEAKED);
    cr_assert_eq(r->syn_count, 0, "no SYN was seen");
    cr_assert_eq(r->client_bytes, strlen("RCPT TO:<someone@example.net>\r\n"));
    cr_assert_eq(r->first_seen, at(0));
}

Test(attempt, a_bare_ack_or_fin_after_the_close_opens_no_second_attempt)
{
    struct conn c = handshake(0, FTTH_CLIENT, 40000, ACCESS_A);
    server_says(&c, 0.1, TCP_PSH, "220 mx.example.net\r\n");
    client_says(&c, 0.2, TCP_PSH, "QUIT\r\n");
    server_says(&c, 0.3, TCP_PSH | TCP_FIN, "221 bye\r\n");
    uint32_t fin_seq = c.client_next;
    client_says(&c, 0.4, TCP_FIN, NULL);
    cr_assert_eq(kept_count, 1);
    cr_assert_str_eq(kept[0].record.close_reason, "fin");
    /* The ACK of the server's FIN, and the client's FIN again. */
    client_says(&c, 0.5, 0, NULL);
    struct packet fin_again =
        tcp(0.6, FTTH_CLIENT, 40000, SERVER, 25, TCP_ACK | TCP_FIN, fin_seq, c.server_next, NULL);
    feed(&fin_again, ACCESS_A);
    /* The server's late segments find nothing to join either. */
    server_says(&c, 0.7, 0, NULL);
    attempt_finish(tracker, "end_of_input");
    cr_assert_eq(kept_count, 1);
    cr_assert_eq(counters.flows_created, 1);
}

Test(attempt, a_dialogue_without_a_free_parser_is_judged_on_tcp_alone)
{
    /* sessions: 2, so the third dialogue at once has no parser. */
    struct conn c[3];
    for (int i = 0; i < 3; i++) {
        c[i] = handshake(i, FTTH_CLIENT, (uint16_t)(40000 + i), ACCESS_A);
        server_says(&c[i], i + 0.1, TCP_PSH, "220 mx.example.net\r\n");
    }
    cr_assert_eq(counters.sessions_active, 2);
    cr_assert_eq(counters.sessions_exhausted, 1);
    attempt_finish(tracker, "end_of_input");
    cr_assert_eq(kept_count, 3);
    const struct kept *unparsed = record_of(40002);
    cr_assert_not(unparsed->has_smtp);
    cr_assert_eq(unparsed->record.verdict, VERDICT_LEAKED);
    assert_only(unparsed->record.evidence,
                EVIDENCE_BIT(EVIDENCE_SYN_ACK) | EVIDENCE_BIT(EVIDENCE_CLIENT_ACK));
    cr_assert_eq(unparsed->record.server_bytes, strlen("220 mx.example.net\r\n"));
    cr_assert(record_of(40000)->has_smtp);
    cr_assert(has(record_of(40000)->record.evidence, EVIDENCE_BANNER));
    cr_assert_eq(counters.sessions_active, 0);
}

/* The attempt tracker against what real TCP stacks and mirror ports do: SYN backoff of
 * Linux, macOS and Windows, SYNs after an attempt was written, ISNs of closed attempts, a
 * payload cut by the snap length, client segments swapped and lost, a side joined midway. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "track/attempt.h"

#define SECOND PACKET_TIME_SECOND
#define MS (PACKET_TIME_SECOND / 1000)
#define BASE (1768467600LL * PACKET_TIME_SECOND)

/* What the bus was told, copied out of each record. */
struct seen {
    char reason[32];
    uint16_t syn_count;
    enum verdict verdict;
    evidence_set evidence;
    packet_time first_seen;
    packet_time last_seen;
    uint32_t client_bytes;
    uint32_t server_bytes;
    uint16_t src_port;
    bool has_smtp;
    struct smtp_facts smtp;
};

#define SEEN_MAX 64
static struct seen seen[SEEN_MAX];
static size_t seen_count;
static packet_time written_at[SEEN_MAX];
static packet_time clock_now;

static void on_attempt(void *context, const struct attempt_record *record)
{
    (void)context;
    cr_assert_lt(seen_count, SEEN_MAX);
    written_at[seen_count] = clock_now;
    struct seen *s = &seen[seen_count++];
    memset(s, 0, sizeof(*s));
    snprintf(s->reason, sizeof(s->reason), "%s", record->close_reason);
    s->syn_count = record->syn_count;
    s->verdict = record->verdict;
    s->evidence = record->evidence;
    s->first_seen = record->first_seen;
    s->last_seen = record->last_seen;
    s->client_bytes = record->client_bytes;
    s->server_bytes = record->server_bytes;
    s->src_port = record->flow.src_port;
    if ((s->has_smtp = record->smtp != NULL))
        s->smtp = *record->smtp;
}

static struct policy *policy;
static struct bus bus;
static struct coverage coverage;
static struct sensor_counters counters;
static bool return_seen[4] = {true, true, true, true};
static struct attempt_tracker *tracker;

static void start(unsigned flows)
{
    static const char text[] = "sensor: {name: s, position: edge-side}\n"
                               "own_prefixes: [198.51.100.0/22]\n"
                               "blocking_points:\n"
                               "  - {name: b, level: terminator, reject: drop}\n"
                               "pools:\n"
                               "  - {name: p, type: dynamic, prefixes: [198.51.100.0/24],"
                               " blocking_point: b}\n"
                               "limits: {sessions: 8}\n"
                               "timeouts: {syn: 30s, smtp_idle: 600s}\n";
    char error[512];
    policy = policy_load_text("t.yaml", text, sizeof(text) - 1, error, sizeof(error));
    cr_assert_not_null(policy, "%s", error);
    policy->limits.flows = flows;
    memset(&counters, 0, sizeof(counters));
    seen_count = 0;
    bus_init(&bus);
    cr_assert_eq(bus_subscribe(&bus, (struct bus_subscriber){.attempt = on_attempt}), 0);
    cr_assert_eq(coverage_init(&coverage, policy->pool_count), 0);
    tracker = attempt_tracker_new(policy, &bus, &coverage, &counters, return_seen);
    cr_assert_not_null(tracker);
}

static void setup(void)
{
    start(1000);
}

static void teardown(void)
{
    attempt_tracker_free(tracker);
    coverage_free(&coverage);
    policy_free(policy);
}

TestSuite(attempt_stacks, .init = setup, .fini = teardown);

/* ---- Packets of one connection ---- */

struct conn {
    struct packet template;
    uint32_t client_isn, server_isn;
    uint32_t client_seq, server_seq;
};

static void conn_init(struct conn *c, uint16_t port, uint32_t isn)
{
    memset(c, 0, sizeof(*c));
    cr_assert(address_parse("198.51.100.20", &c->template.src));
    cr_assert(address_parse("192.0.2.25", &c->template.dst));
    c->template.ip_version = 4;
    c->template.proto = IPPROTO_NUMBER_TCP;
    c->template.src_port = port;
    c->template.dst_port = 25;
    c->client_isn = isn;
    c->client_seq = isn + 1;
    c->server_isn = 9000;
    c->server_seq = 9001;
}

/* Advances the tracker's clock to ts, then hands it the packet. */
static void deliver(const struct packet *packet)
{
    clock_now = packet->ts;
    attempt_advance(tracker, packet->ts);
    attempt_tcp(tracker, packet, 0);
}

static void advance_to(packet_time ts)
{
    clock_now = ts;
    attempt_advance(tracker, ts);
}

static void syn_at(const struct conn *c, packet_time ts)
{
    struct packet p = c->template;
    p.tcp_flags = TCP_SYN;
    p.seq = c->client_isn;
    p.ts = BASE + ts;
    deliver(&p);
}

static void syn_ack_at(struct conn *c, packet_time ts)
{
    struct packet p = c->template;
    p.src = c->template.dst;
    p.dst = c->template.src;
    p.src_port = 25;
    p.dst_port = c->template.src_port;
    p.tcp_flags = TCP_SYN | TCP_ACK;
    p.seq = c->server_isn;
    p.ack = c->client_isn + 1;
    p.ts = BASE + ts;
    deliver(&p);
}

/* A data segment: "captured" of its bytes were captured, "wire" were sent; seq_offset
 * places it relative to the direction's next sequence number (which it then passes). */
static void data_at(struct conn *c, bool from_client, packet_time ts, const char *text,
                    uint32_t wire, int32_t seq_offset)
{
    struct packet p = c->template;
    if (!from_client) {
        p.src = c->template.dst;
        p.dst = c->template.src;
        p.src_port = 25;
        p.dst_port = c->template.src_port;
    }
    uint32_t *seq = from_client ? &c->client_seq : &c->server_seq;
    p.tcp_flags = TCP_ACK | TCP_PSH;
    p.seq = *seq + (uint32_t)seq_offset;
    p.ack = from_client ? c->server_seq : c->client_seq;
    p.payload = (const uint8_t *)text;
    p.payload_length = (uint32_t)strlen(text);
    p.payload_wire_length = wire > p.payload_length ? wire : p.payload_length;
    p.ts = BASE + ts;
    deliver(&p);
}

static void send_text(struct conn *c, bool from_client, packet_time ts, const char *text)
{
    data_at(c, from_client, ts, text, 0, 0);
    uint32_t *seq = from_client ? &c->client_seq : &c->server_seq;
    *seq += (uint32_t)strlen(text);
}

/* ---- SYN retransmissions: one attempt per connect() ---- */

static void check_backoff(const packet_time *times, size_t count, packet_time written)
{
    struct conn c;
    conn_init(&c, 40000, 0x1000);
    for (size_t i = 0; i < count; i++)
        syn_at(&c, times[i] * SECOND);
    advance_to(BASE + written - 1);
    cr_assert_eq(seen_count, 0, "still waiting for another SYN");
    advance_to(BASE + written);
    cr_assert_eq(seen_count, 1);
    cr_assert_eq(seen[0].syn_count, count);
    cr_assert_str_eq(seen[0].reason, "syn_timeout");
    cr_assert_eq(seen[0].verdict, VERDICT_BLOCKED);
    cr_assert_eq(counters.flows_created, 1);
}

Test(attempt_stacks, linux_backoff_is_one_attempt)
{
    /* tcp_syn_retries 6: the last SYN at 63 s waits SYN_BACKOFF_HOLD (40 s). */
    static const packet_time linux_syns[] = {0, 1, 3, 7, 15, 31, 63};
    check_backoff(linux_syns, 7, 103 * SECOND);
}

Test(attempt_stacks, macos_backoff_is_one_attempt)
{
    static const packet_time macos_syns[] = {0, 1, 2, 3, 4, 5, 7, 11, 19, 35, 67};
    check_backoff(macos_syns, 11, 107 * SECOND);
}

Test(attempt_stacks, windows_retries_end_on_the_usual_timer)
{
    /* TcpMaxConnectRetransmissions 2, 3 s: intervals 3 and 6 s stay under timeouts.syn. */
    static const packet_time windows_syns[] = {0, 3, 9};
    check_backoff(windows_syns, 3, 39 * SECOND);
}

Test(attempt_stacks, a_syn_after_the_attempt_was_written_opens_no_new_one)
{
    /* tcp_syn_retries 7: one SYN more, at 127 s, after the attempt was written at 103 s. */
    static const packet_time syns[] = {0, 1, 3, 7, 15, 31, 63};
    check_backoff(syns, 7, 103 * SECOND);
    struct conn c;
    conn_init(&c, 40000, 0x1000);
    syn_at(&c, 127 * SECOND);
    attempt_finish(tracker, "end_of_input");
    cr_assert_eq(seen_count, 1);
    cr_assert_eq(counters.syn_after_close, 1);
    cr_assert_eq(counters.flows_created, 1);
    /* The same ports with a new ISN are a new connect(). */
    conn_init(&c, 40000, 0x2000);
    syn_at(&c, 200 * SECOND);
    attempt_finish(tracker, "end_of_input");
    cr_assert_eq(seen_count, 2);
}

Test(attempt_stacks, evicted_attempts_do_not_come_back_with_their_retransmissions)
{
    teardown();
    start(1);
    struct conn a, b;
    conn_init(&a, 40001, 0x1000);
    conn_init(&b, 40002, 0x5000);
    for (int i = 0; i < 4; i++) {
        packet_time t = (packet_time)(1 << i) * SECOND; /* 1, 2, 4, 8 s */
        syn_at(&a, t);
        syn_at(&b, t + 250 * MS);
    }
    attempt_finish(tracker, "end_of_input");
    cr_assert_eq(counters.flows_created, 2, "one attempt per connect()");
    cr_assert_eq(seen_count, 2);
    cr_assert_str_eq(seen[0].reason, "evicted");
    cr_assert_eq(counters.flow_evictions, 1);
    cr_assert_eq(counters.syn_after_close, 3, "A's three later SYNs; B kept its place");
    cr_assert_eq(seen[1].syn_count, 4);
}

Test(attempt_stacks, a_late_copy_of_an_old_isn_does_not_end_the_new_attempt)
{
    struct conn old, fresh;
    conn_init(&old, 40003, 0x1000);
    conn_init(&fresh, 40003, 0x9000);
    syn_at(&old, 0);
    syn_at(&fresh, 1 * SECOND); /* the port is reused: the old attempt is written */
    syn_at(&old, 1 * SECOND + 5 * MS);
    attempt_finish(tracker, "end_of_input");
    cr_assert_eq(seen_count, 2);
    cr_assert_str_eq(seen[0].reason, "port_reused");
    cr_assert_eq(seen[1].syn_count, 1);
    cr_assert_eq(counters.syn_after_close, 1);
}

/* ---- Dialogues cut by the snap length, or reordered ---- */

Test(attempt_stacks, cut_payload_counts_wire_bytes_and_keeps_the_dialogue)
{
    struct conn c;
    conn_init(&c, 40010, 0x1000);
    syn_at(&c, 0);
    syn_ack_at(&c, 10 * MS);
    send_text(&c, false, 50 * MS, "220 mx.example.net ESMTP\r\n");
    send_text(&c, true, 60 * MS, "EHLO laptop.example\r\n");
    send_text(&c, false, 70 * MS, "250 mx\r\n");
    send_text(&c, true, 80 * MS, "MAIL FROM:<a@b.example>\r\n");
    send_text(&c, false, 90 * MS, "250 2.1.0 Ok\r\n");
    for (int i = 0; i < 3; i++) {
        send_text(&c, true, (100 + 20 * i) * MS, "RCPT TO:<v@mx.example>\r\n");
        send_text(&c, false, (110 + 20 * i) * MS, "250 2.1.5 Ok\r\n");
    }
    send_text(&c, true, 200 * MS, "DATA\r\n");
    send_text(&c, false, 210 * MS, "354 go\r\n");
    /* A 1,200-byte body with its final dot, of which 30 bytes were captured. */
    data_at(&c, true, 220 * MS, "Subject: x\r\n\r\nBuy now, buy n", 1200, 0);
    c.client_seq += 1200;
    send_text(&c, false, 230 * MS, "250 2.0.0 Ok: queued\r\n");
    send_text(&c, true, 240 * MS, "QUIT\r\n");
    attempt_finish(tracker, "end_of_input");
    cr_assert_eq(seen_count, 1);
    const struct seen *s = &seen[0];
    cr_assert(s->has_smtp);
    cr_assert_eq(s->client_bytes, 21 + 25 + 3 * 24 + 6 + 1200 + 6, "wire bytes, not captured");
    cr_assert_str_eq(s->smtp.banner, "mx.example.net ESMTP");
    cr_assert_eq(s->smtp.rcpt_count, 3);
    cr_assert_eq(s->smtp.rcpt_accepted, 3);
    cr_assert_eq(s->smtp.messages_accepted, 1);
    cr_assert(s->smtp.quit_seen);
    cr_assert(!s->smtp.commands_unseen);
    cr_assert(s->evidence & EVIDENCE_BIT(EVIDENCE_RCPT));
    cr_assert(s->evidence & EVIDENCE_BIT(EVIDENCE_DATA));
    cr_assert_eq(counters.stream_gaps, 0, "a cut is no hole");
}

Test(attempt_stacks, swapped_client_segments_are_put_back_in_order)
{
    struct conn c;
    conn_init(&c, 40011, 0x1000);
    syn_at(&c, 0);
    syn_ack_at(&c, 10 * MS);
    send_text(&c, false, 50 * MS, "220 mx\r\n");
    send_text(&c, true, 60 * MS, "EHLO a.example\r\n");
    send_text(&c, false, 70 * MS, "250 mx\r\n");
    /* MAIL FROM then RCPT TO, pipelined; the mirror shows them the other way round. */
    static const char mail[] = "MAIL FROM:<a@b.example>\r\n";
    data_at(&c, true, 80 * MS + 30, "RCPT TO:<c@d.example>\r\n", 0, (int32_t)strlen(mail));
    data_at(&c, true, 80 * MS + 60, mail, 0, 0);
    c.client_seq += (uint32_t)strlen(mail) + 23;
    send_text(&c, false, 100 * MS, "250 ok\r\n250 ok\r\n");
    attempt_finish(tracker, "end_of_input");
    const struct seen *s = &seen[0];
    cr_assert_eq(s->smtp.mail_count, 1);
    cr_assert_eq(s->smtp.rcpt_count, 1);
    cr_assert_eq(s->smtp.mail_accepted, 1);
    cr_assert_eq(s->smtp.rcpt_accepted, 1);
    cr_assert(!s->smtp.commands_unseen);
    cr_assert_eq(counters.stream_gaps, 0);
    cr_assert_eq(counters.stream_reordered, 1);
}

Test(attempt_stacks, a_segment_lost_for_good_is_a_gap_when_the_attempt_ends)
{
    struct conn c;
    conn_init(&c, 40012, 0x1000);
    syn_at(&c, 0);
    syn_ack_at(&c, 10 * MS);
    send_text(&c, false, 50 * MS, "220 mx\r\n");
    data_at(&c, true, 60 * MS, "RCPT TO:<c@d.example>\r\n", 0, 40);
    attempt_finish(tracker, "end_of_input");
    cr_assert_eq(counters.stream_gaps, 1);
    cr_assert_eq(seen[0].smtp.rcpt_count, 1, "delivered after the gap");
    cr_assert(seen[0].smtp.commands_unseen);
}

Test(attempt_stacks, an_answer_gives_up_the_other_sides_hole)
{
    /* The MAIL FROM segment was lost on the mirror: the RCPT after it waits for it until
     * the server answers, which shows the hole is older than a round trip. */
    struct conn c;
    conn_init(&c, 40014, 0x1000);
    syn_at(&c, 0);
    syn_ack_at(&c, 10 * MS);
    send_text(&c, false, 50 * MS, "220 mx\r\n");
    data_at(&c, true, 60 * MS, "RCPT TO:<c@d.example>\r\n", 0, 25);
    cr_assert_eq(counters.stream_gaps, 0, "held, not yet a gap");
    send_text(&c, false, 80 * MS, "250 2.1.0 Ok\r\n");
    cr_assert_eq(counters.stream_gaps, 1, "given up before the answer is read");
    attempt_finish(tracker, "end_of_input");
    cr_assert_eq(seen[0].smtp.rcpt_count, 1);
    cr_assert(seen[0].smtp.commands_unseen);
    cr_assert_eq(counters.stream_reordered, 0);
}

Test(attempt_stacks, a_server_stream_joined_midway_has_no_banner_from_a_reply)
{
    struct conn c;
    conn_init(&c, 40013, 0x1000);
    syn_at(&c, 0);
    /* No SYN-ACK seen: the server's stream starts where the capture caught it. */
    send_text(&c, true, 60 * MS, "EHLO a.example\r\n");
    send_text(&c, false, 70 * MS, "250 2.1.0 Ok\r\n");
    attempt_finish(tracker, "end_of_input");
    cr_assert(seen[0].has_smtp);
    cr_assert(!seen[0].smtp.banner_seen);
    cr_assert(!(seen[0].evidence & EVIDENCE_BIT(EVIDENCE_BANNER)));
}

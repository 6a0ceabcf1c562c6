#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "track/mail_flows.h"

/* What the handler was told, copied out of the report. */
struct seen {
    enum mail_flow_moment moment;
    enum mail_flow_kind kind;
    char reason[32];
    bool answered;
    bool has_smtp;
    struct smtp_facts smtp;
    bool has_login;
    struct mail_login_facts login;
    bool has_hello;
    struct tls_hello hello;
    char protocol[16];
    uint32_t client_bytes;
    uint32_t server_bytes;
};

#define SEEN_MAX 512
static struct seen seen[SEEN_MAX];
static size_t seen_count;

static void handler(void *context, const struct mail_flow_report *report)
{
    (void)context;
    cr_assert_lt(seen_count, SEEN_MAX);
    struct seen *s = &seen[seen_count++];
    memset(s, 0, sizeof(*s));
    s->moment = report->moment;
    s->kind = report->kind;
    if (report->close_reason != NULL)
        snprintf(s->reason, sizeof(s->reason), "%s", report->close_reason);
    s->answered = report->answered;
    if ((s->has_smtp = report->smtp != NULL))
        s->smtp = *report->smtp;
    if ((s->has_login = report->login != NULL))
        s->login = *report->login;
    if ((s->has_hello = report->hello != NULL))
        s->hello = *report->hello;
    if (report->protocol != NULL)
        snprintf(s->protocol, sizeof(s->protocol), "%s", report->protocol);
    s->client_bytes = report->client_bytes;
    s->server_bytes = report->server_bytes;
}

static struct policy *policy;
static struct sensor_counters counters;
static struct mail_flows *flows;

static void setup(void)
{
    static const char text[] = "sensor: {name: s, position: edge-side}\n"
                               "own_prefixes: [198.51.100.0/22]\n"
                               "pools:\n"
                               "  - {name: p, type: dynamic, prefixes: [198.51.100.0/24]}\n"
                               "  - {name: b, type: static, prefixes: [198.51.101.0/24]}\n"
                               "msas:\n"
                               "  - {name: m, prefixes: [192.0.2.25/32], ports: [587]}\n"
                               "limits: {sessions: 4}\n"
                               "timeouts: {syn: 30s, smtp_idle: 600s}\n";
    char error[512];
    policy = policy_load_text("t.yaml", text, sizeof(text) - 1, error, sizeof(error));
    cr_assert_not_null(policy, "%s", error);
    memset(&counters, 0, sizeof(counters));
    seen_count = 0;
    flows = mail_flows_new(policy, &counters, handler, NULL);
    cr_assert_not_null(flows);
}

static void teardown(void)
{
    mail_flows_free(flows);
    policy_free(policy);
}

/* ---- A TCP conversation, packet by packet ---- */

struct conversation {
    struct packet template;
    uint32_t client_seq, server_seq;
    int64_t ts;
};

static void begin(struct conversation *c, const char *client, uint16_t client_port,
                  const char *server, uint16_t port)
{
    memset(c, 0, sizeof(*c));
    cr_assert(address_parse(client, &c->template.src));
    cr_assert(address_parse(server, &c->template.dst));
    c->template.ip_version = c->template.src.family == ADDRESS_V4 ? 4 : 6;
    c->template.proto = IPPROTO_NUMBER_TCP;
    c->template.ttl = 64;
    c->template.src_port = client_port;
    c->template.dst_port = port;
    c->template.window = 65535;
    c->client_seq = 1000;
    c->server_seq = 70000;
    c->ts = 1768467600LL * 1000000;
}

static void transmit(struct conversation *c, bool from_client, uint8_t flags, const char *text)
{
    struct packet p = c->template;
    if (!from_client) {
        p.src = c->template.dst;
        p.dst = c->template.src;
        p.src_port = c->template.dst_port;
        p.dst_port = c->template.src_port;
    }
    uint32_t *seq = from_client ? &c->client_seq : &c->server_seq;
    p.seq = *seq;
    p.ack = from_client ? c->server_seq : c->client_seq;
    p.tcp_flags = flags;
    p.payload = (const uint8_t *)text;
    p.payload_length = text != NULL ? (uint32_t)strlen(text) : 0;
    *seq += p.payload_length + ((flags & (TCP_SYN | TCP_FIN)) ? 1 : 0);
    c->ts += 1000;
    p.ts = c->ts;
    mail_flows_packet(flows, &p, -1);
}

static void client(struct conversation *c, const char *text)
{
    transmit(c, true, TCP_ACK | TCP_PSH, text);
}

static void server(struct conversation *c, const char *text)
{
    transmit(c, false, TCP_ACK | TCP_PSH, text);
}

static void open_connection(struct conversation *c)
{
    transmit(c, true, TCP_SYN, NULL);
    transmit(c, false, TCP_SYN | TCP_ACK, NULL);
    transmit(c, true, TCP_ACK, NULL);
}

static void close_connection(struct conversation *c)
{
    transmit(c, true, TCP_FIN | TCP_ACK, NULL);
    transmit(c, false, TCP_FIN | TCP_ACK, NULL);
}

static void smtp_dialogue(struct conversation *c, bool authenticate)
{
    server(c, "220 mail.example ESMTP\r\n");
    client(c, "EHLO pc.example\r\n");
    server(c, "250-mail.example\r\n250 AUTH PLAIN\r\n");
    if (authenticate) {
        client(c, "AUTH PLAIN AGJvYgBodW50ZXIy\r\n");
        server(c, "235 2.7.0 ok\r\n");
    }
    client(c, "MAIL FROM:<bob@example.org>\r\n");
    server(c, "250 ok\r\n");
    client(c, "RCPT TO:<alice@example.net>\r\n");
    server(c, "250 ok\r\n");
    client(c, "QUIT\r\n");
    server(c, "221 bye\r\n");
}

Test(mail_flows, submission_dialogue, .init = setup, .fini = teardown)
{
    struct conversation c;
    begin(&c, "198.51.100.7", 40000, "203.0.113.60", 587);
    open_connection(&c);
    smtp_dialogue(&c, true);
    close_connection(&c);
    cr_assert_eq(seen_count, 1);
    cr_assert_eq(seen[0].moment, MAIL_FLOW_CLOSED);
    cr_assert_eq(seen[0].kind, MAIL_FLOW_SUBMISSION);
    cr_assert_str_eq(seen[0].reason, "fin");
    cr_assert(seen[0].answered);
    cr_assert(seen[0].has_smtp);
    cr_assert(seen[0].smtp.auth_success);
    cr_assert_eq(seen[0].smtp.mail_accepted, 1);
    cr_assert_eq(seen[0].smtp.rcpt_accepted, 1);
    cr_assert_str_eq(seen[0].smtp.helo, "pc.example");
}

Test(mail_flows, who_is_followed, .init = setup, .fini = teardown)
{
    struct conversation c;
    /* From outside to a server that is no designated MSA: not ours to watch. */
    begin(&c, "203.0.113.9", 40000, "203.0.113.60", 587);
    open_connection(&c);
    smtp_dialogue(&c, false);
    close_connection(&c);
    cr_assert_eq(seen_count, 0);
    /* From outside to the designated MSA: followed. */
    begin(&c, "203.0.113.9", 40001, "192.0.2.25", 587);
    open_connection(&c);
    smtp_dialogue(&c, false);
    close_connection(&c);
    cr_assert_eq(seen_count, 1);
    /* Port 25 is the attempt tracker's. */
    begin(&c, "198.51.100.7", 40002, "203.0.113.60", 25);
    open_connection(&c);
    smtp_dialogue(&c, false);
    close_connection(&c);
    cr_assert_eq(seen_count, 1);
    /* SMTP on another port from a static line: nDPI is not asked. */
    begin(&c, "198.51.101.7", 40003, "203.0.113.60", 2525);
    open_connection(&c);
    smtp_dialogue(&c, false);
    close_connection(&c);
    cr_assert_eq(seen_count, 1);
}

Test(mail_flows, other_ports_through_ndpi, .init = setup, .fini = teardown)
{
    struct conversation c;
    begin(&c, "198.51.100.7", 40000, "203.0.113.60", 2525);
    open_connection(&c);
    smtp_dialogue(&c, false);
    close_connection(&c);
    cr_assert_eq(seen_count, 1);
    cr_assert_eq(seen[0].kind, MAIL_FLOW_OTHER_SMTP);
    cr_assert_str_eq(seen[0].protocol, "SMTP");
    cr_assert(seen[0].has_smtp);
    cr_assert_eq(seen[0].smtp.banner_code, 220, "the bytes nDPI saw first reach the parser too");
    cr_assert(seen[0].smtp.helo_seen);
    /* Web on 8080 and DNS-looking bytes on 5353: decided and dropped without a word; their
     * slots come back, so a thousand such flows never exhaust them. */
    for (int i = 0; i < 1000; i++) {
        begin(&c, "198.51.100.8", (uint16_t)(41000 + i), "203.0.113.61", 8080);
        open_connection(&c);
        client(&c, "GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n");
        server(&c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    }
    cr_assert_eq(counters.detector_exhausted, 0);
    cr_assert_eq(counters.detector_evictions, 0);
    mail_flows_finish(flows, c.ts, "end_of_input");
    cr_assert_eq(seen_count, 1);
}

Test(mail_flows, login_is_told_when_it_happens, .init = setup, .fini = teardown)
{
    struct conversation c;
    begin(&c, "198.51.100.7", 40000, "203.0.113.70", 143);
    open_connection(&c);
    server(&c, "* OK ready\r\n");
    client(&c, "a1 LOGIN bob hunter2\r\n");
    cr_assert_eq(seen_count, 0);
    server(&c, "a1 OK done\r\n");
    cr_assert_eq(seen_count, 1);
    cr_assert_eq(seen[0].moment, MAIL_FLOW_LOGIN);
    cr_assert_eq(seen[0].kind, MAIL_FLOW_IMAP);
    cr_assert(seen[0].login.login_success);
    cr_assert_str_eq(seen[0].login.mechanism, "LOGIN");
    close_connection(&c);
    cr_assert_eq(seen_count, 2);
    cr_assert_eq(seen[1].moment, MAIL_FLOW_CLOSED);
    cr_assert_eq(seen[1].kind, MAIL_FLOW_IMAP);
}

Test(mail_flows, smtps_hello, .init = setup, .fini = teardown)
{
    static const char hello[] = "\x16\x03\x01\x00\x2d\x01\x00\x00\x29\x03\x03"
                                "0123456789abcdef0123456789abcdef"
                                "\x00\x00\x02\x13\x01\x01\x00";
    struct conversation c;
    begin(&c, "198.51.100.7", 40000, "203.0.113.80", 465);
    open_connection(&c);
    /* Built by hand: no extensions (a TLS 1.2 hello may have none). The record and
     * handshake lengths count 41 bytes of body. */
    struct packet p = c.template;
    p.seq = c.client_seq;
    p.ack = c.server_seq;
    p.tcp_flags = TCP_ACK | TCP_PSH;
    p.payload = (const uint8_t *)hello;
    p.payload_length = sizeof(hello) - 1;
    p.ts = c.ts + 1000;
    c.client_seq += p.payload_length;
    mail_flows_packet(flows, &p, -1);
    cr_assert_eq(seen_count, 1);
    cr_assert_eq(seen[0].moment, MAIL_FLOW_HELLO);
    cr_assert(seen[0].has_hello);
    cr_assert(!seen[0].hello.has_sni);
    server(&c, "\x16\x03\x03\x00\x01\x02");
    /* After the hello nothing is read, but every byte is counted: what TLS leaves visible
     * of a login (msa_abuse). */
    client(&c, "encrypted1");
    client(&c, "encrypted2");
    c.client_seq -= 10; /* the last record again: a retransmission counts once */
    client(&c, "encrypted2");
    close_connection(&c);
    cr_assert_eq(seen_count, 2);
    cr_assert_eq(seen[1].kind, MAIL_FLOW_SMTPS);
    cr_assert_eq(seen[1].client_bytes, sizeof(hello) - 1 + 20);
    cr_assert_eq(seen[1].server_bytes, strlen("\x16\x03\x03\x00\x01\x02"),
                 "server() sends up to the first NUL");
}

Test(mail_flows, timers_and_bounds, .init = setup, .fini = teardown)
{
    /* limits.sessions 4 gives the smallest table: 256 connections. */
    struct conversation c;
    for (int i = 0; i < 300; i++) {
        begin(&c, "198.51.100.7", (uint16_t)(42000 + i), "203.0.113.60", 587);
        c.ts += i;
        transmit(&c, true, TCP_SYN, NULL);
    }
    cr_assert_eq(counters.detector_evictions, 44);
    cr_assert_eq(seen_count, 44);
    for (size_t i = 0; i < seen_count; i++) {
        cr_assert_str_eq(seen[i].reason, "evicted");
        cr_assert(!seen[i].answered);
    }
    /* The SYN timer ends the rest, in packet time. */
    mail_flows_advance(flows, c.ts + 29 * 1000000LL);
    cr_assert_eq(seen_count, 44);
    mail_flows_advance(flows, c.ts + 31 * 1000000LL);
    cr_assert_eq(seen_count, 300);
    cr_assert_str_eq(seen[299].reason, "syn_timeout");
    mail_flows_finish(flows, c.ts + 31 * 1000000LL, "end_of_input");
    cr_assert_eq(seen_count, 300);
}

/* A segment the snap length cut: "text" captured of "wire" bytes sent. */
static void client_cut(struct conversation *c, const char *text, uint32_t wire)
{
    struct packet p = c->template;
    p.seq = c->client_seq;
    p.ack = c->server_seq;
    p.tcp_flags = TCP_ACK | TCP_PSH;
    p.payload = (const uint8_t *)text;
    p.payload_length = (uint32_t)strlen(text);
    p.payload_wire_length = wire;
    c->client_seq += wire;
    c->ts += 1000;
    p.ts = c->ts;
    mail_flows_packet(flows, &p, -1);
}

Test(mail_flows, cut_and_reordered_segments_keep_the_submission_dialogue, .init = setup,
     .fini = teardown)
{
    struct conversation c;
    begin(&c, "198.51.100.7", 40100, "203.0.113.60", 587);
    open_connection(&c);
    server(&c, "220 mail.example ESMTP\r\n");
    client(&c, "EHLO pc.example\r\n");
    server(&c, "250 mail.example\r\n");
    /* RCPT arrives before MAIL: held until MAIL fills the hole. */
    static const char mail[] = "MAIL FROM:<bob@example.org>\r\n";
    uint32_t mail_seq = c.client_seq;
    c.client_seq += (uint32_t)strlen(mail);
    client(&c, "RCPT TO:<alice@example.net>\r\n");
    uint32_t after = c.client_seq;
    c.client_seq = mail_seq;
    client(&c, mail);
    c.client_seq = after;
    server(&c, "250 ok\r\n250 ok\r\n");
    client(&c, "DATA\r\n");
    server(&c, "354 go\r\n");
    client_cut(&c, "Subject: hi\r\n", 900);
    server(&c, "250 queued\r\n");
    client(&c, "QUIT\r\n");
    server(&c, "221 bye\r\n");
    close_connection(&c);
    cr_assert_eq(seen_count, 1);
    cr_assert_eq(seen[0].smtp.mail_count, 1);
    cr_assert_eq(seen[0].smtp.rcpt_accepted, 1);
    cr_assert_eq(seen[0].smtp.messages_accepted, 1);
    cr_assert(seen[0].smtp.quit_seen);
    cr_assert(!seen[0].smtp.commands_unseen);
    cr_assert_eq(counters.stream_reordered, 1);
}

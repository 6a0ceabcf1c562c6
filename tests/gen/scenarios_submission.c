/* The scenarios of infected subscribers and submission hygiene (issue #5, docs/concepts.md):
 * bots by IPv4 address and IPv6 /64, their traps (a list server on a static line, a
 * self-hosted MTA, an address verification burst, greylisting, MX queries through the ISP's
 * resolver, authenticated submission), open submission servers, POP-before-SMTP, third-party
 * submission on port 25, SMTP on other ports, and GeoIP enrichment. Policies:
 * tests/scenarios/subscribers.yaml, submission.yaml and geoip.yaml.
 *
 * These stories take their sequence numbers from a generator of their own, not next_isn(),
 * so they neither shift nor depend on the captures of the other families. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "scenario.h"

static uint32_t isn_state = 0x73756273u; /* "subs" */
static uint16_t ip_id;

static uint32_t submission_isn(void) /* xorshift32, like next_isn() but its own sequence */
{
    isn_state ^= isn_state << 13;
    isn_state ^= isn_state >> 17;
    isn_state ^= isn_state << 5;
    return isn_state;
}

static void start(struct gen_conn *conn, struct pcapgen *out, const struct gen_link *link,
                  const char *client, uint16_t client_port, const char *server,
                  uint16_t server_port)
{
    uint32_t client_isn = submission_isn();
    uint32_t server_isn = submission_isn();
    gen_conn_init(conn, out, LINKTYPE_ETHERNET, link, client, client_port, server, server_port,
                  client_isn, server_isn);
}

/* ---- SMTP ---- */

enum auth { AUTH_NONE = 0, AUTH_PLAIN_OK, AUTH_LOGIN_OK, AUTH_REFUSED };

/* How one SMTP dialogue goes, from the greeting to QUIT. */
struct script {
    const char *banner; /* NULL: "220 mx.example.net ESMTP" */
    const char *helo;   /* NULL: QUIT right after the greeting */
    bool offers_auth;   /* the EHLO reply lists AUTH */
    enum auth auth;
    bool starttls;      /* STARTTLS, then TLS: nothing more can be read */
    const char *sender; /* NULL: no MAIL FROM */
    const char *mail_reply;
    int rcpts;
    const char *rcpt_reply;
    bool data;
};

static void say(struct gen_conn *conn, double *t, const char *client, const char *server)
{
    gen_conn_client_text(conn, at(*t), client);
    gen_conn_server_text(conn, at(*t + 0.010), server);
    *t += 0.020;
}

static const uint8_t client_hello_bytes[] = {0x16, 0x03, 0x01, 0x00, 0x05,
                                             0x01, 0x00, 0x00, 0x01, 0x00};

/* The whole connection: handshake, dialogue, FINs. */
static void smtp_talk(struct pcapgen *out, const struct gen_link *link, const char *client,
                      uint16_t client_port, const char *server, uint16_t server_port, double t,
                      const struct script *script)
{
    struct gen_conn conn;
    start(&conn, out, link, client, client_port, server, server_port);
    handshake(&conn, t);
    t += 0.030;
    char line[256];
    snprintf(line, sizeof(line), "%s\r\n",
             script->banner != NULL ? script->banner : "220 mx.example.net ESMTP");
    gen_conn_server_text(&conn, at(t), line);
    t += 0.010;
    if (script->helo != NULL) {
        snprintf(line, sizeof(line), "EHLO %s\r\n", script->helo);
        say(&conn, &t, line,
            script->offers_auth ? "250-mail.example\r\n250-AUTH PLAIN LOGIN\r\n250-STARTTLS\r\n"
                                  "250 8BITMIME\r\n"
                                : "250-mx.example.net\r\n250-STARTTLS\r\n250 8BITMIME\r\n");
    }
    if (script->starttls) {
        say(&conn, &t, "STARTTLS\r\n", "220 2.0.0 Ready to start TLS\r\n");
        gen_conn_client_send(&conn, at(t), client_hello_bytes, sizeof(client_hello_bytes));
        close_both(&conn, t + 0.050);
        return;
    }
    switch (script->auth) {
    case AUTH_NONE:
        break;
    case AUTH_PLAIN_OK:
        say(&conn, &t, "AUTH PLAIN AGJvYgBodW50ZXIy\r\n",
            "235 2.7.0 Authentication successful\r\n");
        break;
    case AUTH_LOGIN_OK:
        say(&conn, &t, "AUTH LOGIN\r\n", "334 VXNlcm5hbWU6\r\n");
        say(&conn, &t, "Ym9i\r\n", "334 UGFzc3dvcmQ6\r\n");
        say(&conn, &t, "aHVudGVyMg==\r\n", "235 2.7.0 Authentication successful\r\n");
        break;
    case AUTH_REFUSED:
        say(&conn, &t, "AUTH PLAIN AGJvYgB3cm9uZw==\r\n",
            "535 5.7.8 Authentication credentials invalid\r\n");
        break;
    }
    if (script->sender != NULL) {
        snprintf(line, sizeof(line), "MAIL FROM:<%s>\r\n", script->sender);
        say(&conn, &t, line, script->mail_reply != NULL ? script->mail_reply : "250 2.1.0 Ok\r\n");
        for (int i = 0; i < script->rcpts; i++) {
            snprintf(line, sizeof(line), "RCPT TO:<user%d@dest%d.example>\r\n", i, i % 7);
            say(&conn, &t, line,
                script->rcpt_reply != NULL ? script->rcpt_reply : "250 2.1.5 Ok\r\n");
        }
        if (script->data) {
            say(&conn, &t, "DATA\r\n", "354 End data with <CR><LF>.<CR><LF>\r\n");
            say(&conn, &t, "Subject: hello\r\n\r\nHello.\r\n.\r\n", "250 2.0.0 Ok: queued\r\n");
        }
    }
    say(&conn, &t, "QUIT\r\n", "221 2.0.0 Bye\r\n");
    close_both(&conn, t);
}

/* A SYN nobody answers: what an active blocking point leaves. */
static void lone_syn(struct pcapgen *out, const struct gen_link *link, const char *client,
                     uint16_t client_port, const char *server, double t)
{
    struct gen_conn conn;
    start(&conn, out, link, client, client_port, server, 25);
    gen_conn_syn(&conn, at(t));
}

/* ---- Other protocols ---- */

/* A conversation of text turns: 'C' from the client, 'S' from the server, `pause` seconds
 * after the turn before it (0: the conversation's step). */
struct turn {
    char side;
    const char *text;
    double pause;
};

static void converse(struct pcapgen *out, const struct gen_link *link, const char *client,
                     uint16_t client_port, const char *server, uint16_t server_port, double t,
                     const struct turn *turns, size_t count, double step)
{
    struct gen_conn conn;
    start(&conn, out, link, client, client_port, server, server_port);
    handshake(&conn, t);
    t += 0.030;
    for (size_t i = 0; i < count; i++) {
        t += turns[i].pause > 0 ? turns[i].pause : step;
        if (turns[i].side == 'C')
            gen_conn_client_text(&conn, at(t), turns[i].text);
        else
            gen_conn_server_text(&conn, at(t), turns[i].text);
    }
    close_both(&conn, t);
}

#define TURNS(turns) turns, sizeof(turns) / sizeof(turns[0])

static void pop3_login(struct pcapgen *out, const struct gen_link *link, const char *client,
                       uint16_t client_port, const char *server, double t, bool accepted)
{
    const struct turn turns[] = {
        {'S', "+OK POP3 server ready\r\n"},
        {'C', "USER bob\r\n"},
        {'S', "+OK\r\n"},
        {'C', "PASS hunter2\r\n"},
        {'S', accepted ? "+OK maildrop has 0 messages\r\n" : "-ERR [AUTH] invalid password\r\n"},
        {'C', "QUIT\r\n"},
        {'S', "+OK bye\r\n"},
    };
    converse(out, link, client, client_port, server, 110, t, TURNS(turns), 0.020);
}

/* Web traffic both ways: nDPI sees HTTP at once, and the segment shows its replies. */
static void http_exchange(struct pcapgen *out, const struct gen_link *link, const char *client,
                          uint16_t client_port, const char *server, uint16_t port, double t)
{
    const struct turn turns[] = {
        {'C', "GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: curl/7.88\r\n"
              "Accept: */*\r\n\r\n"},
        {'S', "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n"},
    };
    converse(out, link, client, client_port, server, port, t, TURNS(turns), 0.020);
}

static size_t put16(uint8_t *at_byte, size_t value)
{
    at_byte[0] = (uint8_t)(value >> 8);
    at_byte[1] = (uint8_t)value;
    return 2;
}

/* A TLS 1.2-style ClientHello in one record with server_name (RFC 6066 section 3). */
static size_t client_hello(uint8_t *out, const char *server_name)
{
    uint8_t body[512];
    size_t n = 0;
    n += put16(body + n, 0x0303);
    for (int i = 0; i < 32; i++)
        body[n++] = (uint8_t)(0x40 + i);
    body[n++] = 0; /* no session id */
    n += put16(body + n, 4);
    n += put16(body + n, 0xc02f);
    n += put16(body + n, 0x009c);
    body[n++] = 1;
    body[n++] = 0;
    size_t name = strlen(server_name);
    n += put16(body + n, name + 9); /* extensions */
    n += put16(body + n, 0x0000);   /* server_name */
    n += put16(body + n, name + 5);
    n += put16(body + n, name + 3); /* ServerNameList */
    body[n++] = 0;                  /* host_name */
    n += put16(body + n, name);
    memcpy(body + n, server_name, name);
    n += name;
    size_t length = 0;
    out[length++] = 22;
    out[length++] = 3;
    out[length++] = 1;
    length += put16(out + length, n + 4);
    out[length++] = 1;
    out[length++] = 0;
    length += put16(out + length, n);
    memcpy(out + length, body, n);
    return length + n;
}

/* Implicit TLS on 465 (RFC 8314): the hello, a first server record, and goodbye. */
static void smtps_hello(struct pcapgen *out, const struct gen_link *link, const char *client,
                        uint16_t client_port, const char *server, double t, const char *server_name)
{
    static const uint8_t server_hello[] = {0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00};
    uint8_t hello[600];
    struct gen_conn conn;
    start(&conn, out, link, client, client_port, server, 465);
    handshake(&conn, t);
    gen_conn_client_send(&conn, at(t + 0.030), hello, client_hello(hello, server_name));
    gen_conn_server_send(&conn, at(t + 0.060), server_hello, sizeof(server_hello));
    close_both(&conn, t + 0.100);
}

/* ---- DNS ---- */

static size_t dns_message(uint8_t *out, uint16_t id, bool response, const char *name, uint16_t type)
{
    size_t n = 0;
    n += put16(out + n, id);
    n += put16(out + n, response ? 0x8180 : 0x0100);
    n += put16(out + n, 1);
    n += put16(out + n, 0);
    n += put16(out + n, 0);
    n += put16(out + n, 0);
    const char *label = name;
    while (*label != '\0') {
        const char *dot = strchr(label, '.');
        size_t length = dot != NULL ? (size_t)(dot - label) : strlen(label);
        out[n++] = (uint8_t)length;
        memcpy(out + n, label, length);
        n += length;
        label += length + (dot != NULL ? 1 : 0);
    }
    out[n++] = 0;
    n += put16(out + n, type);
    n += put16(out + n, 1);
    return n;
}

/* A query and its answer over UDP. */
static void dns_lookup(struct pcapgen *out, const struct gen_link *link, const char *client,
                       uint16_t client_port, const char *resolver, double t, const char *name,
                       uint16_t type)
{
    struct gen_addr from = gen_addr(client), to = gen_addr(resolver);
    uint8_t message[300], packet[400];
    uint16_t id = (uint16_t)(0x4000 + client_port);
    size_t length = dns_message(message, id, false, name, type);
    size_t size = gen_build_udp(packet, &from, &to, client_port, 53, 64, ip_id++, message, length);
    gen_write_ip(out, LINKTYPE_ETHERNET, link, true, at(t), packet, size);
    length = dns_message(message, id, true, name, type);
    size = gen_build_udp(packet, &to, &from, 53, client_port, 58, ip_id++, message, length);
    gen_write_ip(out, LINKTYPE_ETHERNET, link, false, at(t + 0.015), packet, size);
}

#define DNS_MX 15
#define DNS_A 1

/* ---- Bots ---- */

static const struct script delivery = {
    .helo = "WIN-7QK2M1",
    .sender = "offers@cheap-pills.example",
    .rcpts = 1,
    .data = true,
};

/* Three bots in the first window, one of them again in the second: an IPv4 subscriber
 * that queries MX records past the ISP's resolver and delivers with a machine name; an
 * IPv6 /64 whose two addresses share the work; a blocked bot that relays SMTP on 2525 and
 * 443. A light sender beside them stays below the score. */
static void write_bots(void)
{
    const char *name = "scenario-subscribers-bots.pcap";
    struct pcapgen *out = open_capture(name, LINKTYPE_ETHERNET);
    struct gen_link access = vlan_link(VLAN_ACCESS);
    char server[64], domain[64];

    http_exchange(out, &access, "198.51.100.20", 52000, "203.0.113.80", 80, 0.5);

    /* Bot A, window 1: 12 direct MX queries, 12 deliveries to 12 MTAs. */
    for (int i = 0; i < 12; i++) {
        snprintf(domain, sizeof(domain), "domain%02d.example", i);
        dns_lookup(out, &access, "198.51.100.80", (uint16_t)(53000 + i), "203.0.113.53",
                   1.0 + i * 0.5, domain, DNS_MX);
        snprintf(server, sizeof(server), "203.0.113.%d", 101 + i);
        smtp_talk(out, &access, "198.51.100.80", (uint16_t)(41000 + i), server, 25, 10.0 + i * 2,
                  &delivery);
    }

    /* Bot B: one IPv6 subscriber (a /64), two of its addresses, 12 MTAs, 5 recipients each,
     * an address literal that is not its own. */
    struct script literal = delivery;
    literal.helo = "[IPv6:2001:db8:1000:5::99]";
    literal.rcpts = 5;
    for (int i = 0; i < 12; i++) {
        snprintf(server, sizeof(server), "2001:db8:f000::%x", 0x101 + i);
        smtp_talk(out, &access, i < 6 ? "2001:db8:1000:5::a" : "2001:db8:1000:5::b",
                  (uint16_t)(43000 + i), server, 25, 40.0 + i * 2, &literal);
    }

    /* Bot C: blocked on port 25, relays on 2525 and 443; a few direct MX queries. */
    for (int i = 0; i < 4; i++) {
        snprintf(domain, sizeof(domain), "target%d.example", i);
        dns_lookup(out, &access, "198.51.100.81", (uint16_t)(53100 + i), "203.0.113.53",
                   95.0 + i * 0.5, domain, DNS_MX);
    }
    for (int i = 0; i < 10; i++) {
        snprintf(server, sizeof(server), "203.0.113.%d", 160 + i);
        lone_syn(out, &access, "198.51.100.81", (uint16_t)(44000 + i), server, 100.0 + i);
    }
    struct script relay = delivery;
    relay.helo = "198.51.100.81";
    relay.rcpts = 3;
    smtp_talk(out, &access, "198.51.100.81", 44100, "203.0.113.170", 2525, 120.0, &relay);
    smtp_talk(out, &access, "198.51.100.81", 44101, "203.0.113.171", 443, 130.0, &relay);

    /* A subscriber who sends two messages itself: not a bot. */
    struct script light = delivery;
    light.helo = "laptop.home.example";
    smtp_talk(out, &access, "198.51.100.82", 45500, "203.0.113.190", 25, 150.0, &light);
    smtp_talk(out, &access, "198.51.100.82", 45501, "203.0.113.191", 25, 160.0, &light);

    /* Bot A, window 2: 8 direct MX queries and 10 blocked SYNs. */
    for (int i = 0; i < 8; i++) {
        snprintf(domain, sizeof(domain), "second%d.example", i);
        dns_lookup(out, &access, "198.51.100.80", (uint16_t)(53200 + i), "203.0.113.53",
                   305.0 + i * 0.5, domain, DNS_MX);
    }
    for (int i = 0; i < 10; i++) {
        snprintf(server, sizeof(server), "203.0.113.%d", 140 + i);
        lone_syn(out, &access, "198.51.100.80", (uint16_t)(42000 + i), server, 310.0 + i * 2);
    }
    /* Time moves on past the SYN timers, through the ISP's resolver. */
    dns_lookup(out, &access, "198.51.100.20", 53999, "198.51.100.53", 400.0, "www.example.com",
               DNS_A);
    close_capture(out, name);
}

/* The traps: each looks like part of a bot and is none. */
static void write_traps(void)
{
    const char *name = "scenario-subscribers-traps.pcap";
    struct pcapgen *out = open_capture(name, LINKTYPE_ETHERNET);
    struct gen_link access = vlan_link(VLAN_ACCESS);
    struct gen_link business = vlan_link(VLAN_BUSINESS);
    char server[64], domain[64];

    http_exchange(out, &access, "198.51.100.20", 52000, "203.0.113.80", 80, 0.5);

    /* A list server on a static business line: fan-out, recipients, direct MX queries. */
    struct script list = {
        .helo = "lists.business.example",
        .sender = "bounces@lists.business.example",
        .rcpts = 5,
        .data = true,
    };
    for (int i = 0; i < 15; i++) {
        snprintf(domain, sizeof(domain), "member%02d.example", i);
        dns_lookup(out, &business, "198.51.103.20", (uint16_t)(53000 + i), "203.0.113.53",
                   1.0 + i * 0.2, domain, DNS_MX);
        snprintf(server, sizeof(server), "203.0.113.%d", 10 + i);
        smtp_talk(out, &business, "198.51.103.20", (uint16_t)(45000 + i), server, 25, 5.0 + i * 1.5,
                  &list);
    }

    /* A self-hosted MTA on a dynamic address: mail comes in to its port 25, and it
     * resolves MX records itself and delivers to 12 domains. */
    struct script inbound = {
        .banner = "220 mail.home-mta.example ESMTP",
        .helo = "mx.sender.example",
        .sender = "news@sender.example",
        .rcpts = 1,
        .data = true,
    };
    smtp_talk(out, &access, "203.0.113.200", 50000, "198.51.100.90", 25, 50.0, &inbound);
    struct script own = {
        .helo = "mail.home-mta.example",
        .sender = "me@home-mta.example",
        .rcpts = 1,
        .data = true,
    };
    for (int i = 0; i < 12; i++) {
        snprintf(domain, sizeof(domain), "friend%02d.example", i);
        dns_lookup(out, &access, "198.51.100.90", (uint16_t)(53100 + i), "203.0.113.53",
                   60.0 + i * 2, domain, DNS_MX);
        snprintf(server, sizeof(server), "203.0.113.%d", 101 + i);
        smtp_talk(out, &access, "198.51.100.90", (uint16_t)(46000 + i), server, 25, 60.5 + i * 2,
                  &own);
    }

    /* An address verification burst: many recipients refused, no DATA. */
    struct script verify = {
        .helo = "verify.example.com",
        .sender = "",
        .rcpts = 20,
        .rcpt_reply = "550 5.1.1 User unknown\r\n",
    };
    for (int i = 0; i < 3; i++) {
        snprintf(server, sizeof(server), "203.0.113.%d", 120 + i);
        smtp_talk(out, &access, "198.51.100.91", (uint16_t)(46100 + i), server, 25, 100.0 + i * 3,
                  &verify);
    }

    /* Greylisting: four MTAs, five tries each, every one deferred with 450. */
    struct script grey = {
        .helo = "mta.grey.example",
        .sender = "alerts@grey.example",
        .rcpts = 1,
        .rcpt_reply = "450 4.7.1 Greylisted, try again later\r\n",
    };
    for (int attempt = 0; attempt < 5; attempt++) {
        for (int i = 0; i < 4; i++) {
            snprintf(server, sizeof(server), "203.0.113.%d", 130 + i);
            smtp_talk(out, &access, "198.51.100.92", (uint16_t)(47000 + attempt * 10 + i), server,
                      25, 120.0 + attempt * 30 + i * 2, &grey);
        }
    }

    /* MX queries through the ISP's own resolver are no direct MX queries. */
    for (int i = 0; i < 30; i++) {
        snprintf(domain, sizeof(domain), "site%02d.example", i);
        dns_lookup(out, &access, "198.51.100.93", (uint16_t)(53300 + i), "198.51.100.53",
                   200.0 + i * 0.2, domain, DNS_MX);
    }

    /* Submission done right: AUTH on 587 to the ISP's MSA and to a third party, and a
     * dialogue that STARTTLS hides. */
    struct script authenticated = {
        .helo = "laptop.home.example",
        .offers_auth = true,
        .auth = AUTH_PLAIN_OK,
        .sender = "bob@isp.example",
        .rcpts = 3,
        .data = true,
    };
    smtp_talk(out, &access, "198.51.100.94", 48000, "192.0.2.25", 587, 220.0, &authenticated);
    authenticated.auth = AUTH_LOGIN_OK;
    smtp_talk(out, &access, "198.51.100.94", 48001, "203.0.113.50", 587, 225.0, &authenticated);
    struct script hidden = {.helo = "laptop.home.example", .offers_auth = true, .starttls = true};
    smtp_talk(out, &access, "198.51.100.94", 48002, "203.0.113.50", 587, 230.0, &hidden);

    /* An alternative submission port with AUTH: SMTP on another port, but no relay. */
    struct script alternative = authenticated;
    alternative.auth = AUTH_PLAIN_OK;
    smtp_talk(out, &access, "198.51.100.96", 48003, "203.0.113.55", 2525, 235.0, &alternative);

    /* Web on ports nDPI knows by their content. */
    http_exchange(out, &access, "198.51.100.95", 52001, "203.0.113.81", 8080, 240.0);
    http_exchange(out, &access, "2001:db8:1000:6::1", 52002, "2001:db8:f000::80", 80, 241.0);
    close_capture(out, name);
}

/* ---- Submission ---- */

static const struct script unauthenticated = {
    .helo = "laptop.home.example",
    .offers_auth = true,
    .sender = "bob@home.example",
    .rcpts = 2,
    .data = true,
};

/* Servers that take mail without authentication, once per server and window; and the
 * servers that do it right. */
static void write_open(void)
{
    const char *name = "scenario-submission-open.pcap";
    struct pcapgen *out = open_capture(name, LINKTYPE_ETHERNET);
    struct gen_link access = vlan_link(VLAN_ACCESS);

    smtp_talk(out, &access, "198.51.100.100", 48000, "203.0.113.60", 587, 10.0, &unauthenticated);
    smtp_talk(out, &access, "198.51.100.101", 48001, "203.0.113.60", 587, 20.0, &unauthenticated);
    smtp_talk(out, &access, "198.51.100.102", 48002, "192.0.2.25", 587, 30.0, &unauthenticated);
    /* The partner MSA serves only DSL on port 25, but takes FTTH's mail all the same. */
    smtp_talk(out, &access, "198.51.100.103", 48003, "192.0.2.26", 25, 40.0, &unauthenticated);

    struct script authenticated = unauthenticated;
    authenticated.auth = AUTH_PLAIN_OK;
    smtp_talk(out, &access, "198.51.100.104", 48004, "203.0.113.61", 587, 50.0, &authenticated);
    struct script hidden = {.helo = "laptop.home.example", .offers_auth = true, .starttls = true};
    smtp_talk(out, &access, "198.51.100.105", 48005, "203.0.113.61", 587, 60.0, &hidden);
    struct script refused = unauthenticated;
    refused.rcpt_reply = "530 5.7.0 Authentication required\r\n";
    refused.data = false;
    smtp_talk(out, &access, "198.51.100.106", 48006, "203.0.113.61", 587, 70.0, &refused);
    /* Delivery to an MTA on 25, and the ISP's MSA taking its own pool on 25. */
    struct script delivered = unauthenticated;
    delivered.offers_auth = false;
    smtp_talk(out, &access, "198.51.100.107", 48007, "203.0.113.62", 25, 80.0, &delivered);
    smtp_talk(out, &access, "198.51.100.21", 48008, "192.0.2.25", 25, 90.0, &unauthenticated);

    /* The second window: the first server again, and the ISP's MSA from outside. */
    smtp_talk(out, &access, "198.51.100.100", 48010, "203.0.113.60", 587, 310.0, &unauthenticated);
    smtp_talk(out, &access, "203.0.113.99", 48011, "192.0.2.25", 587, 320.0, &unauthenticated);
    close_capture(out, name);
}

/* POP3 and IMAP logins before unauthenticated submissions, and the cases that are not
 * POP-before-SMTP: a failed login, another provider, a login too long ago. */
static void write_pop(void)
{
    const char *name = "scenario-submission-pop.pcap";
    struct pcapgen *out = open_capture(name, LINKTYPE_ETHERNET);
    struct gen_link access = vlan_link(VLAN_ACCESS);

    pop3_login(out, &access, "198.51.100.110", 49000, "203.0.113.70", 10.0, true);
    smtp_talk(out, &access, "198.51.100.110", 49001, "203.0.113.71", 587, 60.0, &unauthenticated);

    /* IMAP stays logged in while the subscriber submits on port 25 to the same host. */
    const struct turn imap[] = {
        {'S', "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n"},
        {'C', "a1 LOGIN bob hunter2\r\n"},
        {'S', "a1 OK LOGIN completed\r\n"},
        {'C', "a2 NOOP\r\n", 60.0},
        {'S', "a2 OK NOOP completed\r\n"},
        {'C', "a3 LOGOUT\r\n", 60.0},
        {'S', "* BYE\r\na3 OK LOGOUT completed\r\n"},
    };
    converse(out, &access, "198.51.100.111", 49002, "203.0.113.80", 143, 80.0, TURNS(imap), 0.020);
    smtp_talk(out, &access, "198.51.100.111", 49003, "203.0.113.80", 25, 100.0, &unauthenticated);

    pop3_login(out, &access, "198.51.100.112", 49004, "203.0.113.70", 120.0, false);
    smtp_talk(out, &access, "198.51.100.112", 49005, "203.0.113.71", 587, 130.0, &unauthenticated);

    const struct turn apop[] = {
        {'S', "+OK POP3 ready <1896.697170952@pop.example>\r\n"},
        {'C', "APOP bob c4c9334bac560ecc979e58001b3e22fb\r\n"},
        {'S', "+OK bob's maildrop has 1 message\r\n"},
        {'C', "QUIT\r\n"},
        {'S', "+OK bye\r\n"},
    };
    converse(out, &access, "198.51.100.113", 49006, "203.0.113.70", 110, 140.0, TURNS(apop), 0.020);
    smtp_talk(out, &access, "198.51.100.113", 49007, "192.0.2.150", 587, 150.0, &unauthenticated);

    pop3_login(out, &access, "198.51.100.114", 49008, "203.0.113.75", 160.0, true);
    smtp_talk(out, &access, "198.51.100.114", 49009, "203.0.113.76", 587, 860.0, &unauthenticated);
    close_capture(out, name);
}

/* Subscribers who authenticate on port 25 of servers that are not their MSA, and what each
 * server is seen serving on 587 and 465 first. */
static void write_third_party(void)
{
    const char *name = "scenario-submission-third-party.pcap";
    struct pcapgen *out = open_capture(name, LINKTYPE_ETHERNET);
    struct gen_link access = vlan_link(VLAN_ACCESS);

    struct script submit = {
        .helo = "pc.home.example",
        .offers_auth = true,
        .auth = AUTH_PLAIN_OK,
        .sender = "carol@asp-c.example",
        .rcpts = 1,
        .data = true,
    };
    smtp_talk(out, &access, "198.51.100.120", 50100, "203.0.113.90", 587, 10.0, &submit);
    struct script login = submit;
    login.auth = AUTH_LOGIN_OK;
    smtp_talk(out, &access, "198.51.100.120", 50101, "203.0.113.90", 25, 20.0, &login);

    smtps_hello(out, &access, "198.51.100.121", 50102, "203.0.113.91", 30.0, "smtp.asp-b.example");
    smtp_talk(out, &access, "198.51.100.121", 50103, "203.0.113.91", 25, 40.0, &submit);

    smtp_talk(out, &access, "198.51.100.122", 50104, "203.0.113.92", 25, 50.0, &submit);
    smtp_talk(out, &access, "198.51.100.122", 50105, "203.0.113.92", 25, 60.0, &submit);

    struct script refused = submit;
    refused.auth = AUTH_REFUSED;
    refused.sender = NULL;
    smtp_talk(out, &access, "198.51.100.123", 50106, "203.0.113.93", 25, 70.0, &refused);
    smtp_talk(out, &access, "198.51.100.21", 50107, "192.0.2.25", 25, 80.0, &submit);

    smtp_talk(out, &access, "2001:db8:1000:7::20", 50108, "2001:db8:f000::25", 25, 90.0, &submit);
    /* The partner MSA: DSL may use it on 25, FTTH may not. */
    smtp_talk(out, &access, "198.51.101.20", 50109, "192.0.2.26", 25, 100.0, &submit);
    smtp_talk(out, &access, "198.51.100.124", 50110, "192.0.2.26", 25, 110.0, &submit);
    close_capture(out, name);
}

/* Enrichment from MaxMind's test databases (corpus/mmdb; their PROVENANCE names the
 * networks): 89.160.20.112/28 is AS29518 Bredband2 AB in SE, 1.128.0.0/11 AS1221 Telstra
 * with no country, 81.2.69.142 GB with no AS, 216.160.83.56 AS209 (no name) in the US,
 * 2003::/19 AS3320, 175.16.199.1 in neither. */
static void write_geoip(void)
{
    const char *name = "scenario-submission-geoip.pcap";
    struct pcapgen *out = open_capture(name, LINKTYPE_ETHERNET);
    struct gen_link access = vlan_link(VLAN_ACCESS);

    struct script fine = delivery;
    fine.helo = "laptop.home.example";
    smtp_talk(out, &access, "198.51.100.130", 51000, "89.160.20.113", 25, 10.0, &fine);
    lone_syn(out, &access, "198.51.100.130", 51001, "1.128.0.1", 12.0);
    lone_syn(out, &access, "198.51.100.130", 51002, "81.2.69.142", 14.0);
    lone_syn(out, &access, "198.51.100.130", 51003, "175.16.199.1", 16.0);
    lone_syn(out, &access, "2001:db8:1000:9::30", 51004, "2003::1", 18.0);

    struct script submit = {
        .helo = "pc.home.example",
        .offers_auth = true,
        .auth = AUTH_PLAIN_OK,
        .sender = "dave@example.us",
        .rcpts = 1,
        .data = true,
    };
    smtp_talk(out, &access, "198.51.100.131", 51010, "216.160.83.56", 25, 30.0, &submit);

    /* One provider, one AS, two /24s: the login and the submission still meet. */
    pop3_login(out, &access, "198.51.100.132", 51020, "1.128.0.10", 40.0, true);
    smtp_talk(out, &access, "198.51.100.132", 51021, "1.130.0.5", 587, 50.0, &unauthenticated);

    smtp_talk(out, &access, "198.51.100.133", 51030, "89.160.20.114", 2525, 60.0, &fine);
    http_exchange(out, &access, "198.51.100.20", 52000, "203.0.113.80", 80, 100.0);
    close_capture(out, name);
}

void scenarios_submission(void)
{
    write_bots();
    write_traps();
    write_open();
    write_pop();
    write_third_party();
    write_geoip();
}

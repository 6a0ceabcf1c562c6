/* The scenarios of the designated MSAs' own abuse and of POP-before-SMTP (issue #18, items
 * 5 to 7): password guessing on 587 in the clear and under STARTTLS, a burst of
 * concurrent 465 connections, guessing and quota replies on an MSA's port 25, a bot that
 * guesses at the MSA and sprays MTAs besides, and the traps beside them (a busy user over
 * TLS, a user who mistypes twice, a static line); AUTH PLAIN and LOGIN without STARTTLS on
 * 25 and 587 and the cases that are no leak (STARTTLS first, CRAM-MD5, 538 before any
 * response); POP-before-SMTP and its traps (delivery to another server of the same /24 or
 * autonomous system after a POP login). Policy: tests/scenarios/abuse.yaml.
 *
 * Sequence numbers come from next_isn(), started anew with this family's own seed. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "scenario.h"

#define MSA "192.0.2.25"
#define MSA6 "2001:db8:ffff::25"

static void start(struct gen_conn *conn, struct pcapgen *out, const struct gen_link *link,
                  const char *client, uint16_t client_port, const char *server, uint16_t port)
{
    conn_open(conn, out, LINKTYPE_ETHERNET, link, client, client_port, server, port);
}

static void say(struct gen_conn *conn, double *t, const char *client, const char *server)
{
    gen_conn_client_text(conn, at(*t), client);
    gen_conn_server_text(conn, at(*t + 0.010), server);
    *t += 0.020;
}

/* Bytes that stand for TLS records: what a capture shows of them is their count. The
 * first is a handshake record (22, version 3.1), which tells the SMTP parser TLS began. */
static void tls_bytes(struct gen_conn *conn, bool from_client, double t, size_t length)
{
    uint8_t bytes[4096];
    memset(bytes, 0x5a, sizeof(bytes));
    bytes[0] = 0x16;
    bytes[1] = 0x03;
    bytes[2] = 0x01;
    for (size_t sent = 0; sent < length; t += 0.001) {
        size_t part = length - sent < sizeof(bytes) ? length - sent : sizeof(bytes);
        if (from_client)
            gen_conn_client_send(conn, at(t), bytes, part);
        else
            gen_conn_server_send(conn, at(t), bytes, part);
        sent += part;
        bytes[0] = 0x17; /* later records: application data */
    }
}

/* ---- The dialogues ---- */

enum login { LOGIN_NONE, LOGIN_PLAIN, LOGIN_LOGIN, LOGIN_CRAM, LOGIN_PLAIN_538 };

struct dialogue {
    const char *banner; /* NULL: "220 msa.isp.example ESMTP" */
    bool offers_starttls;
    bool starttls;      /* STARTTLS, then TLS bytes: nothing more is read */
    size_t tls_client;  /* client bytes under TLS (hello, key exchange, EHLO, AUTH, QUIT) */
    size_t tls_server;  /* server bytes under TLS (hello, certificates, replies) */
    double tls_seconds; /* how long the TLS part lasts */
    enum login login;
    int failures;       /* AUTH answered 535 before the last one */
    bool accepted;      /* the last AUTH is answered 235 */
    const char *sender; /* NULL: no MAIL FROM */
    int rcpts;
};

static void ehlo(struct gen_conn *conn, double *t, bool starttls)
{
    say(conn, t, "EHLO pc.home.example\r\n",
        starttls ? "250-msa.isp.example\r\n250-AUTH PLAIN LOGIN CRAM-MD5\r\n250-STARTTLS\r\n"
                   "250 8BITMIME\r\n"
                 : "250-msa.isp.example\r\n250-AUTH PLAIN LOGIN CRAM-MD5\r\n250 8BITMIME\r\n");
}

static void login_once(struct gen_conn *conn, double *t, enum login login, bool accepted)
{
    const char *answer = accepted ? "235 2.7.0 Authentication successful\r\n"
                                  : "535 5.7.8 Authentication credentials invalid\r\n";
    switch (login) {
    case LOGIN_NONE:
        break;
    case LOGIN_PLAIN:
        say(conn, t, "AUTH PLAIN AGJvYgBodW50ZXIy\r\n", answer);
        break;
    case LOGIN_LOGIN:
        say(conn, t, "AUTH LOGIN\r\n", "334 VXNlcm5hbWU6\r\n");
        say(conn, t, "Ym9i\r\n", "334 UGFzc3dvcmQ6\r\n");
        say(conn, t, "aHVudGVyMg==\r\n", answer);
        break;
    case LOGIN_CRAM:
        say(conn, t, "AUTH CRAM-MD5\r\n",
            "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UuZXhhbXBsZT4=\r\n");
        say(conn, t, "Ym9iIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n", answer);
        break;
    case LOGIN_PLAIN_538:
        say(conn, t, "AUTH PLAIN\r\n", "538 5.7.11 Encryption required\r\n");
        break;
    }
}

/* The whole connection: handshake, dialogue, FINs. */
static void talk(struct pcapgen *out, const struct gen_link *link, const char *client,
                 uint16_t client_port, const char *server, uint16_t port, double t,
                 const struct dialogue *d)
{
    struct gen_conn conn;
    start(&conn, out, link, client, client_port, server, port);
    handshake(&conn, t);
    t += 0.030;
    char line[256];
    snprintf(line, sizeof(line), "%s\r\n",
             d->banner != NULL ? d->banner : "220 msa.isp.example ESMTP");
    gen_conn_server_text(&conn, at(t), line);
    t += 0.010;
    if (d->banner == NULL || d->banner[0] == '2') {
        ehlo(&conn, &t, d->offers_starttls || d->starttls);
        if (d->starttls) {
            say(&conn, &t, "STARTTLS\r\n", "220 2.0.0 Ready to start TLS\r\n");
            tls_bytes(&conn, true, t, d->tls_client);
            tls_bytes(&conn, false, t + d->tls_seconds / 2, d->tls_server);
            t += d->tls_seconds;
        } else {
            for (int i = 0; i < d->failures; i++)
                login_once(&conn, &t, d->login, false);
            login_once(&conn, &t, d->login, d->accepted);
            if (d->sender != NULL) {
                snprintf(line, sizeof(line), "MAIL FROM:<%s>\r\n", d->sender);
                say(&conn, &t, line, "250 2.1.0 Ok\r\n");
                for (int i = 0; i < d->rcpts; i++) {
                    snprintf(line, sizeof(line), "RCPT TO:<user%d@dest%d.example>\r\n", i, i % 5);
                    say(&conn, &t, line, "250 2.1.5 Ok\r\n");
                }
                say(&conn, &t, "DATA\r\n", "354 End data with <CR><LF>.<CR><LF>\r\n");
                say(&conn, &t, "Subject: hello\r\n\r\nHello.\r\n.\r\n", "250 2.0.0 Ok: queued\r\n");
            }
            say(&conn, &t, "QUIT\r\n", "221 2.0.0 Bye\r\n");
        }
    }
    close_both(&conn, t);
}

/* Implicit TLS on 465 (RFC 8314): the client's records, the server's, and goodbye. */
static void implicit_tls(struct pcapgen *out, const struct gen_link *link, const char *client,
                         uint16_t client_port, double t, double seconds, size_t client_bytes,
                         size_t server_bytes)
{
    struct gen_conn conn;
    start(&conn, out, link, client, client_port, MSA, 465);
    handshake(&conn, t);
    tls_bytes(&conn, true, t + 0.030, client_bytes);
    tls_bytes(&conn, false, t + 0.060, server_bytes);
    close_both(&conn, t + seconds);
}

/* A SYN nobody answers: what an active blocking point leaves. */
static void lone_syn(struct pcapgen *out, const struct gen_link *link, const char *client,
                     uint16_t client_port, const char *server, double t)
{
    struct gen_conn conn;
    start(&conn, out, link, client, client_port, server, 25);
    gen_conn_syn(&conn, at(t));
}

/* ---- Captures ---- */

static const struct dialogue guess_clear = {
    .login = LOGIN_PLAIN,
};

/* Password guessing at the ISP's MSA and its traps, all in the first window. */
static void write_guessing(void)
{
    const char *name = "scenario-abuse-guessing.pcap";
    struct pcapgen *out = open_capture(name, LINKTYPE_ETHERNET);
    struct gen_link access = vlan_link(VLAN_ACCESS);
    struct gen_link business = vlan_link(VLAN_BUSINESS);
    web_exchange(out, &access, "198.51.100.20", "203.0.113.80", 0.5);

    /* In the clear on 587: 15 logins refused, one connection after the other. */
    for (int i = 0; i < 15; i++)
        talk(out, &access, "198.51.100.140", (uint16_t)(46000 + i), MSA, 587, 10.0 + i * 8,
             &guess_clear);

    /* Under STARTTLS on 587: 15 short connections whose client bytes differ only by the
     * length of the password guessed. */
    for (int i = 0; i < 15; i++) {
        struct dialogue hidden = {.starttls = true,
                                  .tls_client = 780 + (size_t)(i % 5) * 4,
                                  .tls_server = 3900,
                                  .tls_seconds = 1.2};
        talk(out, &access, "198.51.100.141", (uint16_t)(46100 + i), MSA, 587, 12.0 + i * 7,
             &hidden);
    }

    /* A busy user over TLS: 12 messages in the window, each a size of its own. */
    for (int i = 0; i < 12; i++) {
        struct dialogue busy = {.starttls = true,
                                .tls_client = 1400 + (size_t)i * 230,
                                .tls_server = 3900,
                                .tls_seconds = 2.0};
        talk(out, &access, "198.51.100.142", (uint16_t)(46200 + i), MSA, 587, 15.0 + i * 20, &busy);
    }

    /* A user who mistypes the password twice, then sends: in the clear, so its password is
     * seen, but no abuse. */
    struct dialogue mistyped = {.login = LOGIN_PLAIN,
                                .failures = 2,
                                .accepted = true,
                                .sender = "bob@isp.example",
                                .rcpts = 2};
    talk(out, &access, "198.51.100.143", 46300, MSA, 587, 30.0, &mistyped);

    /* Twelve connections at once on 465, each a long transfer. */
    for (int i = 0; i < 12; i++)
        implicit_tls(out, &access, "198.51.100.144", (uint16_t)(46400 + i), 40.0 + i * 0.05, 20.0,
                     24000 + (size_t)i * 1000, 4000);

    /* Port 25 of the MSA, which the pool may use: ten logins refused with LOGIN, then the
     * MSA's own limit, three greetings of 421. */
    struct dialogue guess_login = {.login = LOGIN_LOGIN};
    for (int i = 0; i < 10; i++)
        talk(out, &access, "198.51.100.145", (uint16_t)(46500 + i), MSA, 25, 50.0 + i * 5,
             &guess_login);
    struct dialogue limited = {.banner = "421 4.7.0 msa.isp.example too many connections"};
    for (int i = 0; i < 3; i++)
        talk(out, &access, "198.51.100.145", (uint16_t)(46510 + i), MSA, 25, 101.0 + i * 2,
             &limited);

    /* A bot: guesses at the MSA and sprays blocked SYNs at ten MTAs. */
    for (int i = 0; i < 12; i++)
        talk(out, &access, "198.51.100.146", (uint16_t)(46600 + i), MSA, 587, 60.0 + i * 6,
             &guess_clear);
    char server[32];
    for (int i = 0; i < 18; i++) {
        snprintf(server, sizeof(server), "203.0.113.%d", 150 + i % 10);
        lone_syn(out, &access, "198.51.100.146", (uint16_t)(46700 + i), server, 150.0 + i * 2);
    }

    /* An IPv6 subscriber guessing from two addresses of its /64. */
    for (int i = 0; i < 12; i++)
        talk(out, &access, i % 2 ? "2001:db8:1000:9::a" : "2001:db8:1000:9::b",
             (uint16_t)(46800 + i), MSA6, 587, 20.0 + i * 9, &guess_clear);

    /* A static business line guessing as hard: not a subscriber these counts are for. */
    for (int i = 0; i < 15; i++)
        talk(out, &business, "198.51.103.10", (uint16_t)(46900 + i), MSA, 587, 25.0 + i * 8,
             &guess_clear);
    /* Traffic past the window's end and its wait (timeouts.syn + 90 s), so the window is
     * written whole at 09:07:00 rather than cut short by the end of the input. */
    web_exchange(out, &access, "198.51.100.20", "203.0.113.80", 430.0);
    close_capture(out, name);
}

/* AUTH with a secret on the wire, and the AUTH that sends none. */
static void write_cleartext(void)
{
    const char *name = "scenario-abuse-cleartext.pcap";
    struct pcapgen *out = open_capture(name, LINKTYPE_ETHERNET);
    struct gen_link access = vlan_link(VLAN_ACCESS);
    web_exchange(out, &access, "198.51.100.20", "203.0.113.80", 0.5);

    struct dialogue plain = {.login = LOGIN_PLAIN,
                             .accepted = true,
                             .offers_starttls = true,
                             .sender = "carol@isp.example",
                             .rcpts = 1};
    talk(out, &access, "198.51.100.150", 47000, MSA, 25, 10.0, &plain);
    talk(out, &access, "198.51.100.151", 47001, MSA, 587, 20.0, &plain);
    struct dialogue login = {
        .login = LOGIN_LOGIN, .accepted = true, .sender = "dave@asp.example", .rcpts = 1};
    talk(out, &access, "198.51.100.152", 47002, "203.0.113.95", 587, 30.0, &login);

    struct dialogue hidden = {
        .starttls = true, .tls_client = 900, .tls_server = 3900, .tls_seconds = 1.0};
    talk(out, &access, "198.51.100.153", 47003, MSA, 587, 40.0, &hidden);
    struct dialogue cram = {
        .login = LOGIN_CRAM, .accepted = true, .sender = "erin@isp.example", .rcpts = 1};
    talk(out, &access, "198.51.100.154", 47004, MSA, 587, 50.0, &cram);
    struct dialogue refused = {.login = LOGIN_PLAIN_538, .offers_starttls = true};
    talk(out, &access, "198.51.100.156", 47006, MSA, 587, 60.0, &refused);

    /* The same client and server three times: once per window. */
    talk(out, &access, "198.51.100.155", 47005, MSA, 587, 70.0, &plain);
    talk(out, &access, "198.51.100.155", 47007, MSA, 587, 80.0, &plain);
    talk(out, &access, "198.51.100.155", 47008, MSA, 587, 310.0, &plain);
    close_capture(out, name);
}

/* POP3 or IMAP login, then a submission: to the server that took the login, or to another. */
static void pop3_login(struct pcapgen *out, const struct gen_link *link, const char *client,
                       uint16_t client_port, const char *server, double t)
{
    static const char *const turns[][2] = {{NULL, "+OK POP3 server ready\r\n"},
                                           {"USER bob\r\n", "+OK\r\n"},
                                           {"PASS hunter2\r\n", "+OK maildrop has 0 messages\r\n"},
                                           {"QUIT\r\n", "+OK bye\r\n"}};
    struct gen_conn conn;
    start(&conn, out, link, client, client_port, server, 110);
    handshake(&conn, t);
    t += 0.030;
    for (size_t i = 0; i < sizeof(turns) / sizeof(turns[0]); i++) {
        if (turns[i][0] != NULL)
            gen_conn_client_text(&conn, at(t), turns[i][0]);
        gen_conn_server_text(&conn, at(t + 0.010), turns[i][1]);
        t += 0.020;
    }
    close_both(&conn, t);
}

static void imap_login(struct pcapgen *out, const struct gen_link *link, const char *client,
                       uint16_t client_port, const char *server, double t)
{
    struct gen_conn conn;
    start(&conn, out, link, client, client_port, server, 143);
    handshake(&conn, t);
    gen_conn_server_text(&conn, at(t + 0.030), "* OK [CAPABILITY IMAP4rev1] ready\r\n");
    gen_conn_client_text(&conn, at(t + 0.040), "a1 LOGIN bob hunter2\r\n");
    gen_conn_server_text(&conn, at(t + 0.050), "a1 OK LOGIN completed\r\n");
    gen_conn_client_text(&conn, at(t + 0.060), "a2 LOGOUT\r\n");
    gen_conn_server_text(&conn, at(t + 0.070), "* BYE\r\na2 OK LOGOUT completed\r\n");
    close_both(&conn, t + 0.080);
}

static void write_pop(void)
{
    const char *name = "scenario-abuse-pop.pcap";
    struct pcapgen *out = open_capture(name, LINKTYPE_ETHERNET);
    struct gen_link access = vlan_link(VLAN_ACCESS);
    web_exchange(out, &access, "198.51.100.20", "203.0.113.80", 0.5);
    struct dialogue deliver = {.sender = "bob@home.example", .rcpts = 1};

    /* Mail for a friend at the same provider, straight to its MX, one address along. */
    pop3_login(out, &access, "198.51.100.160", 48000, "203.0.113.70", 10.0);
    talk(out, &access, "198.51.100.160", 48001, "203.0.113.72", 25, 20.0, &deliver);
    /* Two servers of one webmail provider: one autonomous system, two /24s. */
    pop3_login(out, &access, "198.51.100.161", 48002, "1.128.0.10", 30.0);
    talk(out, &access, "198.51.100.161", 48003, "1.130.0.5", 25, 40.0, &deliver);
    /* The real thing: the server that took the login takes mail without AUTH. */
    pop3_login(out, &access, "198.51.100.162", 48004, "203.0.113.70", 50.0);
    talk(out, &access, "198.51.100.162", 48005, "203.0.113.70", 587, 60.0, &deliver);
    imap_login(out, &access, "198.51.100.163", 48006, "203.0.113.80", 70.0);
    talk(out, &access, "198.51.100.163", 48007, "203.0.113.80", 25, 80.0, &deliver);
    /* After a login, a submission that authenticates itself is no POP-before-SMTP. */
    pop3_login(out, &access, "198.51.100.164", 48008, "203.0.113.70", 90.0);
    struct dialogue authenticated = deliver;
    authenticated.login = LOGIN_PLAIN;
    authenticated.accepted = true;
    talk(out, &access, "198.51.100.164", 48009, "203.0.113.70", 587, 100.0, &authenticated);
    close_capture(out, name);
}

void scenarios_abuse(void)
{
    isn_reseed(0x18ab5e00u);
    write_guessing();
    write_cleartext();
    write_pop();
}

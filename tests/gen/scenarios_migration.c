/* The move of submission from port 25 to 587 and 465 (issue 18, item 4): subscribers of two
 * dynamic pools reach the ISP's MSA and a partner's on 25 (authenticating, not, or under
 * STARTTLS), on 587 and on 465, over two stats intervals; in the second, most have moved.
 * One capture, read under tests/scenarios/migration.yaml (a plain mix: port 25 to a
 * designated MSA is allowed) and migration-close.yaml (the ISP's MSA plans to close its
 * port 25: the same attempts are would_block). */
#include <stdio.h>

#include "scenario.h"

#define ISP_MSA "203.0.113.225"
#define ISP_MSA6 "2001:db8:ffff::25"
#define PARTNER_MSA "192.0.2.3"

enum dialogue {
    DIALOGUE_AUTH,     /* EHLO, AUTH PLAIN (235), MAIL, RCPT, DATA, QUIT */
    DIALOGUE_PLAIN,    /* EHLO, MAIL, RCPT, DATA, QUIT: no AUTH */
    DIALOGUE_STARTTLS, /* EHLO, STARTTLS, then TLS */
    DIALOGUE_TLS,      /* TLS from the first byte (465): a ClientHello, the server's answer */
};

static const uint8_t client_hello[] = {0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00};
static const uint8_t server_hello[] = {0x16, 0x03, 0x03, 0x00, 0x05, 0x02, 0x00, 0x00, 0x01, 0x00};

static void say(struct gen_conn *conn, double *t, const char *client, const char *server)
{
    gen_conn_client_text(conn, at(*t), client);
    gen_conn_server_text(conn, at(*t + 0.010), server);
    *t += 0.020;
}

/* A mail client's submission, from the handshake to both FINs. */
static void submit(struct pcapgen *out, const struct gen_link *link, const char *client,
                   uint16_t client_port, const char *server, uint16_t port, double t,
                   enum dialogue dialogue)
{
    struct gen_conn conn;
    conn_open(&conn, out, LINKTYPE_ETHERNET, link, client, client_port, server, port);
    handshake(&conn, t);
    t += 0.030;
    if (dialogue == DIALOGUE_TLS) {
        gen_conn_client_send(&conn, at(t), client_hello, sizeof(client_hello));
        gen_conn_server_send(&conn, at(t + 0.010), server_hello, sizeof(server_hello));
        close_both(&conn, t + 0.050);
        return;
    }
    gen_conn_server_text(&conn, at(t), "220 msa.example.net ESMTP\r\n");
    t += 0.010;
    say(&conn, &t, "EHLO laptop.home.example\r\n",
        "250-msa.example.net\r\n250-AUTH PLAIN LOGIN\r\n250-STARTTLS\r\n250 8BITMIME\r\n");
    if (dialogue == DIALOGUE_STARTTLS) {
        say(&conn, &t, "STARTTLS\r\n", "220 2.0.0 Ready to start TLS\r\n");
        gen_conn_client_send(&conn, at(t), client_hello, sizeof(client_hello));
        close_both(&conn, t + 0.050);
        return;
    }
    if (dialogue == DIALOGUE_AUTH)
        say(&conn, &t, "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n",
            "235 2.7.0 Authentication successful\r\n");
    say(&conn, &t, "MAIL FROM:<user@home.example>\r\n", "250 2.1.0 Ok\r\n");
    say(&conn, &t, "RCPT TO:<friend@mail.example>\r\n", "250 2.1.5 Ok\r\n");
    say(&conn, &t, "DATA\r\n", "354 End data with <CR><LF>.<CR><LF>\r\n");
    say(&conn, &t, "Subject: hello\r\n\r\nHello.\r\n.\r\n", "250 2.0.0 Ok: queued\r\n");
    say(&conn, &t, "QUIT\r\n", "221 2.0.0 Bye\r\n");
    close_both(&conn, t);
}

/* A SYN the blocking point drops: nobody answers. */
static void dropped_syn(struct pcapgen *out, const struct gen_link *link, const char *client,
                        uint16_t client_port, const char *server, double t)
{
    struct gen_conn conn;
    conn_open(&conn, out, LINKTYPE_ETHERNET, link, client, client_port, server, 25);
    gen_conn_syn(&conn, at(t));
}

static void write_mix(void)
{
    const char *name = "scenario-migration-mix.pcap";
    struct pcapgen *out = open_capture(name, LINKTYPE_ETHERNET);
    struct gen_link access = vlan_link(VLAN_ACCESS);
    /* Replies from outside travel on the access VLAN: an unanswered SYN is no_reply. */
    web_exchange(out, &access, "203.0.113.99", "192.0.2.80", 0.5);

    /* The first interval (09:00:00-09:01:00): most still submit on port 25. */
    submit(out, &access, "203.0.113.10", 40001, ISP_MSA, 25, 1.0, DIALOGUE_AUTH);      /* alice */
    submit(out, &access, "203.0.113.10", 40002, ISP_MSA, 25, 5.0, DIALOGUE_AUTH);      /* alice */
    submit(out, &access, "203.0.113.11", 40003, ISP_MSA, 25, 10.0, DIALOGUE_PLAIN);    /* bob */
    submit(out, &access, "203.0.113.12", 40004, ISP_MSA, 25, 15.0, DIALOGUE_STARTTLS); /* carol */
    /* frank (DSL) tries the partner's MSA, which does not serve DSL: the ACL drops it. */
    dropped_syn(out, &access, "198.51.100.21", 40005, PARTNER_MSA, 18.0);
    submit(out, &access, "203.0.113.13", 40006, ISP_MSA, 587, 20.0, DIALOGUE_STARTTLS); /* dave */
    submit(out, &access, "203.0.113.10", 40007, PARTNER_MSA, 587, 25.0, DIALOGUE_AUTH); /* alice */
    submit(out, &access, "198.51.100.20", 40008, ISP_MSA, 25, 30.0, DIALOGUE_PLAIN);    /* erin */
    /* gina: one home behind a delegated /56, two of its /64s on 465, one on 25. */
    submit(out, &access, "2001:db8:100:a00::10", 40009, ISP_MSA6, 465, 35.0, DIALOGUE_TLS);
    submit(out, &access, "2001:db8:100:a01::20", 40010, ISP_MSA6, 465, 36.0, DIALOGUE_TLS);
    submit(out, &access, "2001:db8:100:a00::10", 40011, ISP_MSA6, 25, 37.0, DIALOGUE_PLAIN);
    /* Not counted: a static business line on 587, and a port-25 attempt to no MSA. */
    struct gen_link business = vlan_link(VLAN_BUSINESS);
    submit(out, &business, "203.0.113.130", 40012, ISP_MSA, 587, 40.0, DIALOGUE_AUTH);
    dropped_syn(out, &access, "203.0.113.14", 40013, "192.0.2.100", 42.0);

    /* The second interval (09:01:00-09:02:00): most have moved to 587 and 465. */
    web_exchange(out, &access, "203.0.113.99", "192.0.2.80", 60.5);
    submit(out, &access, "203.0.113.10", 40021, ISP_MSA, 587, 62.0, DIALOGUE_STARTTLS); /* alice */
    submit(out, &access, "203.0.113.11", 40022, ISP_MSA, 587, 65.0, DIALOGUE_AUTH);     /* bob */
    submit(out, &access, "203.0.113.12", 40023, ISP_MSA, 465, 70.0, DIALOGUE_TLS);      /* carol */
    submit(out, &access, "203.0.113.13", 40024, ISP_MSA, 587, 75.0, DIALOGUE_STARTTLS); /* dave */
    submit(out, &access, "198.51.100.20", 40025, ISP_MSA, 25, 80.0, DIALOGUE_PLAIN);    /* erin */
    web_exchange(out, &access, "203.0.113.99", "192.0.2.80", 110.0);
    close_capture(out, name);
}

void scenarios_migration(void)
{
    isn_reseed(0x6d696772u); /* "migr" */
    write_mix();
}

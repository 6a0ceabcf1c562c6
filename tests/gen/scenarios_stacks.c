/* How real stacks and real mirror ports deliver a connection (issue #19): SYN backoff of
 * Linux, macOS and Windows; a SPAN session that copies every frame twice; pipelines of 50
 * and 100 recipients; segments swapped on the mirror; a dialogue captured with a short
 * snap length. Every capture is read under tests/scenarios/edge.yaml. */
#include <stdio.h>
#include <string.h>

#include "scenario.h"

/* The shortest Linux backoff after which it still sends another SYN (1 s doubling, capped
 * at TCP_RTO_MAX 120 s): tcp_syn_retries 6 gives the first seven times. */
static const double linux_syns[] = {0, 1, 3, 7, 15, 31, 63, 127};
/* macOS: tcp_syn_backoff {1,1,1,1,1,2,4,8,16,32} times a 1 s base, given up at 75 s. */
static const double macos_syns[] = {0, 1, 2, 3, 4, 5, 7, 11, 19, 35, 67};
/* Windows: TcpMaxConnectRetransmissions 2, TcpInitialRTT 3 s, doubling. */
static const double windows_syns[] = {0, 3, 9};

static void syns(struct gen_conn *conn, double start, const double *times, size_t count)
{
    for (size_t i = 0; i < count; i++)
        gen_conn_syn(conn, at(start + times[i]));
}

/* One connect() per stack, every SYN dropped; one more Linux connect() with
 * tcp_syn_retries 7, whose eighth SYN comes after its attempt was written; and a Linux
 * connect() whose seventh SYN is answered. */
static void write_backoff(void)
{
    const char *name = "scenario-stacks-backoff.pcap";
    struct pcapgen *out = open_capture(name, LINKTYPE_ETHERNET);
    struct gen_link access = vlan_link(VLAN_ACCESS);
    struct gen_conn conn;

    web_exchange(out, &access, "198.51.100.20", "203.0.113.80", 0.5);
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "198.51.100.110", 45001, "203.0.113.110", 25);
    syns(&conn, 1.0, linux_syns, 7);
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "198.51.100.111", 45002, "203.0.113.111", 25);
    syns(&conn, 2.0, macos_syns, sizeof(macos_syns) / sizeof(macos_syns[0]));
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "198.51.100.112", 45003, "203.0.113.112", 25);
    syns(&conn, 3.0, windows_syns, sizeof(windows_syns) / sizeof(windows_syns[0]));
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "198.51.100.113", 45004, "203.0.113.113", 25);
    syns(&conn, 4.0, linux_syns, 8);

    /* The block let the seventh SYN through (an ACL being changed): the SYN-ACK answers it. */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "198.51.100.114", 45005, "203.0.113.114", 25);
    syns(&conn, 5.0, linux_syns, 7);
    gen_conn_syn_ack(&conn, at(5.0 + 63.020));
    gen_conn_ack(&conn, at(5.0 + 63.021));
    close_both(&conn, 5.0 + 63.5);

    /* Traffic until every timer has run out. */
    web_exchange(out, &access, "198.51.100.21", "203.0.113.80", 200.0);
    close_capture(out, name);
}

/* Both directions of the access port mirrored: every frame twice, 30 us apart, the copy
 * on the uplink's VLAN with one hop less to live. */
static void write_span_duplicates(void)
{
    const char *name = "scenario-stacks-span-duplicates.pcap";
    struct pcapgen *out = open_capture(name, LINKTYPE_ETHERNET);
    struct gen_link span = vlan_link(VLAN_ACCESS);
    span.mirror_copy = true;
    span.mirror_vlan = 999;
    struct gen_conn conn;

    web_exchange(out, &span, "198.51.100.20", "203.0.113.80", 0.5);
    /* Blocked: a SYN and its retransmission, each seen twice. */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &span, "198.51.100.120", 45101, "203.0.113.120", 25);
    gen_conn_syn(&conn, at(1.0));
    gen_conn_syn(&conn, at(2.0));
    /* Leaked: a whole dialogue, each segment seen twice. */
    session(out, &span, "198.51.100.121", 45102, "203.0.113.121", 3.0, DEPTH_DATA, "span.example");
    web_exchange(out, &span, "198.51.100.21", "203.0.113.80", 60.0);
    close_capture(out, name);
}

/* A bot pipelines MAIL, `recipients` RCPT TO and DATA in one write (RFC 2920); the server,
 * a Postfix with its default of 50 recipients, takes the first 50 and defers the rest. */
static void pipelined(struct pcapgen *out, const struct gen_link *link, const char *client,
                      uint16_t port, const char *server, double t, int recipients)
{
    static char group[8192];
    static char replies[8192];
    struct gen_conn conn;
    conn_open(&conn, out, LINKTYPE_ETHERNET, link, client, port, server, 25);
    handshake(&conn, t);
    gen_conn_server_text(&conn, at(t + 0.050), "220 mx.example.net ESMTP Postfix\r\n");
    gen_conn_client_text(&conn, at(t + 0.060), "EHLO bulk.example\r\n");
    gen_conn_server_text(&conn, at(t + 0.080), "250-mx.example.net\r\n250 PIPELINING\r\n");
    size_t length = (size_t)snprintf(group, sizeof(group), "MAIL FROM:<news@bulk.example>\r\n");
    size_t reply_length = (size_t)snprintf(replies, sizeof(replies), "250 2.1.0 Ok\r\n");
    for (int i = 0; i < recipients; i++) {
        length += (size_t)snprintf(group + length, sizeof(group) - length,
                                   "RCPT TO:<user%03d@example.org>\r\n", i);
        reply_length +=
            (size_t)snprintf(replies + reply_length, sizeof(replies) - reply_length, "%s\r\n",
                             i < 50 ? "250 2.1.5 Ok" : "452 4.5.3 Error: too many recipients");
    }
    length += (size_t)snprintf(group + length, sizeof(group) - length, "DATA\r\n");
    reply_length += (size_t)snprintf(replies + reply_length, sizeof(replies) - reply_length,
                                     "354 End data with <CR><LF>.<CR><LF>\r\n");
    gen_conn_client_send(&conn, at(t + 0.090), (const uint8_t *)group, length);
    gen_conn_server_send(&conn, at(t + 0.120), (const uint8_t *)replies, reply_length);
    gen_conn_client_text(&conn, at(t + 0.130), "Subject: news\r\n\r\nHello.\r\n.\r\n");
    gen_conn_server_text(&conn, at(t + 0.150), "250 2.0.0 Ok: queued as 7C1B2\r\n");
    gen_conn_client_text(&conn, at(t + 0.160), "QUIT\r\n");
    gen_conn_server_text(&conn, at(t + 0.180), "221 2.0.0 Bye\r\n");
    close_both(&conn, t + 0.190);
}

static void write_pipelining(void)
{
    const char *name = "scenario-stacks-pipelining.pcap";
    struct pcapgen *out = open_capture(name, LINKTYPE_ETHERNET);
    struct gen_link access = vlan_link(VLAN_ACCESS);
    pipelined(out, &access, "198.51.100.130", 45201, "203.0.113.130", 1.0, 50);
    pipelined(out, &access, "198.51.100.131", 45202, "203.0.113.131", 2.0, 100);
    close_capture(out, name);
}

/* Sends `first` and `second` as two segments in one direction, the second captured
 * `lead` seconds before the first (a mirror that merges two queues). */
static void swapped(struct gen_conn *conn, bool from_client, double t, double lead,
                    const char *first, const char *second)
{
    uint32_t *next = from_client ? &conn->client_next : &conn->server_next;
    uint32_t start = *next;
    *next = start + (uint32_t)strlen(first);
    if (from_client)
        gen_conn_client_text(conn, at(t), second);
    else
        gen_conn_server_text(conn, at(t), second);
    uint32_t end = *next;
    *next = start;
    if (from_client)
        gen_conn_client_text(conn, at(t + lead), first);
    else
        gen_conn_server_text(conn, at(t + lead), first);
    *next = end;
}

/* MAIL FROM and RCPT TO pipelined in two segments that the mirror shows swapped; then the
 * server's two answers swapped the same way. */
static void write_swapped(void)
{
    const char *name = "scenario-stacks-swapped.pcap";
    struct pcapgen *out = open_capture(name, LINKTYPE_ETHERNET);
    struct gen_link access = vlan_link(VLAN_ACCESS);
    struct gen_conn conn;

    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "198.51.100.140", 45301, "203.0.113.140", 25);
    handshake(&conn, 1.0);
    gen_conn_server_text(&conn, at(1.050), "220 mx.example.net ESMTP\r\n");
    gen_conn_client_text(&conn, at(1.060), "EHLO swap.example\r\n");
    gen_conn_server_text(&conn, at(1.080), "250-mx.example.net\r\n250 PIPELINING\r\n");
    swapped(&conn, true, 1.090, 0.0002, "MAIL FROM:<a@swap.example>\r\n",
            "RCPT TO:<b@example.org>\r\n");
    gen_conn_server_text(&conn, at(1.110), "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n");
    gen_conn_client_text(&conn, at(1.120), "DATA\r\n");
    gen_conn_server_text(&conn, at(1.140), "354 go ahead\r\n");
    gen_conn_client_text(&conn, at(1.150), "Subject: x\r\n\r\nHello.\r\n.\r\n");
    gen_conn_server_text(&conn, at(1.170), "250 2.0.0 Ok: queued\r\n");
    gen_conn_client_text(&conn, at(1.180), "QUIT\r\n");
    gen_conn_server_text(&conn, at(1.200), "221 2.0.0 Bye\r\n");
    close_both(&conn, 1.210);

    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "198.51.100.141", 45302, "203.0.113.141", 25);
    handshake(&conn, 2.0);
    gen_conn_server_text(&conn, at(2.050), "220 mx.example.net ESMTP\r\n");
    gen_conn_client_text(&conn, at(2.060), "EHLO swap.example\r\n");
    gen_conn_server_text(&conn, at(2.080), "250-mx.example.net\r\n250 PIPELINING\r\n");
    gen_conn_client_text(&conn, at(2.090),
                         "MAIL FROM:<a@swap.example>\r\nRCPT TO:<b@example.org>\r\n");
    swapped(&conn, false, 2.110, 0.0002, "250 2.1.0 Ok\r\n", "550 5.1.1 User unknown\r\n");
    gen_conn_client_text(&conn, at(2.120), "QUIT\r\n");
    gen_conn_server_text(&conn, at(2.140), "221 2.0.0 Bye\r\n");
    close_both(&conn, 2.150);
    close_capture(out, name);
}

/* The issue's dialogue: three recipients and a 1,206-byte message (1,386 client bytes in
 * all), every command in a segment of its own, the message in one. */
static void issue_dialogue(struct pcapgen *out, const struct gen_link *link, const char *client,
                           uint16_t port, const char *server, double t)
{
    static char body[1207];
    static const char line[] = "Buy now, cheap pills, best prices, fast shipping.\r\n";
    size_t length = (size_t)snprintf(body, sizeof(body), "Subject: cheap pills\r\n\r\n");
    while (length + sizeof(line) - 1 <= 1206 - 5)
        length += (size_t)snprintf(body + length, sizeof(body) - length, "%s", line);
    while (length < 1206 - 5)
        body[length++] = 'x';
    memcpy(body + length, "\r\n.\r\n", 5);
    length += 5;

    struct gen_conn conn;
    conn_open(&conn, out, LINKTYPE_ETHERNET, link, client, port, server, 25);
    handshake(&conn, t);
    gen_conn_server_text(&conn, at(t + 0.050), "220 mx.example.net ESMTP ready\r\n");
    gen_conn_client_text(&conn, at(t + 0.060), "EHLO laptop.home.example\r\n");
    gen_conn_server_text(&conn, at(t + 0.080),
                         "250-mx.example.net\r\n250-PIPELINING\r\n250-STARTTLS\r\n"
                         "250 8BITMIME\r\n");
    gen_conn_client_text(&conn, at(t + 0.090), "MAIL FROM:<offers@Cheap-Pills.example>\r\n");
    gen_conn_server_text(&conn, at(t + 0.110), "250 2.1.0 Ok\r\n");
    for (int i = 0; i < 3; i++) {
        char rcpt[64];
        snprintf(rcpt, sizeof(rcpt), "RCPT TO:<victim%d@mx.example.net>\r\n", i + 1);
        gen_conn_client_text(&conn, at(t + 0.120 + 0.030 * i), rcpt);
        gen_conn_server_text(&conn, at(t + 0.140 + 0.030 * i), "250 2.1.5 Ok\r\n");
    }
    gen_conn_client_text(&conn, at(t + 0.220), "DATA\r\n");
    gen_conn_server_text(&conn, at(t + 0.240), "354 End data with <CR><LF>.<CR><LF>\r\n");
    gen_conn_client_send(&conn, at(t + 0.250), (const uint8_t *)body, length);
    gen_conn_server_text(&conn, at(t + 0.270), "250 2.0.0 Ok: queued as 4F2A1\r\n");
    gen_conn_client_text(&conn, at(t + 0.280), "QUIT\r\n");
    gen_conn_server_text(&conn, at(t + 0.300), "221 2.0.0 Bye\r\n");
    close_both(&conn, t + 0.310);
}

/* The same dialogue through mirror ports cut at 64, 96 and 128 bytes, over untagged IPv4
 * (54 header bytes: 10, 42 and 74 bytes of payload kept) and, at 96 and 128, untagged IPv6
 * (74 header bytes: 22 and 54 kept). */
static void write_snaplen(void)
{
    static const struct {
        const char *name;
        uint32_t snaplen;
        const char *client4;
        const char *client6;
    } captures[] = {
        {"scenario-stacks-snaplen-64.pcap", 64, "198.51.100.150", NULL},
        {"scenario-stacks-snaplen-96.pcap", 96, "198.51.100.151", "2001:db8:1000:96::15"},
        {"scenario-stacks-snaplen-128.pcap", 128, "198.51.100.152", "2001:db8:1000:128::15"},
    };
    struct gen_link untagged;
    memset(&untagged, 0, sizeof(untagged));
    for (size_t i = 0; i < sizeof(captures) / sizeof(captures[0]); i++) {
        struct pcapgen *out =
            open_capture_snaplen(captures[i].name, LINKTYPE_ETHERNET, captures[i].snaplen);
        double t = 1.0 + 10.0 * (double)i;
        issue_dialogue(out, &untagged, captures[i].client4, 45400, "203.0.113.150", t);
        if (captures[i].client6 != NULL)
            issue_dialogue(out, &untagged, captures[i].client6, 45401, "2001:db8:f000::150",
                           t + 5.0);
        close_capture(out, captures[i].name);
    }
}

void scenarios_stacks(void)
{
    isn_reseed(0x19ac0001);
    write_backoff();
    write_span_duplicates();
    write_pipelining();
    write_swapped();
    write_snaplen();
}

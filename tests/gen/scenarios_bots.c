/* The scenarios of the bot score's two blind spots (issue #19): the quiet bot, whose every
 * SYN is blocked and who resolves MX through the ISP's resolver, so fan-out and attempts
 * are all it shows; beside it the trap it could be taken for, a busy hotspot of light
 * users; and a burst of MX queries and blocked SYNs just before a window's end, whose
 * attempt records come after it. Policy: tests/scenarios/subscribers.yaml (window 300 s,
 * timeouts.syn 30 s, the ISP's resolver 198.51.100.53). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "scenario.h"

#define ISP_RESOLVER "198.51.100.53"
#define PUBLIC_RESOLVER "203.0.113.53" /* not in the policy's resolvers */
#define DNS_MX 15

static uint16_t ip_id = 0x1900;

static size_t put16(uint8_t *out, unsigned value)
{
    out[0] = (uint8_t)(value >> 8);
    out[1] = (uint8_t)value;
    return 2;
}

/* A DNS message of one question (RFC 1035 4.1), the query or its answer without records. */
static size_t dns_message(uint8_t *out, uint16_t id, bool response, const char *name)
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
    n += put16(out + n, DNS_MX);
    n += put16(out + n, 1);
    return n;
}

/* An MX query over UDP and its answer 15 ms later. */
static void mx_lookup(struct pcapgen *out, const struct gen_link *link, const char *client,
                      uint16_t client_port, const char *resolver, double t, const char *name)
{
    struct gen_addr from = gen_addr(client), to = gen_addr(resolver);
    uint8_t message[300], packet[400];
    uint16_t id = (uint16_t)(0x1900 + client_port);
    size_t length = dns_message(message, id, false, name);
    size_t size = gen_build_udp(packet, &from, &to, client_port, 53, 64, ip_id++, message, length);
    gen_write_ip(out, LINKTYPE_ETHERNET, link, true, at(t), packet, size);
    length = dns_message(message, id, true, name);
    size = gen_build_udp(packet, &to, &from, 53, client_port, 58, ip_id++, message, length);
    gen_write_ip(out, LINKTYPE_ETHERNET, link, false, at(t + 0.015), packet, size);
}

/* A connect() to port 25 the block holds: the SYN, sent again 1 s and 3 s later (the
 * stack's retransmissions, one ISN), and nothing comes back. */
static void blocked_connect(struct pcapgen *out, const struct gen_link *link, const char *client,
                            uint16_t client_port, const char *server, double t)
{
    struct gen_conn conn;
    conn_open(&conn, out, LINKTYPE_ETHERNET, link, client, client_port, server, 25);
    gen_conn_syn(&conn, at(t));
    gen_conn_syn(&conn, at(t + 1.0));
    gen_conn_syn(&conn, at(t + 3.0));
}

/* The quiet bot: 200 MXs of 200 domains in 60 s, each looked up through the ISP's
 * resolver, every SYN blocked. Beside it a busy hotspot (a café's router on one dynamic
 * address): its users browse, and 24 of them have a mail app that still submits on port
 * 25, to their providers' submission servers, 18 addresses in all (big providers have
 * several, and users share them); each app tries, and tries again a minute later. */
static void write_quiet(void)
{
    const char *name = "scenario-bots-quiet.pcap";
    struct pcapgen *out = open_capture(name, LINKTYPE_ETHERNET);
    struct gen_link access = vlan_link(VLAN_ACCESS);
    char server[64], domain[64];

    /* Replies from outside on the access VLAN: silence there is evidence of a block. */
    web_exchange(out, &access, "198.51.100.20", "203.0.113.80", 1.0);

    for (int i = 0; i < 200; i++) {
        double t = 20.0 + i * 0.3;
        snprintf(domain, sizeof(domain), "victim%03d.example", i);
        mx_lookup(out, &access, "198.51.100.140", (uint16_t)(20000 + i), ISP_RESOLVER, t, domain);
        snprintf(server, sizeof(server), "203.0.113.%d", 1 + i);
        blocked_connect(out, &access, "198.51.100.140", (uint16_t)(30000 + i), server, t + 0.05);
    }

    for (int i = 0; i < 20; i++) {
        snprintf(server, sizeof(server), "203.0.114.%d", 10 + i);
        web_exchange(out, &access, "198.51.100.141", server, 5.0 + i * 14.0);
    }
    for (int user = 0; user < 24; user++) {
        double t = 10.0 + user * 9.0;
        snprintf(server, sizeof(server), "192.0.2.%d", 100 + user % 18);
        blocked_connect(out, &access, "198.51.100.141", (uint16_t)(33000 + user), server, t);
        blocked_connect(out, &access, "198.51.100.141", (uint16_t)(33100 + user), server, t + 60.0);
    }
    /* Time moves on past the last SYN timer (310 s), still in the first window's grace. */
    web_exchange(out, &access, "198.51.100.20", "203.0.113.81", 320.0);
    close_capture(out, name);
}

/* 12 MX queries to a public resolver and 12 blocked connects in the 20 s before the first
 * window ends (the last SYNs of the last connects go out after it), and the same burst by
 * another subscriber 10 s after that end. Each attempt's record comes 30 s after its last
 * SYN: for the first subscriber, in the next window. Traffic goes on to 450 s, past the
 * first window's grace (420 s). */
static void write_edge(void)
{
    const char *name = "scenario-bots-edge.pcap";
    struct pcapgen *out = open_capture(name, LINKTYPE_ETHERNET);
    struct gen_link access = vlan_link(VLAN_ACCESS);
    char server[64], domain[64];

    web_exchange(out, &access, "198.51.100.20", "203.0.113.80", 1.0);
    for (int i = 0; i < 12; i++) {
        double t = 280.0 + i * 1.5;
        snprintf(domain, sizeof(domain), "before%02d.example", i);
        mx_lookup(out, &access, "198.51.100.150", (uint16_t)(21000 + i), PUBLIC_RESOLVER, t,
                  domain);
        snprintf(server, sizeof(server), "203.0.113.%d", 1 + i);
        blocked_connect(out, &access, "198.51.100.150", (uint16_t)(31000 + i), server, t + 0.5);
    }
    for (int i = 0; i < 12; i++) {
        double t = 310.0 + i * 1.5;
        snprintf(domain, sizeof(domain), "after%02d.example", i);
        mx_lookup(out, &access, "198.51.100.151", (uint16_t)(21100 + i), PUBLIC_RESOLVER, t,
                  domain);
        snprintf(server, sizeof(server), "203.0.113.%d", 101 + i);
        blocked_connect(out, &access, "198.51.100.151", (uint16_t)(31100 + i), server, t + 0.5);
    }
    web_exchange(out, &access, "198.51.100.20", "203.0.113.81", 450.0);
    close_capture(out, name);
}

void scenarios_bots(void)
{
    isn_reseed(0x19b07000u);
    write_quiet();
    write_edge();
}

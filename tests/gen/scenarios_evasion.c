/* The evasion scenarios (issue #4, docs/concepts.md, draft section 4.4.1): asymmetric routing
 * by VLAN, router MAC and capture interface, spoofed sources, triangular spamming rewritten
 * and tunnelled, the missing inbound ACL, and one capture per false-positive trap: ECMP, a
 * multihomed customer, a model-B ISP carried as a pool, a self-hosted MTA, backscatter.
 * Policies: tests/scenarios/evasion.yaml and evasion-interfaces.yaml.
 *
 * These stories take their sequence numbers from a generator of their own, not next_isn(),
 * so they neither shift nor depend on the captures of the other families. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario.h"

enum { VLAN_ACCESS_B = 110, VLAN_TRANSIT_B = 400 };

/* The static segment's router, matched by `mac:` in evasion.yaml, and its next hop. */
static const uint8_t static_router_mac[6] = {0x02, 0x00, 0x5e, 0x20, 0x00, 0x01};
static const uint8_t next_hop_mac[6] = {0x02, 0x00, 0x5e, 0x20, 0x00, 0xfe};

static uint32_t isn_state = 0x6f703235u; /* "op25" */
static uint16_t ip_id;

static uint32_t evasion_isn(void) /* xorshift32, like next_isn() but its own sequence */
{
    isn_state ^= isn_state << 13;
    isn_state ^= isn_state >> 17;
    isn_state ^= isn_state << 5;
    return isn_state;
}

/* One TCP connection as the mirror sees it, each direction on its own path: the client's
 * packets may carry a spoofed source and travel another segment than the server's, which
 * may go to another address (the relay rewrote it) or arrive inside a tunnel. */
struct talk {
    struct pcapgen *client_out;
    struct pcapgen *server_out;
    struct gen_link client_link;
    struct gen_link server_link;
    const uint8_t *client_router_mac; /* client packets as untagged frames from this router */
    struct gen_addr client_source;    /* the client's packets come from here */
    struct gen_addr server;
    struct gen_addr server_destination; /* the server's packets go here */
    uint16_t client_port;
    uint16_t server_port;
    uint32_t client_next;
    uint32_t server_next;
    bool authenticate; /* AUTH after EHLO, as a designated MSA requires */
};

static void talk_init(struct talk *talk, struct pcapgen *out, const struct gen_link *link,
                      const char *client, uint16_t client_port, const char *server,
                      uint16_t server_port)
{
    memset(talk, 0, sizeof(*talk));
    talk->client_out = talk->server_out = out;
    talk->client_link = talk->server_link = *link;
    talk->client_source = talk->server_destination = gen_addr(client);
    talk->server = gen_addr(server);
    talk->client_port = client_port;
    talk->server_port = server_port;
    talk->client_next = evasion_isn();
    talk->server_next = evasion_isn();
}

static void write_router_frame(struct pcapgen *out, double t, const uint8_t *router_mac,
                               const uint8_t *ip, size_t length)
{
    uint8_t frame[14 + 2048];
    memcpy(frame, next_hop_mac, 6);
    memcpy(frame + 6, router_mac, 6);
    frame[12] = (ip[0] >> 4) == 4 ? 0x08 : 0x86;
    frame[13] = (ip[0] >> 4) == 4 ? 0x00 : 0xdd;
    memcpy(frame + 14, ip, length);
    if (pcapgen_write(out, at(t), frame, 14 + length) != 0)
        abort();
}

static void client_packet(struct talk *talk, double t, uint8_t flags, const char *text)
{
    uint8_t packet[2048];
    size_t length = text != NULL ? strlen(text) : 0;
    size_t size = gen_build_tcp(packet, &talk->client_source, &talk->server, talk->client_port,
                                talk->server_port, talk->client_next,
                                (flags & GEN_ACK) ? talk->server_next : 0, flags, 64, ip_id++,
                                (const uint8_t *)text, length);
    talk->client_next += (uint32_t)length + ((flags & (GEN_SYN | GEN_FIN)) ? 1 : 0);
    if (talk->client_router_mac != NULL)
        write_router_frame(talk->client_out, t, talk->client_router_mac, packet, size);
    else
        gen_write_ip(talk->client_out, LINKTYPE_ETHERNET, &talk->client_link, true, at(t), packet,
                     size);
}

static void server_packet(struct talk *talk, double t, uint8_t flags, const char *text)
{
    uint8_t packet[2048];
    size_t length = text != NULL ? strlen(text) : 0;
    size_t size = gen_build_tcp(packet, &talk->server, &talk->server_destination, talk->server_port,
                                talk->client_port, talk->server_next, talk->client_next, flags, 52,
                                ip_id++, (const uint8_t *)text, length);
    talk->server_next += (uint32_t)length + ((flags & (GEN_SYN | GEN_FIN)) ? 1 : 0);
    gen_write_ip(talk->server_out, LINKTYPE_ETHERNET, &talk->server_link, false, at(t), packet,
                 size);
}

/* SYN, SYN-ACK, ACK and the banner. */
static void talk_open(struct talk *talk, double t)
{
    client_packet(talk, t, GEN_SYN, NULL);
    server_packet(talk, t + 0.020, GEN_SYN | GEN_ACK, NULL);
    client_packet(talk, t + 0.021, GEN_ACK, NULL);
    server_packet(talk, t + 0.050, GEN_PSH | GEN_ACK, "220 mx.example.net ESMTP\r\n");
}

/* EHLO to QUIT, one message to one recipient. */
static void talk_mail(struct talk *talk, double t)
{
    if (talk->authenticate) {
        client_packet(talk, t, GEN_PSH | GEN_ACK, "EHLO laptop.example\r\n");
        server_packet(talk, t + 0.010, GEN_PSH | GEN_ACK, "250 AUTH PLAIN\r\n");
        client_packet(talk, t + 0.015, GEN_PSH | GEN_ACK, "AUTH PLAIN AHVzZXIAc2VjcmV0\r\n");
        server_packet(talk, t + 0.020, GEN_PSH | GEN_ACK, "235 2.7.0 Authenticated\r\n");
        t += 0.030;
    }
    static const char *const dialogue[][2] = {
        {"EHLO bot.example\r\n", "250 mx.example.net\r\n"},
        {"MAIL FROM:<offers@cheap-pills.example>\r\n", "250 2.1.0 Ok\r\n"},
        {"RCPT TO:<victim@mx.example.net>\r\n", "250 2.1.5 Ok\r\n"},
        {"DATA\r\n", "354 End data with <CR><LF>.<CR><LF>\r\n"},
        {"Subject: cheap pills\r\n\r\nBuy now.\r\n.\r\n", "250 2.0.0 Ok: queued\r\n"},
        {"QUIT\r\n", "221 2.0.0 Bye\r\n"},
    };
    for (size_t i = talk->authenticate ? 1 : 0; i < sizeof(dialogue) / sizeof(dialogue[0]); i++) {
        client_packet(talk, t + i * 0.030, GEN_PSH | GEN_ACK, dialogue[i][0]);
        server_packet(talk, t + i * 0.030 + 0.020, GEN_PSH | GEN_ACK, dialogue[i][1]);
    }
}

static void talk_close(struct talk *talk, double t)
{
    server_packet(talk, t, GEN_FIN | GEN_ACK, NULL);
    client_packet(talk, t + 0.001, GEN_FIN | GEN_ACK, NULL);
    server_packet(talk, t + 0.020, GEN_ACK, NULL);
}

/* A whole mail delivery: 9 client packets (6 with payload), 10 server packets (7). */
static void talk_smtp(struct talk *talk, double t)
{
    talk_open(talk, t);
    talk_mail(talk, t + 0.060);
    talk_close(talk, t + 0.300);
}

static void smtp_session(struct pcapgen *out, const struct gen_link *link, const char *client,
                         uint16_t client_port, const char *server, double t)
{
    struct talk talk;
    talk_init(&talk, out, link, client, client_port, server, 25);
    talk_smtp(&talk, t);
}

/* A user's submission on port 25 to a designated MSA, with SMTP AUTH. */
static void msa_session(struct pcapgen *out, const struct gen_link *link, const char *client,
                        uint16_t client_port, const char *msa, double t)
{
    struct talk talk;
    talk_init(&talk, out, link, client, client_port, msa, 25);
    talk.authenticate = true;
    talk_smtp(&talk, t);
}

static void lone_syn(struct pcapgen *out, const struct gen_link *link, const char *client,
                     uint16_t client_port, const char *server, double t)
{
    struct talk talk;
    talk_init(&talk, out, link, client, client_port, server, 25);
    client_packet(&talk, t, GEN_SYN, NULL);
}

/* Web traffic both ways: shows the sensor that replies travel on this segment. */
static void web(struct pcapgen *out, const struct gen_link *link, const char *client,
                const char *server, double t)
{
    struct talk talk;
    talk_init(&talk, out, link, client, 52000, server, 443);
    client_packet(&talk, t, GEN_SYN, NULL);
    server_packet(&talk, t + 0.020, GEN_SYN | GEN_ACK, NULL);
    client_packet(&talk, t + 0.021, GEN_ACK, NULL);
    client_packet(&talk, t + 0.030, GEN_PSH | GEN_ACK, "not really TLS");
    server_packet(&talk, t + 0.060, GEN_PSH | GEN_ACK, "not really TLS either");
    talk_close(&talk, t + 0.100);
}

/* Draft figure 16: the subscriber sends with its dynamic address out of the static segment
 * and the answers come back on the dynamic one. Each attempt still gets its verdict. */
static void write_asymmetric(void)
{
    const char *name = "scenario-evasion-asymmetric.pcap";
    struct pcapgen *out = open_capture(name, LINKTYPE_ETHERNET);
    struct gen_link access_a = vlan_link(VLAN_ACCESS);
    struct gen_link access_b = vlan_link(VLAN_ACCESS_B);
    struct gen_link business = vlan_link(VLAN_BUSINESS);
    struct talk talk;

    web(out, &access_a, "198.51.100.200", "203.0.113.80", 0.0);
    web(out, &access_b, "198.51.100.201", "203.0.113.80", 0.2);
    web(out, &business, "198.51.103.200", "203.0.113.80", 0.4);

    /* By VLAN: three deliveries through the business VLAN; the third after the 60 s window
     * of the first two has closed. */
    static const double starts[] = {1.0, 20.0, 70.0};
    for (int i = 0; i < 3; i++) {
        talk_init(&talk, out, &business, "198.51.100.10", (uint16_t)(40001 + i), "203.0.113.10",
                  25);
        talk.server_link = access_a;
        talk_smtp(&talk, starts[i]);
    }
    /* A DSL subscriber on the FTTH-only VLAN: a SYN nobody answers, blocked all the same. */
    lone_syn(out, &access_b, "198.51.101.10", 40010, "203.0.113.11", 5.0);
    /* IPv6, through the business VLAN. */
    talk_init(&talk, out, &business, "2001:db8:1000:1::10", 40020, "2001:db8:f000::25", 25);
    talk.server_link = access_a;
    talk_smtp(&talk, 8.0);
    /* By router MAC: untagged frames from the static segment's router. */
    talk_init(&talk, out, &access_a, "198.51.100.12", 40030, "203.0.113.12", 25);
    talk.client_router_mac = static_router_mac;
    talk_smtp(&talk, 12.0);

    web(out, &access_a, "198.51.100.200", "203.0.113.81", 75.0);
    close_capture(out, name);
}

/* By capture interface: two mirror ports read at once (-r twice, as -i twice would be),
 * the client's half on the static port and the server's on the access port. */
static void write_interfaces(void)
{
    const char *access_name = "scenario-evasion-if-access.pcap";
    const char *static_name = "scenario-evasion-if-static.pcap";
    struct pcapgen *access = open_capture(access_name, LINKTYPE_ETHERNET);
    struct pcapgen *fixed = open_capture(static_name, LINKTYPE_ETHERNET);
    struct gen_link untagged;
    memset(&untagged, 0, sizeof(untagged));
    struct talk talk;

    web(access, &untagged, "198.51.100.200", "203.0.113.80", 0.0);
    web(fixed, &untagged, "198.51.103.200", "203.0.113.80", 0.5);
    talk_init(&talk, fixed, &untagged, "198.51.100.20", 40101, "203.0.113.20", 25);
    talk.server_out = access;
    talk_smtp(&talk, 1.0);
    /* Where they belong: an FTTH subscriber on the access port, a business line on the
     * static port. */
    smtp_session(access, &untagged, "198.51.100.21", 40102, "203.0.113.21", 3.0);
    smtp_session(fixed, &untagged, "198.51.103.20", 40103, "203.0.113.22", 5.0);

    close_capture(access, access_name);
    close_capture(fixed, static_name);
}

/* Source address validation missing: sources that are neither the ISP's nor any pool's,
 * leaving through subscriber segments towards port 25. */
static void write_spoofed(void)
{
    const char *name = "scenario-evasion-spoofed.pcap";
    struct pcapgen *out = open_capture(name, LINKTYPE_ETHERNET);
    struct gen_link access_a = vlan_link(VLAN_ACCESS);
    struct gen_link access_b = vlan_link(VLAN_ACCESS_B);
    struct gen_link business = vlan_link(VLAN_BUSINESS);
    struct gen_link pppoe = vlan_link(VLAN_ACCESS);
    pppoe.pppoe = true;
    pppoe.pppoe_session = 0x0042;

    web(out, &access_a, "198.51.100.200", "203.0.113.80", 0.0);
    /* Over a PPPoE session, which names the subscriber line: a SYN sent three times. */
    struct talk talk;
    talk_init(&talk, out, &pppoe, "192.0.2.99", 50001, "203.0.113.40", 25);
    client_packet(&talk, 1.0, GEN_SYN, NULL);
    talk.client_next--;
    client_packet(&talk, 2.0, GEN_SYN, NULL);
    talk.client_next--;
    client_packet(&talk, 4.0, GEN_SYN, NULL);
    lone_syn(out, &access_b, "2001:db8:e000::99", 50002, "2001:db8:f000::40", 5.0);
    lone_syn(out, &business, "192.0.2.100", 50003, "203.0.113.41", 6.0);
    close_capture(out, name);
}

/* Draft figure 17: the bot at `spammer` talks to `target` in the relay's name; the target's
 * answers reach the bot rewritten by the relay, or tunnelled from the relay (the inner
 * packet still addressed to the relay). */
static void triangular(struct pcapgen *out, const struct gen_link *link, const char *relay,
                       const char *spammer, const char *target, uint16_t port,
                       enum gen_tunnel tunnel, double t)
{
    struct talk talk;
    talk_init(&talk, out, link, relay, port, target, 25);
    if (tunnel == GEN_TUNNEL_NONE) {
        talk.server_destination = gen_addr(spammer);
    } else {
        /* Server-to-client packets leave the tunnel's far end (tunnel_dst) for its near
         * end (tunnel_src): from the relay to the bot. */
        talk.server_link.tunnel = tunnel;
        talk.server_link.tunnel_src = gen_addr(spammer);
        talk.server_link.tunnel_dst = gen_addr(relay);
    }
    talk_smtp(&talk, t);
}

static void write_triangular(void)
{
    const char *name = "scenario-evasion-triangular.pcap";
    struct pcapgen *out = open_capture(name, LINKTYPE_ETHERNET);
    struct gen_link access_a = vlan_link(VLAN_ACCESS);
    struct gen_link access_b = vlan_link(VLAN_ACCESS_B);

    web(out, &access_a, "198.51.100.200", "203.0.113.80", 0.0);
    web(out, &access_b, "2001:db8:1000:5::200", "2001:db8:f000::80", 0.2);
    triangular(out, &access_a, "192.0.2.66", "198.51.100.40", "203.0.113.30", 50001,
               GEN_TUNNEL_NONE, 1.0);
    triangular(out, &access_a, "192.0.2.67", "198.51.100.41", "203.0.113.31", 50002,
               GEN_TUNNEL_IPIP, 5.0);
    triangular(out, &access_a, "192.0.2.68", "198.51.100.42", "203.0.113.32", 50003, GEN_TUNNEL_GRE,
               9.0);
    triangular(out, &access_b, "2001:db8:e000::66", "2001:db8:1000:5::42", "2001:db8:f000::30",
               50004, GEN_TUNNEL_NONE, 13.0);
    triangular(out, &access_b, "2001:db8:e000::67", "2001:db8:1000:5::43", "2001:db8:f000::31",
               50005, GEN_TUNNEL_IPIP, 17.0);
    close_capture(out, name);
}

/* Port 25 of a host that is no designated MSA, talking to a subscriber that never called
 * it; next to answers that are in order (an attempt's, a designated MSA's). */
static void write_inbound(void)
{
    const char *name = "scenario-evasion-inbound.pcap";
    struct pcapgen *out = open_capture(name, LINKTYPE_ETHERNET);
    struct gen_link access_a = vlan_link(VLAN_ACCESS);
    struct talk talk;

    web(out, &access_a, "198.51.100.200", "203.0.113.80", 0.0);
    talk_init(&talk, out, &access_a, "198.51.100.60", 33000, "203.0.113.50", 25);
    server_packet(&talk, 1.0, GEN_SYN | GEN_ACK, NULL);
    server_packet(&talk, 1.050, GEN_PSH | GEN_ACK, "220 mx.example.net ESMTP\r\n");
    server_packet(&talk, 1.100, GEN_PSH | GEN_ACK, "250 2.1.0 Ok\r\n");
    talk_init(&talk, out, &access_a, "198.51.100.60", 33001, "203.0.113.50", 25);
    server_packet(&talk, 7.0, GEN_PSH | GEN_ACK, "250 2.1.5 Ok\r\n");
    talk_init(&talk, out, &access_a, "2001:db8:1000:7::1", 33002, "2001:db8:f000::50", 25);
    server_packet(&talk, 8.0, GEN_PSH | GEN_ACK, "220 mx6.example.net ESMTP\r\n");

    smtp_session(out, &access_a, "198.51.100.61", 40601, "203.0.113.51", 3.0);
    msa_session(out, &access_a, "198.51.100.62", 40602, "192.0.2.25", 5.0);
    close_capture(out, name);
}

/* Trap: a SYN flood elsewhere in a subscriber's name; the flooded servers answer it with
 * SYN-ACKs and resets, never payload. Not triangular spam: the one spoofed SYN seen on
 * those ports carries another ISN. */
static void write_backscatter(void)
{
    const char *name = "scenario-evasion-backscatter.pcap";
    struct pcapgen *out = open_capture(name, LINKTYPE_ETHERNET);
    struct gen_link access_a = vlan_link(VLAN_ACCESS);
    struct talk talk;

    web(out, &access_a, "198.51.100.200", "203.0.113.80", 0.0);
    lone_syn(out, &access_a, "192.0.2.70", 1024, "203.0.113.90", 0.5);
    for (int i = 0; i < 8; i++) {
        talk_init(&talk, out, &access_a, "198.51.100.90", (uint16_t)(1024 + i), "203.0.113.90", 25);
        server_packet(&talk, 1.0 + i * 0.100, GEN_SYN | GEN_ACK, NULL);
    }
    for (int i = 0; i < 4; i++) {
        talk_init(&talk, out, &access_a, "198.51.100.90", (uint16_t)(2048 + i), "203.0.113.90", 25);
        server_packet(&talk, 2.0 + i * 0.100, GEN_RST | GEN_ACK, NULL);
    }
    talk_init(&talk, out, &access_a, "198.51.100.90", 3000, "203.0.113.91", 25);
    server_packet(&talk, 3.0, GEN_RST, NULL);
    close_capture(out, name);
}

/* Trap: FTTH is expected on two VLANs (ECMP, failover). Answers on the other path, and a
 * connection moved from one path to the other mid-way, are no asymmetric routing. */
static void write_ecmp(void)
{
    const char *name = "scenario-evasion-ecmp.pcap";
    struct pcapgen *out = open_capture(name, LINKTYPE_ETHERNET);
    struct gen_link access_a = vlan_link(VLAN_ACCESS);
    struct gen_link access_b = vlan_link(VLAN_ACCESS_B);
    struct talk talk;

    web(out, &access_a, "198.51.100.200", "203.0.113.80", 0.0);
    web(out, &access_b, "198.51.100.201", "203.0.113.80", 0.2);
    smtp_session(out, &access_a, "198.51.100.100", 40201, "203.0.113.100", 1.0);
    talk_init(&talk, out, &access_a, "198.51.100.101", 40202, "203.0.113.101", 25);
    talk.server_link = access_b;
    talk_smtp(&talk, 2.0);
    talk_init(&talk, out, &access_a, "198.51.100.102", 40203, "203.0.113.102", 25);
    talk_open(&talk, 3.0);
    talk.client_link = talk.server_link = access_b; /* failover */
    talk_mail(&talk, 3.060);
    talk_close(&talk, 3.300);
    smtp_session(out, &access_b, "2001:db8:1000:2::10", 40204, "2001:db8:f000::25", 4.0);
    smtp_session(out, &access_a, "198.51.101.100", 40205, "203.0.113.103", 5.0);
    close_capture(out, name);
}

/* Trap: a multihomed customer's own block, in own_prefixes but in no pool, runs its MTA
 * through the business VLAN; answers to some of its mail return over its other provider. */
static void write_multihomed(void)
{
    const char *name = "scenario-evasion-multihomed.pcap";
    struct pcapgen *out = open_capture(name, LINKTYPE_ETHERNET);
    struct gen_link business = vlan_link(VLAN_BUSINESS);
    struct talk talk;

    web(out, &business, "198.51.103.200", "203.0.113.80", 0.0);
    smtp_session(out, &business, "198.18.10.5", 40301, "203.0.113.110", 1.0);
    talk_init(&talk, out, &business, "198.18.10.5", 40302, "203.0.113.111", 25);
    client_packet(&talk, 2.0, GEN_SYN, NULL);
    talk.server_next++; /* its SYN-ACK came back over the other provider */
    client_packet(&talk, 2.050, GEN_ACK, NULL);
    client_packet(&talk, 2.100, GEN_PSH | GEN_ACK, "EHLO mail.corp.example\r\n");
    smtp_session(out, &business, "203.0.113.112", 51000, "198.18.10.25", 3.0);
    close_capture(out, name);
}

/* Trap: the ISP carries a model-B ISP's subscribers (draft 3.1, 4.3.2) and blocks port 25
 * for them, so their space is a pool though it is not the ISP's own; their own ISP's MSA
 * on port 25 is designated for that pool only. */
static void write_model_b(void)
{
    const char *name = "scenario-evasion-model-b.pcap";
    struct pcapgen *out = open_capture(name, LINKTYPE_ETHERNET);
    struct gen_link transit = vlan_link(VLAN_TRANSIT_B);

    web(out, &transit, "198.18.64.200", "203.0.113.80", 0.0);
    msa_session(out, &transit, "198.18.64.10", 40401, "198.18.90.25", 1.0);
    lone_syn(out, &transit, "198.18.64.11", 40402, "203.0.113.120", 2.0);
    web(out, &transit, "198.18.64.200", "203.0.113.81", 40.0); /* past its SYN timer */
    close_capture(out, name);
}

/* Trap: a subscriber runs its own MTA on its dynamic address (draft 4.4.6). Mail comes in
 * to its port 25 and it answers from there; only its own deliveries are attempts. */
static void write_self_hosted_mta(void)
{
    const char *name = "scenario-evasion-self-hosted-mta.pcap";
    struct pcapgen *out = open_capture(name, LINKTYPE_ETHERNET);
    struct gen_link access_a = vlan_link(VLAN_ACCESS);

    web(out, &access_a, "198.51.100.200", "203.0.113.80", 0.0);
    smtp_session(out, &access_a, "203.0.113.130", 51000, "198.51.100.130", 1.0);
    smtp_session(out, &access_a, "2001:db8:f000::130", 51001, "2001:db8:1000:13::1", 2.0);
    lone_syn(out, &access_a, "198.51.100.130", 40501, "203.0.113.132", 3.0);
    web(out, &access_a, "198.51.100.200", "203.0.113.81", 40.0); /* past its SYN timer */
    close_capture(out, name);
}

void scenarios_evasion(void)
{
    write_asymmetric();
    write_interfaces();
    write_spoofed();
    write_triangular();
    write_inbound();
    write_backscatter();
    write_ecmp();
    write_multihomed();
    write_model_b();
    write_self_hosted_mta();
}

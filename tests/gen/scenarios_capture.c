/* The capture family (issue #19): what the capture delivers, and when. Snap lengths of 64,
 * 96 and 128 bytes over IPv4 and IPv6, tagged and untagged, with Linux's TCP options; damaged
 * timestamps mid-dialogue and a real gap; a pcapng file whose interfaces have an if_tsoffset
 * and odd if_tsresol values; port-25 attempts inside VXLAN and GTP-U, with the UDP noise a
 * prefilter drops around them. Policy: tests/scenarios/capture.yaml. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario.h"

/* A bit of the seconds flipped, as a damaged capture has it: bit 26 (+2.1 years, into 2028)
 * is clear in 2026's times, bit 27 (-4.3 years, into 2021) is set. */
#define FLIP_AHEAD (((int64_t)1 << 26) * 1000000)
#define FLIP_BEHIND (((int64_t)1 << 27) * 1000000)

static struct gen_link plain_link(void)
{
    struct gen_link link;
    memset(&link, 0, sizeof(link));
    return link;
}

static void linux_conn(struct gen_conn *conn, struct pcapgen *out, const struct gen_link *link,
                       const char *client, uint16_t client_port, const char *server)
{
    conn_open(conn, out, LINKTYPE_ETHERNET, link, client, client_port, server, 25);
    conn->linux_options = true;
}

/* A command and its reply, 10 ms apart; `stamp` shifts one of the two packets' timestamps
 * (0: none), as damage would. */
static void exchange(struct gen_conn *conn, double *t, const char *command, const char *reply,
                     int64_t command_stamp, int64_t reply_stamp)
{
    gen_conn_client_text(conn, at(*t) + command_stamp, command);
    gen_conn_server_text(conn, at(*t + 0.010) + reply_stamp, reply);
    *t += 0.020;
}

/* An SMTP dialogue to data whose every line fits in 25 bytes, so that what a snap length
 * leaves of a segment is either nothing or the whole line. damaged: MAIL FROM is stamped
 * 2.1 years ahead and the RCPT reply 4.3 years behind. */
static void short_dialogue(struct pcapgen *out, const struct gen_link *link, const char *client,
                           uint16_t client_port, const char *server, double t, const char *helo,
                           bool damaged)
{
    struct gen_conn conn;
    linux_conn(&conn, out, link, client, client_port, server);
    handshake(&conn, t);
    t += 0.030;
    gen_conn_server_text(&conn, at(t), "220 mx.example ESMTP\r\n");
    t += 0.010;
    char line[32];
    snprintf(line, sizeof(line), "EHLO %s\r\n", helo);
    exchange(&conn, &t, line, "250 mx.example\r\n", 0, 0);
    exchange(&conn, &t, "MAIL FROM:<x@b.example>\r\n", "250 2.1.0 Ok\r\n", damaged ? FLIP_AHEAD : 0,
             0);
    exchange(&conn, &t, "RCPT TO:<y@c.example>\r\n", "250 2.1.5 Ok\r\n", 0,
             damaged ? -FLIP_BEHIND : 0);
    exchange(&conn, &t, "DATA\r\n", "354 go ahead\r\n", 0, 0);
    exchange(&conn, &t, "Subject: hi\r\n\r\nhi\r\n.\r\n", "250 2.0.0 queued\r\n", 0, 0);
    exchange(&conn, &t, "QUIT\r\n", "221 2.0.0 Bye\r\n", 0, 0);
    close_both(&conn, t);
}

/* Blocked by a drop: three SYNs of one connect(), nothing answers. */
static void unanswered(struct pcapgen *out, const struct gen_link *link, const char *client,
                       uint16_t client_port, const char *server, double t)
{
    struct gen_conn conn;
    linux_conn(&conn, out, link, client, client_port, server);
    gen_conn_syn(&conn, at(t));
    gen_conn_syn(&conn, at(t + 1.0));
    gen_conn_syn(&conn, at(t + 3.0));
}

/* Blocked by an ACL that answers ICMP administratively prohibited (3/13, or ICMPv6 1/1). */
static void refused(struct pcapgen *out, const struct gen_link *link, const char *client,
                    uint16_t client_port, const char *server, const char *router, double t)
{
    struct gen_conn conn;
    linux_conn(&conn, out, link, client, client_port, server);
    gen_conn_syn(&conn, at(t));
    bool v6 = strchr(router, ':') != NULL;
    gen_conn_icmp_error(&conn, at(t + 0.001), router, v6 ? 1 : 3, v6 ? 1 : 13);
}

/* ---- Snap lengths ---- */

/* The same traffic cut at each snap length: for IPv4 and IPv6, untagged and on the access
 * VLAN, a leaked dialogue, an attempt nothing answers and one the DSL ACL refuses by ICMP. */
static void write_snaplen(uint32_t snaplen)
{
    char name[64], path[4096];
    snprintf(name, sizeof(name), "scenario-capture-snaplen-%u.pcap", snaplen);
    snprintf(path, sizeof(path), "%s/%s", scenario_output_dir, name);
    struct pcapgen *out = pcapgen_open_cut(path, LINKTYPE_ETHERNET, snaplen, true);
    if (out == NULL) {
        perror(path);
        exit(1);
    }
    struct gen_link plain = plain_link();
    struct gen_link access = vlan_link(VLAN_ACCESS);
    /* Replies from outside on both links, so silence is evidence there. */
    web_exchange(out, &plain, "198.51.100.5", "203.0.113.80", 0.0);
    web_exchange(out, &access, "198.51.100.6", "203.0.113.80", 0.2);
    const struct {
        const struct gen_link *link;
        const char *leaked, *unanswered, *refused, *server, *router, *helo;
    } variants[] = {
        {&plain, "198.51.100.10", "198.51.100.20", "198.51.101.30", "203.0.113.25", "198.51.101.1",
         "v4.example"},
        {&access, "198.51.100.11", "198.51.100.21", "198.51.101.31", "203.0.113.25", "198.51.101.1",
         "v4t.example"},
        {&plain, "2001:db8:1000::10", "2001:db8:1000::20", "2001:db8:1100::30", "2001:db8:f000::25",
         "2001:db8:1100::1", "v6.example"},
        {&access, "2001:db8:1000::11", "2001:db8:1000::21", "2001:db8:1100::31",
         "2001:db8:f000::25", "2001:db8:1100::1", "v6t.example"},
    };
    for (unsigned v = 0; v < 4; v++) {
        double t = 1.0 + 10.0 * v;
        uint16_t port = (uint16_t)(46001 + 10 * v);
        short_dialogue(out, variants[v].link, variants[v].leaked, port, variants[v].server, t,
                       variants[v].helo, false);
        unanswered(out, variants[v].link, variants[v].unanswered, (uint16_t)(port + 1),
                   variants[v].server, t + 1.0);
        refused(out, variants[v].link, variants[v].refused, (uint16_t)(port + 2),
                variants[v].server, variants[v].router, t + 5.0);
    }
    /* Time for the unanswered attempts' SYN timeout (30 s) to run on packets. */
    web_exchange(out, &plain, "198.51.100.5", "203.0.113.81", 80.0);
    close_capture(out, name);
}

/* ---- Packet time ---- */

/* A damaged first timestamp, and a dialogue with one packet stamped years ahead and one years
 * behind; afterwards an attempt nothing answers, whose SYN timeout must still run. Written in
 * capture order, not sorted: the damaged times stay where the damage put them. */
static void write_clock_outliers(void)
{
    const char *name = "scenario-capture-clock-outliers.pcap";
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", scenario_output_dir, name);
    struct pcapgen *out = pcapgen_open(path, LINKTYPE_ETHERNET);
    if (out == NULL) {
        perror(path);
        exit(1);
    }
    struct gen_link access = vlan_link(VLAN_ACCESS);
    struct gen_conn web;
    conn_open(&web, out, LINKTYPE_ETHERNET, &access, "198.51.100.6", 51000, "203.0.113.80", 443);
    gen_conn_syn(&web, at(0.0) + FLIP_AHEAD);
    gen_conn_syn_ack(&web, at(0.020));
    gen_conn_ack(&web, at(0.021));
    close_both(&web, 0.100);
    short_dialogue(out, &access, "198.51.100.40", 46101, "203.0.113.26", 1.0, "clock.example",
                   true);
    unanswered(out, &access, "198.51.100.41", 46102, "203.0.113.26", 3.0);
    web_exchange(out, &access, "198.51.100.6", "203.0.113.81", 40.0);
    close_capture(out, name);
}

/* A mirror idle for an hour: the first packet after the gap is vouched for by the next, so
 * the clock moves; the attempt left waiting closes at the jump, and one periodic report is
 * written for the hour, not sixty. */
static void write_clock_gap(void)
{
    const char *name = "scenario-capture-clock-gap.pcap";
    struct pcapgen *out = open_capture(name, LINKTYPE_ETHERNET);
    struct gen_link access = vlan_link(VLAN_ACCESS);
    web_exchange(out, &access, "198.51.100.6", "203.0.113.80", 0.0);
    short_dialogue(out, &access, "198.51.100.50", 46201, "203.0.113.27", 1.0, "before.example",
                   false);
    unanswered(out, &access, "198.51.100.51", 46202, "203.0.113.27", 2.0);
    web_exchange(out, &access, "198.51.100.6", "203.0.113.80", 3600.0);
    short_dialogue(out, &access, "198.51.100.52", 46203, "203.0.113.27", 3601.0, "after.example",
                   false);
    close_capture(out, name);
}

/* ---- pcapng ---- */

static void put16le(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32le(uint8_t *p, uint32_t v)
{
    put16le(p, (uint16_t)v);
    put16le(p + 2, (uint16_t)(v >> 16));
}

static void put64le(uint8_t *p, uint64_t v)
{
    put32le(p, (uint32_t)v);
    put32le(p + 4, (uint32_t)(v >> 32));
}

/* One pcapng block: type, total length, body padded to 4 bytes, total length. */
static void write_block(FILE *file, uint32_t type, const uint8_t *body, size_t length)
{
    static const uint8_t zeros[4] = {0};
    size_t padded = (length + 3) / 4 * 4;
    uint8_t word[4];
    put32le(word, type);
    fwrite(word, 4, 1, file);
    put32le(word, (uint32_t)(12 + padded));
    fwrite(word, 4, 1, file);
    fwrite(body, 1, length, file);
    fwrite(zeros, 1, padded - length, file);
    fwrite(word, 4, 1, file);
}

/* An Ethernet interface with if_tsresol (one byte: 10^-n, or 2^-n with the top bit) and
 * if_tsoffset (seconds added to every timestamp). */
static void write_interface(FILE *file, uint8_t resolution, uint64_t offset)
{
    uint8_t body[36] = {0};
    put16le(body, LINKTYPE_ETHERNET);
    put32le(body + 4, 262144);
    put16le(body + 8, 9); /* if_tsresol */
    put16le(body + 10, 1);
    body[12] = resolution;
    put16le(body + 16, 14); /* if_tsoffset */
    put16le(body + 18, 8);
    put64le(body + 20, offset);
    /* opt_endofopt: the last four bytes, zero */
    write_block(file, 1, body, sizeof(body));
}

static const uint64_t OFFSET_CLIENT = BASE_SECONDS;        /* if 0: nanoseconds */
static const uint64_t OFFSET_SERVER = BASE_SECONDS - 3600; /* if 1: 2^-20 s */

/* The frames of a classic pcap (as pcapgen writes it) into a pcapng file: what the client
 * sends on interface 0 (nanoseconds, offset BASE), what comes back on interface 1 (2^-20
 * seconds, offset an hour earlier), each timestamp relative to its interface's offset. */
static void convert_to_pcapng(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    FILE *out = fopen(to, "wb");
    if (in == NULL || out == NULL) {
        perror(in == NULL ? from : to);
        exit(1);
    }
    uint8_t header[24];
    if (fread(header, sizeof(header), 1, in) != 1)
        abort();
    uint8_t section[16] = {0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0};
    memset(section + 8, 0xff, 8); /* section length unknown */
    write_block(out, 0x0a0d0d0a, section, sizeof(section));
    write_interface(out, 9, OFFSET_CLIENT);
    write_interface(out, 0x80 | 20, OFFSET_SERVER);
    uint8_t record[16];
    while (fread(record, sizeof(record), 1, in) == 1) {
        uint32_t seconds = (uint32_t)record[0] | (uint32_t)record[1] << 8 |
                           (uint32_t)record[2] << 16 | (uint32_t)record[3] << 24;
        uint32_t micros = (uint32_t)record[4] | (uint32_t)record[5] << 8 |
                          (uint32_t)record[6] << 16 | (uint32_t)record[7] << 24;
        uint32_t length = (uint32_t)record[8] | (uint32_t)record[9] << 8 |
                          (uint32_t)record[10] << 16 | (uint32_t)record[11] << 24;
        static uint8_t body[20 + 4096];
        if (length > 4096 || fread(body + 20, length, 1, in) != 1)
            abort();
        /* pcapgen's client MAC ends in 01: the frame's source says its direction. */
        bool from_client = body[20 + 11] == 0x01;
        uint64_t ticks;
        if (from_client)
            ticks = (uint64_t)(seconds - OFFSET_CLIENT) * 1000000000u + (uint64_t)micros * 1000u;
        else
            ticks =
                ((uint64_t)(seconds - OFFSET_SERVER) << 20) + ((uint64_t)micros << 20) / 1000000u;
        put32le(body, from_client ? 0 : 1);
        put32le(body + 4, (uint32_t)(ticks >> 32));
        put32le(body + 8, (uint32_t)ticks);
        put32le(body + 12, length);
        put32le(body + 16, length);
        write_block(out, 6, body, 20 + length);
    }
    fclose(in);
    if (fclose(out) != 0) {
        perror(to);
        exit(1);
    }
    remove(from);
}

/* Two interfaces that disagree on resolution and offset, the directions of each attempt
 * split between them: a time read wrong on either would split or misjudge the attempts. */
static void write_pcapng(void)
{
    const char *name = "scenario-capture-pcapng.pcapng";
    const char *scratch = "scenario-capture-pcapng.tmp";
    struct pcapgen *out = open_capture(scratch, LINKTYPE_ETHERNET);
    struct gen_link access = vlan_link(VLAN_ACCESS);
    web_exchange(out, &access, "198.51.100.6", "203.0.113.80", 0.0);
    short_dialogue(out, &access, "198.51.100.60", 46301, "203.0.113.28", 1.0, "ng.example", false);
    refused(out, &access, "198.51.101.60", 46302, "203.0.113.28", "198.51.101.1", 2.0);
    short_dialogue(out, &access, "2001:db8:1000::60", 46303, "2001:db8:f000::28", 3.0,
                   "ng6.example", false);
    unanswered(out, &access, "198.51.100.61", 46304, "203.0.113.28", 4.0);
    web_exchange(out, &access, "198.51.100.6", "203.0.113.81", 40.0);
    close_capture(out, scratch);
    char from[4096], to[4096];
    snprintf(from, sizeof(from), "%s/%s", scenario_output_dir, scratch);
    snprintf(to, sizeof(to), "%s/%s", scenario_output_dir, name);
    convert_to_pcapng(from, to);
}

/* ---- Tunnels ---- */

/* QUIC-like datagrams: UDP 443 from a subscriber, and between two addresses that are not
 * the ISP's. The prefilter drops both; outside or inside the tunnel, they are no attempt. */
static void udp_noise(struct pcapgen *out, const struct gen_link *link, const char *subscriber,
                      double t)
{
    static const uint8_t datagram[64] = {0xc0, 0, 0, 0, 1};
    uint8_t packet[256];
    struct gen_addr from = gen_addr(subscriber);
    struct gen_addr far = gen_addr(from.family == 4 ? "203.0.113.90" : "2001:db8:f000::90");
    size_t size = gen_build_udp(packet, &from, &far, 50443, 443, 64, 1, datagram, sizeof(datagram));
    gen_write_ip(out, LINKTYPE_ETHERNET, link, true, at(t), packet, size);
    struct gen_addr a = gen_addr("203.0.113.91"), b = gen_addr("192.0.2.91");
    size = gen_build_udp(packet, &a, &b, 40000, 443, 60, 2, datagram, sizeof(datagram));
    gen_write_ip(out, LINKTYPE_ETHERNET, link, true, at(t + 0.001), packet, size);
}

/* A data centre fabric's mirror: the subscribers' traffic inside VXLAN between two VTEPs that
 * are not the ISP's subscriber addresses. */
static void write_vxlan(void)
{
    const char *name = "scenario-capture-vxlan.pcap";
    struct pcapgen *out = open_capture(name, LINKTYPE_ETHERNET);
    struct gen_link plain = plain_link();
    struct gen_link fabric = plain_link();
    fabric.tunnel = GEN_TUNNEL_VXLAN;
    fabric.tunnel_src = gen_addr("100.64.0.1");
    fabric.tunnel_dst = gen_addr("100.64.0.2");
    fabric.tunnel_id = 5001;
    web_exchange(out, &fabric, "198.51.100.6", "203.0.113.80", 0.0);
    short_dialogue(out, &fabric, "198.51.100.70", 46401, "203.0.113.29", 1.0, "vx.example", false);
    unanswered(out, &fabric, "198.51.100.71", 46402, "203.0.113.29", 2.0);
    short_dialogue(out, &fabric, "2001:db8:1000::70", 46403, "2001:db8:f000::29", 3.0,
                   "vx6.example", false);
    for (int i = 0; i < 5; i++) {
        udp_noise(out, &plain, "198.51.100.72", 0.5 + i);
        udp_noise(out, &fabric, "198.51.100.72", 0.7 + i);
    }
    web_exchange(out, &fabric, "198.51.100.6", "203.0.113.81", 40.0);
    close_capture(out, name);
}

/* A mobile core's mirror (the S1-U or N3 interface): the subscribers' packets inside GTP-U
 * between an eNodeB and the gateway, IPv4 and IPv6 inside IPv4. */
static void write_gtp(void)
{
    const char *name = "scenario-capture-gtp.pcap";
    struct pcapgen *out = open_capture(name, LINKTYPE_ETHERNET);
    struct gen_link plain = plain_link();
    struct gen_link core = plain_link();
    core.tunnel = GEN_TUNNEL_GTP;
    core.tunnel_src = gen_addr("10.200.0.1");
    core.tunnel_dst = gen_addr("10.200.0.2");
    core.tunnel_id = 0x1000;
    web_exchange(out, &core, "198.51.102.6", "203.0.113.80", 0.0);
    short_dialogue(out, &core, "198.51.102.80", 46501, "203.0.113.30", 1.0, "gtp.example", false);
    unanswered(out, &core, "198.51.102.81", 46502, "203.0.113.30", 2.0);
    short_dialogue(out, &core, "2001:db8:1200::80", 46503, "2001:db8:f000::30", 3.0, "gtp6.example",
                   false);
    for (int i = 0; i < 5; i++) {
        udp_noise(out, &plain, "198.51.100.82", 0.5 + i);
        udp_noise(out, &core, "198.51.102.82", 0.7 + i);
    }
    web_exchange(out, &core, "198.51.102.6", "203.0.113.81", 40.0);
    close_capture(out, name);
}

void scenarios_capture(void)
{
    isn_reseed(0x19dec0deu);
    write_snaplen(64);
    write_snaplen(96);
    write_snaplen(128);
    write_clock_outliers();
    write_clock_gap();
    write_pcapng();
    write_vxlan();
    write_gtp();
}

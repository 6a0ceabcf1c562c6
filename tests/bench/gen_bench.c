/* Writes the benchmark captures (issue #7), with the address plan of tests/bench/bench.yaml.
 *
 *   gen_bench mix N OUT.pcap       an ISP mirror port at about 1 Mpps of packet time: web
 *                                  flows in both directions with handshakes, data and FINs,
 *                                  DNS to the ISP's and to outside resolvers, about a fifth
 *                                  of it IPv6, and 1% of all packets port-25 SYNs from the
 *                                  dynamic pools (retransmitted 1 s and 3 s later with the
 *                                  same ISN, some blocked by ICMP or reset, some answered)
 *   gen_bench hosts N OUT.pcap     a mirror port of small packets among many distinct hosts:
 *                                  99% ordinary traffic (TCP 443 and 80, UDP 443 and 53,
 *                                  both directions, 60-150-byte frames; each conversation
 *                                  between a subscriber drawn from the pools' millions of
 *                                  addresses and a server of 131,072 IPv4 or millions of
 *                                  IPv6 ones) and 1% port-25 SYNs from a dynamic /20
 *                                  (10.64.0.0/20 of the FTTH pool, dropped by its ACL and
 *                                  retransmitted 1 s and 3 s later); see plan_hosts_*
 *   gen_bench synflood N OUT.pcap  N SYNs to port 25, each from a new (address, port) of a
 *                                  dynamic pool, 1 us apart, so all N attempts are live at
 *                                  once under the default 30 s SYN timeout
 *   gen_bench synflood-blocked N OUT.pcap
 *                                  an outbreak the block holds: N SYNs to port 25, 1 us
 *                                  apart, from 4,608 infected subscribers of the FTTH pool
 *                                  (4,096 addresses of 10.64.0.0/20 and 512 IPv6 /64s), each
 *                                  SYN from a new source port to a random server; the ACL's
 *                                  silence is made evidence by a DNS answer from outside to a
 *                                  subscriber on the access VLAN first (the segment sees
 *                                  return traffic) and another one timeouts.syn (30 s) and a
 *                                  second after the last SYN, so every attempt ends blocked
 *                                  (no_reply) within the capture; N + 2 packets
 *   gen_bench spoofed N OUT.pcap   N SYNs to port 25 on the access VLAN from addresses that
 *                                  are not the ISP's (TEST-NET-1 and -3, 2001:db8:f000::/36):
 *                                  spoofed sources, each one a spoofed SYN that --workers
 *                                  tells every other worker of; 1 us apart
 *
 * Deterministic: a fixed seed, so the same N gives the same bytes on every run. Prints one
 * JSON line on standard output saying what was written, including the attempt count and
 * the verdicts docs/concepts.md implies for them, so run_bench.py can check that the
 * sensor counted every packet and every attempt. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcapgen.h"

#define LINKTYPE_ETHERNET 1
#define BASE_US (1768467600LL * 1000000LL) /* 2026-01-15T09:00:00Z, as the scenarios */
#define MS 1000LL
#define SECOND 1000000LL
#define MSS 1448
#define MAX_STEPS 96
#define MAX_SEGMENTS 40
#define BOTS 2000

enum { VLAN_ACCESS = 100, VLAN_BUSINESS = 200, VLAN_MOBILE = 300 };

/* ---- deterministic randomness (xorshift64*, fixed seed) ---- */

static uint64_t random_state = 0x0b25be7c4a11ce5dULL;

static uint64_t random_next(void)
{
    random_state ^= random_state >> 12;
    random_state ^= random_state << 25;
    random_state ^= random_state >> 27;
    return random_state * 0x2545f4914f6cdd1dULL;
}

static uint32_t random_below(uint32_t bound)
{
    return (uint32_t)(((random_next() >> 32) * bound) >> 32);
}

static int64_t random_between(int64_t low, int64_t high)
{
    return low + (int64_t)random_below((uint32_t)(high - low + 1));
}

static bool random_percent(unsigned percent)
{
    return random_below(100) < percent;
}

/* A stateless mix, so a subscriber or server id always maps to the same address. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* ---- address plan (tests/bench/bench.yaml) ---- */

enum pool_id { POOL_FTTH, POOL_DSL, POOL_CABLE, POOL_LTE, POOL_BUSINESS, POOL_COUNT };

struct pool_plan {
    uint32_t v4_base;
    uint32_t v4_size;
    uint16_t v6_top; /* third group of the pool's 2001:db8:XX00::/40, 0 when IPv4 only */
    uint16_t vlan;
    unsigned v6_percent;     /* share of its subscribers' traffic that is IPv6 */
    unsigned traffic_weight; /* share of ordinary traffic from this pool */
    unsigned bot_weight;     /* share of the infected subscribers in this pool */
};

#define V4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

static const struct pool_plan pools[POOL_COUNT] = {
    [POOL_FTTH] = {V4(10, 64, 0, 0), 1u << 20, 0x1000, VLAN_ACCESS, 25, 45, 50},
    [POOL_DSL] = {V4(10, 80, 0, 0), 1u << 19, 0, VLAN_ACCESS, 0, 10, 15},
    [POOL_CABLE] = {V4(10, 88, 0, 0), 1u << 19, 0, VLAN_ACCESS, 0, 15, 15},
    [POOL_LTE] = {V4(10, 96, 0, 0), 1u << 21, 0x2000, VLAN_MOBILE, 30, 20, 20},
    [POOL_BUSINESS] = {V4(10, 128, 0, 0), 1u << 16, 0, VLAN_BUSINESS, 0, 10, 0},
};

#define SERVERS_V4_BASE V4(198, 18, 0, 0) /* RFC 2544 benchmarking space: the Internet */
#define SERVERS_V4_SIZE (1u << 17)

static const char *const isp_msa[2] = {"198.51.100.25", "2001:db8:25::25"};
static const char *const isp_resolver[2] = {"198.51.100.53", "2001:db8:53::53"};
static const char *const outside_resolver[2] = {"198.18.255.53", "2001:db8:8053::53"};
static const char *const isp_router[2] = {"198.51.100.1", "2001:db8::1"};

static void format_v4(char *text, size_t size, uint32_t address)
{
    snprintf(text, size, "%u.%u.%u.%u", address >> 24, (address >> 16) & 0xff,
             (address >> 8) & 0xff, address & 0xff);
}

/* A subscriber of the pool: IPv4 address, or an address in its own IPv6 /64. */
static void subscriber_address(char *text, size_t size, enum pool_id pool, uint64_t id, bool ipv6)
{
    uint64_t h = mix64(id * 0x9e3779b97f4a7c15ULL + (uint64_t)pool);
    if (ipv6) {
        uint32_t site = (uint32_t)(h >> 40); /* 24 bits between the /40 and the /64 */
        snprintf(text, size, "2001:db8:%x:%x::%x", pools[pool].v6_top | (site >> 16), site & 0xffff,
                 (unsigned)(h & 0xfff) + 1);
        return;
    }
    format_v4(text, size, pools[pool].v4_base + 1 + (uint32_t)(h % (pools[pool].v4_size - 2)));
}

static void server_address(char *text, size_t size, uint64_t id, bool ipv6)
{
    uint64_t h = mix64(id + 0x5151);
    if (ipv6)
        snprintf(text, size, "2001:db8:%x:%x::%x", 0x8000 | (unsigned)(h >> 49),
                 (unsigned)(h >> 16) & 0xffff, (unsigned)(h & 0xfff) + 1);
    else
        format_v4(text, size, SERVERS_V4_BASE + (uint32_t)(h % SERVERS_V4_SIZE));
}

static enum pool_id pick_pool(bool bots)
{
    unsigned total = 0;
    for (int p = 0; p < POOL_COUNT; p++)
        total += bots ? pools[p].bot_weight : pools[p].traffic_weight;
    unsigned pick = random_below(total);
    for (int p = 0; p < POOL_COUNT; p++) {
        unsigned weight = bots ? pools[p].bot_weight : pools[p].traffic_weight;
        if (pick < weight)
            return (enum pool_id)p;
        pick -= weight;
    }
    return POOL_FTTH;
}

static struct gen_link vlan_link(uint16_t vlan)
{
    struct gen_link link;
    memset(&link, 0, sizeof(link));
    link.vlan[0] = vlan;
    link.vlan_count = 1;
    return link;
}

/* ---- what was written ---- */

struct summary {
    uint64_t ipv6_packets;
    uint64_t port25_syn_packets; /* client SYNs to port 25, retransmissions included */
    uint64_t port25_packets;     /* any TCP packet with port 25 on either side */
    uint64_t icmp_packets;
    uint64_t dns_packets;
    uint64_t web_packets;
    uint64_t attempts;
    /* Verdicts implied by what was written (docs/concepts.md). Silent attempts are blocked
     * (no_reply) once timeouts.syn passes after their last SYN, unknown before. */
    uint64_t allowed;
    uint64_t leaked;
    uint64_t would_block;
    uint64_t blocked;
    uint64_t silent;
    int64_t first_us;
    int64_t last_us;
};

static struct summary summary;

/* ---- payloads ---- */

static uint8_t filler[MSS];

static void filler_init(void)
{
    for (size_t i = 0; i < sizeof(filler); i++)
        filler[i] = (uint8_t)(mix64(i) >> 56);
}

static void put16(uint8_t *p, size_t value)
{
    p[0] = (uint8_t)(value >> 8);
    p[1] = (uint8_t)value;
}

/* A TLS 1.3 ClientHello (RFC 8446 section 4.1.2) with SNI (RFC 6066 section 3), so the
 * peers' dissectors find a server name as they would in real HTTPS. */
static size_t tls_client_hello(uint8_t *buf, const char *server_name, uint64_t seed)
{
    static const uint8_t ciphers[] = {0x13, 0x01, 0x13, 0x02, 0x13, 0x03, 0xc0, 0x2b, 0xc0, 0x2f};
    size_t name_length = strlen(server_name);
    size_t at = 9; /* after the record header (5) and the handshake header (4) */
    buf[at++] = 3; /* legacy_version 1.2 */
    buf[at++] = 3;
    for (int i = 0; i < 32; i++)
        buf[at++] = (uint8_t)(mix64(seed + (uint64_t)i) >> 56);
    buf[at++] = 0; /* no legacy session id */
    put16(buf + at, sizeof(ciphers));
    at += 2;
    memcpy(buf + at, ciphers, sizeof(ciphers));
    at += sizeof(ciphers);
    buf[at++] = 1; /* one compression method: null */
    buf[at++] = 0;
    size_t extensions_start = at;
    at += 2;
    put16(buf + at, 0x0000); /* server_name */
    put16(buf + at + 2, name_length + 5);
    put16(buf + at + 4, name_length + 3);
    buf[at + 6] = 0; /* host_name */
    put16(buf + at + 7, name_length);
    memcpy(buf + at + 9, server_name, name_length);
    at += 9 + name_length;
    static const uint8_t versions[] = {0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04};
    memcpy(buf + at, versions, sizeof(versions));
    at += sizeof(versions);
    put16(buf + extensions_start, at - extensions_start - 2);
    buf[0] = 0x16; /* handshake record */
    buf[1] = 3;
    buf[2] = 1;
    put16(buf + 3, at - 5);
    buf[5] = 1; /* client_hello */
    buf[6] = 0;
    put16(buf + 7, at - 9);
    return at;
}

static size_t dns_name(uint8_t *buf, const char *name)
{
    size_t at = 0;
    while (*name != '\0') {
        const char *dot = strchr(name, '.');
        size_t length = dot != NULL ? (size_t)(dot - name) : strlen(name);
        buf[at++] = (uint8_t)length;
        memcpy(buf + at, name, length);
        at += length;
        name += length + (dot != NULL ? 1 : 0);
    }
    buf[at++] = 0;
    return at;
}

enum { DNS_A = 1, DNS_MX = 15, DNS_AAAA = 28, DNS_HTTPS = 65 };

/* A recursive query (RFC 1035 section 4.1), or its answer with one record. */
static size_t dns_message(uint8_t *buf, uint16_t id, const char *name, uint16_t qtype, bool answer)
{
    put16(buf, id);
    put16(buf + 2, answer ? 0x8180 : 0x0100);
    put16(buf + 4, 1);
    put16(buf + 6, answer ? 1 : 0);
    put16(buf + 8, 0);
    put16(buf + 10, 0);
    size_t at = 12 + dns_name(buf + 12, name);
    put16(buf + at, qtype);
    put16(buf + at + 2, 1);
    at += 4;
    if (!answer)
        return at;
    put16(buf + at, 0xc00c); /* the question's name */
    put16(buf + at + 2, qtype);
    put16(buf + at + 4, 1);
    put16(buf + at + 6, 0);
    put16(buf + at + 8, 300);
    at += 10;
    uint64_t h = mix64(id);
    switch (qtype) {
    case DNS_A:
        put16(buf + at, 4);
        memcpy(buf + at + 2, &h, 4);
        return at + 6;
    case DNS_AAAA:
        put16(buf + at, 16);
        memcpy(buf + at + 2, &h, 8);
        memcpy(buf + at + 10, &h, 8);
        return at + 18;
    case DNS_MX:
        put16(buf + at, 7);
        put16(buf + at + 2, 10);
        memcpy(buf + at + 4, "\002mx\300\014", 5);
        return at + 9;
    default:
        put16(buf + at, 3);
        put16(buf + at + 2, 1); /* SvcPriority 1, TargetName "." */
        buf[at + 4] = 0;
        return at + 5;
    }
}

/* ---- conversations: a script of timed steps, one packet each ---- */

enum op {
    OP_SYN,
    OP_SYN_ACK,
    OP_ACK,
    OP_SERVER_ACK,
    OP_CLIENT_HELLO,
    OP_CLIENT_TEXT,
    OP_SERVER_TEXT,
    OP_SERVER_DATA, /* arg: segment index; length: payload bytes */
    OP_CLIENT_FIN,
    OP_SERVER_FIN,
    OP_SERVER_RST,
    OP_ICMP,
    OP_DNS_QUERY,
    OP_DNS_ANSWER,
    OP_CLIENT_BYTES, /* length: payload bytes of a small TCP segment */
    OP_SERVER_BYTES,
    OP_UDP_CLIENT, /* length: payload bytes of a UDP datagram (QUIC) */
    OP_UDP_SERVER,
};

enum text {
    TEXT_HTTP_GET,
    TEXT_MTA_BANNER,
    TEXT_MSA_BANNER,
    TEXT_EHLO,
    TEXT_MTA_EHLO_REPLY,
    TEXT_MSA_EHLO_REPLY,
    TEXT_MAIL_FROM,
    TEXT_RCPT_TO,
    TEXT_OK,
    TEXT_DATA,
    TEXT_GO_AHEAD,
    TEXT_BODY,
    TEXT_QUEUED,
    TEXT_QUIT,
    TEXT_BYE,
};

static const char *const texts[] = {
    [TEXT_HTTP_GET] = "GET /assets/app.js HTTP/1.1\r\nHost: www.site.example\r\n"
                      "User-Agent: Mozilla/5.0\r\nAccept: */*\r\n\r\n",
    [TEXT_MTA_BANNER] = "220 mx.mail.example ESMTP\r\n",
    [TEXT_MSA_BANNER] = "220 msa.isp.example ESMTP ready\r\n",
    [TEXT_EHLO] = "EHLO home-pc\r\n",
    [TEXT_MTA_EHLO_REPLY] = "250-mx.mail.example\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n"
                            "250 8BITMIME\r\n",
    [TEXT_MSA_EHLO_REPLY] = "250-msa.isp.example\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n",
    [TEXT_MAIL_FROM] = "MAIL FROM:<offers@cheap-pills.example>\r\n",
    [TEXT_RCPT_TO] = "RCPT TO:<someone@mail.example>\r\n",
    [TEXT_OK] = "250 2.1.0 Ok\r\n",
    [TEXT_DATA] = "DATA\r\n",
    [TEXT_GO_AHEAD] = "354 End data with <CR><LF>.<CR><LF>\r\n",
    [TEXT_BODY] = "Subject: special offer\r\n\r\nBuy now.\r\n.\r\n",
    [TEXT_QUEUED] = "250 2.0.0 Ok: queued as 7C1D2\r\n",
    [TEXT_QUIT] = "QUIT\r\n",
    [TEXT_BYE] = "221 2.0.0 Bye\r\n",
};

enum attempt_kind {
    ATTEMPT_NONE = 0,
    ATTEMPT_SILENT,  /* dropped by the ACL: the SYN and its retransmissions, nothing back */
    ATTEMPT_ICMP,    /* the ACL answers ICMP administratively prohibited */
    ATTEMPT_RESET,   /* the ACL answers with a reset */
    ATTEMPT_TO_MSA,  /* to the ISP's designated MSA on port 25 */
    ATTEMPT_ANSWERED /* an outside MTA answers: a leak (or would_block from a planned pool) */
};

struct step {
    int64_t ts;
    uint8_t op;
    uint8_t arg;
    uint16_t length;
};

struct conversation {
    struct gen_conn conn; /* TCP */
    struct gen_link link;
    struct gen_addr client; /* UDP */
    struct gen_addr server;
    uint16_t client_port;
    uint16_t dns_id;
    uint16_t dns_type;
    uint16_t server_port;
    uint32_t site;
    uint32_t content_length; /* HTTP body bytes */
    enum pool_id pool;
    enum attempt_kind attempt;
    bool syn_written;
    bool answered;
    bool block_written; /* an ICMP error or a reset from the ACL */
    uint8_t step_count;
    uint8_t next_step;
    struct step steps[MAX_STEPS];
};

static void add_step(struct conversation *c, int64_t ts, enum op op, unsigned arg, size_t length)
{
    if (c->step_count == MAX_STEPS) {
        fprintf(stderr, "gen_bench: conversation script too long\n");
        abort();
    }
    /* Steps of one conversation are in time order, whatever delays were drawn. */
    if (c->step_count > 0 && ts < c->steps[c->step_count - 1].ts)
        ts = c->steps[c->step_count - 1].ts;
    c->steps[c->step_count++] = (struct step){ts, (uint8_t)op, (uint8_t)arg, (uint16_t)length};
}

static uint16_t ephemeral_port(void)
{
    return (uint16_t)random_between(32768, 60999); /* Linux ip_local_port_range */
}

static void tcp_open(struct conversation *c, const char *client, uint16_t client_port,
                     const char *server, uint16_t server_port)
{
    uint32_t client_isn = (uint32_t)random_next();
    uint32_t server_isn = (uint32_t)random_next();
    gen_conn_init(&c->conn, NULL, LINKTYPE_ETHERNET, &c->link, client, client_port, server,
                  server_port, client_isn, server_isn);
    c->server_port = server_port;
}

/* Closing both ways (RFC 9293 section 3.6): FIN, FIN, last ACK. */
static void plan_close(struct conversation *c, int64_t t, int64_t rtt, bool client_first)
{
    if (client_first) {
        add_step(c, t, OP_CLIENT_FIN, 0, 0);
        add_step(c, t + rtt, OP_SERVER_FIN, 0, 0);
        add_step(c, t + rtt + 40, OP_ACK, 0, 0);
    } else {
        add_step(c, t, OP_SERVER_FIN, 0, 0);
        add_step(c, t + 40, OP_CLIENT_FIN, 0, 0);
        add_step(c, t + rtt, OP_SERVER_ACK, 0, 0);
    }
}

/* A web download: handshake, request, a response of MSS segments with an ACK every second
 * segment (RFC 9293 section 3.8.6.3), then FINs. Outbound from a subscriber, or inbound
 * to a business line's server. */
static void plan_web(struct conversation *c, int64_t t)
{
    bool inbound = random_percent(5);
    c->pool = inbound ? POOL_BUSINESS : pick_pool(false);
    bool ipv6 = random_percent(pools[c->pool].v6_percent);
    char subscriber[64], internet[64];
    subscriber_address(subscriber, sizeof(subscriber), c->pool, random_below(400000), ipv6);
    c->site = random_below(random_below(5000) + 1); /* a few popular sites, a long tail */
    server_address(internet, sizeof(internet), c->site, ipv6);
    c->link = vlan_link(pools[c->pool].vlan);
    uint16_t port = random_percent(80) ? 443 : 80;
    if (inbound)
        tcp_open(c, internet, ephemeral_port(), subscriber, port);
    else
        tcp_open(c, subscriber, ephemeral_port(), internet, port);

    int64_t rtt = random_between(5 * MS, 80 * MS);
    int64_t near = random_between(100, 400); /* the subscriber side of the mirror */
    add_step(c, t, OP_SYN, 0, 0);
    t += rtt;
    add_step(c, t, OP_SYN_ACK, 0, 0);
    t += near;
    add_step(c, t, OP_ACK, 0, 0);
    add_step(c, t + 20, port == 443 ? OP_CLIENT_HELLO : OP_CLIENT_TEXT, TEXT_HTTP_GET, 0);
    t += rtt;
    uint32_t segments = 1 + random_below(random_below(MAX_SEGMENTS) + 1);
    uint32_t last = (uint32_t)random_between(200, MSS);
    uint32_t total = (segments - 1) * MSS + last;
    if (port == 80) {
        /* The header's length depends on the digits of Content-Length: size the body so
         * header and body together fill the segments planned. */
        char header[160];
        c->content_length = total;
        for (int i = 0; i < 3; i++) {
            int length = snprintf(header, sizeof(header),
                                  "HTTP/1.1 200 OK\r\nContent-Type: application/javascript\r\n"
                                  "Content-Length: %u\r\n\r\n",
                                  c->content_length);
            c->content_length = total - (uint32_t)length;
        }
    }
    for (uint32_t s = 0; s < segments; s++) {
        add_step(c, t, OP_SERVER_DATA, s, s + 1 == segments ? last : MSS);
        if (s % 2 == 1 || s + 1 == segments)
            add_step(c, t + near, OP_ACK, 0, 0);
        t += random_between(120, 300);
    }
    plan_close(c, t + random_between(1 * MS, 20 * MS), rtt, random_percent(70));
}

static void plan_dns(struct conversation *c, int64_t t)
{
    c->pool = pick_pool(false);
    bool ipv6 = random_percent(pools[c->pool].v6_percent);
    int family = ipv6 ? 1 : 0;
    char subscriber[64];
    subscriber_address(subscriber, sizeof(subscriber), c->pool, random_below(400000), ipv6);
    bool outside = random_percent(15);
    c->client = gen_addr(subscriber);
    c->server = gen_addr(outside ? outside_resolver[family] : isp_resolver[family]);
    c->client_port = ephemeral_port();
    c->server_port = 53;
    c->dns_id = (uint16_t)random_next();
    unsigned pick = random_below(100);
    c->dns_type = pick < 55 ? DNS_A : pick < 85 ? DNS_AAAA : pick < 88 ? DNS_MX : DNS_HTTPS;
    c->site = random_below(20000);
    c->link = vlan_link(pools[c->pool].vlan);
    add_step(c, t, OP_DNS_QUERY, 0, 0);
    add_step(c, t + (outside ? random_between(8 * MS, 40 * MS) : random_between(300, 2 * MS)),
             OP_DNS_ANSWER, 0, 0);
}

/* An SMTP dialogue after the handshake: to the MSA a greeting and goodbye, to an outside
 * MTA one message (RFC 5321 section 3.3). */
static int64_t plan_smtp(struct conversation *c, int64_t t, int64_t rtt, bool to_msa)
{
    int64_t near = 200;
    add_step(c, t, OP_SERVER_TEXT, to_msa ? TEXT_MSA_BANNER : TEXT_MTA_BANNER, 0);
    t += near;
    add_step(c, t, OP_CLIENT_TEXT, TEXT_EHLO, 0);
    t += rtt;
    add_step(c, t, OP_SERVER_TEXT, to_msa ? TEXT_MSA_EHLO_REPLY : TEXT_MTA_EHLO_REPLY, 0);
    if (!to_msa) {
        static const enum text exchange[][2] = {{TEXT_MAIL_FROM, TEXT_OK},
                                                {TEXT_RCPT_TO, TEXT_OK},
                                                {TEXT_DATA, TEXT_GO_AHEAD},
                                                {TEXT_BODY, TEXT_QUEUED}};
        for (size_t i = 0; i < sizeof(exchange) / sizeof(exchange[0]); i++) {
            t += near;
            add_step(c, t, OP_CLIENT_TEXT, exchange[i][0], 0);
            t += rtt;
            add_step(c, t, OP_SERVER_TEXT, exchange[i][1], 0);
        }
    }
    t += near;
    add_step(c, t, OP_CLIENT_TEXT, TEXT_QUIT, 0);
    t += rtt;
    add_step(c, t, OP_SERVER_TEXT, TEXT_BYE, 0);
    return t + 100;
}

/* A port-25 attempt by one of the infected subscribers; how it ends depends on the pool's
 * blocking point in bench.yaml (drop, icmp, tcp-reset, planned). SYN retransmissions
 * follow the Linux schedule: 1 s, then 2 s more (RFC 6298 section 2 and 5.5). */
static void plan_attempt(struct conversation *c, int64_t t)
{
    uint32_t bot = random_below(BOTS);
    /* The bot's pool and address follow from its number alone. */
    uint64_t h = mix64(bot + 0x25);
    unsigned pick = (unsigned)(h % 100);
    enum pool_id pool = POOL_FTTH;
    for (int p = 0; p < POOL_COUNT; p++) {
        if (pick < pools[p].bot_weight) {
            pool = (enum pool_id)p;
            break;
        }
        pick -= pools[p].bot_weight;
    }
    c->pool = pool;
    bool ipv6 = pools[pool].v6_top != 0 && (h >> 32) % 100 < 20;
    int family = ipv6 ? 1 : 0;
    char subscriber[64], server[64];
    subscriber_address(subscriber, sizeof(subscriber), pool, bot + 1000000, ipv6);
    c->link = vlan_link(pools[pool].vlan);

    unsigned roll = random_below(100);
    if (roll < 10)
        c->attempt = ATTEMPT_TO_MSA;
    else if (roll < 16)
        c->attempt = ATTEMPT_ANSWERED;
    else if (pool == POOL_DSL)
        c->attempt = ATTEMPT_ICMP;
    else if (pool == POOL_CABLE && roll < 70)
        c->attempt = ATTEMPT_RESET;
    else
        c->attempt = ATTEMPT_SILENT;
    if (c->attempt == ATTEMPT_TO_MSA)
        snprintf(server, sizeof(server), "%s", isp_msa[family]);
    else
        server_address(server, sizeof(server), 100000 + random_below(50000), ipv6);
    tcp_open(c, subscriber, ephemeral_port(), server, 25);

    int64_t rtt = random_between(10 * MS, 120 * MS);
    switch (c->attempt) {
    case ATTEMPT_SILENT:
        add_step(c, t, OP_SYN, 0, 0);
        add_step(c, t + 1 * SECOND, OP_SYN, 0, 0);
        add_step(c, t + 3 * SECOND, OP_SYN, 0, 0);
        break;
    case ATTEMPT_ICMP:
        add_step(c, t, OP_SYN, 0, 0);
        add_step(c, t + 300, OP_ICMP, 0, 0);
        add_step(c, t + 1 * SECOND, OP_SYN, 0, 0);
        add_step(c, t + 1 * SECOND + 300, OP_ICMP, 0, 0);
        break;
    case ATTEMPT_RESET:
        add_step(c, t, OP_SYN, 0, 0);
        add_step(c, t + 300, OP_SERVER_RST, 0, 0);
        break;
    case ATTEMPT_TO_MSA:
    case ATTEMPT_ANSWERED: {
        if (c->attempt == ATTEMPT_TO_MSA)
            rtt = random_between(1 * MS, 3 * MS);
        add_step(c, t, OP_SYN, 0, 0);
        if (c->attempt == ATTEMPT_ANSWERED && random_percent(30)) {
            t += 1 * SECOND; /* the first SYN was lost beyond the mirror */
            add_step(c, t, OP_SYN, 0, 0);
        }
        add_step(c, t + rtt, OP_SYN_ACK, 0, 0);
        add_step(c, t + rtt + 200, OP_ACK, 0, 0);
        t = plan_smtp(c, t + 2 * rtt + 200, rtt, c->attempt == ATTEMPT_TO_MSA);
        /* Either side may close first after QUIT (RFC 5321 section 4.1.1.10); when the
         * client does, its last ACK comes after both FINs and must not open a new attempt. */
        plan_close(c, t, rtt, random_percent(50));
        break;
    }
    case ATTEMPT_NONE:
        break;
    }
}

/* ---- the host-rich mix (gen_bench hosts): small packets, a new host pair each time ---- */

#define HOSTS_PAYLOAD_MIN 10
/* 150-byte frames at most: Ethernet and a VLAN tag (18), IPv6 (40) and TCP (20) leave 72. */
#define HOSTS_PAYLOAD_MAX 70
#define HOSTS_SUBSCRIBER_IDS (1u << 22)
#define HOSTS_SERVER_IDS (1u << 24)

static uint16_t small_payload(void)
{
    return (uint16_t)random_between(HOSTS_PAYLOAD_MIN, HOSTS_PAYLOAD_MAX);
}

/* Who talks: any subscriber of a pool (weighted by traffic) and any server, so nearly every
 * conversation is a host pair not seen before. */
static bool hosts_pair(struct conversation *c, char *subscriber, char *server, size_t size)
{
    c->pool = pick_pool(false);
    bool ipv6 = random_percent(pools[c->pool].v6_percent);
    subscriber_address(subscriber, size, c->pool, random_below(HOSTS_SUBSCRIBER_IDS), ipv6);
    server_address(server, size, random_below(HOSTS_SERVER_IDS), ipv6);
    c->link = vlan_link(pools[c->pool].vlan);
    return ipv6;
}

/* A short TCP exchange on 443 or 80: a handshake (or, one time in three, a connection the
 * capture joins midway), one to three small requests each answered by one to three small
 * segments and an ACK, then FINs most of the time. */
static void plan_hosts_tcp(struct conversation *c, int64_t t)
{
    char subscriber[64], server[64];
    hosts_pair(c, subscriber, server, sizeof(subscriber));
    tcp_open(c, subscriber, ephemeral_port(), server, random_percent(75) ? 443 : 80);
    int64_t rtt = random_between(5 * MS, 80 * MS);
    int64_t near = random_between(100, 400);
    if (!random_percent(33)) {
        add_step(c, t, OP_SYN, 0, 0);
        t += rtt;
        add_step(c, t, OP_SYN_ACK, 0, 0);
        t += near;
        add_step(c, t, OP_ACK, 0, 0);
    }
    unsigned requests = 1 + random_below(3);
    for (unsigned r = 0; r < requests; r++) {
        add_step(c, t + 20, OP_CLIENT_BYTES, 0, small_payload());
        t += rtt;
        unsigned answers = 1 + random_below(3);
        for (unsigned a = 0; a < answers; a++) {
            add_step(c, t, OP_SERVER_BYTES, 0, small_payload());
            t += random_between(50, 300);
        }
        add_step(c, t + near, OP_ACK, 0, 0);
        t += random_between(1 * MS, 30 * MS);
    }
    if (random_percent(70))
        plan_close(c, t, rtt, random_percent(60));
}

/* QUIC on UDP 443: two to eight datagrams, alternating from the client. */
static void plan_hosts_quic(struct conversation *c, int64_t t)
{
    char subscriber[64], server[64];
    hosts_pair(c, subscriber, server, sizeof(subscriber));
    c->client = gen_addr(subscriber);
    c->server = gen_addr(server);
    c->client_port = ephemeral_port();
    c->server_port = 443;
    int64_t rtt = random_between(5 * MS, 80 * MS);
    unsigned datagrams = 2 + random_below(7);
    for (unsigned d = 0; d < datagrams; d++) {
        add_step(c, t, d % 2 == 0 ? OP_UDP_CLIENT : OP_UDP_SERVER, 0, small_payload());
        t += d % 2 == 0 ? rtt : random_between(100, 2 * MS);
    }
}

/* A DNS query and its answer, to the ISP's resolver or an outside one (as plan_dns, with
 * any subscriber and short names, so the answer fits 150 bytes). */
static void plan_hosts_dns(struct conversation *c, int64_t t)
{
    char subscriber[64], server[64];
    bool ipv6 = hosts_pair(c, subscriber, server, sizeof(subscriber));
    bool outside = random_percent(15);
    c->client = gen_addr(subscriber);
    c->server = gen_addr(outside ? outside_resolver[ipv6 ? 1 : 0] : isp_resolver[ipv6 ? 1 : 0]);
    c->client_port = ephemeral_port();
    c->server_port = 53;
    c->dns_id = (uint16_t)random_next();
    unsigned pick = random_below(100);
    c->dns_type = pick < 55 ? DNS_A : pick < 85 ? DNS_AAAA : pick < 88 ? DNS_MX : DNS_HTTPS;
    c->site = random_below(HOSTS_SERVER_IDS);
    add_step(c, t, OP_DNS_QUERY, 0, 0);
    add_step(c, t + (outside ? random_between(8 * MS, 40 * MS) : random_between(300, 2 * MS)),
             OP_DNS_ANSWER, 0, 0);
}

static void plan_hosts_ordinary(struct conversation *c, int64_t t)
{
    unsigned pick = random_below(100);
    if (pick < 45)
        plan_hosts_tcp(c, t);
    else if (pick < 70)
        plan_hosts_quic(c, t);
    else
        plan_hosts_dns(c, t);
}

/* A port-25 SYN from the infected /20 (10.64.0.0/20, FTTH, whose ACL drops it), resent
 * 1 s and 3 s later with the same ISN: blocked (no_reply) once timeouts.syn passes. */
static void plan_hosts_attempt(struct conversation *c, int64_t t)
{
    char subscriber[64], server[64];
    c->pool = POOL_FTTH;
    c->attempt = ATTEMPT_SILENT;
    format_v4(subscriber, sizeof(subscriber), pools[POOL_FTTH].v4_base + 1 + random_below(4094));
    server_address(server, sizeof(server), random_below(HOSTS_SERVER_IDS), false);
    c->link = vlan_link(VLAN_ACCESS);
    tcp_open(c, subscriber, ephemeral_port(), server, 25);
    add_step(c, t, OP_SYN, 0, 0);
    add_step(c, t + 1 * SECOND, OP_SYN, 0, 0);
    add_step(c, t + 3 * SECOND, OP_SYN, 0, 0);
}

/* Counts the steps due before `end`, all of them and the SYNs of attempts. */
static void count_steps(const struct conversation *c, int64_t end, uint64_t *steps, uint64_t *syns)
{
    for (unsigned i = 0; i < c->step_count && c->steps[i].ts < end; i++) {
        (*steps)++;
        if (c->attempt != ATTEMPT_NONE && c->steps[i].op == OP_SYN)
            (*syns)++;
    }
}

/* ---- writing ---- */

static struct pcapgen *out;

static void note_packet(int64_t ts, bool ipv6, bool port25)
{
    if (summary.first_us == 0)
        summary.first_us = ts;
    summary.last_us = ts;
    summary.ipv6_packets += ipv6;
    summary.port25_packets += port25;
}

static void write_udp(struct conversation *c, int64_t ts, bool from_client)
{
    uint8_t payload[512], packet[600];
    char name[64];
    snprintf(name, sizeof(name), c->dns_type == DNS_MX ? "site%u.example" : "www.site%u.example",
             c->site);
    size_t length = dns_message(payload, c->dns_id, name, c->dns_type, !from_client);
    size_t size = from_client ? gen_build_udp(packet, &c->client, &c->server, c->client_port, 53,
                                              64, (uint16_t)random_next(), payload, length)
                              : gen_build_udp(packet, &c->server, &c->client, 53, c->client_port,
                                              60, (uint16_t)random_next(), payload, length);
    gen_write_ip(out, LINKTYPE_ETHERNET, &c->link, from_client, ts, packet, size);
    summary.dns_packets++;
    note_packet(ts, c->client.family == 6, false);
}

/* A QUIC-like datagram (RFC 9000 section 17.3: a short header, then what looks random). */
static void write_quic(struct conversation *c, int64_t ts, bool from_client, size_t length)
{
    uint8_t payload[MSS], packet[MSS + 128];
    memcpy(payload, filler + (c->client_port & 0xff), length);
    payload[0] = 0x40 | (payload[0] & 0x3f);
    size_t size = from_client ? gen_build_udp(packet, &c->client, &c->server, c->client_port, 443,
                                              64, (uint16_t)random_next(), payload, length)
                              : gen_build_udp(packet, &c->server, &c->client, 443, c->client_port,
                                              60, (uint16_t)random_next(), payload, length);
    gen_write_ip(out, LINKTYPE_ETHERNET, &c->link, from_client, ts, packet, size);
    note_packet(ts, c->client.family == 6, false);
}

static void write_server_data(struct conversation *c, int64_t ts, const struct step *step)
{
    uint8_t payload[MSS];
    size_t length = step->length;
    memcpy(payload, filler, length);
    if (c->server_port == 443) {
        /* Each segment one TLS application_data record (RFC 8446 section 5.1). */
        payload[0] = 0x17;
        payload[1] = 3;
        payload[2] = 3;
        put16(payload + 3, length - 5);
    } else if (step->arg == 0) {
        char header[160];
        int header_length = snprintf(header, sizeof(header),
                                     "HTTP/1.1 200 OK\r\nContent-Type: application/javascript\r\n"
                                     "Content-Length: %u\r\n\r\n",
                                     c->content_length);
        memcpy(payload, header, (size_t)header_length);
    }
    gen_conn_server_send(&c->conn, ts, payload, length);
}

static void run_step(struct conversation *c, const struct step *step)
{
    int64_t ts = step->ts;
    struct gen_conn *conn = &c->conn;
    conn->out = out;
    switch ((enum op)step->op) {
    case OP_DNS_QUERY:
    case OP_DNS_ANSWER:
        write_udp(c, ts, step->op == OP_DNS_QUERY);
        return;
    case OP_UDP_CLIENT:
    case OP_UDP_SERVER:
        write_quic(c, ts, step->op == OP_UDP_CLIENT, step->length);
        return;
    case OP_CLIENT_BYTES:
        gen_conn_client_send(conn, ts, filler + (step->length & 0xff), step->length);
        break;
    case OP_SERVER_BYTES:
        gen_conn_server_send(conn, ts, filler + (step->length & 0x1ff), step->length);
        break;
    case OP_SYN:
        gen_conn_syn(conn, ts);
        if (c->attempt != ATTEMPT_NONE) {
            summary.port25_syn_packets++;
            if (!c->syn_written)
                summary.attempts++;
            c->syn_written = true;
        }
        break;
    case OP_SYN_ACK:
        gen_conn_syn_ack(conn, ts);
        c->answered = true;
        break;
    case OP_ACK:
        gen_conn_ack(conn, ts);
        break;
    case OP_SERVER_ACK:
        gen_conn_server_ack_only(conn, ts);
        break;
    case OP_CLIENT_HELLO: {
        uint8_t hello[256];
        char name[64];
        snprintf(name, sizeof(name), "www.site%u.example", c->site);
        gen_conn_client_send(conn, ts, hello, tls_client_hello(hello, name, conn->client_isn));
        break;
    }
    case OP_CLIENT_TEXT:
        gen_conn_client_text(conn, ts, texts[step->arg]);
        break;
    case OP_SERVER_TEXT:
        gen_conn_server_text(conn, ts, texts[step->arg]);
        break;
    case OP_SERVER_DATA:
        write_server_data(c, ts, step);
        break;
    case OP_CLIENT_FIN:
        gen_conn_client_fin(conn, ts);
        break;
    case OP_SERVER_FIN:
        gen_conn_server_fin(conn, ts);
        break;
    case OP_SERVER_RST:
        gen_conn_server_rst(conn, ts);
        c->block_written = true;
        break;
    case OP_ICMP: {
        bool ipv6 = conn->client.family == 6;
        /* 3/13 (RFC 1812 section 5.2.7.1); ICMPv6 1/1 (RFC 4443 section 3.1). */
        gen_conn_icmp_error(conn, ts, isp_router[ipv6 ? 1 : 0], ipv6 ? 1 : 3, ipv6 ? 1 : 13);
        c->block_written = true;
        summary.icmp_packets++;
        note_packet(ts, ipv6, false);
        return;
    }
    }
    if (c->attempt == ATTEMPT_NONE)
        summary.web_packets++;
    note_packet(ts, conn->client.family == 6, c->server_port == 25);
}

/* What the verdict rules (docs/concepts.md) make of what was written of an attempt. */
static void account_attempt(const struct conversation *c)
{
    if (c->attempt == ATTEMPT_NONE || !c->syn_written)
        return;
    if (c->attempt == ATTEMPT_TO_MSA)
        summary.allowed++;
    else if (c->pool == POOL_LTE)
        summary.would_block++; /* its blocking point is planned */
    else if (c->answered)
        summary.leaked++;
    else if (c->block_written)
        summary.blocked++;
    else
        summary.silent++;
}

/* ---- the mix: conversations started at ~1 Mpps of packet time, run from a heap ---- */

struct pending {
    int64_t ts;
    uint64_t order; /* ties break by scheduling order, so the output is deterministic */
    uint32_t conversation;
};

struct scheduler {
    struct pending *heap;
    size_t count;
    size_t capacity;
    uint64_t order;
    struct conversation **conversations;
    uint32_t *free_slots;
    size_t free_count;
    size_t slot_count;
};

static bool before(const struct pending *a, const struct pending *b)
{
    return a->ts != b->ts ? a->ts < b->ts : a->order < b->order;
}

static void *grow(void *array, size_t *capacity, size_t element)
{
    *capacity = *capacity ? *capacity * 2 : 1024;
    void *bigger = realloc(array, *capacity * element);
    if (bigger == NULL) {
        fprintf(stderr, "gen_bench: out of memory\n");
        exit(1);
    }
    return bigger;
}

static void heap_push(struct scheduler *s, int64_t ts, uint32_t conversation)
{
    if (s->count == s->capacity)
        s->heap = grow(s->heap, &s->capacity, sizeof(*s->heap));
    size_t i = s->count++;
    struct pending item = {ts, s->order++, conversation};
    while (i > 0 && before(&item, &s->heap[(i - 1) / 2])) {
        s->heap[i] = s->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->heap[i] = item;
}

static struct pending heap_pop(struct scheduler *s)
{
    struct pending top = s->heap[0];
    struct pending last = s->heap[--s->count];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= s->count)
            break;
        if (child + 1 < s->count && before(&s->heap[child + 1], &s->heap[child]))
            child++;
        if (!before(&s->heap[child], &last))
            break;
        s->heap[i] = s->heap[child];
        i = child;
    }
    if (s->count > 0)
        s->heap[i] = last;
    return top;
}

static uint32_t conversation_new(struct scheduler *s)
{
    static size_t slot_capacity, free_capacity;
    uint32_t slot;
    if (s->free_count > 0) {
        slot = s->free_slots[--s->free_count];
    } else {
        if (s->slot_count == slot_capacity)
            s->conversations = grow(s->conversations, &slot_capacity, sizeof(*s->conversations));
        if (s->slot_count == free_capacity)
            s->free_slots = grow(s->free_slots, &free_capacity, sizeof(*s->free_slots));
        slot = (uint32_t)s->slot_count++;
        s->conversations[slot] = malloc(sizeof(struct conversation));
        if (s->conversations[slot] == NULL) {
            fprintf(stderr, "gen_bench: out of memory\n");
            exit(1);
        }
    }
    memset(s->conversations[slot], 0, sizeof(struct conversation));
    return slot;
}

/* What a mix is made of: its port-25 attempts (1% of the packets) and everything else. */
struct mix_recipe {
    void (*attempt)(struct conversation *c, int64_t t);
    void (*ordinary)(struct conversation *c, int64_t t);
};

static void plan_isp_ordinary(struct conversation *c, int64_t t)
{
    if (random_percent(55))
        plan_web(c, t);
    else
        plan_dns(c, t);
}

static const struct mix_recipe isp_mix = {plan_attempt, plan_isp_ordinary};
static const struct mix_recipe hosts_mix = {plan_hosts_attempt, plan_hosts_ordinary};

static void write_mix(uint64_t packets, const struct mix_recipe *recipe)
{
    struct scheduler s = {0};
    uint64_t planned_packets = 0, planned_syns = 0;
    int64_t next_start = BASE_US;
    uint64_t written = 0;
    while (written < packets) {
        /* Start conversations up to the time of the next packet due. The next one is a
         * port-25 attempt whenever SYNs to port 25 fall below 1% of the packets planned
         * within the capture. */
        while (s.count == 0 || next_start <= s.heap[0].ts) {
            uint32_t slot = conversation_new(&s);
            struct conversation *c = s.conversations[slot];
            if (planned_syns * 100 < planned_packets)
                recipe->attempt(c, next_start);
            else
                recipe->ordinary(c, next_start);
            /* Where the capture will end at 1 Mpps from here: retransmissions planned
             * past it are never written, so they do not count towards the 1% share. */
            int64_t end = next_start + (int64_t)(packets - written);
            count_steps(c, end, &planned_packets, &planned_syns);
            heap_push(&s, c->steps[0].ts, slot);
            /* One microsecond of packet time per packet planned: ~1 Mpps on average. */
            next_start += (int64_t)random_between(c->step_count / 2, c->step_count * 3 / 2);
        }
        struct pending due = heap_pop(&s);
        struct conversation *c = s.conversations[due.conversation];
        run_step(c, &c->steps[c->next_step++]);
        written++;
        if (c->next_step < c->step_count) {
            heap_push(&s, c->steps[c->next_step].ts, due.conversation);
        } else {
            account_attempt(c);
            s.free_slots[s.free_count++] = due.conversation;
        }
    }
    /* The capture ends here; conversations still running are cut as a capture would cut
     * them, and judged by what was written of them. */
    for (size_t i = 0; i < s.count; i++)
        account_attempt(s.conversations[s.heap[i].conversation]);
    for (size_t i = 0; i < s.slot_count; i++)
        free(s.conversations[i]);
    free(s.conversations);
    free(s.free_slots);
    free(s.heap);
}

/* ---- the SYN flood ---- */

#define FLOOD_BITS 35 /* 2^20 addresses (a /12, or /64s of a /40) x 2^15 source ports */
#define FLOOD_MASK ((1ULL << FLOOD_BITS) - 1)

/* A bijection on [0, 2^35): multiplying by an odd number and xor-shifting right are both
 * invertible modulo 2^35, so distinct packet numbers give distinct (address, port) pairs
 * that still look random. */
static uint64_t flood_permute(uint64_t i)
{
    uint64_t x = (i + 0x2b7e1516ULL) & FLOOD_MASK;
    x = (x * 0x9e3779b97f4a7c15ULL) & FLOOD_MASK;
    x ^= x >> 17;
    x = (x * 0xbf58476d1ce4e5b9ULL) & FLOOD_MASK;
    x ^= x >> 13;
    return x;
}

/* Traffic towards the ISP on the access VLAN: a resolver outside answering a subscriber. */
static void write_return_traffic(int64_t ts)
{
    struct gen_link link = vlan_link(VLAN_ACCESS);
    struct gen_addr from = gen_addr(outside_resolver[0]), to = gen_addr("10.64.0.1");
    uint8_t payload[128], packet[256];
    size_t length = dns_message(payload, 0x2525, "mx.example", DNS_A, true);
    size_t size = gen_build_udp(packet, &from, &to, 53, 40000, 60, 1, payload, length);
    gen_write_ip(out, LINKTYPE_ETHERNET, &link, false, ts, packet, size);
    summary.dns_packets++;
    note_packet(ts, false, false);
}

#define OUTBREAK_V4 4096
#define OUTBREAK_V6 512
#define OUTBREAK_PORTS 28000

/* The outbreak's i-th SYN: subscriber i modulo 4,608, a source port of its own for each of
 * its SYNs (unique while N stays under 4,608 x 28,000). */
static void outbreak_source(uint64_t i, uint32_t *host, uint16_t *port, bool *ipv6)
{
    uint32_t subscriber = (uint32_t)(i % (OUTBREAK_V4 + OUTBREAK_V6));
    *ipv6 = subscriber >= OUTBREAK_V4;
    *host = *ipv6 ? 0x100 + subscriber - OUTBREAK_V4 : subscriber + 1;
    *port = (uint16_t)(32768 + (i / (OUTBREAK_V4 + OUTBREAK_V6)) % OUTBREAK_PORTS);
}

static void write_synflood(uint64_t packets, bool blocked)
{
    if (packets > FLOOD_MASK ||
        (blocked && packets > (uint64_t)(OUTBREAK_V4 + OUTBREAK_V6) * OUTBREAK_PORTS)) {
        fprintf(stderr, "gen_bench: too many SYNs\n");
        exit(2);
    }
    struct gen_link link = vlan_link(VLAN_ACCESS);
    if (blocked)
        write_return_traffic(BASE_US - 1);
    for (uint64_t i = 0; i < packets; i++) {
        uint64_t tuple = flood_permute(i);
        uint32_t host = (uint32_t)(tuple >> 15);
        uint16_t port = (uint16_t)(32768 + (tuple & 0x7fff));
        bool ipv6 = i % 8 == 7; /* one SYN in eight from the pool's IPv6 /40 */
        char client[64], server[64];
        if (blocked)
            outbreak_source(i, &host, &port, &ipv6);
        if (ipv6)
            snprintf(client, sizeof(client), "2001:db8:%x:%x::%x",
                     pools[POOL_FTTH].v6_top | (host >> 16), host & 0xffff,
                     (unsigned)(mix64(i) & 0xfff) + 1);
        else
            format_v4(client, sizeof(client), pools[POOL_FTTH].v4_base + host);
        server_address(server, sizeof(server), random_below(1u << 20), ipv6);
        struct gen_addr from = gen_addr(client), to = gen_addr(server);
        uint8_t packet[128];
        size_t size = gen_build_tcp(packet, &from, &to, port, 25, (uint32_t)random_next(), 0,
                                    GEN_SYN, 128, (uint16_t)i, NULL, 0);
        int64_t ts = BASE_US + (int64_t)i; /* 1 Mpps */
        gen_write_ip(out, LINKTYPE_ETHERNET, &link, true, ts, packet, size);
        summary.attempts++;
        summary.port25_syn_packets++;
        if (blocked)
            summary.blocked++;
        else
            summary.silent++;
        note_packet(ts, ipv6, true);
    }
    if (blocked)
        write_return_traffic(BASE_US + (int64_t)packets + 31 * SECOND);
}

static void write_spoofed(uint64_t packets)
{
    struct gen_link link = vlan_link(VLAN_ACCESS);
    for (uint64_t i = 0; i < packets; i++) {
        uint64_t h = mix64(i + 0x5b00f);
        bool ipv6 = i % 8 == 7;
        char spoofed[64], server[64];
        if (ipv6)
            snprintf(spoofed, sizeof(spoofed), "2001:db8:f%03x::%x", (unsigned)(h >> 52),
                     (unsigned)(h & 0xfff) + 1);
        else
            snprintf(spoofed, sizeof(spoofed), "%s.%u", h & 1 ? "192.0.2" : "203.0.113",
                     (unsigned)((h >> 8) % 254) + 1);
        server_address(server, sizeof(server), random_below(1u << 20), ipv6);
        struct gen_addr from = gen_addr(spoofed), to = gen_addr(server);
        uint8_t packet[128];
        size_t size = gen_build_tcp(packet, &from, &to, (uint16_t)(32768 + (h >> 17) % 32768), 25,
                                    (uint32_t)random_next(), 0, GEN_SYN, 128, (uint16_t)i, NULL, 0);
        int64_t ts = BASE_US + (int64_t)i;
        gen_write_ip(out, LINKTYPE_ETHERNET, &link, true, ts, packet, size);
        summary.port25_syn_packets++;
        note_packet(ts, ipv6, true);
    }
}

static void print_summary(const char *kind)
{
    printf("{\"capture\":\"%s\",\"packets\":%llu,\"first_us\":%lld,"
           "\"last_us\":%lld,\"ipv6_packets\":%llu,\"web_packets\":%llu,\"dns_packets\":%llu,"
           "\"icmp_packets\":%llu,\"port25_packets\":%llu,\"port25_syn_packets\":%llu,"
           "\"attempts\":%llu,\"expect\":{\"allowed\":%llu,\"leaked\":%llu,"
           "\"would_block\":%llu,\"blocked\":%llu,\"silent\":%llu}}\n",
           kind, (unsigned long long)pcapgen_packets(out), (long long)summary.first_us,
           (long long)summary.last_us, (unsigned long long)summary.ipv6_packets,
           (unsigned long long)summary.web_packets, (unsigned long long)summary.dns_packets,
           (unsigned long long)summary.icmp_packets, (unsigned long long)summary.port25_packets,
           (unsigned long long)summary.port25_syn_packets, (unsigned long long)summary.attempts,
           (unsigned long long)summary.allowed, (unsigned long long)summary.leaked,
           (unsigned long long)summary.would_block, (unsigned long long)summary.blocked,
           (unsigned long long)summary.silent);
}

int main(int argc, char **argv)
{
    static const char *const kinds[] = {"mix", "hosts", "synflood", "synflood-blocked", "spoofed"};
    bool known = false;
    for (size_t i = 0; argc == 4 && i < sizeof(kinds) / sizeof(kinds[0]); i++)
        known = known || strcmp(argv[1], kinds[i]) == 0;
    if (!known) {
        fprintf(stderr,
                "usage: gen_bench mix|hosts|synflood|synflood-blocked|spoofed PACKETS OUT.pcap\n");
        return 2;
    }
    char *end;
    unsigned long long packets = strtoull(argv[2], &end, 10);
    if (*end != '\0' || packets == 0 || argv[2][0] == '-') {
        fprintf(stderr, "gen_bench: PACKETS must be a positive number\n");
        return 2;
    }
    out = pcapgen_open(argv[3], LINKTYPE_ETHERNET);
    if (out == NULL) {
        perror(argv[3]);
        return 1;
    }
    filler_init();
    if (strcmp(argv[1], "mix") == 0)
        write_mix(packets, &isp_mix);
    else if (strcmp(argv[1], "hosts") == 0)
        write_mix(packets, &hosts_mix);
    else if (strncmp(argv[1], "synflood", 8) == 0)
        write_synflood(packets, strcmp(argv[1], "synflood-blocked") == 0);
    else
        write_spoofed(packets);
    print_summary(argv[1]);
    if (pcapgen_close(out) != 0) {
        perror(argv[3]);
        return 1;
    }
    return 0;
}

#include "pcapgen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SNAPLEN 262144
#define MSS 1448
#define FRAME_MAX 4096

struct held_frame {
    int64_t ts_us;
    uint64_t order; /* keeps equal timestamps in the order they were written */
    size_t length;
    uint8_t *bytes;
};

struct pcapgen {
    FILE *file;
    uint32_t snaplen;
    uint64_t packets;
    int failed;
    bool sorted;
    struct held_frame *held;
    size_t held_count;
    size_t held_capacity;
};

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* pcap headers are in the writer's byte order; little-endian is what tcpdump writes on
 * every machine we run on, and fixing it keeps the files identical across hosts. */
static void put32le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static struct pcapgen *open_with(const char *path, int linktype, uint32_t snaplen)
{
    FILE *file = strcmp(path, "-") == 0 ? stdout : fopen(path, "wb");
    if (file == NULL)
        return NULL;
    struct pcapgen *out = calloc(1, sizeof(*out));
    if (out == NULL) {
        fclose(file);
        errno = ENOMEM;
        return NULL;
    }
    out->file = file;
    out->snaplen = snaplen;
    setvbuf(file, NULL, _IOFBF, 1 << 20);
    uint8_t header[24];
    put32le(header, 0xa1b2c3d4u);
    header[4] = 2; /* version 2.4, little-endian 16-bit fields */
    header[5] = 0;
    header[6] = 4;
    header[7] = 0;
    memset(header + 8, 0, 8); /* thiszone, sigfigs */
    put32le(header + 16, snaplen);
    put32le(header + 20, (uint32_t)linktype);
    if (fwrite(header, sizeof(header), 1, file) != 1)
        out->failed = 1;
    return out;
}

struct pcapgen *pcapgen_open(const char *path, int linktype)
{
    return open_with(path, linktype, SNAPLEN);
}

struct pcapgen *pcapgen_open_cut(const char *path, int linktype, uint32_t snaplen, bool sorted)
{
    struct pcapgen *out = open_with(path, linktype, snaplen);
    if (out != NULL)
        out->sorted = sorted;
    return out;
}

struct pcapgen *pcapgen_open_sorted(const char *path, int linktype)
{
    struct pcapgen *out = pcapgen_open(path, linktype);
    if (out != NULL)
        out->sorted = true;
    return out;
}

static int hold(struct pcapgen *out, int64_t ts_us, const uint8_t *frame, size_t length)
{
    if (out->held_count == out->held_capacity) {
        size_t capacity = out->held_capacity ? out->held_capacity * 2 : 256;
        struct held_frame *grown = realloc(out->held, capacity * sizeof(*grown));
        if (grown == NULL)
            abort();
        out->held = grown;
        out->held_capacity = capacity;
    }
    struct held_frame *held = &out->held[out->held_count];
    held->ts_us = ts_us;
    held->order = out->held_count++;
    held->length = length;
    held->bytes = malloc(length);
    if (held->bytes == NULL)
        abort();
    memcpy(held->bytes, frame, length);
    out->packets++;
    return 0;
}

static int compare_held(const void *a, const void *b)
{
    const struct held_frame *x = a, *y = b;
    if (x->ts_us != y->ts_us)
        return x->ts_us < y->ts_us ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int write_record(struct pcapgen *out, int64_t ts_us, const uint8_t *frame, size_t length)
{
    uint8_t record[16];
    size_t captured = length < out->snaplen ? length : out->snaplen;
    put32le(record, (uint32_t)(ts_us / 1000000));
    put32le(record + 4, (uint32_t)(ts_us % 1000000));
    put32le(record + 8, (uint32_t)captured);
    put32le(record + 12, (uint32_t)length);
    if (fwrite(record, sizeof(record), 1, out->file) != 1 ||
        fwrite(frame, 1, captured, out->file) != captured) {
        out->failed = 1;
        return -1;
    }
    return 0;
}

int pcapgen_write(struct pcapgen *out, int64_t ts_us, const uint8_t *frame, size_t length)
{
    if (out->sorted)
        return hold(out, ts_us, frame, length);
    out->packets++;
    return write_record(out, ts_us, frame, length);
}

uint64_t pcapgen_packets(const struct pcapgen *out)
{
    return out->packets;
}

int pcapgen_close(struct pcapgen *out)
{
    if (out->sorted) {
        qsort(out->held, out->held_count, sizeof(*out->held), compare_held);
        for (size_t i = 0; i < out->held_count; i++) {
            write_record(out, out->held[i].ts_us, out->held[i].bytes, out->held[i].length);
            free(out->held[i].bytes);
        }
        free(out->held);
    }
    int failed = out->failed;
    if (out->file == stdout) {
        if (fflush(stdout) != 0)
            failed = 1;
    } else if (fclose(out->file) != 0) {
        failed = 1;
    }
    free(out);
    return failed ? -1 : 0;
}

struct gen_addr gen_addr(const char *text)
{
    struct gen_addr addr;
    memset(&addr, 0, sizeof(addr));
    if (inet_pton(AF_INET, text, addr.bytes) == 1) {
        addr.family = 4;
    } else if (inet_pton(AF_INET6, text, addr.bytes) == 1) {
        addr.family = 6;
    } else {
        fprintf(stderr, "pcapgen: not an address: %s\n", text);
        abort();
    }
    return addr;
}

static uint32_t sum_bytes(uint32_t sum, const uint8_t *p, size_t length)
{
    for (size_t i = 0; i + 1 < length; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (length & 1)
        sum += (uint32_t)(p[length - 1] << 8);
    return sum;
}

static uint16_t fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static uint32_t pseudo_header_sum(const struct gen_addr *src, const struct gen_addr *dst,
                                  uint8_t proto, size_t length)
{
    size_t address_length = src->family == 4 ? 4 : 16;
    uint32_t sum = sum_bytes(0, src->bytes, address_length);
    sum = sum_bytes(sum, dst->bytes, address_length);
    return sum + proto + (uint32_t)length;
}

/* Writes the IP header for an L4 payload of `l4_length` bytes; returns the header length. */
static size_t build_ip(uint8_t *buf, const struct gen_addr *src, const struct gen_addr *dst,
                       uint8_t proto, uint8_t ttl, uint16_t ip_id, size_t l4_length)
{
    if (src->family == 4) {
        buf[0] = 0x45;
        buf[1] = 0;
        put16(buf + 2, (uint16_t)(20 + l4_length));
        put16(buf + 4, ip_id);
        put16(buf + 6, 0x4000); /* DF */
        buf[8] = ttl;
        buf[9] = proto;
        put16(buf + 10, 0);
        memcpy(buf + 12, src->bytes, 4);
        memcpy(buf + 16, dst->bytes, 4);
        put16(buf + 10, fold(sum_bytes(0, buf, 20)));
        return 20;
    }
    put32(buf, 0x60000000u);
    put16(buf + 4, (uint16_t)l4_length);
    buf[6] = proto;
    buf[7] = ttl;
    memcpy(buf + 8, src->bytes, 16);
    memcpy(buf + 24, dst->bytes, 16);
    return 40;
}

static const uint8_t mss_option[4] = {2, 4, 0x05, 0xb4}; /* MSS 1460 */

static size_t build_tcp(uint8_t *buf, const struct gen_addr *src, const struct gen_addr *dst,
                        uint16_t src_port, uint16_t dst_port, uint32_t seq, uint32_t ack,
                        uint8_t flags, uint8_t ttl, uint16_t ip_id, const uint8_t *options,
                        size_t options_length, const uint8_t *payload, size_t payload_length)
{
    size_t tcp_header = 20 + options_length;
    size_t tcp_length = tcp_header + payload_length;
    size_t ip_header = build_ip(buf, src, dst, 6, ttl, ip_id, tcp_length);
    uint8_t *tcp = buf + ip_header;
    put16(tcp, src_port);
    put16(tcp + 2, dst_port);
    put32(tcp + 4, seq);
    put32(tcp + 8, (flags & GEN_ACK) ? ack : 0);
    tcp[12] = (uint8_t)((tcp_header / 4) << 4);
    tcp[13] = flags;
    put16(tcp + 14, 64240);
    put16(tcp + 16, 0);
    put16(tcp + 18, 0);
    if (options_length > 0)
        memcpy(tcp + 20, options, options_length);
    if (payload_length > 0)
        memcpy(tcp + tcp_header, payload, payload_length);
    uint32_t sum = pseudo_header_sum(src, dst, 6, tcp_length);
    put16(tcp + 16, fold(sum_bytes(sum, tcp, tcp_length)));
    return ip_header + tcp_length;
}

size_t gen_build_tcp(uint8_t *buf, const struct gen_addr *src, const struct gen_addr *dst,
                     uint16_t src_port, uint16_t dst_port, uint32_t seq, uint32_t ack,
                     uint8_t flags, uint8_t ttl, uint16_t ip_id, const uint8_t *payload,
                     size_t payload_length)
{
    bool syn = flags & GEN_SYN; /* SYNs carry an MSS option */
    return build_tcp(buf, src, dst, src_port, dst_port, seq, ack, flags, ttl, ip_id, mss_option,
                     syn ? sizeof(mss_option) : 0, payload, payload_length);
}

size_t gen_build_udp(uint8_t *buf, const struct gen_addr *src, const struct gen_addr *dst,
                     uint16_t src_port, uint16_t dst_port, uint8_t ttl, uint16_t ip_id,
                     const uint8_t *payload, size_t payload_length)
{
    size_t udp_length = 8 + payload_length;
    size_t ip_header = build_ip(buf, src, dst, 17, ttl, ip_id, udp_length);
    uint8_t *udp = buf + ip_header;
    put16(udp, src_port);
    put16(udp + 2, dst_port);
    put16(udp + 4, (uint16_t)udp_length);
    put16(udp + 6, 0);
    if (payload_length > 0)
        memcpy(udp + 8, payload, payload_length);
    uint16_t checksum =
        fold(sum_bytes(pseudo_header_sum(src, dst, 17, udp_length), udp, udp_length));
    put16(udp + 6, checksum == 0 ? 0xffff : checksum);
    return ip_header + udp_length;
}

static const uint8_t client_mac[6] = {0x02, 0x00, 0x5e, 0x10, 0x00, 0x01};
static const uint8_t server_mac[6] = {0x02, 0x00, 0x5e, 0x10, 0x00, 0x02};

/* VXLAN or GTP-U around the packet that ends the frame at frame[start]: the tunnel header
 * (and VXLAN's inner Ethernet header), then outer UDP and IP. Returns the new start. */
static size_t wrap_udp_tunnel(uint8_t *frame, size_t size, size_t start,
                              const struct gen_link *link, bool from_client, uint16_t ethertype,
                              uint16_t ip_id)
{
    uint16_t src_port, dst_port;
    if (link->tunnel == GEN_TUNNEL_VXLAN) {
        start -= 14;
        memcpy(frame + start, from_client ? server_mac : client_mac, 6);
        memcpy(frame + start + 6, from_client ? client_mac : server_mac, 6);
        put16(frame + start + 12, ethertype);
        start -= 8;
        put32(frame + start, 0x08000000u); /* the I flag: the VNI is valid */
        put32(frame + start + 4, link->tunnel_id << 8);
        /* A VTEP picks the source port from a hash of the inner flow, one per direction. */
        src_port = (uint16_t)(49152 + (from_client ? 1000 : 2000) + (link->tunnel_id & 0xff));
        dst_port = 4789;
    } else {
        size_t inner = size - start;
        start -= 8;
        frame[start] = 0x30;    /* version 1, protocol type GTP, no optional fields */
        frame[start + 1] = 255; /* G-PDU */
        put16(frame + start + 2, (uint16_t)inner);
        put32(frame + start + 4, link->tunnel_id + (from_client ? 0 : 1));
        src_port = dst_port = 2152;
    }
    const struct gen_addr *src = from_client ? &link->tunnel_src : &link->tunnel_dst;
    const struct gen_addr *dst = from_client ? &link->tunnel_dst : &link->tunnel_src;
    uint8_t outer[FRAME_MAX + 128];
    size_t outer_length =
        gen_build_udp(outer, src, dst, src_port, dst_port, 62, ip_id, frame + start, size - start);
    memcpy(frame + size - outer_length, outer, outer_length);
    return size - outer_length;
}

static const uint8_t router_mac[6] = {0x02, 0x00, 0x5e, 0x10, 0x00, 0xfe};

static int write_ip_once(struct pcapgen *out, int linktype, const struct gen_link *link,
                         bool from_client, int64_t ts_us, const uint8_t *ip, size_t length,
                         const uint8_t *from_mac)
{
    uint8_t frame[FRAME_MAX + 128];
    /* Built back to front: the IP packet at the end, each outer layer in front of it. */
    size_t start = sizeof(frame) - length;
    if (length > FRAME_MAX)
        abort();
    memcpy(frame + start, ip, length);
    uint16_t ethertype = (ip[0] >> 4) == 4 ? 0x0800 : 0x86dd;

    if (link->tunnel == GEN_TUNNEL_VXLAN || link->tunnel == GEN_TUNNEL_GTP) {
        start = wrap_udp_tunnel(frame, sizeof(frame), start, link, from_client, ethertype,
                                (uint16_t)(out->packets));
        ethertype = link->tunnel_src.family == 4 ? 0x0800 : 0x86dd;
    } else if (link->tunnel != GEN_TUNNEL_NONE) {
        uint8_t proto;
        if (link->tunnel == GEN_TUNNEL_GRE) {
            start -= 4;
            put16(frame + start, 0);
            put16(frame + start + 2, ethertype);
            proto = 47;
        } else {
            proto = ethertype == 0x0800 ? 4 : 41;
        }
        const struct gen_addr *src = from_client ? &link->tunnel_src : &link->tunnel_dst;
        const struct gen_addr *dst = from_client ? &link->tunnel_dst : &link->tunnel_src;
        uint8_t outer[40];
        size_t outer_length =
            build_ip(outer, src, dst, proto, 62, (uint16_t)(out->packets), sizeof(frame) - start);
        start -= outer_length;
        memcpy(frame + start, outer, outer_length);
        ethertype = src->family == 4 ? 0x0800 : 0x86dd;
    }
    if (link->pppoe) {
        size_t ppp_length = sizeof(frame) - start + 2;
        start -= 8;
        frame[start] = 0x11;  /* version 1, type 1 */
        frame[start + 1] = 0; /* session data */
        put16(frame + start + 2, link->pppoe_session);
        put16(frame + start + 4, (uint16_t)ppp_length);
        put16(frame + start + 6, ethertype == 0x0800 ? 0x0021 : 0x0057);
        ethertype = 0x8864;
    }
    for (int i = link->mpls_count - 1; i >= 0; i--) {
        start -= 4;
        bool bottom = i == link->mpls_count - 1;
        put32(frame + start, link->mpls[i] << 12 | (bottom ? 0x100u : 0) | 64);
        ethertype = 0x8847;
    }

    if (linktype == 276) { /* Linux cooked v2: no tags, no MACs of both ends */
        start -= 20;
        uint8_t *h = frame + start;
        memset(h, 0, 20);
        put16(h, ethertype);
        put32(h + 4, 3);             /* interface index */
        put16(h + 8, 1);             /* ARPHRD_ETHER */
        h[10] = from_client ? 0 : 4; /* to us from the subscriber / going out to it */
        h[11] = 6;
        memcpy(h + 12, from_client ? client_mac : server_mac, 6);
    } else if (linktype == 1) {
        for (int i = link->vlan_count - 1; i >= 0; i--) {
            start -= 4;
            put16(frame + start, link->vlan[i] & 0x0fff);
            put16(frame + start + 2, ethertype);
            ethertype = (i == 0 && link->qinq) ? 0x88a8 : 0x8100;
        }
        start -= 14;
        memcpy(frame + start, from_client ? server_mac : client_mac, 6);
        if (from_mac == NULL)
            from_mac = from_client ? client_mac : server_mac;
        memcpy(frame + start + 6, from_mac, 6);
        put16(frame + start + 12, ethertype);
    } else if (linktype != 101 && linktype != 12) { /* raw IP needs nothing in front */
        fprintf(stderr, "pcapgen: link type %d not written\n", linktype);
        abort();
    }
    return pcapgen_write(out, ts_us, frame + start, sizeof(frame) - start);
}

int gen_write_ip(struct pcapgen *out, int linktype, const struct gen_link *link, bool from_client,
                 int64_t ts_us, const uint8_t *ip, size_t length)
{
    int result = write_ip_once(out, linktype, link, from_client, ts_us, ip, length, NULL);
    if (!link->mirror_copy || result != 0)
        return result;
    /* The copy as the packet leaves the router: one hop less to live, the router's MAC,
     * the other port's VLAN. */
    uint8_t copy[FRAME_MAX];
    if (length > sizeof(copy))
        abort();
    memcpy(copy, ip, length);
    if ((copy[0] >> 4) == 4) {
        copy[8]--;
        size_t ihl = (size_t)(copy[0] & 0x0f) * 4;
        put16(copy + 10, 0);
        put16(copy + 10, fold(sum_bytes(0, copy, ihl)));
    } else {
        copy[7]--;
    }
    struct gen_link egress = *link;
    egress.mirror_copy = false;
    if (egress.vlan_count > 0)
        egress.vlan[0] = link->mirror_vlan;
    return write_ip_once(out, linktype, &egress, from_client, ts_us + MIRROR_COPY_DELAY_US, copy,
                         length, router_mac);
}

void gen_conn_init(struct gen_conn *conn, struct pcapgen *out, int linktype,
                   const struct gen_link *link, const char *client, uint16_t client_port,
                   const char *server, uint16_t server_port, uint32_t client_isn,
                   uint32_t server_isn)
{
    memset(conn, 0, sizeof(*conn));
    conn->out = out;
    conn->linktype = linktype;
    conn->link = *link;
    conn->client = gen_addr(client);
    conn->server = gen_addr(server);
    if (conn->client.family != conn->server.family) {
        fprintf(stderr, "pcapgen: %s and %s are not of one family\n", client, server);
        abort();
    }
    conn->client_port = client_port;
    conn->server_port = server_port;
    conn->client_isn = client_isn;
    conn->server_isn = server_isn;
    conn->client_next = client_isn;
    conn->ip_id = (uint16_t)(client_port * 7u);
}

/* The options a segment of this connection carries (gen_conn.linux_options). */
static size_t tcp_options(const struct gen_conn *conn, bool from_client, uint8_t flags,
                          uint8_t options[20])
{
    if (!conn->linux_options) {
        memcpy(options, mss_option, sizeof(mss_option));
        return (flags & GEN_SYN) ? sizeof(mss_option) : 0;
    }
    /* The timestamp clock: a value per end that grows with the sequence numbers. */
    uint32_t tsval = (from_client ? conn->client_next : conn->server_next) ^ 0x5a5a0000u;
    uint32_t tsecr = (flags & GEN_SYN) && from_client ? 0 : tsval ^ 0x00ff00ffu;
    if (flags & GEN_SYN) {
        static const uint8_t head[6] = {2, 4, 0x05, 0xb4, 4, 2}; /* MSS 1460, SACK permitted */
        memcpy(options, head, sizeof(head));
        options[6] = 8; /* timestamps */
        options[7] = 10;
        put32(options + 8, tsval);
        put32(options + 12, tsecr);
        options[16] = 1; /* NOP */
        options[17] = 3; /* window scale 7 */
        options[18] = 3;
        options[19] = 7;
        return 20;
    }
    options[0] = options[1] = 1; /* NOP, NOP */
    options[2] = 8;
    options[3] = 10;
    put32(options + 4, tsval);
    put32(options + 8, tsecr);
    return 12;
}

static void emit(struct gen_conn *conn, bool from_client, int64_t ts_us, uint32_t seq, uint32_t ack,
                 uint8_t flags, const uint8_t *payload, size_t length)
{
    uint8_t packet[FRAME_MAX];
    uint8_t options[20];
    size_t options_length = tcp_options(conn, from_client, flags, options);
    size_t size;
    if (from_client) {
        size =
            build_tcp(packet, &conn->client, &conn->server, conn->client_port, conn->server_port,
                      seq, ack, flags, 64, conn->ip_id++, options, options_length, payload, length);
        conn->last_client_length =
            size < sizeof(conn->last_client_packet) ? size : sizeof(conn->last_client_packet);
        memcpy(conn->last_client_packet, packet, conn->last_client_length);
    } else {
        size =
            build_tcp(packet, &conn->server, &conn->client, conn->server_port, conn->client_port,
                      seq, ack, flags, 52, conn->ip_id++, options, options_length, payload, length);
    }
    gen_write_ip(conn->out, conn->linktype, &conn->link, from_client, ts_us, packet, size);
}

void gen_conn_syn(struct gen_conn *conn, int64_t ts_us)
{
    emit(conn, true, ts_us, conn->client_isn, 0, GEN_SYN, NULL, 0);
    conn->client_next = conn->client_isn + 1;
}

void gen_conn_syn_ack(struct gen_conn *conn, int64_t ts_us)
{
    emit(conn, false, ts_us, conn->server_isn, conn->client_next, GEN_SYN | GEN_ACK, NULL, 0);
    conn->server_next = conn->server_isn + 1;
}

void gen_conn_ack(struct gen_conn *conn, int64_t ts_us)
{
    emit(conn, true, ts_us, conn->client_next, conn->server_next, GEN_ACK, NULL, 0);
}

void gen_conn_server_ack_only(struct gen_conn *conn, int64_t ts_us)
{
    emit(conn, false, ts_us, conn->server_next, conn->client_next, GEN_ACK, NULL, 0);
}

static void remember(struct gen_conn *conn, const uint8_t *data, size_t length)
{
    if (length >= GEN_HISTORY) {
        memcpy(conn->history, data + length - GEN_HISTORY, GEN_HISTORY);
        conn->history_length = GEN_HISTORY;
        return;
    }
    size_t keep =
        conn->history_length + length > GEN_HISTORY ? GEN_HISTORY - length : conn->history_length;
    memmove(conn->history, conn->history + conn->history_length - keep, keep);
    memcpy(conn->history + keep, data, length);
    conn->history_length = keep + length;
}

void gen_conn_client_send(struct gen_conn *conn, int64_t ts_us, const uint8_t *data, size_t length)
{
    remember(conn, data, length);
    /* Larger writes go out as MSS-sized segments a microsecond apart. */
    for (size_t done = 0; done < length; ts_us++) {
        size_t part = length - done > MSS ? MSS : length - done;
        emit(conn, true, ts_us, conn->client_next, conn->server_next, GEN_PSH | GEN_ACK,
             data + done, part);
        conn->client_next += (uint32_t)part;
        done += part;
    }
}

void gen_conn_server_send(struct gen_conn *conn, int64_t ts_us, const uint8_t *data, size_t length)
{
    for (size_t done = 0; done < length; ts_us++) {
        size_t part = length - done > MSS ? MSS : length - done;
        emit(conn, false, ts_us, conn->server_next, conn->client_next, GEN_PSH | GEN_ACK,
             data + done, part);
        conn->server_next += (uint32_t)part;
        done += part;
    }
}

void gen_conn_client_text(struct gen_conn *conn, int64_t ts_us, const char *text)
{
    gen_conn_client_send(conn, ts_us, (const uint8_t *)text, strlen(text));
}

void gen_conn_server_text(struct gen_conn *conn, int64_t ts_us, const char *text)
{
    gen_conn_server_send(conn, ts_us, (const uint8_t *)text, strlen(text));
}

void gen_conn_client_retransmit(struct gen_conn *conn, int64_t ts_us, size_t back, size_t length)
{
    if (back > conn->history_length || length > back || length > MSS) {
        fprintf(stderr, "pcapgen: cannot retransmit %zu bytes from %zu back\n", length, back);
        abort();
    }
    const uint8_t *data = conn->history + conn->history_length - back;
    emit(conn, true, ts_us, conn->client_next - (uint32_t)back, conn->server_next,
         GEN_PSH | GEN_ACK, data, length);
}

void gen_conn_client_fin(struct gen_conn *conn, int64_t ts_us)
{
    emit(conn, true, ts_us, conn->client_next, conn->server_next, GEN_FIN | GEN_ACK, NULL, 0);
    conn->client_next++;
}

void gen_conn_server_fin(struct gen_conn *conn, int64_t ts_us)
{
    emit(conn, false, ts_us, conn->server_next, conn->client_next, GEN_FIN | GEN_ACK, NULL, 0);
    conn->server_next++;
}

void gen_conn_client_rst(struct gen_conn *conn, int64_t ts_us)
{
    emit(conn, true, ts_us, conn->client_next, 0, GEN_RST, NULL, 0);
}

void gen_conn_server_rst(struct gen_conn *conn, int64_t ts_us)
{
    emit(conn, false, ts_us, conn->server_next, conn->client_next, GEN_RST | GEN_ACK, NULL, 0);
}

void gen_conn_icmp_error(struct gen_conn *conn, int64_t ts_us, const char *router, uint8_t type,
                         uint8_t code)
{
    struct gen_addr from = gen_addr(router);
    if (from.family != conn->client.family || conn->last_client_length == 0) {
        fprintf(stderr, "pcapgen: no client packet of this family to quote\n");
        abort();
    }
    /* IPv4 routers quote the IP header and 8 bytes (RFC 792); IPv6 ones as much as fits. */
    size_t quoted = conn->last_client_length;
    if (from.family == 4) {
        size_t ihl = (size_t)(conn->last_client_packet[0] & 0x0f) * 4;
        if (quoted > ihl + 8)
            quoted = ihl + 8;
    }
    uint8_t packet[256];
    size_t icmp_length = 8 + quoted;
    uint8_t proto = from.family == 4 ? 1 : 58;
    size_t ip_header =
        build_ip(packet, &from, &conn->client, proto, 254, conn->ip_id++, icmp_length);
    uint8_t *icmp = packet + ip_header;
    icmp[0] = type;
    icmp[1] = code;
    memset(icmp + 2, 0, 6);
    memcpy(icmp + 8, conn->last_client_packet, quoted);
    uint32_t sum = from.family == 4 ? 0 : pseudo_header_sum(&from, &conn->client, 58, icmp_length);
    put16(icmp + 2, fold(sum_bytes(sum, icmp, icmp_length)));
    gen_write_ip(conn->out, conn->linktype, &conn->link, false, ts_us, packet,
                 ip_header + icmp_length);
}

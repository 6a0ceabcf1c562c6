/* Unit tests of src/decode/decode.c. Every frame is built here byte by byte from the RFC layouts,
 * so an expectation never rests on another tool's reading of a capture; the corpus tests at the end
 * then hold the decoder against real traffic from other projects. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "decode/decode.h"

/* ---- Frame builder ------------------------------------------------------------------------ */

enum { FRAME_CAPACITY = 1024, FIXUP_CAPACITY = 16 };

/* Length fields that depend on what follows them. frame_finish makes each one reach the end
 * of the frame, which is right for every layer: the tests only ever nest, never chain. */
enum length_field { LENGTH_IPV4, LENGTH_IPV6, LENGTH_UDP, LENGTH_PPPOE, LENGTH_GTP };

struct frame {
    uint8_t bytes[FRAME_CAPACITY];
    size_t length;
    size_t fixup_offset[FIXUP_CAPACITY];
    enum length_field fixup_field[FIXUP_CAPACITY];
    size_t fixup_count;
};

/* pcap LINKTYPE_ values; decode.c keeps its own copy private, so the tests name them again. */
enum {
    LINK_NULL = 0,
    LINK_ETHERNET = 1,
    LINK_RAW_DLT = 12,
    LINK_RAW_OPENBSD = 14,
    LINK_RAW = 101,
    LINK_IEEE802_11 = 105,
    LINK_LOOP = 108,
    LINK_LINUX_SLL = 113,
    LINK_IPV4 = 228,
    LINK_IPV6 = 229,
    LINK_LINUX_SLL2 = 276,
};

enum {
    CLIENT_PORT = 49152,
    SMTP_PORT = 25,
    SYN_SEQUENCE = 0x11223344u,
    TEST_WINDOW = 29200,
    TEST_TTL = 64,
    OUTER_TTL = 250,
};

/* Documentation prefixes (RFC 5737, RFC 3849) so no test address is anyone's. */
static const uint8_t client4[4] = {192, 0, 2, 10};
static const uint8_t server4[4] = {198, 51, 100, 25};
static const uint8_t router4[4] = {203, 0, 113, 1};
static const uint8_t tunnel_a4[4] = {203, 0, 113, 100};
static const uint8_t tunnel_b4[4] = {203, 0, 113, 200};
static const uint8_t client6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10};
static const uint8_t server6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x25};
static const uint8_t router6[16] = {0x20, 0x01, 0x0d, 0xb8, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t mac_a[6] = {0x02, 0x00, 0x5e, 0x00, 0x00, 0x0a};
static const uint8_t mac_b[6] = {0x02, 0x00, 0x5e, 0x00, 0x00, 0x0b};
static const uint8_t mac_c[6] = {0x02, 0x00, 0x5e, 0x00, 0x00, 0x0c};
static const uint8_t mac_d[6] = {0x02, 0x00, 0x5e, 0x00, 0x00, 0x0d};

static void frame_init(struct frame *f)
{
    memset(f, 0, sizeof(*f));
}

static void put_bytes(struct frame *f, const void *bytes, size_t count)
{
    cr_assert_leq(f->length + count, sizeof(f->bytes), "test frame overflow");
    memcpy(f->bytes + f->length, bytes, count);
    f->length += count;
}

static void put_u8(struct frame *f, uint8_t value)
{
    put_bytes(f, &value, 1);
}

static void put_be16(struct frame *f, uint16_t value)
{
    uint8_t bytes[2] = {(uint8_t)(value >> 8), (uint8_t)value};
    put_bytes(f, bytes, sizeof(bytes));
}

static void put_be32(struct frame *f, uint32_t value)
{
    put_be16(f, (uint16_t)(value >> 16));
    put_be16(f, (uint16_t)value);
}

static void put_zeros(struct frame *f, size_t count)
{
    for (size_t i = 0; i < count; i++)
        put_u8(f, 0);
}

static void put_text(struct frame *f, const char *text)
{
    put_bytes(f, text, strlen(text));
}

static void set_be16(struct frame *f, size_t offset, size_t value)
{
    cr_assert_leq(value, 0xffff);
    f->bytes[offset] = (uint8_t)(value >> 8);
    f->bytes[offset + 1] = (uint8_t)value;
}

static void mark_length(struct frame *f, enum length_field field)
{
    cr_assert_lt(f->fixup_count, FIXUP_CAPACITY);
    f->fixup_offset[f->fixup_count] = f->length;
    f->fixup_field[f->fixup_count] = field;
    f->fixup_count++;
}

static void frame_finish(struct frame *f)
{
    for (size_t i = 0; i < f->fixup_count; i++) {
        size_t offset = f->fixup_offset[i];
        size_t span = f->length - offset;
        switch (f->fixup_field[i]) {
        case LENGTH_IPV4:
            set_be16(f, offset + 2, span);
            break;
        case LENGTH_IPV6:
            set_be16(f, offset + 4, span - 40);
            break;
        case LENGTH_UDP:
            set_be16(f, offset + 4, span);
            break;
        case LENGTH_PPPOE:
            set_be16(f, offset + 4, span - 6);
            break;
        case LENGTH_GTP:
            set_be16(f, offset + 2, span - 8);
            break;
        }
    }
}

static void put_ethernet_macs(struct frame *f, const uint8_t dst[6], const uint8_t src[6],
                              uint16_t type)
{
    put_bytes(f, dst, 6);
    put_bytes(f, src, 6);
    put_be16(f, type);
}

static void put_ethernet(struct frame *f, uint16_t type)
{
    put_ethernet_macs(f, mac_b, mac_a, type);
}

/* 802.1Q: the tag control information, then the type of what follows the tag. */
static void put_vlan(struct frame *f, uint16_t tci, uint16_t type)
{
    put_be16(f, tci);
    put_be16(f, type);
}

/* RFC 3032 section 2.1: label (20 bits), traffic class (3), bottom of stack (1), TTL (8). */
static void put_mpls(struct frame *f, uint32_t label, bool bottom)
{
    put_be32(f, label << 12 | (bottom ? 1u << 8 : 0) | 64);
}

/* RFC 2516 section 4: version 1, type 1, code 0 (session data), then the PPP protocol. */
static void put_pppoe(struct frame *f, uint16_t session, uint16_t ppp_protocol)
{
    mark_length(f, LENGTH_PPPOE);
    put_u8(f, 0x11);
    put_u8(f, 0);
    put_be16(f, session);
    put_be16(f, 0);
    put_be16(f, ppp_protocol);
}

/* Linux cooked v1: packet type, ARPHRD_ETHER, address length, 8 address bytes, protocol. */
static void put_sll(struct frame *f, uint16_t protocol)
{
    put_be16(f, 0);
    put_be16(f, 1);
    put_be16(f, 6);
    put_bytes(f, mac_a, 6);
    put_zeros(f, 2);
    put_be16(f, protocol);
}

/* Linux cooked v2: protocol, reserved, interface index, ARPHRD, packet type, address. */
static void put_sll2(struct frame *f, uint16_t protocol)
{
    put_be16(f, protocol);
    put_be16(f, 0);
    put_be32(f, 2);
    put_be16(f, 1);
    put_u8(f, 0);
    put_u8(f, 6);
    put_bytes(f, mac_a, 6);
    put_zeros(f, 2);
}

/* BSD loopback: a 4-byte address family in the byte order of the machine that wrote it. */
static void put_null(struct frame *f, uint32_t family, bool little_endian)
{
    if (little_endian) {
        uint8_t bytes[4] = {(uint8_t)family, (uint8_t)(family >> 8), (uint8_t)(family >> 16),
                            (uint8_t)(family >> 24)};
        put_bytes(f, bytes, sizeof(bytes));
    } else {
        put_be32(f, family);
    }
}

/* Returns the header's offset so a test can spoil one field afterwards. */
static size_t put_ipv4_header(struct frame *f, uint8_t proto, const uint8_t src[4],
                              const uint8_t dst[4], uint8_t ttl, uint16_t fragment,
                              unsigned option_words)
{
    size_t start = f->length;
    mark_length(f, LENGTH_IPV4);
    put_u8(f, (uint8_t)(0x40 | (5 + option_words)));
    put_u8(f, 0);
    put_be16(f, 0);
    put_be16(f, 0x1234);
    put_be16(f, fragment);
    put_u8(f, ttl);
    put_u8(f, proto);
    put_be16(f, 0);
    put_bytes(f, src, 4);
    put_bytes(f, dst, 4);
    /* No-operation options closed by end-of-list (RFC 791 section 3.1). */
    for (unsigned i = 0; i < option_words * 4; i++)
        put_u8(f, i + 1 < option_words * 4 ? 1 : 0);
    return start;
}

static size_t put_ipv4(struct frame *f, uint8_t proto, const uint8_t src[4], const uint8_t dst[4])
{
    return put_ipv4_header(f, proto, src, dst, TEST_TTL, 0, 0);
}

static size_t put_ipv6(struct frame *f, uint8_t next, const uint8_t src[16], const uint8_t dst[16])
{
    size_t start = f->length;
    mark_length(f, LENGTH_IPV6);
    put_be32(f, 0x60000000);
    put_be16(f, 0);
    put_u8(f, next);
    put_u8(f, TEST_TTL);
    put_bytes(f, src, 16);
    put_bytes(f, dst, 16);
    return start;
}

/* The datagram a router quotes in an ICMP error: its length field tells the original size,
 * which is longer than the quote, so it must not be fixed up to the frame's end. */
static void put_quoted_ipv4(struct frame *f, uint8_t proto, const uint8_t src[4],
                            const uint8_t dst[4])
{
    size_t start = put_ipv4(f, proto, src, dst);
    f->fixup_count--;
    set_be16(f, start + 2, 1500);
}

static void put_quoted_ipv6(struct frame *f, uint8_t next, const uint8_t src[16],
                            const uint8_t dst[16])
{
    size_t start = put_ipv6(f, next, src, dst);
    f->fixup_count--;
    set_be16(f, start + 4, 1460);
}

/* Hop-by-hop and destination options share one layout (RFC 8200 sections 4.3 and 4.6): the
 * length counts 8-octet units after the first, and Pad1 options fill it. */
static void put_ipv6_options(struct frame *f, uint8_t next, uint8_t length_units)
{
    put_u8(f, next);
    put_u8(f, length_units);
    put_zeros(f, ((size_t)length_units + 1) * 8 - 2);
}

/* RFC 8200 section 4.5: the offset counts 8-octet units, the low bit is More Fragments. */
static void put_ipv6_fragment(struct frame *f, uint8_t next, uint16_t offset_units, bool more)
{
    put_u8(f, next);
    put_u8(f, 0);
    put_be16(f, (uint16_t)(offset_units << 3 | (more ? 1 : 0)));
    put_be32(f, 0xabcdef01u);
}

static void put_tcp_header(struct frame *f, uint16_t src_port, uint16_t dst_port, uint32_t seq,
                           uint32_t ack, uint8_t flags, unsigned option_words)
{
    put_be16(f, src_port);
    put_be16(f, dst_port);
    put_be32(f, seq);
    put_be32(f, ack);
    put_u8(f, (uint8_t)((5 + option_words) << 4));
    put_u8(f, flags);
    put_be16(f, TEST_WINDOW);
    put_be16(f, 0);
    put_be16(f, 0);
    if (option_words > 0) {
        /* Maximum segment size 1460, then no-operation padding. */
        uint8_t mss[4] = {2, 4, 0x05, 0xb4};
        put_bytes(f, mss, sizeof(mss));
        for (unsigned i = 1; i < option_words * 4 - 3; i++)
            put_u8(f, 1);
    }
}

static void put_tcp(struct frame *f, uint16_t src_port, uint16_t dst_port, uint32_t seq,
                    uint32_t ack, uint8_t flags)
{
    put_tcp_header(f, src_port, dst_port, seq, ack, flags, 0);
}

static void put_syn(struct frame *f)
{
    put_tcp(f, CLIENT_PORT, SMTP_PORT, SYN_SEQUENCE, 0, TCP_SYN);
}

static void put_udp(struct frame *f, uint16_t src_port, uint16_t dst_port)
{
    mark_length(f, LENGTH_UDP);
    put_be16(f, src_port);
    put_be16(f, dst_port);
    put_be16(f, 0);
    put_be16(f, 0);
}

/* Type, code, checksum and the 4 bytes that precede the quote in every error type. */
static void put_icmp(struct frame *f, uint8_t type, uint8_t code)
{
    put_u8(f, type);
    put_u8(f, code);
    put_be16(f, 0);
    put_be32(f, 0);
}

/* RFC 2784 / RFC 2890: the optional checksum, key and sequence words follow in that order. */
static void put_gre(struct frame *f, uint16_t flags, uint16_t protocol)
{
    put_be16(f, flags);
    put_be16(f, protocol);
    if (flags & 0x8000) {
        put_be16(f, 0xdead);
        put_be16(f, 0);
    }
    if (flags & 0x2000)
        put_be32(f, 42);
    if (flags & 0x1000)
        put_be32(f, 7);
}

/* RFC 7348 section 5: the I flag, reserved bits, a 24-bit VNI. */
static void put_vxlan(struct frame *f, uint32_t vni)
{
    put_u8(f, 0x08);
    put_zeros(f, 3);
    put_be32(f, vni << 8);
}

/* 3GPP TS 29.281 section 5.1; with any of E/S/PN set, the sequence number, N-PDU number and
 * next extension type follow. */
static void put_gtp(struct frame *f, uint8_t flags, uint8_t message_type, uint8_t next_extension)
{
    mark_length(f, LENGTH_GTP);
    put_u8(f, flags);
    put_u8(f, message_type);
    put_be16(f, 0);
    put_be32(f, 0x01020304);
    if (flags & 0x07) {
        put_be16(f, 0);
        put_u8(f, 0);
        put_u8(f, next_extension);
    }
}

/* ---- Frames several tests share ---------------------------------------------------------- */

enum {
    ETH_IPV4_TCP_PAYLOAD = 14 + 20 + 20,
    ETH_IPV6_TCP_PAYLOAD = 14 + 40 + 20,
};

static void build_ipv4_syn(struct frame *f)
{
    frame_init(f);
    put_ethernet(f, 0x0800);
    put_ipv4(f, IPPROTO_NUMBER_TCP, client4, server4);
    put_syn(f);
    frame_finish(f);
}

static void build_ipv4_data(struct frame *f, const char *text)
{
    frame_init(f);
    put_ethernet(f, 0x0800);
    put_ipv4(f, IPPROTO_NUMBER_TCP, client4, server4);
    put_tcp(f, CLIENT_PORT, SMTP_PORT, SYN_SEQUENCE + 1, 0x55667788u, TCP_PSH | TCP_ACK);
    put_text(f, text);
    frame_finish(f);
}

static void build_ipv6_syn(struct frame *f)
{
    frame_init(f);
    put_ethernet(f, 0x86dd);
    put_ipv6(f, IPPROTO_NUMBER_TCP, client6, server6);
    put_syn(f);
    frame_finish(f);
}

/* Ethernet, IPv4 203.0.113.100 -> .200 protocol 47, GRE with the given flags, inner IPv4
 * client -> server carrying a TCP segment with text. */
static void build_gre(struct frame *f, uint16_t gre_flags, const char *text)
{
    frame_init(f);
    put_ethernet(f, 0x0800);
    put_ipv4_header(f, 47, tunnel_a4, tunnel_b4, OUTER_TTL, 0, 0);
    put_gre(f, gre_flags, 0x0800);
    put_ipv4(f, IPPROTO_NUMBER_TCP, client4, server4);
    put_tcp(f, CLIENT_PORT, SMTP_PORT, SYN_SEQUENCE, 0, TCP_PSH | TCP_ACK);
    put_text(f, text);
    frame_finish(f);
}

/* PPTP (RFC 2637 section 4.1): key present (payload length and call id) and a sequence
 * number, then an HDLC-framed PPP frame carrying IPv4. */
static void build_pptp(struct frame *f)
{
    frame_init(f);
    put_ethernet(f, 0x0800);
    put_ipv4_header(f, 47, tunnel_a4, tunnel_b4, OUTER_TTL, 0, 0);
    size_t gre = f->length;
    put_be16(f, 0x3001);
    put_be16(f, 0x880b);
    put_be16(f, 0);
    put_be16(f, 0x0777);
    put_be32(f, 1000);
    put_u8(f, 0xff);
    put_u8(f, 0x03);
    put_be16(f, 0x0021);
    put_ipv4(f, IPPROTO_NUMBER_TCP, client4, server4);
    put_tcp(f, CLIENT_PORT, SMTP_PORT, SYN_SEQUENCE, 0, TCP_PSH | TCP_ACK);
    put_text(f, "HELO pptp\r\n");
    frame_finish(f);
    set_be16(f, gre + 4, f->length - (gre + 12));
}

/* VXLAN to UDP 4789 carrying an inner Ethernet frame with its own VLAN tag and MACs. */
static void build_vxlan(struct frame *f)
{
    frame_init(f);
    put_ethernet(f, 0x0800);
    put_ipv4_header(f, IPPROTO_NUMBER_UDP, tunnel_a4, tunnel_b4, OUTER_TTL, 0, 0);
    put_udp(f, 51000, 4789);
    put_vxlan(f, 4242);
    put_ethernet_macs(f, mac_d, mac_c, 0x8100);
    put_vlan(f, 7, 0x0800);
    put_ipv4(f, IPPROTO_NUMBER_TCP, client4, server4);
    put_tcp(f, CLIENT_PORT, SMTP_PORT, SYN_SEQUENCE, 0, TCP_PSH | TCP_ACK);
    put_text(f, "MAIL FROM:<a@example.com>\r\n");
    frame_finish(f);
}

/* A GTP-U G-PDU with one extension header (a PDU session container, 4 bytes, next type 0). */
static void build_gtp(struct frame *f)
{
    frame_init(f);
    put_ethernet(f, 0x0800);
    put_ipv4_header(f, IPPROTO_NUMBER_UDP, tunnel_a4, tunnel_b4, OUTER_TTL, 0, 0);
    put_udp(f, 2152, 2152);
    put_gtp(f, 0x34, 255, 0x85);
    put_u8(f, 1);
    put_u8(f, 0x10);
    put_u8(f, 0x09);
    put_u8(f, 0);
    put_ipv4(f, IPPROTO_NUMBER_TCP, client4, server4);
    put_tcp(f, CLIENT_PORT, SMTP_PORT, SYN_SEQUENCE, 0, TCP_PSH | TCP_ACK);
    put_text(f, "RCPT TO:<b@example.net>\r\n");
    frame_finish(f);
}

/* A router's destination unreachable, administratively prohibited (3/13), quoting the SYN
 * with quoted_tcp bytes of its TCP header. */
static void build_icmp_unreachable(struct frame *f, size_t quoted_tcp)
{
    struct frame tcp;
    frame_init(&tcp);
    put_syn(&tcp);
    frame_init(f);
    put_ethernet(f, 0x0800);
    put_ipv4(f, IPPROTO_NUMBER_ICMP, router4, client4);
    put_icmp(f, 3, 13);
    put_quoted_ipv4(f, IPPROTO_NUMBER_TCP, client4, server4);
    put_bytes(f, tcp.bytes, quoted_tcp);
    frame_finish(f);
}

static void build_icmpv6_unreachable(struct frame *f, size_t quoted_tcp)
{
    struct frame tcp;
    frame_init(&tcp);
    put_syn(&tcp);
    frame_init(f);
    put_ethernet(f, 0x86dd);
    put_ipv6(f, IPPROTO_NUMBER_ICMPV6, router6, client6);
    put_icmp(f, 1, 1);
    put_quoted_ipv6(f, IPPROTO_NUMBER_TCP, client6, server6);
    put_bytes(f, tcp.bytes, quoted_tcp);
    frame_finish(f);
}

/* ---- Decoding and checking ---------------------------------------------------------------- */

/* The sensor decodes every packet into one struct: start from garbage, as after any other
 * packet, so a field decode_packet forgets to set or clear shows here. */
static enum decode_result decode_frame(int linktype, const struct frame *f, struct packet *out)
{
    memset(out, 0xa5, sizeof(*out));
    out->ts = 0;
    out->wire_length = (uint32_t)f->length;
    out->source = 0;
    return decode_packet(linktype, f->bytes, (uint32_t)f->length, out);
}

static void assert_result(enum decode_result actual, enum decode_result expected)
{
    cr_assert_eq(actual, expected, "decoded as %s, expected %s", decode_result_name(actual),
                 decode_result_name(expected));
}

static void assert_address(const struct address *actual, const char *expected)
{
    char text[ADDRESS_TEXT_MAX];
    address_format(actual, text, sizeof(text));
    cr_assert_str_eq(text, expected);
    struct address parsed;
    cr_assert(address_parse(expected, &parsed));
    cr_assert(address_equal(actual, &parsed), "%s differs in the bytes past its family", text);
}

static void assert_syn(const struct packet *p)
{
    cr_assert_eq(p->proto, IPPROTO_NUMBER_TCP);
    cr_assert_eq(p->src_port, CLIENT_PORT);
    cr_assert_eq(p->dst_port, SMTP_PORT);
    cr_assert_eq(p->tcp_flags, TCP_SYN);
    cr_assert_eq(p->seq, SYN_SEQUENCE);
    cr_assert_eq(p->payload_length, 0);
    cr_assert_eq(p->payload_wire_length, 0);
    cr_assert_not(p->payload_truncated);
}

static void assert_client_to_server_v4(const struct packet *p)
{
    cr_assert_eq(p->ip_version, 4);
    assert_address(&p->src, "192.0.2.10");
    assert_address(&p->dst, "198.51.100.25");
}

static void assert_payload(const struct packet *p, const struct frame *f, const char *text)
{
    size_t length = strlen(text);
    cr_assert_eq(p->payload_length, length);
    cr_assert_eq(p->payload, f->bytes + f->length - length);
    cr_assert_arr_eq(p->payload, text, length);
    cr_assert_eq(p->payload_wire_length, length);
    cr_assert_not(p->payload_truncated);
}

/* Each capture length from 0 to the whole frame is decoded from a heap block of exactly that
 * size, so an AddressSanitizer build flags any read past the capture. A cut inside the
 * headers (before header_end) must say TRUNCATED; a cut in the payload still decodes, with
 * the payload it has and payload_truncated. Frames without an L4 payload (ICMP) only need
 * DECODE_OK from header_end on. */
static void check_every_prefix(int linktype, const struct frame *f, size_t header_end,
                               bool has_payload)
{
    cr_assert_leq(header_end, f->length);
    for (size_t length = 0; length <= f->length; length++) {
        uint8_t *copy = malloc(length);
        cr_assert(length == 0 || copy != NULL);
        if (length > 0)
            memcpy(copy, f->bytes, length);
        struct packet p;
        memset(&p, 0, sizeof(p));
        enum decode_result result = decode_packet(linktype, copy, (uint32_t)length, &p);
        if (length < header_end) {
            cr_assert_eq(result, DECODE_TRUNCATED, "%zu of %zu bytes (headers end at %zu): %s",
                         length, f->length, header_end, decode_result_name(result));
        } else {
            cr_assert_eq(result, DECODE_OK, "%zu of %zu bytes (headers end at %zu): %s", length,
                         f->length, header_end, decode_result_name(result));
            cr_assert_eq(p.captured_length, length);
            if (has_payload) {
                cr_assert_eq(p.payload, copy + header_end, "%zu of %zu bytes", length, f->length);
                cr_assert_eq(p.payload_length, length - header_end);
                cr_assert_eq(p.payload_wire_length, f->length - header_end,
                             "%zu of %zu bytes: the wire length is the IP header's", length,
                             f->length);
                cr_assert_eq(p.payload_truncated, length < f->length, "%zu of %zu bytes", length,
                             f->length);
            }
        }
        free(copy);
    }
}

/* ---- Link types and names ----------------------------------------------------------------- */

Test(link, supported_link_types)
{
    const int supported[] = {LINK_NULL, LINK_ETHERNET,  LINK_RAW_DLT,   LINK_RAW_OPENBSD,
                             LINK_RAW,  LINK_LOOP,      LINK_LINUX_SLL, LINK_IPV4,
                             LINK_IPV6, LINK_LINUX_SLL2};
    for (size_t i = 0; i < sizeof(supported) / sizeof(supported[0]); i++)
        cr_assert(decode_link_supported(supported[i]), "link type %d", supported[i]);
    const int unsupported[] = {-1, 6, 9, LINK_IEEE802_11, 127, 192, 0xffff};
    for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
        cr_assert_not(decode_link_supported(unsupported[i]), "link type %d", unsupported[i]);
}

Test(link, unknown_link_type_is_unsupported)
{
    struct frame f;
    build_ipv4_syn(&f);
    struct packet p;
    assert_result(decode_frame(LINK_IEEE802_11, &f, &p), DECODE_UNSUPPORTED);
    assert_result(decode_frame(-1, &f, &p), DECODE_UNSUPPORTED);
}

Test(link, null_data_is_truncated)
{
    struct packet p;
    memset(&p, 0, sizeof(p));
    assert_result(decode_packet(LINK_ETHERNET, NULL, 0, &p), DECODE_TRUNCATED);
    assert_result(decode_packet(LINK_ETHERNET, NULL, 60, &p), DECODE_TRUNCATED);
}

Test(link, result_and_tunnel_names)
{
    cr_assert_str_eq(decode_result_name(DECODE_OK), "ok");
    cr_assert_str_eq(decode_result_name(DECODE_NOT_IP), "not_ip");
    cr_assert_str_eq(decode_result_name(DECODE_FRAGMENT), "fragment");
    cr_assert_str_eq(decode_result_name(DECODE_TRUNCATED), "truncated");
    cr_assert_str_eq(decode_result_name(DECODE_MALFORMED), "malformed");
    cr_assert_str_eq(decode_result_name(DECODE_UNSUPPORTED), "unsupported");
    cr_assert_str_eq(decode_result_name(DECODE_TOO_DEEP), "too_deep");
    cr_assert_str_eq(decode_result_name(DECODE_RESULT_COUNT), "unknown");
    cr_assert_str_eq(decode_result_name((enum decode_result)99), "unknown");
    cr_assert_str_eq(tunnel_kind_name(TUNNEL_NONE), "none");
    cr_assert_str_eq(tunnel_kind_name(TUNNEL_IPIP), "ipip");
    cr_assert_str_eq(tunnel_kind_name(TUNNEL_6IN4), "6in4");
    cr_assert_str_eq(tunnel_kind_name(TUNNEL_4IN6), "4in6");
    cr_assert_str_eq(tunnel_kind_name(TUNNEL_6IN6), "6in6");
    cr_assert_str_eq(tunnel_kind_name(TUNNEL_GRE), "gre");
    cr_assert_str_eq(tunnel_kind_name(TUNNEL_VXLAN), "vxlan");
    cr_assert_str_eq(tunnel_kind_name(TUNNEL_GTP), "gtp");
    cr_assert_str_eq(tunnel_kind_name(TUNNEL_KIND_COUNT), "unknown");
}

/* ---- Ethernet, VLAN, MPLS, PPPoE ---------------------------------------------------------- */

Test(ethernet, ipv4_tcp_syn)
{
    struct frame f;
    build_ipv4_syn(&f);
    struct packet p;
    memset(&p, 0xa5, sizeof(p));
    p.ts = 1234567 * PACKET_TIME_SECOND;
    p.wire_length = 1514;
    p.source = 3;
    assert_result(decode_packet(LINK_ETHERNET, f.bytes, (uint32_t)f.length, &p), DECODE_OK);

    /* The caller's fields survive; everything else describes this frame. */
    cr_assert_eq(p.ts, 1234567 * PACKET_TIME_SECOND);
    cr_assert_eq(p.wire_length, 1514);
    cr_assert_eq(p.source, 3);
    cr_assert_eq(p.captured_length, f.length);

    cr_assert(p.has_mac);
    cr_assert_arr_eq(p.dst_mac, mac_b, 6);
    cr_assert_arr_eq(p.src_mac, mac_a, 6);
    cr_assert_eq(p.vlan_count, 0);
    cr_assert_eq(p.mpls_count, 0);
    cr_assert_not(p.has_pppoe);
    cr_assert_eq(p.tunnel, TUNNEL_NONE);
    cr_assert_eq(p.tunnel_depth, 0);
    cr_assert_not(p.is_icmp_error);

    assert_client_to_server_v4(&p);
    cr_assert_eq(p.ttl, TEST_TTL);
    cr_assert_not(p.first_fragment);
    assert_syn(&p);
    cr_assert_eq(p.ack, 0);
    cr_assert_eq(p.window, TEST_WINDOW);
    cr_assert_eq(p.payload, f.bytes + ETH_IPV4_TCP_PAYLOAD);
    cr_assert_not(p.is_icmp_error);
}

Test(ethernet, tcp_data_segment)
{
    struct frame f;
    build_ipv4_data(&f, "EHLO client.example\r\n");
    struct packet p;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert_eq(p.tcp_flags, TCP_PSH | TCP_ACK);
    cr_assert_eq(p.seq, SYN_SEQUENCE + 1);
    cr_assert_eq(p.ack, 0x55667788u);
    assert_payload(&p, &f, "EHLO client.example\r\n");
}

Test(ethernet, tcp_options_move_the_payload)
{
    struct frame f;
    frame_init(&f);
    put_ethernet(&f, 0x0800);
    put_ipv4(&f, IPPROTO_NUMBER_TCP, client4, server4);
    put_tcp_header(&f, CLIENT_PORT, SMTP_PORT, SYN_SEQUENCE, 0, TCP_SYN, 3);
    put_text(&f, "xy");
    frame_finish(&f);
    struct packet p;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert_eq(p.payload, f.bytes + ETH_IPV4_TCP_PAYLOAD + 12);
    assert_payload(&p, &f, "xy");
}

/* A 60-byte minimum frame carries padding after a small IP packet; it is not payload. */
Test(ethernet, padding_follows_the_ip_length)
{
    struct frame f;
    build_ipv4_data(&f, "OK");
    cr_assert_eq(f.length, 56);
    size_t ip_end = f.length;
    for (int i = 0; i < 4; i++)
        put_u8(&f, 0xee);
    struct packet p;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert_eq(p.payload, f.bytes + ETH_IPV4_TCP_PAYLOAD);
    cr_assert_eq(p.payload_length, ip_end - ETH_IPV4_TCP_PAYLOAD);
    cr_assert_not(p.payload_truncated);

    build_ipv6_syn(&f);
    put_text(&f, "FCS!");
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert_eq(p.payload_length, 0, "the IPv6 payload length drops a trailer too");
    cr_assert_not(p.payload_truncated);
}

Test(ethernet, snap_length_cuts_the_payload)
{
    struct frame f;
    build_ipv4_data(&f, "DATA 0123456789abcdef0123456789abcdef0123456789abcdef0123456789\r\n");
    struct packet p;
    memset(&p, 0, sizeof(p));
    assert_result(decode_packet(LINK_ETHERNET, f.bytes, ETH_IPV4_TCP_PAYLOAD + 30, &p), DECODE_OK);
    cr_assert_eq(p.payload, f.bytes + ETH_IPV4_TCP_PAYLOAD);
    cr_assert_eq(p.payload_length, 30);
    cr_assert(p.payload_truncated);

    /* Cut right after the TCP header: no payload bytes, but the IP length promised some. */
    assert_result(decode_packet(LINK_ETHERNET, f.bytes, ETH_IPV4_TCP_PAYLOAD, &p), DECODE_OK);
    cr_assert_eq(p.payload_length, 0);
    cr_assert(p.payload_truncated);
}

/* ---- Snap length: headers and payloads cut where SPAN sessions cut them ------------------- */

/* A Linux SYN's options (tcp_syn_options): MSS, SACK permitted, timestamps, NOP, window scale:
 * 20 bytes, so a 40-byte TCP header. Later segments carry NOP, NOP and the timestamps. */
static void put_linux_tcp(struct frame *f, uint32_t seq, uint32_t ack, uint8_t flags)
{
    static const uint8_t syn_options[20] = {2,    4,    0x05, 0xb4, 4, 2, 8, 10, 0x00, 0x12,
                                            0x34, 0x56, 0,    0,    0, 0, 1, 3,  3,    7};
    static const uint8_t data_options[12] = {1,    1,    8,    10,   0x00, 0x12,
                                             0x34, 0x57, 0x00, 0xab, 0xcd, 0xef};
    bool syn = flags & TCP_SYN;
    put_tcp_header(f, CLIENT_PORT, SMTP_PORT, seq, ack, flags, 0);
    size_t words = syn ? 5 : 3;
    f->bytes[f->length - 8] = (uint8_t)((5 + words) << 4);
    put_bytes(f, syn ? syn_options : data_options, words * 4);
}

/* Ethernet, an 802.1Q tag or none, IPv4 or IPv6, a Linux TCP header and the payload. Returns
 * where the TCP header starts. */
static size_t build_linux_segment(struct frame *f, int version, bool tagged, uint8_t flags,
                                  uint32_t ack, const char *payload)
{
    frame_init(f);
    uint16_t type = version == 4 ? 0x0800 : 0x86dd;
    put_ethernet(f, tagged ? 0x8100 : type);
    if (tagged)
        put_vlan(f, 100, type);
    if (version == 4)
        put_ipv4(f, IPPROTO_NUMBER_TCP, client4, server4);
    else
        put_ipv6(f, IPPROTO_NUMBER_TCP, client6, server6);
    size_t tcp = f->length;
    put_linux_tcp(f, SYN_SEQUENCE, ack, flags);
    put_text(f, payload);
    frame_finish(f);
    return tcp;
}

/* The frame cut to `cut` bytes, in a heap block of exactly that size (ASan sees any read
 * past it), decoded as a capture with that snap length delivers it. */
static enum decode_result decode_cut(const struct frame *f, size_t cut, struct packet *p,
                                     uint8_t **copy)
{
    if (cut > f->length)
        cut = f->length;
    *copy = malloc(cut);
    cr_assert_not_null(*copy);
    memcpy(*copy, f->bytes, cut);
    memset(p, 0, sizeof(*p));
    p->wire_length = (uint32_t)f->length;
    return decode_packet(LINK_ETHERNET, *copy, (uint32_t)cut, p);
}

/* Snap lengths of 64, 96 and 128 bytes against SYNs with Linux's options, IPv4 and IPv6,
 * tagged and untagged: an IPv6 SYN on a tagged link is 98 bytes, so 96 cuts its options. The
 * header is read whenever its 20 fixed bytes are there; only IPv6 at 64 (10 or 6 bytes of
 * TCP) cannot be. */
Test(snaplen, linux_syn_with_cut_options)
{
    static const struct {
        int version;
        bool tagged;
        size_t cut;
        enum decode_result result;
        size_t frame_length;
    } cases[] = {
        {4, false, 64, DECODE_OK, 74},        {4, true, 64, DECODE_OK, 78},
        {6, false, 64, DECODE_TRUNCATED, 94}, {6, true, 64, DECODE_TRUNCATED, 98},
        {4, false, 96, DECODE_OK, 74},        {4, true, 96, DECODE_OK, 78},
        {6, false, 96, DECODE_OK, 94},        {6, true, 96, DECODE_OK, 98},
        {4, false, 128, DECODE_OK, 74},       {4, true, 128, DECODE_OK, 78},
        {6, false, 128, DECODE_OK, 94},       {6, true, 128, DECODE_OK, 98},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct frame f;
        size_t tcp = build_linux_segment(&f, cases[i].version, cases[i].tagged, TCP_SYN, 0, "");
        cr_assert_eq(f.length, cases[i].frame_length);
        struct packet p;
        uint8_t *copy;
        enum decode_result result = decode_cut(&f, cases[i].cut, &p, &copy);
        cr_assert_eq(result, cases[i].result, "IPv%d%s at %zu: %s", cases[i].version,
                     cases[i].tagged ? " tagged" : "", cases[i].cut, decode_result_name(result));
        if (result == DECODE_OK) {
            cr_assert_eq(p.ip_version, cases[i].version);
            cr_assert_eq(p.vlan_count, cases[i].tagged ? 1 : 0);
            assert_syn(&p);
            cr_assert_eq(p.ack, 0);
            cr_assert_eq(p.window, TEST_WINDOW);
            size_t captured = cases[i].cut < f.length ? cases[i].cut : f.length;
            size_t header_end = tcp + 40 < captured ? tcp + 40 : captured;
            cr_assert_eq(p.payload, copy + header_end, "IPv%d at %zu", cases[i].version,
                         cases[i].cut);
        }
        free(copy);
    }
}

/* The SYN-ACK's acknowledgement number and flags come through the same cut. */
Test(snaplen, syn_ack_at_96_on_a_tagged_ipv6_link)
{
    struct frame f;
    build_linux_segment(&f, 6, true, TCP_SYN | TCP_ACK, SYN_SEQUENCE + 1, "");
    struct packet p;
    uint8_t *copy;
    assert_result(decode_cut(&f, 96, &p, &copy), DECODE_OK);
    cr_assert_eq(p.tcp_flags, TCP_SYN | TCP_ACK);
    cr_assert_eq(p.ack, SYN_SEQUENCE + 1);
    cr_assert_eq(p.seq, SYN_SEQUENCE);
    cr_assert_eq(p.src_port, CLIENT_PORT);
    cr_assert_eq(p.dst_port, SMTP_PORT);
    cr_assert_eq(p.vlan[0], 100);
    cr_assert_eq(p.payload, copy + 96);
    cr_assert_eq(p.payload_length, 0);
    cr_assert_eq(p.payload_wire_length, 0);
    cr_assert_not(p.payload_truncated);
    free(copy);
}

/* A 100-byte command behind a 32-byte TCP header: what the snap length leaves of it, and the
 * 100 bytes the IP length says it has, whatever the cut. */
Test(snaplen, data_segment_payload_lengths)
{
    char command[101];
    memset(command, 'x', sizeof(command) - 1);
    memcpy(command, "RCPT TO:<", 9);
    memcpy(command + 96, ">\r\n", 3);
    command[99] = 'z';
    command[100] = '\0';
    static const struct {
        int version;
        bool tagged;
        size_t cut;
        enum decode_result result;
        size_t captured; /* payload bytes captured */
    } cases[] = {
        /* Untagged IPv4: the payload starts at 14 + 20 + 32 = 66. */
        {4, false, 64, DECODE_OK, 0},
        {4, false, 96, DECODE_OK, 30},
        {4, false, 128, DECODE_OK, 62},
        {4, false, 1000, DECODE_OK, 100},
        /* Tagged IPv4: at 70. */
        {4, true, 64, DECODE_OK, 0},
        {4, true, 96, DECODE_OK, 26},
        {4, true, 128, DECODE_OK, 58},
        /* Untagged IPv6: at 86; tagged: at 90. */
        {6, false, 64, DECODE_TRUNCATED, 0},
        {6, false, 96, DECODE_OK, 10},
        {6, false, 128, DECODE_OK, 42},
        {6, true, 96, DECODE_OK, 6},
        {6, true, 128, DECODE_OK, 38},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct frame f;
        build_linux_segment(&f, cases[i].version, cases[i].tagged, TCP_PSH | TCP_ACK, 0x55667788u,
                            command);
        struct packet p;
        uint8_t *copy;
        enum decode_result result = decode_cut(&f, cases[i].cut, &p, &copy);
        cr_assert_eq(result, cases[i].result, "IPv%d%s at %zu: %s", cases[i].version,
                     cases[i].tagged ? " tagged" : "", cases[i].cut, decode_result_name(result));
        if (result == DECODE_OK) {
            cr_assert_eq(p.tcp_flags, TCP_PSH | TCP_ACK);
            cr_assert_eq(p.ack, 0x55667788u);
            cr_assert_eq(p.seq, SYN_SEQUENCE);
            cr_assert_eq(p.payload_length, cases[i].captured, "IPv%d at %zu", cases[i].version,
                         cases[i].cut);
            cr_assert_eq(p.payload_wire_length, 100);
            cr_assert_eq(p.payload_truncated, cases[i].captured < 100);
            cr_assert_arr_eq(p.payload, command, cases[i].captured);
        }
        free(copy);
    }
}

/* Lengths that lie are never taken as a cut: an IP length that leaves less than the TCP data
 * offset is malformed, captured whole or not, and no length field makes the wire length less
 * than what was captured. */
Test(snaplen, lying_lengths)
{
    struct frame f;
    size_t tcp = build_linux_segment(&f, 4, false, TCP_SYN, 0, "");
    /* The IPv4 total length says 20 + 30: ten bytes short of the 40-byte TCP header. */
    set_be16(&f, 14 + 2, 50);
    struct packet p;
    uint8_t *copy;
    assert_result(decode_cut(&f, f.length, &p, &copy), DECODE_MALFORMED);
    free(copy);
    assert_result(decode_cut(&f, 64, &p, &copy), DECODE_MALFORMED);
    free(copy);

    /* IPv6 announcing its whole 16-bit payload, cut at 96: the wire length is what it says,
     * less the header, and no more. */
    build_linux_segment(&f, 6, true, TCP_PSH | TCP_ACK, 1, "HELO x\r\n");
    set_be16(&f, 18 + 4, 0xffff);
    assert_result(decode_cut(&f, 96, &p, &copy), DECODE_OK);
    cr_assert_eq(p.payload_length, 96 - (18 + 40 + 32));
    cr_assert_eq(p.payload_wire_length, 0xffff - 32);
    cr_assert(p.payload_truncated);
    free(copy);

    /* A UDP length longer than the IP length is not believed. */
    frame_init(&f);
    put_ethernet(&f, 0x0800);
    put_ipv4(&f, IPPROTO_NUMBER_UDP, client4, server4);
    size_t udp = f.length;
    put_udp(&f, 40000, 53);
    put_text(&f, "0123456789");
    frame_finish(&f);
    set_be16(&f, udp + 4, 4000);
    assert_result(decode_cut(&f, f.length, &p, &copy), DECODE_OK);
    cr_assert_eq(p.payload_length, 10);
    cr_assert_eq(p.payload_wire_length, 10);
    cr_assert_not(p.payload_truncated);
    free(copy);
    assert_result(decode_cut(&f, f.length - 4, &p, &copy), DECODE_OK);
    cr_assert_eq(p.payload_length, 6);
    cr_assert_eq(p.payload_wire_length, 10, "the IP length bounds the UDP one");
    free(copy);
    (void)tcp;
}

/* Through a tunnel, the innermost IP header's length is the one that counts. */
Test(snaplen, tunnelled_payload_wire_length)
{
    struct frame f;
    build_gtp(&f);
    size_t length = strlen("RCPT TO:<b@example.net>\r\n");
    struct packet p;
    uint8_t *copy;
    assert_result(decode_cut(&f, f.length - 10, &p, &copy), DECODE_OK);
    cr_assert_eq(p.tunnel, TUNNEL_GTP);
    cr_assert_eq(p.payload_length, length - 10);
    cr_assert_eq(p.payload_wire_length, length);
    cr_assert(p.payload_truncated);
    free(copy);
}

Test(ethernet, decoding_forgets_the_previous_packet)
{
    struct frame tagged;
    frame_init(&tagged);
    put_ethernet(&tagged, 0x8100);
    put_vlan(&tagged, 100, 0x8864);
    put_pppoe(&tagged, 9, 0x0021);
    put_ipv4(&tagged, IPPROTO_NUMBER_TCP, client4, server4);
    put_syn(&tagged);
    frame_finish(&tagged);
    struct frame plain;
    build_ipv4_syn(&plain);

    struct packet p;
    memset(&p, 0, sizeof(p));
    assert_result(decode_packet(LINK_ETHERNET, tagged.bytes, (uint32_t)tagged.length, &p),
                  DECODE_OK);
    cr_assert_eq(p.vlan_count, 1);
    cr_assert(p.has_pppoe);
    assert_result(decode_packet(LINK_ETHERNET, plain.bytes, (uint32_t)plain.length, &p), DECODE_OK);
    cr_assert_eq(p.vlan_count, 0);
    cr_assert_eq(p.vlan[0], 0);
    cr_assert_not(p.has_pppoe);
    cr_assert_eq(p.pppoe_session, 0);
}

Test(ethernet, arp_and_lldp_are_not_ip)
{
    struct frame f;
    frame_init(&f);
    put_ethernet(&f, 0x0806);
    put_be16(&f, 1);
    put_be16(&f, 0x0800);
    put_u8(&f, 6);
    put_u8(&f, 4);
    put_be16(&f, 1);
    put_bytes(&f, mac_a, 6);
    put_bytes(&f, client4, 4);
    put_zeros(&f, 6);
    put_bytes(&f, server4, 4);
    struct packet p;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_NOT_IP);

    frame_init(&f);
    put_ethernet(&f, 0x88cc);
    put_zeros(&f, 46);
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_NOT_IP);

    /* Tagged ARP is still ARP. */
    frame_init(&f);
    put_ethernet(&f, 0x88a8);
    put_vlan(&f, 200, 0x8100);
    put_vlan(&f, 2001, 0x0806);
    put_zeros(&f, 28);
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_NOT_IP);
}

Test(ethernet, ethertype_and_ip_version_disagree)
{
    struct frame f;
    build_ipv6_syn(&f);
    f.bytes[12] = 0x08;
    f.bytes[13] = 0x00;
    struct packet p;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_MALFORMED);
    build_ipv4_syn(&f);
    f.bytes[12] = 0x86;
    f.bytes[13] = 0xdd;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_MALFORMED);
}

/* The priority and DEI bits share the tag with the VLAN id; only the 12-bit id is kept. */
Test(vlan, single_802_1q_tag)
{
    struct frame f;
    frame_init(&f);
    put_ethernet(&f, 0x8100);
    put_vlan(&f, 0xb000 | 100, 0x0800);
    put_ipv4(&f, IPPROTO_NUMBER_TCP, client4, server4);
    put_syn(&f);
    frame_finish(&f);
    struct packet p;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert_eq(p.vlan_count, 1);
    cr_assert_eq(p.vlan[0], 100);
    cr_assert_eq(p.vlan[1], 0);
    cr_assert(p.has_mac);
    assert_client_to_server_v4(&p);
    assert_syn(&p);
    cr_assert_eq(p.payload, f.bytes + ETH_IPV4_TCP_PAYLOAD + 4);
    check_every_prefix(LINK_ETHERNET, &f, ETH_IPV4_TCP_PAYLOAD + 4, true);
}

Test(vlan, qinq_outer_s_tag_first)
{
    const uint16_t outer_types[] = {0x88a8, 0x9100};
    for (size_t i = 0; i < 2; i++) {
        struct frame f;
        frame_init(&f);
        put_ethernet(&f, outer_types[i]);
        put_vlan(&f, 200, 0x8100);
        put_vlan(&f, 0x2000 | 300, 0x86dd);
        put_ipv6(&f, IPPROTO_NUMBER_TCP, client6, server6);
        put_syn(&f);
        frame_finish(&f);
        struct packet p;
        assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
        cr_assert_eq(p.vlan_count, 2, "outer type %#x", outer_types[i]);
        cr_assert_eq(p.vlan[0], 200, "the S-tag is vlan[0]");
        cr_assert_eq(p.vlan[1], 300, "the C-tag is vlan[1]");
        cr_assert_eq(p.ip_version, 6);
        assert_address(&p.src, "2001:db8::10");
        assert_address(&p.dst, "2001:db8::25");
        assert_syn(&p);
    }
}

/* Only two tag values fit the packet view; deeper tags are counted but not kept, and a fifth
 * tag is beyond the cap. */
Test(vlan, tag_stack_cap)
{
    struct frame f;
    frame_init(&f);
    put_ethernet(&f, 0x88a8);
    for (int tag = 1; tag < DECODE_MAX_VLAN_TAGS; tag++)
        put_vlan(&f, (uint16_t)(10 * tag), 0x8100);
    put_vlan(&f, 10 * DECODE_MAX_VLAN_TAGS, 0x0800);
    put_ipv4(&f, IPPROTO_NUMBER_TCP, client4, server4);
    put_syn(&f);
    frame_finish(&f);
    struct packet p;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert_eq(p.vlan_count, DECODE_MAX_VLAN_TAGS);
    cr_assert_eq(p.vlan[0], 10);
    cr_assert_eq(p.vlan[1], 20);
    assert_syn(&p);

    frame_init(&f);
    put_ethernet(&f, 0x88a8);
    for (int tag = 0; tag < DECODE_MAX_VLAN_TAGS; tag++)
        put_vlan(&f, (uint16_t)(10 * (tag + 1)), 0x8100);
    put_vlan(&f, 99, 0x0800);
    put_ipv4(&f, IPPROTO_NUMBER_TCP, client4, server4);
    put_syn(&f);
    frame_finish(&f);
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_TOO_DEEP);
}

Test(mpls, two_labels_then_ipv4)
{
    struct frame f;
    frame_init(&f);
    put_ethernet(&f, 0x8847);
    put_mpls(&f, 100, false);
    put_mpls(&f, 200, true);
    put_ipv4(&f, IPPROTO_NUMBER_TCP, client4, server4);
    put_syn(&f);
    frame_finish(&f);
    struct packet p;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert_eq(p.mpls_count, 2);
    cr_assert_eq(p.vlan_count, 0);
    assert_client_to_server_v4(&p);
    assert_syn(&p);
    cr_assert_eq(p.payload, f.bytes + ETH_IPV4_TCP_PAYLOAD + 8);
    check_every_prefix(LINK_ETHERNET, &f, ETH_IPV4_TCP_PAYLOAD + 8, true);
}

Test(mpls, tagged_multicast_ipv6)
{
    struct frame f;
    frame_init(&f);
    put_ethernet(&f, 0x8100);
    put_vlan(&f, 3399, 0x8848);
    put_mpls(&f, 16106, true);
    put_ipv6(&f, IPPROTO_NUMBER_TCP, client6, server6);
    put_syn(&f);
    frame_finish(&f);
    struct packet p;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert_eq(p.vlan_count, 1);
    cr_assert_eq(p.vlan[0], 3399);
    cr_assert_eq(p.mpls_count, 1);
    cr_assert_eq(p.ip_version, 6);
    assert_syn(&p);
}

Test(mpls, label_stack_cap)
{
    struct frame f;
    frame_init(&f);
    put_ethernet(&f, 0x8847);
    for (int label = 1; label < DECODE_MAX_MPLS_LABELS; label++)
        put_mpls(&f, (uint32_t)label, false);
    put_mpls(&f, DECODE_MAX_MPLS_LABELS, true);
    put_ipv4(&f, IPPROTO_NUMBER_TCP, client4, server4);
    put_syn(&f);
    frame_finish(&f);
    struct packet p;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert_eq(p.mpls_count, DECODE_MAX_MPLS_LABELS);

    frame_init(&f);
    put_ethernet(&f, 0x8847);
    for (int label = 0; label < DECODE_MAX_MPLS_LABELS; label++)
        put_mpls(&f, (uint32_t)label + 1, false);
    put_mpls(&f, 999, true);
    put_ipv4(&f, IPPROTO_NUMBER_TCP, client4, server4);
    put_syn(&f);
    frame_finish(&f);
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_TOO_DEEP);
}

/* MPLS does not name its payload; a pseudowire control word (first nibble 0) is not IP. */
Test(mpls, pseudowire_is_unsupported)
{
    struct frame f;
    frame_init(&f);
    put_ethernet(&f, 0x8847);
    put_mpls(&f, 100, true);
    put_be32(&f, 0);
    put_ethernet(&f, 0x0800);
    put_ipv4(&f, IPPROTO_NUMBER_TCP, client4, server4);
    put_syn(&f);
    frame_finish(&f);
    struct packet p;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_UNSUPPORTED);
}

Test(pppoe, session_ipv4)
{
    struct frame f;
    frame_init(&f);
    put_ethernet(&f, 0x8864);
    put_pppoe(&f, 0x0f07, 0x0021);
    put_ipv4(&f, IPPROTO_NUMBER_TCP, client4, server4);
    put_syn(&f);
    frame_finish(&f);
    struct packet p;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert(p.has_pppoe);
    cr_assert_eq(p.pppoe_session, 0x0f07);
    assert_client_to_server_v4(&p);
    assert_syn(&p);
    cr_assert_eq(p.payload, f.bytes + ETH_IPV4_TCP_PAYLOAD + 8);
    check_every_prefix(LINK_ETHERNET, &f, ETH_IPV4_TCP_PAYLOAD + 8, true);
}

Test(pppoe, session_ipv6_over_qinq)
{
    struct frame f;
    frame_init(&f);
    put_ethernet(&f, 0x8100);
    put_vlan(&f, 3704, 0x8100);
    put_vlan(&f, 2474, 0x8864);
    put_pppoe(&f, 0xbeef, 0x0057);
    put_ipv6(&f, IPPROTO_NUMBER_TCP, client6, server6);
    put_syn(&f);
    frame_finish(&f);
    struct packet p;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert(p.has_pppoe);
    cr_assert_eq(p.pppoe_session, 0xbeef);
    cr_assert_eq(p.vlan_count, 2);
    cr_assert_eq(p.vlan[0], 3704);
    cr_assert_eq(p.vlan[1], 2474);
    cr_assert_eq(p.ip_version, 6);
    assert_address(&p.src, "2001:db8::10");
    assert_syn(&p);
}

Test(pppoe, control_protocols_and_bad_headers)
{
    struct frame f;
    frame_init(&f);
    put_ethernet(&f, 0x8864);
    put_pppoe(&f, 1, 0xc021);
    put_zeros(&f, 10);
    frame_finish(&f);
    struct packet p;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_NOT_IP);

    /* Version/type other than 1/1 or a non-zero (discovery) code is not a session frame. */
    f.bytes[14] = 0x21;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_MALFORMED);
    f.bytes[14] = 0x11;
    f.bytes[15] = 0x09;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_MALFORMED);

    /* A length too short for the PPP protocol field, inside a frame that has the bytes. */
    f.bytes[15] = 0;
    set_be16(&f, 18, 1);
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_MALFORMED);
}

/* ---- Other link layers -------------------------------------------------------------------- */

Test(link, linux_cooked_v1)
{
    struct frame f;
    frame_init(&f);
    put_sll(&f, 0x0800);
    put_ipv4(&f, IPPROTO_NUMBER_TCP, client4, server4);
    put_syn(&f);
    frame_finish(&f);
    struct packet p;
    assert_result(decode_frame(LINK_LINUX_SLL, &f, &p), DECODE_OK);
    cr_assert_not(p.has_mac, "a cooked header has no Ethernet MACs");
    assert_client_to_server_v4(&p);
    assert_syn(&p);
    cr_assert_eq(p.payload, f.bytes + 16 + 40);
    check_every_prefix(LINK_LINUX_SLL, &f, 16 + 40, true);

    frame_init(&f);
    put_sll(&f, 0x0806);
    put_zeros(&f, 28);
    assert_result(decode_frame(LINK_LINUX_SLL, &f, &p), DECODE_NOT_IP);
}

Test(link, linux_cooked_v2)
{
    struct frame f;
    frame_init(&f);
    put_sll2(&f, 0x86dd);
    put_ipv6(&f, IPPROTO_NUMBER_TCP, client6, server6);
    put_syn(&f);
    frame_finish(&f);
    struct packet p;
    assert_result(decode_frame(LINK_LINUX_SLL2, &f, &p), DECODE_OK);
    cr_assert_not(p.has_mac);
    cr_assert_eq(p.ip_version, 6);
    assert_address(&p.dst, "2001:db8::25");
    assert_syn(&p);
    cr_assert_eq(p.payload, f.bytes + 20 + 60);
    check_every_prefix(LINK_LINUX_SLL2, &f, 20 + 60, true);

    /* A VLAN tag the kernel left in the data is walked like on Ethernet. */
    frame_init(&f);
    put_sll2(&f, 0x8100);
    put_vlan(&f, 42, 0x0800);
    put_ipv4(&f, IPPROTO_NUMBER_TCP, client4, server4);
    put_syn(&f);
    frame_finish(&f);
    assert_result(decode_frame(LINK_LINUX_SLL2, &f, &p), DECODE_OK);
    cr_assert_eq(p.vlan_count, 1);
    cr_assert_eq(p.vlan[0], 42);
    assert_syn(&p);
}

Test(link, raw_ip)
{
    struct frame v4, v6;
    frame_init(&v4);
    put_ipv4(&v4, IPPROTO_NUMBER_TCP, client4, server4);
    put_syn(&v4);
    frame_finish(&v4);
    frame_init(&v6);
    put_ipv6(&v6, IPPROTO_NUMBER_TCP, client6, server6);
    put_syn(&v6);
    frame_finish(&v6);

    const int raw_types[] = {LINK_RAW, LINK_RAW_DLT, LINK_RAW_OPENBSD};
    for (size_t i = 0; i < 3; i++) {
        struct packet p;
        assert_result(decode_frame(raw_types[i], &v4, &p), DECODE_OK);
        cr_assert_eq(p.ip_version, 4, "link type %d", raw_types[i]);
        cr_assert_not(p.has_mac);
        assert_syn(&p);
        assert_result(decode_frame(raw_types[i], &v6, &p), DECODE_OK);
        cr_assert_eq(p.ip_version, 6);
        assert_syn(&p);
    }
    check_every_prefix(LINK_RAW, &v4, 40, true);
    check_every_prefix(LINK_RAW, &v6, 60, true);

    /* The version nibble is all a raw link has; anything but 4 or 6 is not IP at all. */
    struct frame bad = v4;
    bad.bytes[0] = 0x55;
    struct packet p;
    assert_result(decode_frame(LINK_RAW, &bad, &p), DECODE_MALFORMED);
}

Test(link, ipv4_and_ipv6_link_types)
{
    cr_assert(decode_link_supported(LINK_IPV4));
    cr_assert(decode_link_supported(LINK_IPV6));
    struct frame v4, v6;
    frame_init(&v4);
    put_ipv4(&v4, IPPROTO_NUMBER_TCP, client4, server4);
    put_syn(&v4);
    frame_finish(&v4);
    frame_init(&v6);
    put_ipv6(&v6, IPPROTO_NUMBER_TCP, client6, server6);
    put_syn(&v6);
    frame_finish(&v6);
    struct packet p;
    assert_result(decode_frame(LINK_IPV4, &v4, &p), DECODE_OK);
    assert_client_to_server_v4(&p);
    assert_syn(&p);
    assert_result(decode_frame(LINK_IPV6, &v6, &p), DECODE_OK);
    cr_assert_eq(p.ip_version, 6);
    assert_syn(&p);
    /* These link types promise one version; the other one contradicts the link. */
    assert_result(decode_frame(LINK_IPV4, &v6, &p), DECODE_MALFORMED);
    assert_result(decode_frame(LINK_IPV6, &v4, &p), DECODE_MALFORMED);
}

Test(link, bsd_loopback)
{
    cr_assert(decode_link_supported(LINK_NULL));
    cr_assert(decode_link_supported(LINK_LOOP));
    struct packet p;
    /* AF_INET is 2 everywhere, written in either byte order. */
    for (int little_endian = 0; little_endian < 2; little_endian++) {
        struct frame f;
        frame_init(&f);
        put_null(&f, 2, little_endian);
        put_ipv4(&f, IPPROTO_NUMBER_TCP, client4, server4);
        put_syn(&f);
        frame_finish(&f);
        assert_result(decode_frame(LINK_NULL, &f, &p), DECODE_OK);
        assert_client_to_server_v4(&p);
        assert_syn(&p);
        assert_result(decode_frame(LINK_LOOP, &f, &p), DECODE_OK);
        check_every_prefix(LINK_NULL, &f, 4 + 40, true);
    }
    /* AF_INET6 differs per system: Linux, NetBSD/OpenBSD, FreeBSD, macOS. */
    const uint32_t inet6[] = {10, 24, 28, 30};
    for (size_t i = 0; i < 4; i++) {
        struct frame f;
        frame_init(&f);
        put_null(&f, inet6[i], true);
        put_ipv6(&f, IPPROTO_NUMBER_TCP, client6, server6);
        put_syn(&f);
        frame_finish(&f);
        assert_result(decode_frame(LINK_NULL, &f, &p), DECODE_OK);
        cr_assert_eq(p.ip_version, 6, "family %u", inet6[i]);
        assert_syn(&p);
    }
    struct frame f;
    frame_init(&f);
    put_null(&f, 17, true);
    put_zeros(&f, 40);
    assert_result(decode_frame(LINK_NULL, &f, &p), DECODE_NOT_IP);
}

/* ---- IPv4 --------------------------------------------------------------------------------- */

Test(ipv4, options_move_the_transport_header)
{
    struct frame f;
    frame_init(&f);
    put_ethernet(&f, 0x0800);
    put_ipv4_header(&f, IPPROTO_NUMBER_TCP, client4, server4, TEST_TTL, 0, 1);
    put_syn(&f);
    frame_finish(&f);
    struct packet p;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    assert_client_to_server_v4(&p);
    assert_syn(&p);
    cr_assert_eq(p.payload, f.bytes + ETH_IPV4_TCP_PAYLOAD + 4);
    check_every_prefix(LINK_ETHERNET, &f, ETH_IPV4_TCP_PAYLOAD + 4, true);
}

Test(ipv4, non_first_fragment)
{
    struct frame f;
    frame_init(&f);
    put_ethernet(&f, 0x0800);
    put_ipv4_header(&f, IPPROTO_NUMBER_TCP, client4, server4, TEST_TTL, 185, 0);
    put_text(&f, "the middle of a segment, no TCP header here");
    frame_finish(&f);
    struct packet p;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_FRAGMENT);
    /* The addresses and protocol are filled so the caller can count what it skipped. */
    cr_assert_eq(p.proto, IPPROTO_NUMBER_TCP);
    assert_client_to_server_v4(&p);

    /* The last fragment (more-fragments clear, offset set) is not first either. */
    set_be16(&f, 14 + 6, 0x4000 | 185);
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_FRAGMENT);
    set_be16(&f, 14 + 6, 0x2000 | 1);
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_FRAGMENT);
}

Test(ipv4, first_fragment_decodes_its_transport_header)
{
    struct frame f;
    frame_init(&f);
    put_ethernet(&f, 0x0800);
    put_ipv4_header(&f, IPPROTO_NUMBER_TCP, client4, server4, TEST_TTL, 0x2000, 0);
    put_tcp(&f, CLIENT_PORT, SMTP_PORT, 5, 6, TCP_ACK);
    put_text(&f, "first part");
    frame_finish(&f);
    struct packet p;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert(p.first_fragment);
    cr_assert_eq(p.src_port, CLIENT_PORT);
    cr_assert_eq(p.dst_port, SMTP_PORT);
    assert_payload(&p, &f, "first part");

    /* Don't Fragment alone is an ordinary whole datagram. */
    set_be16(&f, 14 + 6, 0x4000);
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert_not(p.first_fragment);
}

Test(ipv4, impossible_lengths_are_malformed)
{
    struct frame f;
    struct packet p;
    for (uint8_t ihl = 0; ihl < 5; ihl++) {
        build_ipv4_syn(&f);
        f.bytes[14] = (uint8_t)(0x40 | ihl);
        assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_MALFORMED);
    }

    /* A total length shorter than the header, with every byte captured. */
    build_ipv4_syn(&f);
    set_be16(&f, 14 + 2, 19);
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_MALFORMED);
    set_be16(&f, 14 + 2, 0);
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_MALFORMED);

    /* IHL 6 with a total length of 20: shorter than its own header. */
    frame_init(&f);
    put_ethernet(&f, 0x0800);
    put_ipv4_header(&f, IPPROTO_NUMBER_TCP, client4, server4, TEST_TTL, 0, 1);
    put_syn(&f);
    frame_finish(&f);
    set_be16(&f, 14 + 2, 20);
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_MALFORMED);

    /* A header length that runs past the capture is a cut, not a lie. */
    build_ipv4_syn(&f);
    f.bytes[14] = 0x4f;
    f.length = 14 + 40;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_TRUNCATED);
}

/* A header that does not fit is TRUNCATED when the capture ended first and MALFORMED when the
 * IP length (which the capture does hold) ends it first. */
Test(ipv4, short_transport_header_cut_or_lied)
{
    struct frame f;
    build_ipv4_data(&f, "xyz");
    struct packet p;
    memset(&p, 0, sizeof(p));
    assert_result(decode_packet(LINK_ETHERNET, f.bytes, 14 + 20 + 10, &p), DECODE_TRUNCATED);

    set_be16(&f, 14 + 2, 20 + 10);
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_MALFORMED);

    /* A TCP data offset below 5 words. */
    build_ipv4_data(&f, "xyz");
    f.bytes[14 + 20 + 12] = 0x40;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_MALFORMED);

    /* A data offset of 15 words that the IP length cannot hold. */
    build_ipv4_data(&f, "xyz");
    f.bytes[14 + 20 + 12] = 0xf0;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_MALFORMED);
}

Test(ipv4, every_prefix_of_a_segment)
{
    struct frame f;
    build_ipv4_data(&f, "EHLO mail.example\r\n");
    check_every_prefix(LINK_ETHERNET, &f, ETH_IPV4_TCP_PAYLOAD, true);
}

Test(ipv4, udp_ports_and_payload)
{
    struct frame f;
    frame_init(&f);
    put_ethernet(&f, 0x0800);
    put_ipv4(&f, IPPROTO_NUMBER_UDP, client4, server4);
    put_udp(&f, 53000, 53);
    put_text(&f, "query");
    frame_finish(&f);
    struct packet p;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert_eq(p.proto, IPPROTO_NUMBER_UDP);
    cr_assert_eq(p.src_port, 53000);
    cr_assert_eq(p.dst_port, 53);
    cr_assert_eq(p.tcp_flags, 0);
    assert_payload(&p, &f, "query");
    check_every_prefix(LINK_ETHERNET, &f, 14 + 20 + 8, true);

    /* A UDP length shorter than the IP payload bounds the payload. */
    set_be16(&f, 14 + 20 + 4, 8 + 2);
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert_eq(p.payload_length, 2);
}

/* Protocols without ports still decode: addresses and protocol are what the caller needs. */
Test(ipv4, other_protocols_have_no_ports)
{
    struct frame f;
    frame_init(&f);
    put_ethernet(&f, 0x0800);
    put_ipv4(&f, 50, client4, server4);
    put_zeros(&f, 16);
    frame_finish(&f);
    struct packet p;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert_eq(p.proto, 50);
    cr_assert_eq(p.src_port, 0);
    cr_assert_null(p.payload);
    cr_assert_eq(p.payload_length, 0);
}

/* ---- IPv6 --------------------------------------------------------------------------------- */

Test(ipv6, tcp_syn)
{
    struct frame f;
    build_ipv6_syn(&f);
    struct packet p;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert_eq(p.ip_version, 6);
    cr_assert_eq(p.ttl, TEST_TTL);
    assert_address(&p.src, "2001:db8::10");
    assert_address(&p.dst, "2001:db8::25");
    assert_syn(&p);
    cr_assert_eq(p.payload, f.bytes + ETH_IPV6_TCP_PAYLOAD);
    check_every_prefix(LINK_ETHERNET, &f, ETH_IPV6_TCP_PAYLOAD, true);
}

Test(ipv6, extension_headers_before_tcp)
{
    struct frame f;
    frame_init(&f);
    put_ethernet(&f, 0x86dd);
    put_ipv6(&f, 0, client6, server6);
    put_ipv6_options(&f, 60, 0);
    put_ipv6_options(&f, IPPROTO_NUMBER_TCP, 1);
    put_tcp(&f, CLIENT_PORT, SMTP_PORT, SYN_SEQUENCE, 0, TCP_PSH | TCP_ACK);
    put_text(&f, "QUIT\r\n");
    frame_finish(&f);
    struct packet p;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert_eq(p.proto, IPPROTO_NUMBER_TCP, "proto is the transport after the extensions");
    cr_assert_eq(p.src_port, CLIENT_PORT);
    cr_assert_eq(p.dst_port, SMTP_PORT);
    cr_assert_eq(p.payload, f.bytes + ETH_IPV6_TCP_PAYLOAD + 8 + 16);
    assert_payload(&p, &f, "QUIT\r\n");
    check_every_prefix(LINK_ETHERNET, &f, ETH_IPV6_TCP_PAYLOAD + 24, true);
}

/* RFC 4302 section 2.2: AH counts its length in 4-octet words minus 2, unlike the others. */
Test(ipv6, authentication_header_length)
{
    struct frame f;
    frame_init(&f);
    put_ethernet(&f, 0x86dd);
    put_ipv6(&f, 51, client6, server6);
    put_u8(&f, IPPROTO_NUMBER_TCP);
    put_u8(&f, 4);
    put_zeros(&f, 22);
    put_syn(&f);
    frame_finish(&f);
    struct packet p;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    assert_syn(&p);
    cr_assert_eq(p.payload, f.bytes + ETH_IPV6_TCP_PAYLOAD + 24);
}

Test(ipv6, extension_header_cap)
{
    struct frame f;
    struct packet p;
    for (int count = DECODE_MAX_IPV6_EXTENSIONS; count <= DECODE_MAX_IPV6_EXTENSIONS + 1; count++) {
        frame_init(&f);
        put_ethernet(&f, 0x86dd);
        put_ipv6(&f, 60, client6, server6);
        for (int i = 1; i < count; i++)
            put_ipv6_options(&f, 60, 0);
        put_ipv6_options(&f, IPPROTO_NUMBER_TCP, 0);
        put_syn(&f);
        frame_finish(&f);
        if (count <= DECODE_MAX_IPV6_EXTENSIONS) {
            assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
            assert_syn(&p);
            cr_assert_eq(p.payload, f.bytes + ETH_IPV6_TCP_PAYLOAD + 8 * (size_t)count);
        } else {
            assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_TOO_DEEP);
        }
    }
}

Test(ipv6, fragments)
{
    struct frame f;
    struct packet p;
    frame_init(&f);
    put_ethernet(&f, 0x86dd);
    put_ipv6(&f, 44, client6, server6);
    put_ipv6_fragment(&f, IPPROTO_NUMBER_TCP, 185, false);
    put_text(&f, "rest of a datagram");
    frame_finish(&f);
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_FRAGMENT);
    cr_assert_eq(p.proto, IPPROTO_NUMBER_TCP, "the fragment's protocol is reported");
    assert_address(&p.src, "2001:db8::10");

    frame_init(&f);
    put_ethernet(&f, 0x86dd);
    put_ipv6(&f, 44, client6, server6);
    put_ipv6_fragment(&f, IPPROTO_NUMBER_TCP, 0, true);
    put_syn(&f);
    frame_finish(&f);
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert(p.first_fragment);
    assert_syn(&p);

    /* An atomic fragment (RFC 6946: offset 0, no more fragments) is a whole datagram. */
    f.bytes[14 + 40 + 3] = 0;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert_not(p.first_fragment);
    assert_syn(&p);
}

Test(ipv6, jumbogram_and_lengths)
{
    struct frame f;
    struct packet p;
    frame_init(&f);
    put_ethernet(&f, 0x86dd);
    put_ipv6(&f, 0, client6, server6);
    put_ipv6_options(&f, IPPROTO_NUMBER_TCP, 0);
    put_syn(&f);
    frame_finish(&f);
    set_be16(&f, 14 + 4, 0);
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_MALFORMED);

    /* A payload length too short for the TCP header that the frame does hold. */
    build_ipv6_syn(&f);
    set_be16(&f, 14 + 4, 12);
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_MALFORMED);

    /* No Next Header ends the packet without a transport. */
    frame_init(&f);
    put_ethernet(&f, 0x86dd);
    put_ipv6(&f, 59, client6, server6);
    frame_finish(&f);
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert_eq(p.proto, 59);
    cr_assert_eq(p.src_port, 0);
}

/* ---- ICMP errors -------------------------------------------------------------------------- */

Test(icmp, unreachable_quotes_ipv4_and_8_bytes_of_tcp)
{
    struct frame f;
    build_icmp_unreachable(&f, 8);
    struct packet p;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert_eq(p.proto, IPPROTO_NUMBER_ICMP);
    assert_address(&p.src, "203.0.113.1");
    assert_address(&p.dst, "192.0.2.10");
    cr_assert(p.is_icmp_error);
    cr_assert_eq(p.icmp_type, 3);
    cr_assert_eq(p.icmp_code, 13);
    assert_address(&p.quote.src, "192.0.2.10");
    assert_address(&p.quote.dst, "198.51.100.25");
    cr_assert_eq(p.quote.proto, IPPROTO_NUMBER_TCP);
    cr_assert(p.quote.has_ports);
    cr_assert_eq(p.quote.src_port, CLIENT_PORT);
    cr_assert_eq(p.quote.dst_port, SMTP_PORT);
    cr_assert(p.quote.has_seq);
    cr_assert_eq(p.quote.seq, SYN_SEQUENCE);
    /* The ICMP packet itself has no ports of its own. */
    cr_assert_eq(p.src_port, 0);
    cr_assert_eq(p.dst_port, 0);
    check_every_prefix(LINK_ETHERNET, &f, 14 + 20 + 8, false);
}

Test(icmp, quote_of_4_bytes_has_ports_but_no_sequence)
{
    struct frame f;
    build_icmp_unreachable(&f, 4);
    struct packet p;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert(p.is_icmp_error);
    cr_assert(p.quote.has_ports);
    cr_assert_eq(p.quote.src_port, CLIENT_PORT);
    cr_assert_eq(p.quote.dst_port, SMTP_PORT);
    cr_assert_not(p.quote.has_seq);
    cr_assert_eq(p.quote.seq, 0);

    build_icmp_unreachable(&f, 3);
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert_eq(p.quote.proto, IPPROTO_NUMBER_TCP);
    cr_assert_not(p.quote.has_ports);
}

/* The quote rule: addresses only when the whole quoted IP header is there. */
Test(icmp, partial_quotes)
{
    struct frame f;
    build_icmp_unreachable(&f, 0);
    f.length -= 1;
    frame_finish(&f);
    struct packet p;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert(p.is_icmp_error);
    cr_assert_eq(p.quote.src.family, 0);
    cr_assert_eq(p.quote.proto, 0);
    cr_assert_not(p.quote.has_ports);

    /* A quoted non-first fragment has addresses but its first bytes are not ports. */
    build_icmp_unreachable(&f, 8);
    set_be16(&f, 14 + 20 + 8 + 6, 100);
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    assert_address(&p.quote.src, "192.0.2.10");
    cr_assert_not(p.quote.has_ports);

    /* A quote that is not IPv4 stays empty. */
    build_icmp_unreachable(&f, 8);
    f.bytes[14 + 20 + 8] = 0x65;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert(p.is_icmp_error);
    cr_assert_eq(p.quote.src.family, 0);
}

Test(icmp, time_exceeded_quoting_udp)
{
    struct frame f;
    frame_init(&f);
    put_ethernet(&f, 0x0800);
    put_ipv4(&f, IPPROTO_NUMBER_ICMP, router4, client4);
    put_icmp(&f, 11, 0);
    put_quoted_ipv4(&f, IPPROTO_NUMBER_UDP, client4, server4);
    put_be16(&f, 33434);
    put_be16(&f, 33435);
    put_be16(&f, 40);
    put_be16(&f, 0);
    frame_finish(&f);
    struct packet p;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert(p.is_icmp_error);
    cr_assert_eq(p.icmp_type, 11);
    cr_assert_eq(p.quote.proto, IPPROTO_NUMBER_UDP);
    cr_assert(p.quote.has_ports);
    cr_assert_eq(p.quote.src_port, 33434);
    cr_assert_eq(p.quote.dst_port, 33435);
    cr_assert_not(p.quote.has_seq, "only TCP has a sequence number");
}

Test(icmp, echo_is_not_an_error)
{
    struct frame f;
    frame_init(&f);
    put_ethernet(&f, 0x0800);
    put_ipv4(&f, IPPROTO_NUMBER_ICMP, client4, server4);
    put_icmp(&f, 8, 0);
    put_text(&f, "ping payload");
    frame_finish(&f);
    struct packet p;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert_eq(p.proto, IPPROTO_NUMBER_ICMP);
    cr_assert_not(p.is_icmp_error);
    cr_assert_eq(p.icmp_type, 0);

    /* An ICMP header shorter than 8 bytes inside the IP length is malformed. */
    set_be16(&f, 14 + 2, 20 + 6);
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_MALFORMED);
}

Test(icmp, icmpv6_unreachable_quotes_ipv6_and_tcp)
{
    struct frame f;
    build_icmpv6_unreachable(&f, 8);
    struct packet p;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert_eq(p.proto, IPPROTO_NUMBER_ICMPV6);
    cr_assert_eq(p.ip_version, 6);
    assert_address(&p.src, "2001:db8:ff00::1");
    cr_assert(p.is_icmp_error);
    cr_assert_eq(p.icmp_type, 1);
    cr_assert_eq(p.icmp_code, 1);
    assert_address(&p.quote.src, "2001:db8::10");
    assert_address(&p.quote.dst, "2001:db8::25");
    cr_assert_eq(p.quote.proto, IPPROTO_NUMBER_TCP);
    cr_assert(p.quote.has_ports);
    cr_assert_eq(p.quote.src_port, CLIENT_PORT);
    cr_assert_eq(p.quote.dst_port, SMTP_PORT);
    cr_assert(p.quote.has_seq);
    cr_assert_eq(p.quote.seq, SYN_SEQUENCE);
    check_every_prefix(LINK_ETHERNET, &f, 14 + 40 + 8, false);

    build_icmpv6_unreachable(&f, 4);
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert(p.quote.has_ports);
    cr_assert_not(p.quote.has_seq);
}

Test(icmp, icmpv6_quote_walks_extension_headers)
{
    struct frame tcp;
    frame_init(&tcp);
    put_syn(&tcp);
    struct frame f;
    frame_init(&f);
    put_ethernet(&f, 0x86dd);
    put_ipv6(&f, IPPROTO_NUMBER_ICMPV6, router6, client6);
    put_icmp(&f, 1, 4);
    put_quoted_ipv6(&f, 0, client6, server6);
    put_ipv6_options(&f, IPPROTO_NUMBER_TCP, 0);
    put_bytes(&f, tcp.bytes, 8);
    frame_finish(&f);
    struct packet p;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert_eq(p.icmp_code, 4);
    cr_assert_eq(p.quote.proto, IPPROTO_NUMBER_TCP);
    cr_assert(p.quote.has_seq);
    cr_assert_eq(p.quote.dst_port, SMTP_PORT);
}

Test(icmp, icmpv6_informational_is_not_an_error)
{
    struct frame f;
    frame_init(&f);
    put_ethernet(&f, 0x86dd);
    put_ipv6(&f, IPPROTO_NUMBER_ICMPV6, client6, server6);
    put_icmp(&f, 128, 0);
    frame_finish(&f);
    struct packet p;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert_not(p.is_icmp_error);

    /* ICMPv4 inside IPv6 is no ICMPv6 error, whatever its type byte says. */
    frame_init(&f);
    put_ethernet(&f, 0x86dd);
    put_ipv6(&f, IPPROTO_NUMBER_ICMP, client6, server6);
    put_icmp(&f, 3, 1);
    frame_finish(&f);
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert_not(p.is_icmp_error);
}

/* ---- Tunnels ------------------------------------------------------------------------------ */

static void assert_gre_inner(const struct packet *p)
{
    cr_assert_eq(p->tunnel, TUNNEL_GRE);
    cr_assert_eq(p->tunnel_depth, 1);
    assert_address(&p->outer_src, "203.0.113.100");
    assert_address(&p->outer_dst, "203.0.113.200");
    assert_client_to_server_v4(p);
    cr_assert_eq(p->ttl, TEST_TTL, "the TTL is the inner header's");
    cr_assert_eq(p->proto, IPPROTO_NUMBER_TCP);
    cr_assert_eq(p->src_port, CLIENT_PORT);
    cr_assert_eq(p->dst_port, SMTP_PORT);
}

Test(tunnel, gre_ipv4)
{
    struct frame f;
    build_gre(&f, 0, "DATA\r\n");
    struct packet p;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    assert_gre_inner(&p);
    cr_assert(p.has_mac);
    cr_assert_arr_eq(p.src_mac, mac_a, 6);
    assert_payload(&p, &f, "DATA\r\n");
    check_every_prefix(LINK_ETHERNET, &f, 14 + 20 + 4 + 40, true);
}

Test(tunnel, gre_optional_fields_are_skipped)
{
    const uint16_t flag_sets[] = {0x8000, 0x2000, 0x1000, 0xb000};
    const size_t lengths[] = {8, 8, 8, 16};
    for (size_t i = 0; i < 4; i++) {
        struct frame f;
        build_gre(&f, flag_sets[i], "NOOP\r\n");
        struct packet p;
        assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
        assert_gre_inner(&p);
        cr_assert_eq(p.payload, f.bytes + 14 + 20 + lengths[i] + 40, "flags %#x", flag_sets[i]);
        assert_payload(&p, &f, "NOOP\r\n");
    }
    struct frame f;
    build_gre(&f, 0xb000, "NOOP\r\n");
    check_every_prefix(LINK_ETHERNET, &f, 14 + 20 + 16 + 40, true);
}

Test(tunnel, gre_unsupported_payloads)
{
    struct frame f;
    struct packet p;
    /* RFC 1701 source routing is obsolete; it is not walked. */
    build_gre(&f, 0x4000, "x");
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_UNSUPPORTED);
    /* An unknown protocol, and a GRE version that does not exist. */
    build_gre(&f, 0, "x");
    set_be16(&f, 14 + 20 + 2, 0x88be);
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_UNSUPPORTED);
    build_gre(&f, 0x0002, "x");
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_UNSUPPORTED);
}

Test(tunnel, gre_ipv6_and_transparent_ethernet)
{
    struct frame f;
    frame_init(&f);
    put_ethernet(&f, 0x0800);
    put_ipv4_header(&f, 47, tunnel_a4, tunnel_b4, OUTER_TTL, 0, 0);
    put_gre(&f, 0, 0x86dd);
    put_ipv6(&f, IPPROTO_NUMBER_TCP, client6, server6);
    put_syn(&f);
    frame_finish(&f);
    struct packet p;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert_eq(p.tunnel, TUNNEL_GRE);
    cr_assert_eq(p.ip_version, 6);
    assert_address(&p.outer_src, "203.0.113.100");
    assert_syn(&p);

    /* Transparent Ethernet bridging: the inner frame's MACs and tags are not the wire's. */
    frame_init(&f);
    put_ethernet(&f, 0x0800);
    put_ipv4_header(&f, 47, tunnel_a4, tunnel_b4, OUTER_TTL, 0, 0);
    put_gre(&f, 0x2000, 0x6558);
    put_ethernet_macs(&f, mac_d, mac_c, 0x8100);
    put_vlan(&f, 55, 0x0800);
    put_ipv4(&f, IPPROTO_NUMBER_TCP, client4, server4);
    put_syn(&f);
    frame_finish(&f);
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert_eq(p.tunnel, TUNNEL_GRE);
    cr_assert_arr_eq(p.src_mac, mac_a, 6);
    cr_assert_arr_eq(p.dst_mac, mac_b, 6);
    cr_assert_eq(p.vlan_count, 0);
    assert_client_to_server_v4(&p);
    assert_syn(&p);
}

Test(tunnel, pptp_enhanced_gre)
{
    struct frame f;
    build_pptp(&f);
    struct packet p;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert_eq(p.tunnel, TUNNEL_GRE);
    cr_assert_eq(p.tunnel_depth, 1);
    assert_address(&p.outer_dst, "203.0.113.200");
    assert_client_to_server_v4(&p);
    assert_payload(&p, &f, "HELO pptp\r\n");
    check_every_prefix(LINK_ETHERNET, &f, 14 + 20 + 12 + 4 + 40, true);

    /* Address and control compressed away (RFC 1662 section 3.2), protocol kept. */
    struct frame compressed;
    frame_init(&compressed);
    put_bytes(&compressed, f.bytes, 14 + 20 + 12);
    put_bytes(&compressed, f.bytes + 14 + 20 + 12 + 2, f.length - (14 + 20 + 12 + 2));
    set_be16(&compressed, 14 + 2, compressed.length - 14);
    set_be16(&compressed, 14 + 20 + 4, compressed.length - (14 + 20 + 12));
    assert_result(decode_frame(LINK_ETHERNET, &compressed, &p), DECODE_OK);
    assert_client_to_server_v4(&p);
}

/* A PPTP packet without a sequence number only acknowledges: no PPP frame, no tunnel. */
Test(tunnel, pptp_bare_acknowledgement)
{
    struct frame f;
    frame_init(&f);
    put_ethernet(&f, 0x0800);
    put_ipv4_header(&f, 47, tunnel_a4, tunnel_b4, OUTER_TTL, 0, 0);
    put_be16(&f, 0x2081);
    put_be16(&f, 0x880b);
    put_be16(&f, 0);
    put_be16(&f, 0x0777);
    put_be32(&f, 999);
    frame_finish(&f);
    struct packet p;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert_eq(p.tunnel, TUNNEL_NONE);
    cr_assert_eq(p.proto, 47);
    assert_address(&p.src, "203.0.113.100");

    /* Version 1 needs the key and forbids the checksum. */
    set_be16(&f, 14 + 20, 0x0081);
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_MALFORMED);
}

Test(tunnel, ip_in_ip_variants)
{
    struct packet p;
    struct frame f;

    frame_init(&f);
    put_ethernet(&f, 0x0800);
    put_ipv4_header(&f, 4, tunnel_a4, tunnel_b4, OUTER_TTL, 0, 0);
    put_ipv4(&f, IPPROTO_NUMBER_TCP, client4, server4);
    put_syn(&f);
    frame_finish(&f);
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert_eq(p.tunnel, TUNNEL_IPIP);
    cr_assert_eq(p.tunnel_depth, 1);
    assert_address(&p.outer_src, "203.0.113.100");
    assert_address(&p.outer_dst, "203.0.113.200");
    assert_client_to_server_v4(&p);
    cr_assert_eq(p.ttl, TEST_TTL);
    assert_syn(&p);
    check_every_prefix(LINK_ETHERNET, &f, 14 + 20 + 40, true);

    frame_init(&f);
    put_ethernet(&f, 0x0800);
    put_ipv4_header(&f, 41, tunnel_a4, tunnel_b4, OUTER_TTL, 0, 0);
    put_ipv6(&f, IPPROTO_NUMBER_TCP, client6, server6);
    put_syn(&f);
    frame_finish(&f);
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert_eq(p.tunnel, TUNNEL_6IN4);
    cr_assert_eq(p.outer_src.family, ADDRESS_V4);
    cr_assert_eq(p.ip_version, 6);
    assert_address(&p.src, "2001:db8::10");
    assert_syn(&p);

    frame_init(&f);
    put_ethernet(&f, 0x86dd);
    put_ipv6(&f, 4, router6, server6);
    put_ipv4(&f, IPPROTO_NUMBER_TCP, client4, server4);
    put_syn(&f);
    frame_finish(&f);
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert_eq(p.tunnel, TUNNEL_4IN6);
    assert_address(&p.outer_src, "2001:db8:ff00::1");
    assert_client_to_server_v4(&p);
    assert_syn(&p);

    frame_init(&f);
    put_ethernet(&f, 0x86dd);
    put_ipv6(&f, 41, router6, server6);
    put_ipv6(&f, IPPROTO_NUMBER_TCP, client6, server6);
    put_syn(&f);
    frame_finish(&f);
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert_eq(p.tunnel, TUNNEL_6IN6);
    assert_address(&p.outer_src, "2001:db8:ff00::1");
    assert_address(&p.src, "2001:db8::10");
    assert_syn(&p);
}

/* The outermost tunnel names the kind and the outer addresses; the innermost IP header is
 * src/dst. One more layer than the cap is TOO_DEEP. */
Test(tunnel, nesting_cap)
{
    struct frame f;
    frame_init(&f);
    put_ethernet(&f, 0x0800);
    put_ipv4_header(&f, 4, tunnel_a4, tunnel_b4, OUTER_TTL, 0, 0);
    put_ipv4_header(&f, 47, router4, tunnel_b4, OUTER_TTL, 0, 0);
    put_gre(&f, 0, 0x0800);
    put_ipv4_header(&f, 41, tunnel_b4, router4, OUTER_TTL, 0, 0);
    put_ipv6(&f, IPPROTO_NUMBER_TCP, client6, server6);
    put_syn(&f);
    frame_finish(&f);
    struct packet p;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert_eq(p.tunnel_depth, DECODE_MAX_TUNNELS);
    cr_assert_eq(p.tunnel, TUNNEL_IPIP);
    assert_address(&p.outer_src, "203.0.113.100");
    assert_address(&p.outer_dst, "203.0.113.200");
    assert_address(&p.src, "2001:db8::10");
    assert_syn(&p);
    check_every_prefix(LINK_ETHERNET, &f, 14 + 20 + 20 + 4 + 20 + 60, true);

    frame_init(&f);
    put_ethernet(&f, 0x0800);
    for (int layer = 0; layer <= DECODE_MAX_TUNNELS; layer++)
        put_ipv4_header(&f, 4, tunnel_a4, tunnel_b4, OUTER_TTL, 0, 0);
    put_ipv4(&f, IPPROTO_NUMBER_TCP, client4, server4);
    put_syn(&f);
    frame_finish(&f);
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_TOO_DEEP);

    frame_init(&f);
    put_ethernet(&f, 0x0800);
    for (int layer = 0; layer <= DECODE_MAX_TUNNELS; layer++) {
        put_ipv4_header(&f, 47, tunnel_a4, tunnel_b4, OUTER_TTL, 0, 0);
        put_gre(&f, 0, 0x0800);
    }
    put_ipv4(&f, IPPROTO_NUMBER_TCP, client4, server4);
    put_syn(&f);
    frame_finish(&f);
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_TOO_DEEP);
}

Test(tunnel, vxlan)
{
    struct frame f;
    build_vxlan(&f);
    struct packet p;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert_eq(p.tunnel, TUNNEL_VXLAN);
    cr_assert_eq(p.tunnel_depth, 1);
    assert_address(&p.outer_src, "203.0.113.100");
    assert_client_to_server_v4(&p);
    /* Layer 2 is the frame on the wire, not the one inside the tunnel. */
    cr_assert_arr_eq(p.src_mac, mac_a, 6);
    cr_assert_arr_eq(p.dst_mac, mac_b, 6);
    cr_assert_eq(p.vlan_count, 0);
    cr_assert_eq(p.src_port, CLIENT_PORT, "the carrier's UDP ports are replaced");
    cr_assert_eq(p.dst_port, SMTP_PORT);
    assert_payload(&p, &f, "MAIL FROM:<a@example.com>\r\n");
    check_every_prefix(LINK_ETHERNET, &f, 14 + 20 + 8 + 8 + 18 + 40, true);

    /* Without the I flag it is ordinary UDP to port 4789. */
    f.bytes[14 + 20 + 8] = 0;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert_eq(p.tunnel, TUNNEL_NONE);
    cr_assert_eq(p.proto, IPPROTO_NUMBER_UDP);
    cr_assert_eq(p.dst_port, 4789);
    cr_assert_eq(p.payload, f.bytes + 14 + 20 + 8);
}

/* A tunnelled packet that has no transport ports leaves none from its carrier. */
Test(tunnel, carrier_transport_fields_are_cleared)
{
    struct frame f;
    frame_init(&f);
    put_ethernet(&f, 0x0800);
    put_ipv4_header(&f, IPPROTO_NUMBER_UDP, tunnel_a4, tunnel_b4, OUTER_TTL, 0, 0);
    put_udp(&f, 51000, 4789);
    put_vxlan(&f, 1);
    put_ethernet_macs(&f, mac_d, mac_c, 0x0800);
    put_ipv4(&f, IPPROTO_NUMBER_ICMP, client4, server4);
    put_icmp(&f, 8, 0);
    frame_finish(&f);
    struct packet p;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert_eq(p.tunnel, TUNNEL_VXLAN);
    cr_assert_eq(p.proto, IPPROTO_NUMBER_ICMP);
    cr_assert_eq(p.src_port, 0);
    cr_assert_eq(p.dst_port, 0);
    cr_assert_null(p.payload);
    cr_assert_eq(p.payload_length, 0);
}

Test(tunnel, gtp_user_plane)
{
    struct frame f;
    build_gtp(&f);
    struct packet p;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert_eq(p.tunnel, TUNNEL_GTP);
    cr_assert_eq(p.tunnel_depth, 1);
    assert_address(&p.outer_dst, "203.0.113.200");
    assert_client_to_server_v4(&p);
    cr_assert_eq(p.dst_port, SMTP_PORT);
    assert_payload(&p, &f, "RCPT TO:<b@example.net>\r\n");
    check_every_prefix(LINK_ETHERNET, &f, 14 + 20 + 8 + 12 + 4 + 40, true);

    /* Echo request: GTP signalling on the user port is plain UDP. */
    frame_init(&f);
    put_ethernet(&f, 0x0800);
    put_ipv4(&f, IPPROTO_NUMBER_UDP, tunnel_a4, tunnel_b4);
    put_udp(&f, 2152, 2152);
    put_gtp(&f, 0x32, 1, 0);
    frame_finish(&f);
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert_eq(p.tunnel, TUNNEL_NONE);
    cr_assert_eq(p.dst_port, 2152);
    cr_assert_eq(p.payload_length, 12);
}

Test(tunnel, gtp_minimal_header_and_bad_extension)
{
    struct frame f;
    frame_init(&f);
    put_ethernet(&f, 0x0800);
    put_ipv4(&f, IPPROTO_NUMBER_UDP, tunnel_a4, tunnel_b4);
    put_udp(&f, 40000, 2152);
    put_gtp(&f, 0x30, 255, 0);
    put_ipv6(&f, IPPROTO_NUMBER_TCP, client6, server6);
    put_syn(&f);
    frame_finish(&f);
    struct packet p;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_OK);
    cr_assert_eq(p.tunnel, TUNNEL_GTP);
    cr_assert_eq(p.ip_version, 6);
    assert_syn(&p);

    /* An extension header of length 0 would never advance. */
    build_gtp(&f);
    f.bytes[14 + 20 + 8 + 12] = 0;
    assert_result(decode_frame(LINK_ETHERNET, &f, &p), DECODE_MALFORMED);
}

/* ---- Robustness --------------------------------------------------------------------------- */

struct seed {
    int linktype;
    struct frame frame;
};

static uint64_t xorshift64(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x;
}

/* What DECODE_OK promises whatever the bytes were: a payload inside the capture and fields
 * within their caps. */
static void check_decoded(enum decode_result result, const struct packet *p, const uint8_t *data,
                          uint32_t length)
{
    cr_assert_lt((unsigned)result, DECODE_RESULT_COUNT);
    if (result != DECODE_OK)
        return;
    /* The wire length travels with the captured one and never says less. */
    cr_assert_geq(p->payload_wire_length, p->payload_length);
    cr_assert_leq(p->payload_wire_length, 0xffff);
    cr_assert_eq(p->payload_truncated, p->payload_wire_length > p->payload_length);
    if (p->payload == NULL) {
        cr_assert_eq(p->payload_length, 0);
    } else {
        cr_assert(p->payload >= data && p->payload <= data + length, "payload outside capture");
        cr_assert_leq(p->payload_length, (size_t)(data + length - p->payload),
                      "payload runs past the capture");
    }
    cr_assert(p->ip_version == 4 || p->ip_version == 6);
    cr_assert_eq(p->src.family, p->ip_version);
    cr_assert_eq(p->dst.family, p->ip_version);
    cr_assert_leq(p->vlan_count, DECODE_MAX_VLAN_TAGS);
    cr_assert_leq(p->mpls_count, DECODE_MAX_MPLS_LABELS);
    cr_assert_leq(p->tunnel_depth, DECODE_MAX_TUNNELS);
    cr_assert_eq(p->tunnel == TUNNEL_NONE, p->tunnel_depth == 0);
    cr_assert_lt(p->tunnel, TUNNEL_KIND_COUNT);
    cr_assert(p->quote.src.family == 0 || p->quote.src.family == ADDRESS_V4 ||
              p->quote.src.family == ADDRESS_V6);
}

static size_t build_seeds(struct seed *seeds)
{
    size_t count = 0;
    build_ipv4_data(&seeds[count].frame, "EHLO fuzz.example\r\n");
    seeds[count++].linktype = LINK_ETHERNET;
    build_gre(&seeds[count].frame, 0xb000, "DATA\r\n");
    seeds[count++].linktype = LINK_ETHERNET;
    build_pptp(&seeds[count].frame);
    seeds[count++].linktype = LINK_ETHERNET;
    build_vxlan(&seeds[count].frame);
    seeds[count++].linktype = LINK_ETHERNET;
    build_gtp(&seeds[count].frame);
    seeds[count++].linktype = LINK_ETHERNET;
    build_icmp_unreachable(&seeds[count].frame, 8);
    seeds[count++].linktype = LINK_ETHERNET;
    build_icmpv6_unreachable(&seeds[count].frame, 8);
    seeds[count++].linktype = LINK_ETHERNET;

    struct frame *f = &seeds[count].frame;
    frame_init(f);
    put_ethernet(f, 0x88a8);
    put_vlan(f, 200, 0x8100);
    put_vlan(f, 300, 0x8864);
    put_pppoe(f, 77, 0x0057);
    put_ipv6(f, 0, client6, server6);
    put_ipv6_options(f, 44, 0);
    put_ipv6_fragment(f, 60, 0, true);
    put_ipv6_options(f, IPPROTO_NUMBER_TCP, 1);
    put_tcp_header(f, CLIENT_PORT, SMTP_PORT, 1, 2, TCP_ACK, 2);
    put_text(f, "AUTH LOGIN\r\n");
    frame_finish(f);
    seeds[count++].linktype = LINK_ETHERNET;

    f = &seeds[count].frame;
    frame_init(f);
    put_ethernet(f, 0x8847);
    put_mpls(f, 1, false);
    put_mpls(f, 2, true);
    put_ipv4_header(f, 4, tunnel_a4, tunnel_b4, OUTER_TTL, 0, 2);
    put_ipv4_header(f, 41, tunnel_b4, router4, OUTER_TTL, 0x2000, 0);
    put_ipv6(f, IPPROTO_NUMBER_UDP, client6, server6);
    put_udp(f, 5353, 53);
    put_text(f, "query");
    frame_finish(f);
    seeds[count++].linktype = LINK_ETHERNET;

    f = &seeds[count].frame;
    frame_init(f);
    put_sll(f, 0x0800);
    put_ipv4(f, IPPROTO_NUMBER_TCP, client4, server4);
    put_syn(f);
    frame_finish(f);
    seeds[count++].linktype = LINK_LINUX_SLL;

    f = &seeds[count].frame;
    frame_init(f);
    put_sll2(f, 0x86dd);
    put_ipv6(f, IPPROTO_NUMBER_TCP, client6, server6);
    put_syn(f);
    frame_finish(f);
    seeds[count++].linktype = LINK_LINUX_SLL2;

    f = &seeds[count].frame;
    frame_init(f);
    put_null(f, 30, true);
    put_ipv6(f, 51, client6, server6);
    put_u8(f, IPPROTO_NUMBER_TCP);
    put_u8(f, 1);
    put_zeros(f, 10);
    put_syn(f);
    frame_finish(f);
    seeds[count++].linktype = LINK_NULL;

    f = &seeds[count].frame;
    frame_init(f);
    put_ipv4(f, 47, tunnel_a4, tunnel_b4);
    put_gre(f, 0x2000, 0x8847);
    put_mpls(f, 3, true);
    put_ipv4(f, IPPROTO_NUMBER_ICMP, router4, client4);
    put_icmp(f, 3, 4);
    put_quoted_ipv4(f, IPPROTO_NUMBER_TCP, client4, server4);
    put_tcp(f, CLIENT_PORT, SMTP_PORT, 9, 0, TCP_SYN);
    frame_finish(f);
    seeds[count++].linktype = LINK_RAW;
    return count;
}

/* Random byte changes and cuts of valid frames of every encapsulation. Each case is decoded
 * from a heap block of exactly its length, so under AddressSanitizer a single byte read past
 * the capture fails the run; without it the test still holds the DECODE_OK promises. */
Test(robustness, mutated_frames, .timeout = 110)
{
    static struct seed seeds[16];
    size_t seed_count = build_seeds(seeds);
    cr_assert_leq(seed_count, sizeof(seeds) / sizeof(seeds[0]));
    for (size_t i = 0; i < seed_count; i++) {
        struct packet p;
        assert_result(decode_frame(seeds[i].linktype, &seeds[i].frame, &p), DECODE_OK);
    }

    static const int linktypes[] = {LINK_NULL,      LINK_ETHERNET, LINK_RAW,  LINK_LOOP,
                                    LINK_LINUX_SLL, LINK_IPV4,     LINK_IPV6, LINK_LINUX_SLL2};
    /* Values that steer a decoder into another branch: versions, lengths, flags, types. */
    static const uint8_t interesting[] = {0x00, 0x01, 0x02, 0x04, 0x06, 0x08, 0x11, 0x21, 0x29,
                                          0x2c, 0x2f, 0x3a, 0x40, 0x45, 0x4f, 0x60, 0x7f, 0x80,
                                          0x81, 0x86, 0x88, 0xa8, 0xdd, 0xfe, 0xff};
    unsigned counts[DECODE_RESULT_COUNT] = {0};
    uint64_t state = 0x9e3779b97f4a7c15u;
    for (unsigned iteration = 0; iteration < 200000; iteration++) {
        const struct seed *seed = &seeds[xorshift64(&state) % seed_count];
        size_t length = seed->frame.length;
        if (xorshift64(&state) % 8 == 0)
            length = xorshift64(&state) % (length + 1);
        uint8_t *data = malloc(length);
        cr_assert(length == 0 || data != NULL);
        if (length > 0)
            memcpy(data, seed->frame.bytes, length);
        unsigned mutations = 1 + (unsigned)(xorshift64(&state) % 4);
        for (unsigned m = 0; length > 0 && m < mutations; m++) {
            uint64_t r = xorshift64(&state);
            size_t position = (size_t)(r >> 8) % length;
            switch (r % 3) {
            case 0:
                data[position] = (uint8_t)(r >> 40);
                break;
            case 1:
                data[position] ^= (uint8_t)(1u << ((r >> 40) % 8));
                break;
            default:
                data[position] = interesting[(r >> 40) % sizeof(interesting)];
                break;
            }
        }
        int linktype = seed->linktype;
        if (xorshift64(&state) % 16 == 0)
            linktype = linktypes[xorshift64(&state) % (sizeof(linktypes) / sizeof(linktypes[0]))];
        struct packet p;
        memset(&p, 0, sizeof(p));
        enum decode_result result = decode_packet(linktype, data, (uint32_t)length, &p);
        check_decoded(result, &p, data, (uint32_t)length);
        counts[result]++;
        free(data);
    }
    /* The mutations must reach both sides of the checks, or the loop proves little. */
    cr_assert_gt(counts[DECODE_OK], 1000);
    cr_assert_gt(counts[DECODE_TRUNCATED], 1000);
    cr_assert_gt(counts[DECODE_MALFORMED], 100);
}

/* ---- Real captures ------------------------------------------------------------------------ */

struct corpus_totals {
    unsigned files;
    unsigned packets;
    unsigned tcp;
    unsigned results[DECODE_RESULT_COUNT];
};

static bool has_suffix(const char *name, const char *suffix)
{
    size_t name_length = strlen(name);
    size_t suffix_length = strlen(suffix);
    return name_length >= suffix_length && strcmp(name + name_length - suffix_length, suffix) == 0;
}

static void decode_capture(const char *path, struct corpus_totals *totals)
{
    char error[PCAP_ERRBUF_SIZE];
    pcap_t *capture = pcap_open_offline(path, error);
    if (capture == NULL)
        return;
    totals->files++;
    int linktype = pcap_datalink(capture);
    struct pcap_pkthdr *header;
    const u_char *data;
    while (pcap_next_ex(capture, &header, &data) == 1) {
        struct packet p;
        memset(&p, 0, sizeof(p));
        p.wire_length = header->len;
        enum decode_result result = decode_packet(linktype, data, header->caplen, &p);
        check_decoded(result, &p, data, header->caplen);
        cr_assert_eq(p.wire_length, header->len);
        if (!decode_link_supported(linktype))
            cr_assert_eq(result, DECODE_UNSUPPORTED, "%s: link type %d", path, linktype);
        totals->packets++;
        totals->results[result]++;
        if (result == DECODE_OK && p.proto == IPPROTO_NUMBER_TCP)
            totals->tcp++;
    }
    pcap_close(capture);
}

static void walk_corpus(const char *directory, struct corpus_totals *totals)
{
    DIR *dir = opendir(directory);
    if (dir == NULL)
        return;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] == '.')
            continue;
        char path[4096];
        int written = snprintf(path, sizeof(path), "%s/%s", directory, entry->d_name);
        if (written < 0 || (size_t)written >= sizeof(path))
            continue;
        struct stat status;
        /* lstat: a symbolic link to a directory could loop the walk. */
        if (lstat(path, &status) != 0)
            continue;
        if (S_ISDIR(status.st_mode))
            walk_corpus(path, totals);
        else if (has_suffix(entry->d_name, ".pcap") || has_suffix(entry->d_name, ".pcapng") ||
                 has_suffix(entry->d_name, ".cap"))
            decode_capture(path, totals);
    }
    closedir(dir);
}

Test(corpus, every_capture_decodes_within_bounds, .timeout = 110)
{
    struct corpus_totals totals;
    memset(&totals, 0, sizeof(totals));
    walk_corpus(OP25B_CORPUS_DIR, &totals);
    cr_log_info("%u captures, %u packets, %u TCP; ok %u not_ip %u fragment %u truncated %u "
                "malformed %u unsupported %u too_deep %u",
                totals.files, totals.packets, totals.tcp, totals.results[DECODE_OK],
                totals.results[DECODE_NOT_IP], totals.results[DECODE_FRAGMENT],
                totals.results[DECODE_TRUNCATED], totals.results[DECODE_MALFORMED],
                totals.results[DECODE_UNSUPPORTED], totals.results[DECODE_TOO_DEEP]);
    cr_assert_gt(totals.files, 0, "no capture found under %s", OP25B_CORPUS_DIR);
    cr_assert_gt(totals.tcp, 0, "no corpus packet decoded as TCP");
}

/* Packet number (from 1) of a corpus capture, decoded from a heap copy that *copy receives
 * and the caller frees. A capture missing from this checkout skips the test. */
static enum decode_result decode_corpus_packet(const char *relative_path, unsigned number,
                                               struct packet *out, uint8_t **copy)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/pcaps/%s", OP25B_CORPUS_DIR, relative_path);
    char error[PCAP_ERRBUF_SIZE];
    pcap_t *capture = pcap_open_offline(path, error);
    if (capture == NULL)
        cr_skip_test("%s: %s", relative_path, error);
    struct pcap_pkthdr *header = NULL;
    const u_char *data = NULL;
    for (unsigned i = 0; i < number; i++)
        cr_assert_eq(pcap_next_ex(capture, &header, &data), 1, "%s has fewer than %u packets",
                     relative_path, number);
    *copy = malloc(header->caplen);
    cr_assert_not_null(*copy);
    memcpy(*copy, data, header->caplen);
    memset(out, 0, sizeof(*out));
    enum decode_result result = decode_packet(pcap_datalink(capture), *copy, header->caplen, out);
    pcap_close(capture);
    return result;
}

/* Expectations read off tcpdump's dissection of the same packets. */
Test(corpus, pppoe_over_qinq)
{
    struct packet p;
    uint8_t *data;
    assert_result(decode_corpus_packet("tunnels/zeek__pppoe-over-qinq.pcap", 1, &p, &data),
                  DECODE_OK);
    cr_assert_eq(p.vlan_count, 2);
    cr_assert_eq(p.vlan[0], 3704);
    cr_assert_eq(p.vlan[1], 2474);
    cr_assert(p.has_pppoe);
    cr_assert_eq(p.pppoe_session, 0x0f07);
    assert_address(&p.src, "1.1.1.1");
    assert_address(&p.dst, "2.2.2.2");
    cr_assert_eq(p.src_port, 20394);
    cr_assert_eq(p.dst_port, 443);
    cr_assert_eq(p.tcp_flags, TCP_SYN);
    cr_assert_eq(p.seq, 3618128213u);
    cr_assert_eq(p.window, 65535);
    cr_assert_eq(p.payload_length, 0);
    free(data);
}

Test(corpus, mpls_in_vlan)
{
    struct packet p;
    uint8_t *data;
    assert_result(decode_corpus_packet("tunnels/zeek__mpls-in-vlan.pcap", 3, &p, &data), DECODE_OK);
    cr_assert_eq(p.vlan_count, 1);
    cr_assert_eq(p.vlan[0], 3399);
    cr_assert_eq(p.mpls_count, 2);
    cr_assert_eq(p.src_port, 61193);
    cr_assert_eq(p.dst_port, 80);
    cr_assert_eq(p.tcp_flags, TCP_PSH | TCP_ACK);
    cr_assert_eq(p.payload_length, 658);
    cr_assert_arr_eq(p.payload, "GET /", 5);
    free(data);
}

Test(corpus, gre_sample)
{
    struct packet p;
    uint8_t *data;
    assert_result(decode_corpus_packet("tunnels/zeek__gre-sample.pcap", 1, &p, &data), DECODE_OK);
    cr_assert_eq(p.tunnel, TUNNEL_GRE);
    cr_assert_eq(p.tunnel_depth, 1);
    assert_address(&p.outer_src, "172.27.1.66");
    assert_address(&p.outer_dst, "66.59.109.137");
    assert_address(&p.src, "66.59.111.190");
    assert_address(&p.dst, "172.28.2.3");
    cr_assert_eq(p.proto, IPPROTO_NUMBER_ICMP);
    cr_assert_not(p.is_icmp_error, "an echo request");
    free(data);
}

/* PPTP inside IPv4 inside IPv6: the outermost tunnel (4in6) names the packet. */
Test(corpus, pptp_in_4in6)
{
    struct packet p;
    uint8_t *data;
    assert_result(decode_corpus_packet("tunnels/zeek__gre-pptp.pcap", 1, &p, &data), DECODE_OK);
    cr_assert_eq(p.vlan_count, 1);
    cr_assert_eq(p.vlan[0], 100);
    cr_assert_eq(p.tunnel, TUNNEL_4IN6);
    cr_assert_eq(p.tunnel_depth, 2);
    assert_address(&p.outer_src, "2402:f000:1:8e01::5555");
    assert_address(&p.outer_dst, "2607:fcd0:100:2300::b108:2a6b");
    assert_address(&p.src, "172.16.44.3");
    assert_address(&p.dst, "8.8.8.8");
    cr_assert_eq(p.proto, IPPROTO_NUMBER_UDP);
    cr_assert_eq(p.src_port, 40768);
    cr_assert_eq(p.dst_port, 53);
    cr_assert_eq(p.payload_length, 71);
    free(data);
}

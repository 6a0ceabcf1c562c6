#include <criterion/criterion.h>

#include <string.h>

#include "track/duplicates.h"

#define MS (PACKET_TIME_SECOND / 1000)

static struct duplicate_filter filter;

static struct packet tcp_packet(uint8_t flags, uint32_t seq, const char *payload)
{
    struct packet packet;
    memset(&packet, 0, sizeof(packet));
    cr_assert(address_parse("198.51.100.10", &packet.src));
    cr_assert(address_parse("192.0.2.25", &packet.dst));
    packet.ip_version = 4;
    packet.proto = IPPROTO_NUMBER_TCP;
    packet.ttl = 64;
    packet.src_port = 40000;
    packet.dst_port = 25;
    packet.tcp_flags = flags;
    packet.seq = seq;
    packet.window = 64240;
    packet.payload = (const uint8_t *)payload;
    packet.payload_length = packet.payload_wire_length = payload ? (uint32_t)strlen(payload) : 0;
    packet.ts = 1768467600LL * PACKET_TIME_SECOND;
    return packet;
}

Test(duplicates, a_mirror_copy_is_seen_once)
{
    duplicate_filter_init(&filter);
    struct packet syn = tcp_packet(TCP_SYN, 1000, NULL);
    cr_assert(!duplicate_seen(&filter, &syn));
    /* The egress copy: another TTL, VLAN and MACs, 40 microseconds later. */
    struct packet copy = syn;
    copy.ttl = 63;
    copy.vlan_count = 1;
    copy.vlan[0] = 999;
    copy.src_mac[0] = 0x42;
    copy.ts += 40;
    cr_assert(duplicate_seen(&filter, &copy));
    /* A retransmission one second later is a packet of its own. */
    struct packet again = syn;
    again.ts += 1000 * MS;
    cr_assert(!duplicate_seen(&filter, &again));
}

Test(duplicates, the_window_is_a_few_milliseconds_either_way)
{
    duplicate_filter_init(&filter);
    struct packet syn = tcp_packet(TCP_SYN, 2000, NULL);
    cr_assert(!duplicate_seen(&filter, &syn));
    struct packet late = syn;
    late.ts += DUPLICATE_WINDOW;
    cr_assert(duplicate_seen(&filter, &late));
    struct packet early = syn;
    early.ts -= DUPLICATE_WINDOW / 2; /* the copies arrive out of order */
    cr_assert(duplicate_seen(&filter, &early));
    struct packet too_late = syn;
    too_late.ts += DUPLICATE_WINDOW + 1;
    cr_assert(!duplicate_seen(&filter, &too_late));
}

Test(duplicates, different_packets_are_not_copies)
{
    duplicate_filter_init(&filter);
    struct packet a = tcp_packet(TCP_ACK | TCP_PSH, 3000, "RCPT TO:<a@b>\r\n");
    cr_assert(!duplicate_seen(&filter, &a));
    struct packet b = a;
    b.payload = (const uint8_t *)"RCPT TO:<c@d>\r\n";
    cr_assert(!duplicate_seen(&filter, &b), "another payload");
    struct packet c = a;
    c.seq += 15;
    cr_assert(!duplicate_seen(&filter, &c), "another sequence number");
    struct packet d = a;
    d.src_port = 40001;
    cr_assert(!duplicate_seen(&filter, &d), "another port");
    struct packet e = a;
    e.tunnel = TUNNEL_GRE;
    cr_assert(address_parse("203.0.113.1", &e.outer_src));
    cr_assert(address_parse("203.0.113.2", &e.outer_dst));
    cr_assert(!duplicate_seen(&filter, &e), "inside a tunnel");
    struct packet f = a;
    f.payload_wire_length = 1400; /* the same captured bytes of a longer packet */
    cr_assert(!duplicate_seen(&filter, &f));
}

Test(duplicates, pure_acks_are_not_compared)
{
    duplicate_filter_init(&filter);
    struct packet ack = tcp_packet(TCP_ACK, 4000, NULL);
    cr_assert(!duplicate_seen(&filter, &ack));
    cr_assert(!duplicate_seen(&filter, &ack), "duplicate ACKs are the receiver's own");
    struct packet fin = tcp_packet(TCP_ACK | TCP_FIN, 4000, NULL);
    cr_assert(!duplicate_seen(&filter, &fin));
    cr_assert(duplicate_seen(&filter, &fin));
}

Test(duplicates, udp_and_icmp_errors_are_compared)
{
    duplicate_filter_init(&filter);
    struct packet query = tcp_packet(0, 0, "\x12\x34 MX query");
    query.proto = IPPROTO_NUMBER_UDP;
    query.dst_port = 53;
    cr_assert(!duplicate_seen(&filter, &query));
    cr_assert(duplicate_seen(&filter, &query));
    struct packet other = query;
    other.payload = (const uint8_t *)"\x12\x35 MX query";
    cr_assert(!duplicate_seen(&filter, &other), "another query id");

    struct packet icmp = tcp_packet(0, 0, NULL);
    icmp.proto = IPPROTO_NUMBER_ICMP;
    icmp.src_port = icmp.dst_port = 0;
    icmp.is_icmp_error = true;
    icmp.icmp_type = 3;
    icmp.icmp_code = 13;
    icmp.quote.src = query.src;
    icmp.quote.dst = query.dst;
    icmp.quote.seq = 77;
    cr_assert(!duplicate_seen(&filter, &icmp));
    cr_assert(duplicate_seen(&filter, &icmp));
    struct packet next_error = icmp;
    next_error.quote.seq = 78;
    cr_assert(!duplicate_seen(&filter, &next_error), "quoting another segment");

    struct packet other_protocol = icmp;
    other_protocol.is_icmp_error = false;
    other_protocol.proto = 47;
    cr_assert(!duplicate_seen(&filter, &other_protocol));
    cr_assert(!duplicate_seen(&filter, &other_protocol), "nothing reads it: not compared");
}

Test(duplicates, many_packets_in_the_window_keep_their_copies_found)
{
    duplicate_filter_init(&filter);
    /* A flood of distinct SYNs within 1 ms, each mirrored twice: every copy is found while
     * the window holds no more packets than the filter has slots. */
    unsigned found = 0;
    for (uint32_t i = 0; i < DUPLICATE_SLOTS / 2; i++) {
        struct packet syn = tcp_packet(TCP_SYN, 0x10000 + i * 7919, NULL);
        syn.src_port = (uint16_t)(1024 + i);
        cr_assert(!duplicate_seen(&filter, &syn));
        syn.ts += 3;
        found += duplicate_seen(&filter, &syn);
    }
    cr_assert_eq(found, DUPLICATE_SLOTS / 2);
}

Test(duplicates, every_kept_payload_byte_tells_packets_apart)
{
    /* The payload is hashed a word at a time, the last word partly: a change in any one
     * of the first 64 bytes, at every length, makes another packet (a faster hash that
     * read words twice let some go unseen), and the same bytes the same one. Bytes past
     * the 64th are not read. */
    uint8_t bytes[80], changed[80];
    for (size_t i = 0; i < sizeof(bytes); i++)
        bytes[i] = (uint8_t)(0x41 + i);
    for (uint32_t length = 1; length <= sizeof(bytes); length++) {
        uint32_t read = length < 64 ? length : 64;
        for (uint32_t at = 0; at < length; at++) {
            duplicate_filter_init(&filter);
            struct packet first = tcp_packet(TCP_ACK | TCP_PSH, 5000 + length, NULL);
            first.payload = bytes;
            first.payload_length = first.payload_wire_length = length;
            cr_assert(!duplicate_seen(&filter, &first));
            memcpy(changed, bytes, sizeof(changed));
            changed[at] ^= 0x20;
            struct packet other = first;
            other.payload = changed;
            other.ts += 10;
            cr_assert_eq(duplicate_seen(&filter, &other), at >= read, "length %u, byte %u changed",
                         length, at);
            struct packet copy = first;
            copy.ts += 20;
            cr_assert(duplicate_seen(&filter, &copy), "length %u: the copy", length);
        }
    }
}

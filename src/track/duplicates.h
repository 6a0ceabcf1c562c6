/* Copies of one packet on a mirror port. A SPAN session that copies both directions of a
 * port (or of a VLAN) copies every routed frame twice, once as it comes in and once as it
 * goes out, microseconds to a few milliseconds apart; counting both would count each SYN
 * twice (syn_count), each MX query twice, and feed the dialogue parser retransmissions.
 *
 * "The same packet" is the same IP packet, not the same frame: the two copies differ in
 * their layer 2 header (MAC addresses, VLAN tag) and in what the router rewrites as it
 * forwards (TTL or hop limit, and so the IPv4 header checksum; the DSCP/ECN byte). So a
 * packet's identity is what a router leaves alone: addresses, protocol, ports, the TCP
 * sequence and acknowledgement numbers, flags and window, an ICMP error's type, code and
 * quoted header, the tunnel around it, the payload's length and its first 64 bytes.
 *
 * A copy is one seen within DUPLICATE_WINDOW of the first. No sender sends the same packet
 * again that soon: a SYN is retransmitted after 1 s at the earliest (RFC 6298 2.1),
 * data after the retransmission timer, 200 ms at least on Linux (RFC 6298 2.4 asks for
 * 1 s), and a DNS query after a timeout of a second or more. A fast retransmission could
 * come sooner on a very short path, but it repeats bytes already seen. Pure ACKs (no SYN,
 * FIN or RST, no payload) are left out: a receiver sends identical duplicate ACKs in
 * bursts (RFC 5681 3.2, their SACK options apart, which are not compared), and no fact
 * depends on them.
 *
 * Fixed size, in packet time, no allocation: a set-associative table of 32-bit tags, each
 * bucket replaced in packet order, which keeps about the last DUPLICATE_SLOTS packets
 * (8,192 packets in 5 ms is 1.6 million packets per second); past that rate some copies
 * pass uncounted, as before this filter. */
#ifndef OP25B_DUPLICATES_H
#define OP25B_DUPLICATES_H

#include <stdbool.h>
#include <stdint.h>

#include "decode/decode.h"
#include "util/packet_time.h"

#define DUPLICATE_WINDOW (5 * PACKET_TIME_SECOND / 1000)
#define DUPLICATE_WAYS 4
#define DUPLICATE_BUCKETS 2048
#define DUPLICATE_SLOTS (DUPLICATE_WAYS * DUPLICATE_BUCKETS)

struct duplicate_entry {
    uint32_t tag;  /* 0: empty */
    uint32_t time; /* packet time in microseconds, modulo 2^32 */
};

struct duplicate_filter {
    struct duplicate_entry entries[DUPLICATE_SLOTS];
    /* Each bucket's next entry to replace: in packet order, so the oldest goes first. */
    uint8_t next[DUPLICATE_BUCKETS];
};

/* A zeroed filter is an empty one. */
void duplicate_filter_init(struct duplicate_filter *filter);
/* Whether the packet (decoded, packet->ts set) copies one seen within DUPLICATE_WINDOW;
 * if not, it is remembered. */
bool duplicate_seen(struct duplicate_filter *filter, const struct packet *packet);

#endif

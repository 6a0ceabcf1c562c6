/* L2..L4 and tunnels -> one small packet view that points into the captured bytes (no
 * copies, no allocation). Every header is bounds-checked before it is read and every loop
 * a crafted packet could stretch is capped, so a hostile frame yields an error code, never
 * a read past the end. */
#ifndef OP25B_DECODE_H
#define OP25B_DECODE_H

#include <stdbool.h>
#include <stdint.h>

#include "util/address.h"
#include "util/packet_time.h"

/* Caps on loops an attacker controls (counted per packet). */
#define DECODE_MAX_VLAN_TAGS 4
#define DECODE_MAX_MPLS_LABELS 10
#define DECODE_MAX_IPV6_EXTENSIONS 8
#define DECODE_MAX_TUNNELS 3

/* The UDP encapsulations decoded as tunnels: VXLAN by its destination port (RFC 7348 section
 * 5), GTP-U by either port (3GPP TS 29.281 section 4.4.2). The live prefilter keeps them. */
#define DECODE_UDP_PORT_VXLAN 4789
#define DECODE_UDP_PORT_GTP_USER 2152

enum decode_result {
    DECODE_OK = 0,
    DECODE_NOT_IP,      /* ARP, LLDP, STP...: not ours, not an error */
    DECODE_FRAGMENT,    /* a non-first IP fragment: skipped and counted */
    DECODE_TRUNCATED,   /* a header runs past the captured bytes */
    DECODE_MALFORMED,   /* a header field is impossible (bad version, length...) */
    DECODE_UNSUPPORTED, /* an encapsulation or link type we do not decode */
    DECODE_TOO_DEEP,    /* a loop cap was hit (tags, labels, extension headers, tunnels) */
    DECODE_RESULT_COUNT
};

enum tunnel_kind {
    TUNNEL_NONE = 0,
    TUNNEL_IPIP,  /* IPv4 in IPv4 (protocol 4) */
    TUNNEL_6IN4,  /* IPv6 in IPv4 (protocol 41) */
    TUNNEL_4IN6,  /* IPv4 in IPv6 (next header 4) */
    TUNNEL_6IN6,  /* IPv6 in IPv6 (next header 41) */
    TUNNEL_GRE,   /* GRE (protocol 47), including PPTP's enhanced GRE and transparent Ethernet */
    TUNNEL_VXLAN, /* UDP 4789 */
    TUNNEL_GTP,   /* GTP-U, UDP 2152 */
    TUNNEL_KIND_COUNT
};

enum {
    TCP_FIN = 0x01,
    TCP_SYN = 0x02,
    TCP_RST = 0x04,
    TCP_PSH = 0x08,
    TCP_ACK = 0x10,
    TCP_URG = 0x20,
    TCP_ECE = 0x40,
    TCP_CWR = 0x80,
};

/* The header an ICMP or ICMPv6 error quotes: enough to find the attempt it answers. */
struct quoted_header {
    struct address src;
    struct address dst;
    uint8_t proto;
    bool has_ports; /* the first 4 bytes of the quoted L4 header were present */
    bool has_seq;   /* the quoted TCP sequence number was present (8 bytes of TCP) */
    uint16_t src_port;
    uint16_t dst_port;
    uint32_t seq;
};

struct packet {
    packet_time ts;
    uint32_t captured_length;
    uint32_t wire_length;
    uint16_t source; /* index of the capture source it came from (set by the caller) */

    /* Layer 2, as seen on the wire (outermost frame). */
    bool has_mac;
    uint8_t src_mac[6];
    uint8_t dst_mac[6];
    uint8_t vlan_count; /* tags seen, up to DECODE_MAX_VLAN_TAGS */
    uint16_t vlan[2];   /* vlan[0] outermost (S-tag in QinQ), vlan[1] next */
    uint8_t mpls_count; /* MPLS labels seen */
    bool has_pppoe;
    uint16_t pppoe_session;

    uint8_t tunnel;       /* enum tunnel_kind of the outermost tunnel */
    uint8_t tunnel_depth; /* number of tunnel layers removed */

    /* The innermost IP header. */
    uint8_t ip_version;  /* 4 or 6 */
    uint8_t ttl;         /* TTL or hop limit */
    uint8_t proto;       /* L4 protocol number after IPv6 extension headers */
    bool first_fragment; /* offset 0 with more fragments: L4 header present, payload partial */
    struct address src;
    struct address dst;

    /* L4. Ports are set for TCP and UDP; TCP fields only for TCP. */
    uint16_t src_port;
    uint16_t dst_port;
    uint8_t tcp_flags;
    uint32_t seq;
    uint32_t ack;
    uint16_t window;
    const uint8_t *payload;  /* L4 payload inside the captured bytes (may be cut by snaplen) */
    uint32_t payload_length; /* captured: the bytes at payload */
    /* On the wire, as the innermost IP header's length says (for TCP less the data offset,
     * even when the snap length cut the options; for UDP its own length when that fits):
     * payload_wire_length - payload_length bytes follow the captured ones but were cut by
     * the snap length. Never less than payload_length, at most 65535. A TCP header whose
     * options were cut still decodes; its payload then starts at the captured end with
     * payload_length 0. */
    uint32_t payload_wire_length;
    bool payload_truncated; /* payload_wire_length > payload_length */

    /* ICMP (type 3, 11...) or ICMPv6 (type 1, 2, 3) error with the header it quotes. */
    bool is_icmp_error;
    uint8_t icmp_type;
    uint8_t icmp_code;

    /* Last, and not cleared for every packet (decode_packet clears what is above): each is
     * set whole when its flag is, and means nothing otherwise. */
    /* The outermost IP header when tunnel != TUNNEL_NONE: kept for the asymmetric-routing
     * and triangular-spam detections. */
    struct address outer_src;
    struct address outer_dst;
    /* What an ICMP error quotes, when is_icmp_error. */
    struct quoted_header quote;
};

/* Link-layer types decoded (values of pcap's DLT_/LINKTYPE_ constants). */
bool decode_link_supported(int linktype);

/* Fills *out from the captured bytes. out->ts, out->wire_length and out->source are left as
 * the caller set them. On anything but DECODE_OK the fields are partially filled and must
 * not be used. */
enum decode_result decode_packet(int linktype, const uint8_t *data, uint32_t captured_length,
                                 struct packet *out);

const char *decode_result_name(enum decode_result result);
const char *tunnel_kind_name(enum tunnel_kind kind);

#endif

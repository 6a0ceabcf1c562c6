/* A small pcap writer for test and benchmark captures: TCP conversations framed the ways a
 * mirror port delivers them (VLAN, QinQ, MPLS, PPPoE, GRE, IP-in-IP, Linux cooked v2), with
 * correct lengths and checksums so tshark and tcpdump read them as a real capture.
 * Deterministic: the same calls write the same bytes. */
#ifndef OP25B_PCAPGEN_H
#define OP25B_PCAPGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pcapgen;

/* Classic pcap, microsecond timestamps. NULL and errno on failure. */
struct pcapgen *pcapgen_open(const char *path, int linktype);
/* The same, but frames are held in memory and written in timestamp order on close (stable
 * for equal times), so a scenario may be written story by story. For small captures. */
struct pcapgen *pcapgen_open_sorted(const char *path, int linktype);
/* As a SPAN session or capture appliance with a snap length writes them: the file header
 * says snaplen, and each frame keeps at most snaplen bytes, with its length on the wire. */
struct pcapgen *pcapgen_open_cut(const char *path, int linktype, uint32_t snaplen, bool sorted);
/* One frame as is; ts_us is microseconds since the epoch. */
int pcapgen_write(struct pcapgen *out, int64_t ts_us, const uint8_t *frame, size_t length);
uint64_t pcapgen_packets(const struct pcapgen *out);
/* Flushes and closes; nonzero if any write failed. */
int pcapgen_close(struct pcapgen *out);

struct gen_addr {
    int family; /* 4 or 6 */
    uint8_t bytes[16];
};

/* Parses an IPv4 or IPv6 literal; aborts on a typo, since callers are test programs. */
struct gen_addr gen_addr(const char *text);

/* VXLAN (RFC 7348: an inner Ethernet frame in UDP to port 4789) and GTP-U (3GPP TS 29.281:
 * a G-PDU in UDP between ports 2152) carry the packet as a data centre fabric and a mobile
 * core do; their outer header is UDP over IPv4 or IPv6. */
enum gen_tunnel {
    GEN_TUNNEL_NONE = 0,
    GEN_TUNNEL_GRE,
    GEN_TUNNEL_IPIP,
    GEN_TUNNEL_VXLAN,
    GEN_TUNNEL_GTP,
};

/* How a packet travels on the mirrored link, outermost first. */
struct gen_link {
    uint16_t vlan[2];
    int vlan_count;
    bool qinq; /* the first tag is an 802.1ad service tag (0x88a8) */
    uint32_t mpls[4];
    int mpls_count;
    bool pppoe;
    uint16_t pppoe_session;
    enum gen_tunnel tunnel;     /* an IPv4 tunnel between two routers around the packet */
    struct gen_addr tunnel_src; /* outer source of client-to-server packets */
    struct gen_addr tunnel_dst;
    uint32_t tunnel_id; /* VXLAN: the VNI; GTP-U: the uplink TEID (the downlink's is + 1) */
    /* A SPAN session that copies a router's port both ways: every frame is captured again
     * MIRROR_COPY_DELAY_US later as it leaves the router, on mirror_vlan (the outer tag),
     * from the router's MAC, with its TTL or hop limit one lower. */
    bool mirror_copy;
    uint16_t mirror_vlan;
};

#define MIRROR_COPY_DELAY_US 30

/* Writes a whole IP packet (starting at the IP header) with the link's framing around it.
 * from_client picks the MAC order, tunnel direction and SLL2 packet type. */
int gen_write_ip(struct pcapgen *out, int linktype, const struct gen_link *link, bool from_client,
                 int64_t ts_us, const uint8_t *ip, size_t length);

/* Builds an IPv4 or IPv6 + TCP packet into buf (at least 80 + payload bytes); returns its
 * length. */
size_t gen_build_tcp(uint8_t *buf, const struct gen_addr *src, const struct gen_addr *dst,
                     uint16_t src_port, uint16_t dst_port, uint32_t seq, uint32_t ack,
                     uint8_t flags, uint8_t ttl, uint16_t ip_id, const uint8_t *payload,
                     size_t payload_length);

/* Builds an IPv4 or IPv6 + UDP packet the same way. */
size_t gen_build_udp(uint8_t *buf, const struct gen_addr *src, const struct gen_addr *dst,
                     uint16_t src_port, uint16_t dst_port, uint8_t ttl, uint16_t ip_id,
                     const uint8_t *payload, size_t payload_length);

enum {
    GEN_FIN = 0x01,
    GEN_SYN = 0x02,
    GEN_RST = 0x04,
    GEN_PSH = 0x08,
    GEN_ACK = 0x10,
};

#define GEN_HISTORY 2048 /* client bytes kept for retransmissions */

/* One TCP connection between a client and a server, with both sequence spaces. Fields are
 * public so scenarios can fake losses (advance client_next without sending) or a SYN-ACK the
 * mirror never saw (set server_next). */
struct gen_conn {
    struct pcapgen *out;
    int linktype;
    struct gen_link link;
    struct gen_addr client;
    struct gen_addr server;
    uint16_t client_port;
    uint16_t server_port;
    uint32_t client_isn;
    uint32_t server_isn;
    uint32_t client_next; /* next client sequence number */
    uint32_t server_next; /* next server sequence number; 0 until a SYN-ACK was sent */
    uint16_t ip_id;
    uint8_t last_client_packet[128]; /* quoted by ICMP errors */
    size_t last_client_length;
    uint8_t history[GEN_HISTORY]; /* the last client payload bytes, for retransmissions */
    size_t history_length;
    /* The TCP options of a Linux stack (tcp_syn_options, tcp_established_options): MSS,
     * SACK permitted, timestamps, NOP, window scale on SYNs (a 40-byte header), NOP, NOP,
     * timestamps on the rest (32 bytes). Off: an MSS option on SYNs only. */
    bool linux_options;
};

void gen_conn_init(struct gen_conn *conn, struct pcapgen *out, int linktype,
                   const struct gen_link *link, const char *client, uint16_t client_port,
                   const char *server, uint16_t server_port, uint32_t client_isn,
                   uint32_t server_isn);
void gen_conn_syn(struct gen_conn *conn, int64_t ts_us); /* same ISN again = retransmit */
void gen_conn_syn_ack(struct gen_conn *conn, int64_t ts_us);
void gen_conn_ack(struct gen_conn *conn, int64_t ts_us); /* client ACK */
void gen_conn_server_ack_only(struct gen_conn *conn, int64_t ts_us);
void gen_conn_client_send(struct gen_conn *conn, int64_t ts_us, const uint8_t *data, size_t length);
void gen_conn_server_send(struct gen_conn *conn, int64_t ts_us, const uint8_t *data, size_t length);
void gen_conn_client_text(struct gen_conn *conn, int64_t ts_us, const char *text);
void gen_conn_server_text(struct gen_conn *conn, int64_t ts_us, const char *text);
/* Sends again `length` client bytes starting `back` bytes before client_next. */
void gen_conn_client_retransmit(struct gen_conn *conn, int64_t ts_us, size_t back, size_t length);
void gen_conn_client_fin(struct gen_conn *conn, int64_t ts_us);
void gen_conn_server_fin(struct gen_conn *conn, int64_t ts_us);
void gen_conn_client_rst(struct gen_conn *conn, int64_t ts_us);
/* A reset in the server's name: RST|ACK answering the SYN, or RST in an open connection. */
void gen_conn_server_rst(struct gen_conn *conn, int64_t ts_us);
/* An ICMP (IPv4) or ICMPv6 error from `router` to the client quoting its last packet. */
void gen_conn_icmp_error(struct gen_conn *conn, int64_t ts_us, const char *router, uint8_t type,
                         uint8_t code);

#endif

/* The TCP connections the submission family follows besides the port-25 attempts (those
 * are the attempt tracker's): submission on 587 (RFC 6409), implicit TLS on 465 (RFC
 * 8314), POP3 on 110 and IMAP on 143 logins, and flows from dynamic pools on any other port
 * whose server speaks first (as an SMTP server does, RFC 5321 3.1), which nDPI classifies
 * until it finds SMTP or something else. A bounded table in packet
 * time (track/flow.h's table), stream order from tcp_stream.h, and the dialogue parsers
 * of smtp.h, mail_login.h and tls_hello.h, each from a preallocated pool. It judges nothing:
 * it tells its owner what each connection showed. */
#ifndef OP25B_MAIL_FLOWS_H
#define OP25B_MAIL_FLOWS_H

#include <stdbool.h>

#include "decode/decode.h"
#include "record/flow_tuple.h"
#include "proto/mail_login.h"
#include "util/packet_time.h"
#include "policy/policy.h"
#include "proto/smtp.h"
#include "record/stats.h"
#include "proto/tls_hello.h"

#define MAIL_PORT_SMTP 25
#define MAIL_PORT_SUBMISSION 587
#define MAIL_PORT_SMTPS 465
#define MAIL_PORT_POP3 110
#define MAIL_PORT_IMAP 143

enum mail_flow_kind {
    MAIL_FLOW_SUBMISSION = 0, /* SMTP to port 587 */
    MAIL_FLOW_SMTPS,          /* TLS to port 465: only the ClientHello is read */
    MAIL_FLOW_POP3,           /* port 110 */
    MAIL_FLOW_IMAP,           /* port 143 */
    MAIL_FLOW_CANDIDATE,      /* another port, from a dynamic pool: not decided yet */
    MAIL_FLOW_OTHER_SMTP,     /* another port, where nDPI found SMTP */
};

enum mail_flow_moment {
    MAIL_FLOW_LOGIN = 0, /* a POP3/IMAP login just succeeded (the connection goes on) */
    MAIL_FLOW_HELLO,     /* a 465 connection's ClientHello was read */
    MAIL_FLOW_CLOSED,    /* the connection is over (FIN, RST, timer, eviction, end of input) */
};

struct mail_flow_report {
    enum mail_flow_moment moment;
    enum mail_flow_kind kind;
    packet_time now;
    struct flow_tuple flow; /* src: the client, the side that opened it */
    int pool;               /* of the client, or -1 */
    int segment;            /* index in policy.segments, or -1 */
    packet_time first_seen;
    packet_time last_seen;
    bool answered;                        /* the server's SYN-ACK was seen */
    const struct smtp_facts *smtp;        /* SUBMISSION and OTHER_SMTP, when bytes came */
    const struct mail_login_facts *login; /* POP3 and IMAP, when bytes came */
    const struct tls_hello *hello;        /* SMTPS, at MAIL_FLOW_HELLO */
    const char *protocol;                 /* OTHER_SMTP: what nDPI called it */
    const char *close_reason;             /* MAIL_FLOW_CLOSED */
    /* Each side's stream bytes so far, in stream order, counted as the wire carried them
     * (retransmissions once, bytes the snap length cut included): what is left to measure
     * of a dialogue under TLS. */
    uint32_t client_bytes;
    uint32_t server_bytes;
};

typedef void (*mail_flow_handler)(void *context, const struct mail_flow_report *report);

struct mail_flows;

/* counters: detector_evictions and detector_exhausted are counted there. */
struct mail_flows *mail_flows_new(const struct policy *policy, struct sensor_counters *counters,
                                  mail_flow_handler handler, void *context);
void mail_flows_free(struct mail_flows *flows);

/* Every decoded packet; segment is an index in policy.segments or -1. */
void mail_flows_packet(struct mail_flows *flows, const struct packet *packet, int segment);
void mail_flows_advance(struct mail_flows *flows, packet_time now);
/* Lowers *due whenever a connection gets a deadline sooner than it (flow_table_set_timer),
 * for an owner that skips mail_flows_advance until then. */
void mail_flows_watch(struct mail_flows *flows, packet_time *due);
/* The soonest timeout of a held connection; INT64_MAX when none is held. */
packet_time mail_flows_next_deadline(const struct mail_flows *flows);
/* Reports every open connection as closed with this reason. */
void mail_flows_finish(struct mail_flows *flows, packet_time now, const char *reason);

/* True for the ports the sensor knows by number, which nDPI is never asked about. */
bool mail_flows_port_is_known(uint16_t port);

#endif

/* What a detector found, as a typed value: the event type, the connection it concerns, its
 * place in the policy, the subscriber it is about, and the facts of its kind. Detectors
 * fill these and never write JSON; the output, the report and the metrics read the members
 * of the kind they care for. finding_fields.h walks a finding's facts by name, in event
 * order, for the writers. A finding is self-contained (strings are copied in or static),
 * so it can be queued and copied. */
#ifndef OP25B_FINDING_H
#define OP25B_FINDING_H

#include <stdbool.h>
#include <stdint.h>

#include "policy/prefix.h"
#include "proto/smtp.h"
#include "record/event_type.h"
#include "record/flow_tuple.h"
#include "record/migration.h"
#include "util/address.h"
#include "util/packet_time.h"

#define FINDING_SEGMENTS_LISTED 8
#define FINDING_MECHANISM_MAX 24
#define FINDING_SNI_MAX 128
#define FINDING_HELO_MAX 64

/* Where the first packet of an evasion window was seen, beyond its segment. */
struct layer2_place {
    bool has_mac;
    bool has_pppoe;
    uint8_t vlan_count;
    uint16_t vlan[2];
    uint16_t pppoe_session;
    uint8_t src_mac[6];
    uint8_t dst_mac[6];
};

/* asymmetric_routing, spoofed_source and inbound_acl_violation: one window of packets. */
struct window_finding {
    bool has_subscriber_prefix; /* IPv6 subscribers: their prefix */
    struct prefix subscriber_prefix;
    uint8_t expected_count; /* asymmetric: the segments that expect the pool */
    int16_t expected[FINDING_SEGMENTS_LISTED];
    int msa; /* inbound: the sender is this MSA (policy.msas), but not one for the pool; -1 */
    uint64_t count;
    uint64_t syn_count;
    uint64_t syn_ack_count;
    uint64_t rst_count;
    uint64_t payload_packets;
    uint64_t payload_bytes;
    bool backscatter;
    bool ports_varied;
    packet_time first_seen;
    packet_time last_seen;
    struct layer2_place layer2;
    const char *close_reason; /* static */
};

struct triangular_finding {
    struct address relay;
    bool tunnelled;
    uint8_t tunnel; /* enum tunnel_kind, when tunnelled */
    struct address tunnel_src;
    int reply_segment; /* policy.segments, or -1 */
    uint32_t isn;
    uint16_t syn_count;
    packet_time reply_seen;
};

struct bot_features {
    uint32_t attempts;         /* port-25 attempts, not to a designated MSA, not deferred */
    uint32_t fanout;           /* distinct servers of those attempts (and deferred ones) */
    uint32_t mx_direct;        /* DNS MX queries to a resolver not in `resolvers` */
    uint32_t nonstandard_smtp; /* nonstandard_port_smtp dialogues without AUTH accepted */
    uint32_t rcpt_accepted;    /* RCPT TO answered 2xx (draft 4.4.3 counts by RCPT TO) */
    uint32_t rcpt_rejected;    /* RCPT TO answered 4xx/5xx: reported, not scored */
    uint32_t messages;         /* messages the servers accepted: reported, not scored */
    uint32_t deferred;         /* attempts answered 4xx that delivered nothing (greylisting) */
    uint32_t odd_helo;         /* dialogues whose EHLO/HELO name is odd (bot_helo_oddity) */
    bool receives_smtp;        /* the subscriber answered a SYN on its own port 25 */
    bool fanout_capped;        /* the window's pair table was full: fanout is a lower bound */
};

struct bot_finding {
    struct address address;   /* the subscriber's address that scored first */
    struct prefix subscriber; /* its address, or its IPv6 subscriber prefix */
    packet_time window_start;
    packet_time window_end;
    double score;
    uint64_t score_threshold;
    struct bot_features features;
    char odd_helo[FINDING_HELO_MAX]; /* the first odd EHLO name, when odd_helo > 0 */
    const char *odd_helo_kind;       /* static */
};

/* The submission family: nonstandard_port_smtp, open_submission, pop_before_smtp and
 * third_party_submission. */
struct submission_finding {
    int msa; /* the server is this MSA (policy.msas), or -1 */
    struct smtp_facts smtp;
    /* nonstandard_port_smtp */
    const char *protocol;     /* static: what nDPI called it */
    const char *close_reason; /* static */
    /* pop_before_smtp */
    const char *login_protocol; /* static */
    struct address login_server;
    char login_mechanism[FINDING_MECHANISM_MAX];
    packet_time login_ts;
    /* third_party_submission: what is known of the server's 587 and 465 so far */
    uint64_t port_587_connections;
    uint64_t port_465_connections;
    char port_465_sni[FINDING_SNI_MAX];
};

struct finding {
    enum event_type type;
    packet_time ts;
    bool has_flow;
    struct flow_tuple flow; /* src: the side that opened it */
    int pool;               /* policy.pools, or -1: adds pool and blocking_point */
    int segment;            /* policy.segments, or -1 */
    /* The subscriber it is about (the Kafka key); flow.src when not set. */
    bool has_key;
    struct address key;
    union {
        struct window_finding window;
        struct triangular_finding triangular;
        struct bot_finding bot;
        struct submission_finding submission;
        struct migration_finding migration;
    } as;
};

/* A finding of type at ts with no flow, place or key, its facts zeroed. */
void finding_init(struct finding *finding, enum event_type type, packet_time ts);
void finding_set_flow(struct finding *finding, const struct flow_tuple *flow);
void finding_set_key(struct finding *finding, const struct address *subscriber);
/* The subscriber the finding is about: its key, else the flow's source; family 0 if
 * neither. */
struct address finding_subscriber(const struct finding *finding);
/* The tunnel a triangular_spam relay used ("gre", "ipip", ...), NULL when rewritten. */
const char *finding_tunnel_name(const struct triangular_finding *triangle);

#endif

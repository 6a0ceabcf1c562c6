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

#include "policy/policy.h"
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
    uint32_t msa_abuse;        /* msa_abuse findings of the subscriber for this window */
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

/* The submission family: nonstandard_port_smtp, open_submission, pop_before_smtp,
 * third_party_submission and cleartext_auth (its mechanism and answer are the smtp facts'). */
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

/* Why an msa_abuse finding was written: the thresholds.msa_abuse its window reached. */
enum msa_abuse_reason {
    MSA_ABUSE_CONNECTIONS = 0,
    MSA_ABUSE_CONCURRENCY,
    MSA_ABUSE_AUTH_FAILURES,
    MSA_ABUSE_QUOTA_REPLIES,
    MSA_ABUSE_RCPT,
    MSA_ABUSE_TLS_GUESSING, /* short TLS connections of one size, counted as auth_failures */
    MSA_ABUSE_REASONS
};

/* msa_abuse: what one subscriber did towards the designated MSAs in one window. */
struct msa_abuse_finding {
    struct address address;   /* the subscriber's address that connected first */
    struct prefix subscriber; /* its address, or its IPv6 subscriber prefix */
    int msa;                  /* the MSA of that first connection (policy.msas) */
    packet_time window_start;
    packet_time window_end;
    uint32_t reasons; /* bit (1 << enum msa_abuse_reason) per threshold reached */
    uint32_t connections;
    uint32_t connections_25;
    uint32_t connections_587;
    uint32_t connections_465;
    uint32_t peak_concurrency;  /* exact up to the intervals kept, a lower bound past them */
    uint32_t auth_failures;     /* AUTH answered 535, in dialogues read in the clear */
    uint32_t quota_replies;     /* 421 and 452 replies */
    uint32_t rcpt;              /* RCPT TO commands, in dialogues read in the clear */
    uint32_t clear_dialogues;   /* connections whose dialogue was read without TLS */
    uint32_t tls_connections;   /* connections under TLS: STARTTLS accepted, or 465 */
    uint32_t tls_short;         /* of those, short and small: shaped like a failed login */
    uint32_t tls_similar;       /* the most of those whose client bytes are within a margin */
    uint32_t tls_similar_bytes; /* ... their typical client byte count */
};

/* collateral_block: a connection the OP25B block must let through, refused at the blocking
 * point in front of its pool (docs/concepts.md, "What the block must not break"). */
enum collateral_reason {
    COLLATERAL_DESIGNATED_MSA = 0, /* port 25 to an MSA the pool may use there */
    COLLATERAL_SUBMISSION_PORT,    /* 587 or 465, to any server */
    COLLATERAL_STATIC_POOL,        /* port 25 from a static pool */
    COLLATERAL_REASONS
};

enum collateral_evidence {
    COLLATERAL_ICMP_PROHIBITED = 0, /* ICMP 3/9, 3/10, 3/13 or ICMPv6 1/1 quoting the SYN */
    COLLATERAL_RST_BLOCKING_POINT,  /* a reset for the SYN where the point rejects so */
    COLLATERAL_NO_REPLY,            /* the SYN resent and never answered, where replies are seen */
    COLLATERAL_EVIDENCES
};

struct collateral_finding {
    uint8_t reason;           /* enum collateral_reason */
    uint8_t evidence;         /* enum collateral_evidence */
    struct prefix subscriber; /* the client's address, or its IPv6 subscriber prefix */
    int msa;                  /* the server is this MSA (policy.msas), or -1 */
    uint16_t syn_count;
    packet_time last_syn;
    bool icmp_seen; /* with icmp_prohibited: the error's type, code and sender */
    uint8_t icmp_type;
    uint8_t icmp_code;
    struct address icmp_from;
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
    /* policy.blocking_points: the point it is about, where that is not its pool's own (a
     * static pool carved out of a dynamic block meets the block's point); -1: the pool's. */
    int blocking_point;
    union {
        struct window_finding window;
        struct triangular_finding triangular;
        struct bot_finding bot;
        struct submission_finding submission;
        struct msa_abuse_finding msa_abuse;
        struct collateral_finding collateral;
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
/* The blocking point a finding names: its own, else its pool's; POLICY_NO_INDEX when none. */
int finding_blocking_point(const struct finding *finding, const struct policy *policy);
const char *collateral_reason_name(enum collateral_reason reason);
const char *collateral_evidence_name(enum collateral_evidence evidence);
/* The tunnel a triangular_spam relay used ("gre", "ipip", ...), NULL when rewritten. */
const char *finding_tunnel_name(const struct triangular_finding *triangle);

#endif

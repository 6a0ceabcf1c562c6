/* The move of submission from port 25 to 587 and 465 (the submission_migration event, the
 * report's "Moving submission to 587", the metrics): how one connection of a subscriber to
 * an MSA is classed, by port and by whether it authenticated, and the counts per MSA and
 * pool. One place says it, so the detector, the report and the metrics class alike.
 *
 * Whether a client authenticates shows only in a dialogue the capture can read: 465 is
 * TLS from its first byte, and a client that takes STARTTLS on 25 or 587 authenticates
 * inside it. Such connections are counted as "auth unknown", never guessed. */
#ifndef OP25B_MIGRATION_H
#define OP25B_MIGRATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"
#include "proto/smtp.h"
#include "policy/prefix.h"
#include "record/field_walker.h"
#include "util/window_set.h"
#include "util/packet_time.h"

enum migration_port {
    MIGRATION_PORT_25 = 0,
    MIGRATION_PORT_587,
    MIGRATION_PORT_465,
    MIGRATION_PORTS
};

enum migration_auth {
    MIGRATION_AUTH_YES = 0, /* the client sent AUTH, whatever the answer */
    MIGRATION_AUTH_NO,      /* MAIL FROM in the clear with no AUTH before it */
    MIGRATION_AUTH_UNKNOWN, /* TLS hid the dialogue, or it ended or went unseen before */
    MIGRATION_AUTHS
};

/* One (MSA, pool)'s counts. Distinct subscribers are per stats interval in the event, over
 * the run in the report; a subscriber is the policy's (policy_subscriber: an IPv4 address,
 * or the pool's ipv6_subscriber_length prefix). */
struct migration_counts {
    uint64_t connections[MIGRATION_PORTS][MIGRATION_AUTHS];
    uint64_t subscribers[MIGRATION_PORTS][MIGRATION_AUTHS]; /* distinct, per port and auth */
    uint64_t port_subscribers[MIGRATION_PORTS];             /* distinct, per port */
    uint64_t all_subscribers;                               /* distinct, on any of the ports */
    bool subscribers_capped; /* the distinct set was full: subscriber counts are lower bounds */
};

/* The submission_migration finding (record/finding.h): one per MSA and dynamic pool that saw
 * a connection in the stats interval. */
struct migration_finding {
    int msa; /* policy.msas */
    packet_time interval_start;
    bool final;
    struct migration_counts counts;
};

/* Counts are kept per (MSA, pool) for at most this many pairs: the MSAs beyond, in policy
 * order, are not measured (migration_msas_measured). */
#define MIGRATION_ROWS_MAX 16384

/* How many MSAs, from the first, are measured. */
size_t migration_msas_measured(const struct policy *policy);
/* The (MSA, pool) pair's row, or -1 when it is not measured (an MSA past the bound, a pool
 * that is not dynamic). */
long migration_row(const struct policy *policy, int msa, int pool);

/* The port class of a destination port; MIGRATION_PORTS for any other port. */
enum migration_port migration_port_of(uint16_t port);
uint16_t migration_port_number(enum migration_port port);
/* How a connection's dialogue (NULL: none was read) says it authenticated. */
enum migration_auth migration_auth_of(const struct smtp_facts *smtp, enum migration_port port);
/* "auth", "no_auth", "auth_unknown" (the event's field suffixes); "yes", "no", "unknown"
 * (metric labels). */
const char *migration_auth_suffix(enum migration_auth auth);
const char *migration_auth_label(enum migration_auth auth);

/* Counts one connection of a subscriber (policy_subscriber) to the (MSA, pool) of `row` into
 * counts; its distinct keys go into `distinct`, which must hold them for as long as the
 * counts run (an interval, the whole run). False when the set was full: the subscriber
 * counts are then lower bounds, and counts->subscribers_capped says so. */
bool migration_count(struct migration_counts *counts, struct window_set *distinct, long row,
                     const struct prefix *subscriber, enum migration_port port,
                     enum migration_auth auth);

/* Adds from into into (counts add up: the workers' subscribers are disjoint). */
void migration_counts_add(struct migration_counts *into, const struct migration_counts *from);
uint64_t migration_port_connections(const struct migration_counts *counts,
                                    enum migration_port port);
uint64_t migration_total_connections(const struct migration_counts *counts);

/* The counts as named fields: subscribers, then per port its connections and subscribers
 * (by AUTH but on 465), and subscribers_capped only when true. */
void migration_walk_counts(const struct migration_counts *counts, const struct field_walker *walker,
                           void *context);
/* The finding's facts as named fields, in event order (finding_fields.c calls it). */
void migration_walk(const struct migration_finding *migration, const struct policy *policy,
                    const struct field_walker *walker, void *context);

#endif

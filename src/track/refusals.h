/* Follows the connections an OP25B block must let through and the attempt tracker does not
 * (it follows port 25 from dynamic pools): SYNs to 587 and 465 from any subscriber pool, and
 * to 25 from static ones, wherever collateral_places.h says a watched blocking point stands
 * in front of them. Each is followed from its first SYN until it is answered (a SYN-ACK, the
 * client's ACK of one, any packet from the server) or refused: an ICMP administratively
 * prohibited error quoting it, a reset in place of the SYN-ACK where the point is declared
 * `reject: tcp-reset`, or silence (docs/concepts.md, "What the block must not break"). Only
 * refusals are told to the owner; an answered connection is simply forgotten.
 *
 * A bounded table of its own (track/flow.h) with timers in packet time; when it is full the
 * oldest connection still waiting is given up (counted as detector_evictions). Nothing is
 * allocated per packet, and a packet on no watched port costs a few comparisons. */
#ifndef OP25B_REFUSALS_H
#define OP25B_REFUSALS_H

#include <stdbool.h>

#include "decode/decode.h"
#include "policy/collateral_places.h"
#include "policy/policy.h"
#include "record/finding.h"
#include "record/flow_tuple.h"
#include "record/stats.h"
#include "util/packet_time.h"

#define REFUSAL_PORT_SMTP 25
#define REFUSAL_PORT_SUBMISSION 587
#define REFUSAL_PORT_SMTPS 465

struct refusal_report {
    packet_time now;        /* when it was decided */
    struct flow_tuple flow; /* src: the client */
    int pool;
    int place; /* collateral_places.items */
    int segment;
    enum collateral_reason reason;
    enum collateral_evidence evidence;
    packet_time first_syn;
    packet_time last_syn;
    uint16_t syn_count;
    bool icmp_seen;
    uint8_t icmp_type;
    uint8_t icmp_code;
    struct address icmp_from;
};

typedef void (*refusal_handler)(void *context, const struct refusal_report *report);

struct refusal_tracker;

/* capacity: connections followed at once. return_seen is the sensor's per-segment flag of
 * replies seen (sensor.c), read when silence is judged. *due is lowered whenever a deadline
 * sooner than it is set (flow_table_set_timer), for an owner that skips refusal_advance
 * until then. NULL when out of memory. */
struct refusal_tracker *refusal_tracker_new(const struct policy *policy,
                                            const struct collateral_places *places,
                                            uint32_t capacity, struct sensor_counters *counters,
                                            const bool *return_seen, packet_time *due,
                                            refusal_handler handler, void *context);
void refusal_tracker_free(struct refusal_tracker *tracker);

/* Every decoded packet; segment is an index in policy.segments or -1. */
void refusal_packet(struct refusal_tracker *tracker, const struct packet *packet, int segment);
/* Judges the silent connections whose time ran out by now. */
void refusal_advance(struct refusal_tracker *tracker, packet_time now);
/* The soonest deadline of a connection held; INT64_MAX when none. */
packet_time refusal_next_deadline(const struct refusal_tracker *tracker);
/* The input ended: what is still waiting is forgotten, since its silence is not over. */
void refusal_finish(struct refusal_tracker *tracker);
uint32_t refusal_count(const struct refusal_tracker *tracker);

/* The ICMP errors an ACL answers with: 3/9, 3/10, 3/13 (RFC 1812 5.2.7.1, RFC 1122 3.2.2.1)
 * or ICMPv6 1/1 (RFC 4443 3.1). */
bool refusal_icmp_prohibited(const struct packet *packet);

#endif

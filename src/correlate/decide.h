/* The fleet's verdict on one attempt from its sensors' reports and their silences
 * (docs/fleet.md has the rules and their reasons):
 *   - allowed when a sensor found it to a designated MSA; would_block when the pool's
 *     blocking point is planned;
 *   - leaked when a sensor core-side of the pool's blocking point saw it (a SYN past an
 *     active ACL is its leak), or any sensor saw leak evidence (the server answered);
 *   - blocked (held_at the point) when a sensor edge-side saw it and every core-side sensor
 *     that carries the pool passed it by the window without seeing it, or, where no
 *     core-side sensor can vouch either way, an edge-side sensor saw the block itself;
 *   - unknown, with the reason, when the fleet cannot tell.
 * When it may be decided: once every sensor that carries the pool has reported it, or has
 * passed it by the window, or has ended, or has gone quiet. */
#ifndef OP25B_CORRELATE_DECIDE_H
#define OP25B_CORRELATE_DECIDE_H

#include <stdbool.h>

#include "correlate/join.h"
#include "policy/policy.h"

enum fleet_reason {
    REASON_MSA = 0,           /* allowed: to a designated MSA */
    REASON_PLANNED,           /* would_block: the blocking point is planned */
    REASON_CORE_SIDE_SEEN,    /* leaked: seen core-side of the point */
    REASON_LEAK_EVIDENCE,     /* leaked: a sensor saw the server answer or the dialogue */
    REASON_ABSENT_CORE_SIDE,  /* blocked: every core-side sensor passed it unseen */
    REASON_BLOCK_EVIDENCE,    /* blocked: an edge-side sensor saw the block itself */
    REASON_NO_CORE_SIDE,      /* unknown: no sensor core-side of the point carries the pool */
    REASON_CORE_SIDE_SILENT,  /* unknown: a core-side sensor ended or went quiet before it */
    REASON_NO_BLOCKING_POINT, /* the pool has no blocking point: the sensors' verdicts */
    REASON_COUNT
};

/* What the fleet knows of one sensor, as seen from one partition. */
struct sensor_view {
    packet_time clock; /* its packet clock: every report it made before is read */
    bool ended;        /* it ended (its final sensor_stats) and the partition is read */
    packet_time ended_at;
    bool quiet; /* nothing from it for --sensor-timeout of wall time */
};

struct fleet_decision {
    enum verdict verdict;
    enum fleet_reason reason;
    int point;   /* the pool's blocking point, or POLICY_NO_INDEX */
    bool held;   /* held_at point */
    bool failed; /* failed_at point */
};

/* True when every sensor that carries the attempt's pool has reported it or can no longer
 * hold the decision back. */
bool fleet_ready(const struct policy *policy, const struct fleet_attempt *attempt,
                 const struct sensor_view *views, packet_time window);
/* The verdict with what is known now (also for an attempt forced out early). */
void fleet_decide(const struct policy *policy, const struct fleet_attempt *attempt,
                  const struct sensor_view *views, packet_time window, struct fleet_decision *out);
const char *fleet_reason_name(enum fleet_reason reason);

#endif

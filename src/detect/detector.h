/* A detection family (dashboards/events.md lists what each finds): it is shown decoded
 * packets (and, by subscribing to the bus, finished attempts and other findings), keeps its
 * own bounded state in packet time, and publishes typed findings on the bus. The sensor
 * holds every detector the registry (detectors.c) lists and calls them in order; a
 * detector filters cheaply first, because it sees every packet. */
#ifndef OP25B_DETECTOR_H
#define OP25B_DETECTOR_H

#include "decode/decode.h"
#include "record/bus.h"
#include "record/coverage.h"
#include "util/packet_time.h"
#include "policy/policy.h"
#include "record/stats.h"
#include "workers/worker_share.h"

struct detector_context {
    const struct policy *policy;
    struct bus *bus; /* where findings go, and where attempts and findings come from */
    struct sensor_counters *counters;
    /* Per segment (index + 1; 0 is "no segment"): replies from outside were seen there. */
    const bool *return_seen;
    /* --workers: what the workers share (worker_share.h); NULL otherwise. */
    const struct worker_share *share;
    /* The sensor's coverage tallies, for the counts a detector adds to them (collateral). */
    struct coverage *coverage;
};

struct detector;

struct detector_ops {
    const char *name;
    /* Every packet that decoded; segment is an index in policy.segments or -1. */
    void (*packet)(struct detector *detector, const struct packet *packet, int segment);
    /* Optional: called with every decoded packet before the attempt tracker and the
     * detectors see it, to fetch the table entries packet() will read (cache misses then
     * overlap each other and the work between). Changes nothing. */
    void (*prefetch)(const struct detector *detector, const struct packet *packet);
    /* Packet time reached detector.due: run timers, write windowed findings, set due. */
    void (*advance)(struct detector *detector, packet_time now);
    /* The input ended (or a signal stopped it): write what is still held. reason is the
     * attempts' close reason, "end_of_input" or "shutdown". */
    void (*finish)(struct detector *detector, packet_time now, const char *reason);
    void (*free)(struct detector *detector);
};

struct detector {
    const struct detector_ops *ops;
    /* The sensor calls advance() only once packet time reaches this, so a detector whose
     * timers are far off costs nothing per packet. advance() sets it to its soonest
     * deadline, and anything that makes a sooner one lowers it (flow_table_set_timer does
     * so for table entries). 0, as calloc leaves it, means "call at the next packet". */
    packet_time due;
};

/* A constructor per family; NULL when out of memory, or (with *disabled set) when the
 * policy does not use the family. */
typedef struct detector *(*detector_constructor)(const struct detector_context *context,
                                                 bool *disabled);

/* The registry: fills detectors[] (at most capacity) and returns how many; -1 when a
 * detector could not be made. */
int detectors_create(const struct detector_context *context, struct detector **detectors,
                     size_t capacity);

#endif

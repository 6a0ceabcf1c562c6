/* Follows every TCP/25 attempt from a dynamic pool (dashboards/events.md, "attempt"):
 * creates it on the first SYN (or on a client segment when the capture began
 * mid-connection), collects the evidence from both directions and from ICMP errors, runs
 * the SMTP dialogue parser, and publishes one attempt record when the connection is over. */
#ifndef OP25B_ATTEMPT_H
#define OP25B_ATTEMPT_H

#include <stdbool.h>

#include "record/coverage.h"
#include "decode/decode.h"
#include "record/bus.h"
#include "policy/policy.h"
#include "record/stats.h"

struct attempt_tracker;

/* return_seen[segment + 1] says whether the capture has shown any traffic towards the ISP
 * on that segment (index 0: packets that matched no segment); silence only counts as
 * no_reply where it is set. The array is owned by the caller and read at decision time. */
struct attempt_tracker *attempt_tracker_new(const struct policy *policy, struct bus *bus,
                                            struct coverage *coverage,
                                            struct sensor_counters *counters,
                                            const bool *return_seen);
void attempt_tracker_free(struct attempt_tracker *tracker);
/* What the tracker keeps of one attempt beside its flow entry, in bytes (the benchmark's
 * state floor sizes its table's slots alike). */
size_t attempt_record_size(void);

/* A TCP packet with port 25 on either side. segment: index in policy.segments or -1. */
void attempt_tcp(struct attempt_tracker *tracker, const struct packet *packet, int segment);
/* Fetches the index entry attempt_tcp will read first for a packet to port 25, so that
 * under a flood of new attempts its cache miss overlaps the work before it. */
void attempt_prefetch(const struct attempt_tracker *tracker, const struct packet *packet);
/* An ICMP or ICMPv6 error quoting a TCP packet to port 25. */
void attempt_icmp(struct attempt_tracker *tracker, const struct packet *packet);
/* Runs the timers up to now (packet time). */
void attempt_advance(struct attempt_tracker *tracker, packet_time now);
/* Decides and writes every open attempt with what was seen (end of input, shutdown). */
void attempt_finish(struct attempt_tracker *tracker, const char *reason);

#endif

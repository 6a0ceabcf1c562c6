/* The sensor's own counters, reported in sensor_stats events. */
#ifndef OP25B_STATS_H
#define OP25B_STATS_H

#include <stdint.h>

#include "decode/decode.h"
#include "record/event_type.h"

struct sensor_counters {
    uint64_t packets;
    uint64_t bytes;
    uint64_t decode[DECODE_RESULT_COUNT]; /* by enum decode_result */
    uint64_t capture_received;            /* from pcap_stats, live capture only */
    uint64_t capture_drops;               /* dropped by the kernel or the interface */
    uint64_t capture_errors;              /* damaged capture files or read errors */
    uint64_t packets_cut;                 /* captured shorter than on the wire (snap length) */
    uint64_t time_regressions;            /* packets older than the clock, judged at their time */
    uint64_t time_outliers;               /* timestamps far from their neighbours: judged at the
                                             clock's time (util/packet_clock.h) */
    uint64_t flows_active;
    uint64_t flows_created;
    uint64_t flow_evictions;
    uint64_t sessions_active;
    uint64_t sessions_exhausted; /* dialogues left unparsed: no parser slot free */
    uint64_t stream_gaps;        /* holes in a TCP stream (lost or reordered) */
    uint64_t stream_reordered;   /* segments held back and delivered in order */
    uint64_t duplicates;         /* copies of a packet already seen (a mirror that
                                    copies both directions of a port), skipped */
    uint64_t syn_after_close;    /* SYNs retransmitted for an attempt already
                                    written (evicted, or backing off past its timer) */
    uint64_t attempts_open;
    uint64_t detector_evictions; /* entries the detectors' bounded tables gave up */
    uint64_t detector_exhausted; /* flows a detector could not follow: no slot free;
                                    messages a full worker inbox refused */
};

/* What the output says of the events it wrote, for the report. */
struct output_counts {
    uint64_t emitted[EVENT_TYPE_COUNT]; /* lines handed to the sinks, by type */
    uint64_t sink_errors;               /* failed sink writes */
};

#endif

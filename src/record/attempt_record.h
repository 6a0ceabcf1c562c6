/* What the attempt tracker hands on when an attempt closes: a value that says everything
 * about it (connection, place in the policy, evidence, verdict, dialogue), so no reader
 * needs the tracker's own state. The output, the report, the metrics and the detectors
 * that build on attempts all read this. */
#ifndef OP25B_ATTEMPT_RECORD_H
#define OP25B_ATTEMPT_RECORD_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/smtp.h"
#include "record/flow_tuple.h"
#include "record/verdict.h"
#include "util/address.h"
#include "util/packet_time.h"

struct attempt_record {
    struct flow_tuple flow;
    packet_time first_seen;
    packet_time last_seen;
    packet_time closed;     /* the packet time it was judged over at (a timer, a FIN, the end) */
    int pool;               /* index in policy.pools */
    int segment;            /* index in policy.segments, or -1 */
    int msa;                /* the MSA at the destination address (policy.msas), or -1 */
    bool to_designated_msa; /* ... and one this pool may use on this port */
    enum verdict verdict;
    evidence_set evidence;
    uint16_t syn_count;
    packet_time last_syn; /* the last SYN seen; 0 when the capture joined midway */
    bool icmp_seen;       /* an ICMP error quoting it came (of any kind) */
    uint8_t icmp_type;
    uint8_t icmp_code;
    struct address icmp_from;
    bool server_stream;       /* the server's side of the stream was seen (its SYN-ACK) */
    const char *close_reason; /* a static name: fin, rst, syn_timeout, idle, ... */
    uint32_t client_bytes;
    uint32_t server_bytes;
    /* The dialogue, when one was parsed; NULL otherwise. It belongs to the tracker and
     * lives as long as the record is being handed on: a reader copies what it keeps. */
    const struct smtp_facts *smtp;
};

#endif

/* Stream order for one TCP direction without buffering: new bytes are handed on at once,
 * retransmitted bytes are cut off, and a hole (a lost or reordered segment) is reported as
 * a gap so the dialogue parser can resynchronise at the next line. A segment the capture
 * cut short (snap length) still moves the stream by every byte the wire carried: the bytes
 * not captured are handed on as a count ("missing"), so the next segment is in order, not
 * a gap. track/tcp_reorder.h holds back a few segments that arrive early. */
#ifndef OP25B_TCP_STREAM_H
#define OP25B_TCP_STREAM_H

#include <stdbool.h>
#include <stdint.h>

#include "decode/decode.h"

/* One segment's payload: "captured" bytes at data, of "wire" bytes sent (wire >= captured;
 * more when the snap length cut the packet). */
struct tcp_segment {
    uint32_t seq;
    uint32_t captured;
    uint32_t wire;
    const uint8_t *data;
};

struct tcp_stream_slice {
    uint32_t skip;    /* leading captured bytes already seen (retransmitted) */
    uint32_t length;  /* new captured bytes to hand on after skip; 0 for a retransmission */
    uint32_t missing; /* new bytes after those that were sent but not captured */
    bool gap;         /* bytes between the last delivered one and this segment are missing */
};

/* The segment of a TCP packet's payload. */
static inline struct tcp_segment tcp_segment_of(const struct packet *packet)
{
    struct tcp_segment segment = {packet->seq, packet->payload_length, packet->payload_wire_length,
                                  packet->payload};
    /* The wire never carries less than was captured. */
    if (segment.wire < segment.captured)
        segment.wire = segment.captured;
    return segment;
}

/* Whether the packet carried payload on the wire (captured or not). */
static inline bool tcp_has_payload(const struct packet *packet)
{
    return packet->payload_length > 0 || packet->payload_wire_length > 0;
}

/* next: the next sequence number expected, updated. */
struct tcp_stream_slice tcp_stream_accept(uint32_t *next, const struct tcp_segment *segment);

#endif

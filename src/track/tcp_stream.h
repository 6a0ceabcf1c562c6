/* Stream order for one TCP direction without buffering: new bytes are handed on at once,
 * retransmitted bytes are cut off, and a hole (a lost or reordered segment) is reported as
 * a gap so the dialogue parser can resynchronise at the next line. */
#ifndef OP25B_TCP_STREAM_H
#define OP25B_TCP_STREAM_H

#include <stdbool.h>
#include <stdint.h>

struct tcp_stream_slice {
    uint32_t skip;   /* leading payload bytes already seen (retransmitted) */
    uint32_t length; /* new bytes to hand on after skip; 0 for a pure retransmission */
    bool gap;        /* bytes between the last delivered one and this segment are missing */
};

/* next: the next sequence number expected, updated. seq/length: the segment. */
struct tcp_stream_slice tcp_stream_accept(uint32_t *next, uint32_t seq, uint32_t length);

#endif

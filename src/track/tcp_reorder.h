/* A small reordering window per TCP direction, for the connections whose dialogue is
 * parsed: a segment that arrives ahead of the stream (its predecessor not seen yet) is
 * held, copied, instead of being delivered after a gap, and the segment that fills the
 * hole releases the held ones in order. A mirror port reorders neighbouring segments (two
 * copies of a link merged onto one port, ECMP, a switch's queues) by microseconds to
 * milliseconds; a hole still open after TCP_REORDER_SEGMENTS segments, TCP_REORDER_BYTES
 * bytes or TCP_REORDER_WAIT of packet time was a loss, and becomes the gap it would have
 * been without the window (the owner also gives a hole up when the other side sends: an
 * answer comes a round trip later, far longer than a mirror reorders).
 *
 * Memory is bounded and preallocated: a pool of slots, each holding both directions of one
 * connection, taken only while a hole is open (holes are rare, so the pool is much smaller
 * than the number of dialogues); with no slot free, the hole is a gap at once. Nothing is
 * allocated per packet. */
#ifndef OP25B_TCP_REORDER_H
#define OP25B_TCP_REORDER_H

#include <stdbool.h>
#include <stdint.h>

#include "track/tcp_stream.h"
#include "util/packet_time.h"

#define TCP_REORDER_NONE UINT32_MAX
#define TCP_REORDER_SEGMENTS 4 /* held per direction */
#define TCP_REORDER_BYTES 4096 /* captured bytes held per direction */
/* Long enough for any reordering on a mirror, far shorter than the shortest
 * retransmission timeout (RFC 6298 2.4: 1 s; Linux uses 200 ms), so a segment the mirror
 * lost is given up before its sender would have sent it again. */
#define TCP_REORDER_WAIT (PACKET_TIME_SECOND / 10)

struct tcp_reorder_pool;

/* Hands a segment on in stream order; it advances the direction's next sequence number
 * (tcp_stream_accept). direction: 0 the client's, 1 the server's. */
typedef void (*tcp_reorder_deliver)(void *context, unsigned direction,
                                    const struct tcp_segment *segment);

/* slots: connections that may hold segments at once. reordered: counted up for every
 * held segment delivered because its hole filled (not those a given-up hole releases).
 * NULL when out of memory. */
struct tcp_reorder_pool *tcp_reorder_new(uint32_t slots, uint64_t *reordered);
void tcp_reorder_free(struct tcp_reorder_pool *pool);

/* One direction's segment. *slot is the connection's (TCP_REORDER_NONE while it holds
 * nothing: taken here, given back when empty); next is that direction's next expected
 * sequence number, which deliver moves. A segment ahead of next is held if it can be;
 * otherwise it is delivered, with every held one in sequence order around it. */
void tcp_reorder_feed(struct tcp_reorder_pool *pool, uint32_t *slot, unsigned direction,
                      const uint32_t *next, const struct tcp_segment *segment, packet_time now,
                      tcp_reorder_deliver deliver, void *context);
/* Delivers, in sequence order, what one direction holds (its hole is a gap now). */
void tcp_reorder_flush(struct tcp_reorder_pool *pool, uint32_t *slot, unsigned direction,
                       const uint32_t *next, tcp_reorder_deliver deliver, void *context);
/* Flushes the direction if its hole has been open TCP_REORDER_WAIT or longer at now. */
void tcp_reorder_expire(struct tcp_reorder_pool *pool, uint32_t *slot, unsigned direction,
                        const uint32_t *next, packet_time now, tcp_reorder_deliver deliver,
                        void *context);
/* Forgets what the connection holds and gives its slot back (a connection dropped
 * without a word). */
void tcp_reorder_discard(struct tcp_reorder_pool *pool, uint32_t *slot);
/* Whether the direction holds segments. */
bool tcp_reorder_holds(const struct tcp_reorder_pool *pool, uint32_t slot, unsigned direction);

#endif

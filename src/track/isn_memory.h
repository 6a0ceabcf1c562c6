/* A compact memory of the connection attempts the tracker closed lately, by flow and
 * client ISN, so that a SYN retransmitted after its attempt was written (evicted from a
 * full table, or a stack backing off beyond the SYN timers) is recognised as the same
 * connect(), counted, and opens no second attempt.
 *
 * A fixed-size hash set in packet time: 64-bit fingerprints in buckets of four, one cache
 * line each; a full bucket forgets its oldest entry. Nothing is allocated after creation.
 * A fingerprint is kept ISN_MEMORY_HOLD after the last SYN it stands for, and refreshed by
 * every retransmission it recognises. */
#ifndef OP25B_ISN_MEMORY_H
#define OP25B_ISN_MEMORY_H

#include <stdbool.h>
#include <stdint.h>

#include "track/flow.h"
#include "util/packet_time.h"

/* The longest wait between two SYNs of one connect(): Linux's TCP_RTO_MAX, 120 s (macOS
 * caps at 64 s), with a few seconds for timer slack. */
#define ISN_MEMORY_HOLD (128 * PACKET_TIME_SECOND)

struct isn_memory;

/* Room for about "entries" attempts (rounded up to whole buckets, at least one). NULL when
 * out of memory. */
struct isn_memory *isn_memory_new(uint32_t entries);
void isn_memory_free(struct isn_memory *memory);

/* The attempt of key with client ISN isn is over; last_syn: the time of its last SYN. */
void isn_memory_remember(struct isn_memory *memory, const struct flow_key *key, uint32_t isn,
                         packet_time last_syn);
/* Whether a SYN of key with ISN isn, seen at now, retransmits a remembered attempt's; a
 * recognised one is kept ISN_MEMORY_HOLD from now. */
bool isn_memory_recall(struct isn_memory *memory, const struct flow_key *key, uint32_t isn,
                       packet_time now);

#endif

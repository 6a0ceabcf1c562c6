/* Spoofed SYNs told to every worker (--workers). A triangular-spam join pairs a spoofed SYN
 * (relay R -> target M:25) with the answer of M that reaches the spammer S, and the fanout
 * (fanout.c) keys on the subscriber's side of each packet: R for the SYN, S (or R and S for
 * a tunnel) for the answer, so the two halves land in different workers. Each worker that
 * notes a spoofed SYN posts it here to every other worker, which notes it as if it had
 * seen it, and the worker that sees the answer can join it.
 *
 * Each worker has an inbox in memory shared by all of them (MAP_SHARED, made by the parent
 * before it forks): a bounded queue with many writers and one reader (D. Vyukov's bounded
 * queue: a sequence number per cell, a compare-and-swap per post). Nothing blocks and
 * nothing is allocated after start-up; a post to a full inbox is refused and counted by
 * the caller. A worker killed between claiming a cell and filling it leaves that inbox
 * stuck at the cell: later posts there are refused and counted, never misread. */
#ifndef OP25B_SYN_SHARE_H
#define OP25B_SYN_SHARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "address.h"
#include "packet_time.h"

struct shared_syn {
    struct address target; /* M */
    struct address relay;  /* R, the spoofed source */
    packet_time ts;
    uint32_t isn;
    uint16_t client_port;
    uint16_t server_port;
    int8_t segment;
};

struct syn_share;

/* Inboxes of `capacity` cells (rounded up to a power of two) for `workers` workers; call
 * before forking. NULL when the memory cannot be had. */
struct syn_share *syn_share_new(unsigned workers, uint32_t capacity);
/* In each worker, after the fork: which inbox is its own. */
void syn_share_set_worker(struct syn_share *share, unsigned worker);
/* Posts to every other worker; returns how many inboxes were full (the post is lost there). */
unsigned syn_share_post(struct syn_share *share, const struct shared_syn *syn);
/* Posts to one worker's inbox; false when it is full. */
bool syn_share_post_to(struct syn_share *share, unsigned worker, const struct shared_syn *syn);
/* Takes the oldest post from this worker's inbox; false when it is empty. */
bool syn_share_take(struct syn_share *share, struct shared_syn *syn);
void syn_share_free(struct syn_share *share);

#endif

/* Messages between the worker processes of --workers. The fanout (fanout.c) keeps each
 * subscriber's packets in one worker, but some detections need what another worker saw:
 * the spoofed SYN of a triangle whose answer reaches this worker, or the 587 and 465
 * connections other subscribers made to a server. A worker posts such a fact to every
 * other worker, which takes it as if it had seen it.
 *
 * Each worker has an inbox in memory shared by all of them (MAP_SHARED, made by the parent
 * before it forks): a bounded queue of fixed-size messages with many writers and one
 * reader (D. Vyukov's bounded queue: a sequence number per cell, a compare-and-swap per
 * post). Nothing blocks and nothing is allocated after start-up; a post to a full inbox is
 * refused and counted by the caller. A worker killed between claiming a cell and filling
 * it leaves that inbox stuck at the cell: later posts there are refused and counted, never
 * misread. */
#ifndef OP25B_INBOX_H
#define OP25B_INBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct inbox_set;

/* Inboxes of `capacity` messages of `message_size` bytes (capacity rounded up to a power of
 * two) for `workers` workers; call before forking. NULL when the memory cannot be had. */
struct inbox_set *inbox_set_new(unsigned workers, uint32_t capacity, size_t message_size);
/* In each worker, after the fork: which inbox is its own. */
void inbox_set_worker(struct inbox_set *set, unsigned worker);
/* Posts to every other worker; returns how many inboxes were full (the post is lost there). */
unsigned inbox_post(struct inbox_set *set, const void *message);
/* Posts to one worker's inbox; false when it is full. */
bool inbox_post_to(struct inbox_set *set, unsigned worker, const void *message);
/* Takes the oldest message from this worker's inbox; false when it is empty. */
bool inbox_take(struct inbox_set *set, void *message);
void inbox_set_free(struct inbox_set *set);

#endif

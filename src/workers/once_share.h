/* Findings that are one per key and window across all workers (--workers). Most findings
 * are keyed by a subscriber, whose packets all reach one worker (fanout.c); a finding keyed
 * by a server (open_submission: one per MSA and window) is seen by every worker whose
 * subscribers use that server, and each would write it. The workers claim such keys in one
 * table in shared memory, made by the parent before it forks: the first claim in a window
 * wins, the others stay silent.
 *
 * Open addressing over 64-bit slots, each claimed with one compare-and-swap: a slot holds
 * the window's 16-bit tag and 48 bits of the key's hash. A slot of another window counts as
 * free, so windows end without a sweep; a tag comes round again after 65,535 windows. */
#ifndef OP25B_ONCE_SHARE_H
#define OP25B_ONCE_SHARE_H

#include <stdint.h>

enum once_claim {
    ONCE_FIRST = 0, /* no worker had claimed it in this window: report it */
    ONCE_TAKEN,     /* some worker has (maybe this one): stay silent */
    ONCE_FULL,      /* no free slot near the key: report it (better twice than never) */
};

struct once_share;

/* Room for `capacity` keys per window (rounded up to a power of two). NULL when the memory
 * cannot be had. */
struct once_share *once_share_new(uint32_t capacity);
/* key: a 64-bit hash of the finding's kind and key (window_set_hash); window: the window's
 * number, the same in every worker (its end / its length). */
enum once_claim once_share_claim(struct once_share *share, uint64_t key, uint64_t window);
void once_share_free(struct once_share *share);

#endif

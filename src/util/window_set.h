/* A bounded set of 64-bit keys that empties itself when a window ends: "has this pair been
 * seen in this window?" for distinct counts and for one finding per key per window. Each
 * slot carries the window's generation, so clearing is a counter increment, not a sweep
 * over memory; only every 255th clear rewrites the table. The table starts small and
 * doubles when a window fills it, up to the bound it was made with, so a quiet sensor does
 * not pay for the bound (keys land at random, touching a page each). Keys are hashes
 * (window_set_hash): two that share their low 56 bits count as one, a chance of about
 * n^2 / 2^57. */
#ifndef OP25B_WINDOW_SET_H
#define OP25B_WINDOW_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct window_set;

/* Room for at least `capacity` keys per window (at least 16), starting with room for
 * `initial`. NULL when out of memory. */
struct window_set *window_set_new(uint32_t initial, uint32_t capacity);
void window_set_free(struct window_set *set);

enum window_set_result {
    WINDOW_SET_ADDED = 0, /* new in this window */
    WINDOW_SET_PRESENT,   /* already added in this window */
    WINDOW_SET_FULL,      /* new, but the bound is reached (or memory ran out): not added */
};
enum window_set_result window_set_add(struct window_set *set, uint64_t key);
bool window_set_contains(const struct window_set *set, uint64_t key);
/* Asks the processor to fetch the slot where key's probe starts, so the cache miss of a
 * window_set_add that follows other work overlaps that work instead of waiting after it. */
void window_set_prefetch(const struct window_set *set, uint64_t key);
/* Forgets every key: the next window begins. */
void window_set_clear(struct window_set *set);
uint32_t window_set_count(const struct window_set *set);
/* The keys a window may hold: the bound, once the table has grown to it. */
uint32_t window_set_capacity(const struct window_set *set);

/* A 64-bit hash of bytes; `kind` keeps keys of different meanings apart in one set. */
uint64_t window_set_hash(uint64_t kind, const void *bytes, size_t length);

#endif

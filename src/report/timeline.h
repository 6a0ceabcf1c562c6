/* Counts over time in a fixed number of buckets, for the report's charts (attempts by
 * verdict, submission connections by port): the bucket width doubles, starts aligned to it,
 * whenever the span seen would need more buckets. Records come when connections end, so
 * their start times come out of order: the span grows to the left as well as to the right.
 * A view names the fields of one timeline (each report section keeps its own struct, with
 * its own number of series per bucket). */
#ifndef OP25B_REPORT_TIMELINE_H
#define OP25B_REPORT_TIMELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/packet_time.h"

struct timeline_view {
    bool *started;
    packet_time *origin; /* start of bucket 0 */
    packet_time *width;  /* a power of two times the initial width */
    size_t *used;        /* buckets 0..used-1 hold the span seen */
    uint64_t *counts;    /* [buckets][series] */
    size_t buckets;
    size_t series;
};

/* Adds counts[s] to each series s of the bucket holding ts. */
void timeline_add(const struct timeline_view *timeline, packet_time ts, const uint64_t *counts);
/* Adds another timeline of the same shape (a worker's report), at the coarser width of the
 * two: widths are powers of two of one unit, so each of from's buckets falls whole into
 * one of into's. */
void timeline_merge(const struct timeline_view *into, const struct timeline_view *from);

#endif

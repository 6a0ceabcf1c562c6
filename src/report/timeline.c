/* The report's timelines (timeline.h). */
#include "report/timeline.h"

#include <string.h>

/* Doubles the bucket width, keeping bucket starts aligned to the new width. In place: a
 * bucket's new place is never after its old one. */
static void coarsen(const struct timeline_view *timeline)
{
    packet_time width = *timeline->width * 2;
    packet_time origin = *timeline->origin - (((*timeline->origin % width) + width) % width);
    size_t used = 0;
    for (size_t i = 0; i < *timeline->used; i++) {
        size_t slot =
            (size_t)((*timeline->origin + (packet_time)i * *timeline->width - origin) / width);
        uint64_t *from = timeline->counts + i * timeline->series;
        uint64_t *to = timeline->counts + slot * timeline->series;
        for (size_t s = 0; s < timeline->series; s++) {
            uint64_t count = from[s];
            from[s] = 0;
            to[s] += count;
        }
        used = slot + 1;
    }
    *timeline->origin = origin;
    *timeline->width = width;
    *timeline->used = used;
}

void timeline_add(const struct timeline_view *timeline, packet_time ts, const uint64_t *counts)
{
    packet_time width = *timeline->width;
    if (!*timeline->started) {
        *timeline->started = true;
        *timeline->origin = ts - (((ts % width) + width) % width);
        *timeline->used = 1;
    }
    size_t row = timeline->series * sizeof(uint64_t);
    for (;;) {
        width = *timeline->width;
        if (ts < *timeline->origin) {
            size_t shift = (size_t)((*timeline->origin - ts + width - 1) / width);
            if (*timeline->used + shift > timeline->buckets) {
                coarsen(timeline);
                continue;
            }
            memmove(timeline->counts + shift * timeline->series, timeline->counts,
                    *timeline->used * row);
            memset(timeline->counts, 0, shift * row);
            *timeline->origin -= (packet_time)shift * width;
            *timeline->used += shift;
        }
        packet_time slot = (ts - *timeline->origin) / width;
        if (slot >= (packet_time)timeline->buckets) {
            coarsen(timeline);
            continue;
        }
        uint64_t *bucket = timeline->counts + (size_t)slot * timeline->series;
        for (size_t s = 0; s < timeline->series; s++)
            bucket[s] += counts[s];
        if ((size_t)slot + 1 > *timeline->used)
            *timeline->used = (size_t)slot + 1;
        return;
    }
}

void timeline_merge(const struct timeline_view *into, const struct timeline_view *from)
{
    if (!*from->started)
        return;
    if (!*into->started && *into->width < *from->width)
        *into->width = *from->width;
    while (*into->started && *into->width < *from->width)
        coarsen(into);
    for (size_t i = 0; i < *from->used; i++)
        timeline_add(into, *from->origin + (packet_time)i * *from->width,
                     from->counts + i * from->series);
}

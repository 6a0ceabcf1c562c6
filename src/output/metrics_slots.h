/* The metrics' snapshots (metrics.c's own), and with --workers the shared memory the
 * workers hand theirs to the parent in: a slot per worker, made before the fork. Each slot
 * has two parts, each a seqlock: the worker makes its sequence number odd, writes, makes
 * it even again; a reader keeps its copy only if the number was even and unchanged
 * across it. A worker never waits for a reader, and a reader never sees half a snapshot.
 *   - LATEST: the worker's figures as last published (four times a second while --metrics
 *     is served, and at each report): what the endpoint serves, per worker and summed.
 *   - REPORTED: its figures at its latest periodic report (each stats_interval of packet
 *     time, and the final one): what the parent writes the whole sensor's coverage and
 *     sensor_stats events from. */
#ifndef OP25B_METRICS_SLOTS_H
#define OP25B_METRICS_SLOTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "output/event.h"
#include "record/stats.h"
#include "util/packet_time.h"

struct snapshot {
    struct sensor_counters counters;
    struct events_tally events;
    packet_time now;
    double published_at; /* Unix time of the wall clock */
    uint32_t snaplen;    /* of its capture, as its reports say; 0: unknown */
    /* Of a worker's reports: interval reports made, the packet time of the latest,
     * on-demand sensor_stats (SIGUSR1) answered, and whether the final one is in. */
    uint64_t reports;
    packet_time reported;
    uint64_t requests;
    bool final;
    /* Sized by the policy: [pool * 2 + (IPv6 ? 1 : 0)][verdict], and a row of counters per
     * pool (metrics.c lays it out: leaks by stage, bot scores by bucket, their sum). */
    uint64_t *attempts;
    uint64_t *pools;
};

/* How many values each array of a snapshot holds. */
struct snapshot_size {
    size_t attempts;
    size_t pools;
};

int snapshot_init(struct snapshot *snapshot, struct snapshot_size size);
void snapshot_free(struct snapshot *snapshot);
/* Copies the values, keeping the destination's own arrays. */
void snapshot_copy(struct snapshot *to, const struct snapshot *from, struct snapshot_size size);
/* Zeroes the values, keeping the arrays. */
void snapshot_clear(struct snapshot *snapshot, struct snapshot_size size);
/* Adds from into to: counters add up (gauges too: each worker holds its own flows), the
 * clocks take the latest, the snap length the smallest known. The report bookkeeping is
 * left alone. */
void snapshot_add(struct snapshot *to, const struct snapshot *from, struct snapshot_size size);

enum slot_part { SLOT_LATEST, SLOT_REPORTED };

struct slots {
    uint8_t *memory;
    size_t part_bytes;
    unsigned workers;
    struct snapshot_size size;
};

/* Shared anonymous memory for workers' slots, zeroed; 0 or -1 (errno). */
int slots_map(struct slots *slots, unsigned workers, struct snapshot_size size);
void slots_unmap(struct slots *slots);
/* Only worker `worker` writes its slot. */
void slot_write(struct slots *slots, unsigned worker, enum slot_part part,
                const struct snapshot *from);
/* A consistent copy of one worker's part into scratch, its arrays too when asked (else
 * scratch's are left as they are); false if it kept changing. */
bool slot_read(const struct slots *slots, unsigned worker, enum slot_part part,
               struct snapshot *scratch, bool arrays);

#endif

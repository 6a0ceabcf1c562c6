/* The progress line on standard error while a long capture file is replayed on a
 * terminal: percent done and packets per second, redrawn at most twice a second of wall
 * time (display only: packet time still drives every timer). Silent when standard error is
 * no terminal, with -q, and for inputs of unknown size (standard input, live capture). */
#ifndef OP25B_PROGRESS_H
#define OP25B_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "capture/capture.h"

#define PROGRESS_INTERVAL_SECONDS 0.5
/* The first line comes sooner, so a replay of a few seconds still shows one. */
#define PROGRESS_FIRST_SECONDS 0.1

struct progress {
    bool enabled;
    bool shown; /* a line is on the terminal and must be erased before other output */
    FILE *out;
    uint32_t calls;
    double last_shown;
    uint64_t last_packets;
};

/* enabled: the caller's decision (not -q); the line is drawn only if out is a terminal. */
void progress_init(struct progress *progress, FILE *out, bool enabled);
/* Called for every packet; cheap: looks at the clock once every few hundred calls. */
void progress_update(struct progress *progress, const struct capture *capture, uint64_t packets);
/* "op25b-watch: 42.0% of 1.2 GB, 1234567 packets, 250000 packets/s" */
size_t progress_format(char *buffer, size_t size, uint64_t done, uint64_t total, uint64_t packets,
                       double packets_per_second);
/* Erases the line, so the summary starts on a clean line. */
void progress_clear(struct progress *progress);

#endif

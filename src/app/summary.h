/* The run's summary on standard error when the input ends (not with -q): packets and
 * attempts by verdict, each dynamic pool's coverage, what was skipped or lost, and the top
 * bot suspects. A report for the operator who started the run, not a log message: it has
 * its own writer and layout (an indented table under one headline). With --workers the
 * parent prints it once, for the whole sensor. */
#ifndef OP25B_APP_SUMMARY_H
#define OP25B_APP_SUMMARY_H

#include <stdint.h>
#include <stdio.h>

#include "detect/detect_bot.h"
#include "policy/policy.h"
#include "record/coverage.h"
#include "record/stats.h"

/* How many suspects the summary ranks. */
#define SUMMARY_SUSPECTS 10

/* What a worker leaves the parent for the summary: its top suspects. In shared memory
 * made before the fork; count is stored last, so a worker killed while saving leaves none
 * rather than half of one. The fanout gives each subscriber to one worker, so the best of
 * every worker's top suspects are the whole sensor's. */
struct worker_summary {
    uint32_t count;
    struct bot_rank ranks[SUMMARY_SUSPECTS];
};

/* suspects may be NULL. */
void summary_save(struct worker_summary *to, const struct bot_ranking *suspects);
/* The best SUMMARY_SUSPECTS of the workers' saved suspects into ranks; returns the count. */
size_t summary_merge(const struct worker_summary *from, unsigned workers,
                     struct bot_rank ranks[SUMMARY_SUSPECTS]);

/* ranks: rank_count suspects, best first. seconds: the run's wall time. */
void summary_print(FILE *out, const struct policy *policy, const struct sensor_counters *counters,
                   const struct coverage *coverage, const struct bot_rank *ranks, size_t rank_count,
                   double seconds);

#endif

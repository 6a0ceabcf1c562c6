/* The summary that opens the HTML and text reports: per blocking point whether it holds,
 * the leaks and where they got out, the infected subscribers, the evasion findings, and
 * the next steps the data calls for. Every figure is one the JSON report carries too
 * (coverage.blocking_points[].total, coverage.leaks.total, bot_suspects, findings), taken
 * from the same counts. Sentences are plain text: each writer escapes them its own way. */
#ifndef OP25B_REPORT_SUMMARY_H
#define OP25B_REPORT_SUMMARY_H

#include <stddef.h>
#include <stdint.h>

#include "report/report.h"

enum point_state {
    POINT_LEAKING, /* active, and attempts got past it */
    POINT_HOLDING, /* active, attempts blocked and none got past */
    POINT_NO_DATA, /* active, but nothing blocked or leaked: nothing shows it works */
    POINT_PLANNED, /* not on yet: what it would stop */
};

struct point_summary {
    enum point_state state;
    struct coverage_counts counts; /* its dynamic pools, both families */
};

void report_point_summary(const struct report *report, int point, struct point_summary *out);
/* "LEAKING", "HOLDS", "NO DATA", "PLANNED". */
const char *report_point_state_name(enum point_state state);
/* A pool's attempts, both families. */
void report_pool_total(const struct report *report, int pool, struct coverage_counts *out);
/* Findings of the types report_is_evasion names. */
uint64_t report_evasion_total(const struct report *report);
/* A bot suspect as the report names it: its address, or its IPv6 subscriber prefix. */
void report_suspect_name(const struct finding *suspect, char *text, size_t size);

/* Sentences of the summary (malloc'd, NULL when out of memory): where the leaks got out,
 * who looks infected, which evasion findings were made. */
char *report_leaks_sentence(const struct report *report);
char *report_suspects_sentence(const struct report *report, size_t top);
char *report_evasion_sentence(const struct report *report);

/* The next steps, most urgent first, each one sentence given to step; returns how many.
 * There is always at least one (when nothing needs doing, it says so). */
typedef void (*report_step_fn)(void *context, const char *text);
size_t report_next_steps(const struct report *report, report_step_fn step, void *context);

#endif

/* The run's summary on standard error when the input ends (not with -q): packets and
 * attempts by verdict, each dynamic pool's coverage, what was skipped or lost, and the top
 * bot suspects. A report for the operator who started the run, not a log message: it has
 * its own writer and layout (an indented table under one headline). */
#ifndef OP25B_APP_SUMMARY_H
#define OP25B_APP_SUMMARY_H

#include <stdio.h>

#include "detect/detect_bot.h"
#include "policy/policy.h"
#include "sensor.h"

/* suspects may be NULL; seconds: the run's wall time. */
void summary_print(FILE *out, const struct policy *policy, const struct sensor *sensor,
                   const struct bot_ranking *suspects, double seconds);

#endif

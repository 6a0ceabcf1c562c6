/* One correlator process: a member of the consumer group on the events topic, the clocks
 * reader, the outputs, the metrics; the loop until --exit-at-end's end or a signal. */
#ifndef OP25B_CORRELATE_RUN_H
#define OP25B_CORRELATE_RUN_H

#include "correlate/options.h"
#include "policy/policy.h"

/* The exit status (enum correlate_exit). */
int correlate_run(const struct correlate_options *options, const struct policy *policy);

#endif

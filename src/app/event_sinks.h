/* Where a process's event lines go: -o (a file, or standard output, the default without
 * Kafka) and -k (Kafka, with its spool). A run without workers opens them once; with
 * --workers each worker opens its own and so does the parent, which writes the whole
 * sensor's coverage and sensor_stats: they share the -o file (whole lines, appended), and
 * each keeps its own spool, as a spool is one process's (it is locked): DIR/worker-N for
 * worker N, DIR itself for the parent, as for a run without workers. */
#ifndef OP25B_APP_EVENT_SINKS_H
#define OP25B_APP_EVENT_SINKS_H

#include <signal.h>
#include <stdbool.h>

#include "app/options.h"
#include "output/event.h"
#include "policy/policy.h"

/* worker: this process's worker index, -1 alone or in the parent. shared: other processes
 * write to the same -o. stop_waiting: see sink_kafka_options. Returns an exit status:
 * EXIT_DONE, EXIT_USAGE for a bad Kafka option or spool, or EXIT_RUNTIME, said on stderr. */
int event_sinks_open(struct events *events, const struct options *options,
                     const struct policy *policy, int worker, bool shared,
                     const volatile sig_atomic_t *stop_waiting);

/* After events_close: what the sinks could not deliver or found damaged, said on stderr.
 * Returns EXIT_RUNTIME when there was such a thing, else status. */
int event_sinks_closed(const struct options *options, const struct sink_stats *sinks,
                       uint64_t undelivered, int status);

#endif

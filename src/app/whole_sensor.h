/* --workers: the parent speaks for the whole sensor. The workers judge the traffic and
 * write their attempts and findings; what is about the sensor as a whole is written once,
 * by the parent: the coverage and sensor_stats events, each stats_interval and at the end,
 * and the summary on standard error. It writes them from the figures each worker hands
 * over in shared memory at each of its own periodic reports (output/metrics_slots.h).
 *
 * Intervals line up by packet time, which live is the wall clock: every worker reports
 * when its clock passes a multiple of stats_interval (a quiet worker on its next idle
 * tick), and the parent writes that interval's events, the workers' figures summed, once
 * every running worker has reported it, or WHOLE_SENSOR_CATCH_UP_SECONDS after the first
 * did (a worker behind then counts as of its previous report). The final events come once
 * every worker has ended, so after every attempt and finding a worker wrote. */
#ifndef OP25B_APP_WHOLE_SENSOR_H
#define OP25B_APP_WHOLE_SENSOR_H

#include <signal.h>
#include <stdbool.h>

#include "app/options.h"
#include "app/summary.h"
#include "output/metrics.h"
#include "policy/policy.h"

#define WHOLE_SENSOR_CATCH_UP_SECONDS 2.0
/* SIGUSR1: how long the parent waits for every worker's counters before writing. */
#define WHOLE_SENSOR_ANSWER_SECONDS 1.0

struct whole_sensor_setup {
    const struct options *options;
    const struct policy *policy;
    struct metrics *metrics;                /* the workers' slots */
    const struct worker_summary *summaries; /* each worker's top suspects, saved at its end */
    unsigned workers;
    const volatile sig_atomic_t *stop_waiting; /* see sink_kafka_options */
};

struct whole_sensor;

/* Opens the parent's outputs (app/event_sinks.h): an exit status; *out is set on
 * EXIT_DONE. After the workers are forked (Kafka's producer has threads). */
int whole_sensor_open(const struct whole_sensor_setup *setup, struct whole_sensor **out);
/* Called every few tens of milliseconds while workers run; ended[w]: worker w has ended.
 * Writes an interval's events when they are due, and a requested sensor_stats once every
 * running worker has answered or WHOLE_SENSOR_ANSWER_SECONDS have passed. */
void whole_sensor_poll(struct whole_sensor *voice, const bool *ended);
/* SIGUSR1, before it is passed on to the workers: one sensor_stats for the whole sensor. */
void whole_sensor_request_stats(struct whole_sensor *voice);
/* SIGHUP: the parent's outputs re-opened too. */
void whole_sensor_reopen(struct whole_sensor *voice);
/* SIGHUP: the policy, reloaded in place, may have renamed the sensor. */
void whole_sensor_rename(struct whole_sensor *voice);
/* Every worker has ended: the final coverage and sensor_stats, and the summary (not -q). */
void whole_sensor_finish(struct whole_sensor *voice);
/* What the parent wrote, for the merged report. */
struct output_counts whole_sensor_counts(const struct whole_sensor *voice);
/* Closes the outputs (Kafka's wait for delivery) and frees; returns status, or
 * EXIT_RUNTIME when an event could not be delivered. NULL is fine. */
int whole_sensor_close(struct whole_sensor *voice, int status);

#endif

/* One sensor process: open the inputs and outputs, feed every packet to the sensor, then
 * the final events, the reports, the summary, and the end. Alone, or as one of --workers'
 * processes (supervise.h), which is what struct run_role says. */
#ifndef OP25B_APP_RUN_H
#define OP25B_APP_RUN_H

#include <stdint.h>
#include <sys/types.h>

#include "app/options.h"
#include "app/summary.h"
#include "output/metrics.h"
#include "policy/policy.h"
#include "workers/worker_share.h"

/* What this process is in the run beyond what the user asked for: set up by the parent
 * for each worker; RUN_ROLE_ALONE without --workers. */
struct run_role {
    int worker;                 /* this process's worker index; -1 without --workers */
    pid_t parent;               /* the process that started the workers */
    uint16_t fanout_group;      /* the PACKET_FANOUT group the workers share; 0: none */
    int report_state_fd;        /* --report: where this worker saves its report state */
    int ready_fd;               /* -u: this worker says here it has dropped root */
    struct worker_share *share; /* what the workers share */
    /* The parent's, a slot for each worker: how a worker hands over its figures at each
     * report (the parent writes coverage and sensor_stats), served by --metrics. */
    struct metrics *shared_metrics;
    struct worker_summary *summary; /* where this worker leaves its top suspects */
    /* Shared with the parent, which counts the policy reloads it took: a worker reloads on
     * SIGHUP only when this moved (NULL without --workers: always). */
    const unsigned *policy_generation;
};

#define RUN_ROLE_ALONE ((struct run_role){.worker = -1, .report_state_fd = -1, .ready_fd = -1})

/* The handlers a sensor process stops by: SIGINT and SIGTERM end the input as a shutdown,
 * and a second one (or one once the input has ended) ends the wait for Kafka's delivery.
 * Set from the start of a process, so a signal during start-up (nDPI and the tables take a
 * while, a worker more so) ends the run cleanly instead of killing it with nothing written. */
void run_catch_signals(void);

/* The whole run of one process; returns its exit status. */
int run_process(const struct options *options, struct policy *policy, const struct run_role *role);

#endif

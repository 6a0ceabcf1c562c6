/* The Prometheus endpoint (--metrics ADDR): the sensor's counters, attempts by verdict,
 * pool and blocking point, leaks by how far they got, findings by type and the sinks'
 * health, in the text exposition format. A libmicrohttpd thread answers the scrapes; the
 * packet thread never waits for it: it publishes a snapshot now and then with a try-lock
 * and simply tries again later when a scrape holds the copy. Labels come from the policy
 * (pools, blocking points) and fixed lists (verdicts, event types): never per subscriber. */
#ifndef OP25B_METRICS_H
#define OP25B_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "record/coverage.h"
#include "output/event.h"
#include "util/packet_time.h"
#include "policy/policy.h"
#include "record/stats.h"

#define METRICS_DEFAULT_HOST "127.0.0.1"
/* How often, in wall time, the packet thread hands a new snapshot to the scraper. */
#define METRICS_PUBLISH_SECONDS 0.25

struct metrics;

/* "PORT", "HOST:PORT" or "[IPV6]:PORT", HOST an address literal or "localhost". Without a
 * host (or with ":PORT") the endpoint is bound to loopback only. 0, or -1 with a reason. */
int metrics_parse_address(const char *text, struct sockaddr_storage *address, char *error,
                          size_t error_size);

/* Starts serving at address (already checked by metrics_parse_address). NULL with a
 * message when the address cannot be bound. */
struct metrics *metrics_start(const char *address, const struct policy *policy, char *error,
                              size_t error_size);
/* --workers: made in the parent before fork, with a slot of shared memory per worker
 * (metrics_slots.h), whether or not the endpoint is served: it is also how the workers
 * hand the parent their figures. Each worker calls metrics_become_worker in its process
 * and then publishes into its own slot (metrics_update, metrics_publish, and each of its
 * periodic reports once attached); the parent calls metrics_serve once the workers are
 * forked (a process with threads must not fork: the children could inherit a lock held by
 * the server's thread) and serves their sum, with each worker's own figures labelled
 * worker="N" beside it. */
struct metrics *metrics_start_shared(const struct policy *policy, unsigned workers, char *error,
                                     size_t error_size);
void metrics_become_worker(struct metrics *metrics, unsigned worker);
/* Starts serving at address; 0, or -1 with a message. */
int metrics_serve(struct metrics *metrics, const char *address, char *error, size_t error_size);
/* Subscribes to the bus for what counters alone do not say (leak stages, bot scores) and,
 * in a worker, for its periodic reports; events: what the event lines wrote. */
int metrics_attach(struct metrics *metrics, struct bus *bus, const struct events *events);

/* ---- The parent of --workers: the whole sensor's figures ---- */

/* The workers' figures summed. */
struct worker_figures {
    struct sensor_counters counters;
    struct coverage coverage;   /* by pool and family */
    struct events_tally events; /* what they wrote */
    packet_time now;            /* the latest of their clocks */
    uint32_t snaplen;           /* the smallest of their captures' snap lengths; 0: unknown */
};

/* Where one worker is. */
struct worker_state {
    bool published;       /* it has published anything at all */
    bool final;           /* its final report is in */
    uint64_t reports;     /* interval reports made (each stats_interval of packet time) */
    packet_time reported; /* the packet time of the latest */
    uint64_t requests;    /* on-demand reports (SIGUSR1) answered */
    packet_time now;
};

int metrics_figures_init(const struct metrics *metrics, struct worker_figures *figures);
void metrics_figures_free(struct worker_figures *figures);
/* Reads every worker's slot: as of its latest report (reported) or as last published, and
 * sums it into figures and says where each worker is in states[worker] (either may be
 * NULL; without figures, only the few bytes that say where a worker is are copied: the
 * parent looks every 50 ms). The parent's main thread only. */
void metrics_read_workers(struct metrics *metrics, bool reported, struct worker_figures *figures,
                          struct worker_state *states);
/* The parent's own event lines, served with the workers' sum. */
void metrics_set_own(struct metrics *metrics, const struct events *events);

/* Called by the packet thread for every packet (and when idle): publishes a snapshot at
 * most every METRICS_PUBLISH_SECONDS of wall time, never blocking. */
void metrics_update(struct metrics *metrics, const struct sensor_counters *counters,
                    const struct coverage *coverage, const struct events *events, packet_time now);
/* Publishes now, waiting for a scrape in progress if need be (not for the fast path). */
void metrics_publish(struct metrics *metrics, const struct sensor_counters *counters,
                     const struct coverage *coverage, const struct events *events, packet_time now);
/* The exposition text of the last published snapshot, as a scrape gets it (malloc'ed). */
char *metrics_render(struct metrics *metrics, size_t *length);
/* Around a policy reload (policy/policy_reload.h), which replaces the names the scraping
 * thread reads: hold keeps it out; release makes the sensor label again and lets it in.
 * NULL is fine. */
void metrics_policy_hold(struct metrics *metrics);
void metrics_policy_release(struct metrics *metrics);
/* Stops serving and frees; NULL is fine. */
void metrics_stop(struct metrics *metrics);

#endif

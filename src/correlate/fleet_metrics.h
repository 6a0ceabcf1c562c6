/* op25b-correlate's Prometheus endpoint (--metrics): the fleet's attempts by pool,
 * blocking point, family and verdict, its coverage ratio, the leaks past and the attempts
 * held at each blocking point, the reports of each sensor and its clock, the attempts
 * waiting, and the consumer lag of each partition. The series the dashboards rely on
 * (dashboards/README.md, "The correlator's metrics") are served from 0 from the start.
 * The main loop publishes a snapshot now and then; the server's thread renders the last
 * one. */
#ifndef OP25B_CORRELATE_FLEET_METRICS_H
#define OP25B_CORRELATE_FLEET_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "correlate/correlator.h"

struct fleet_metrics;

/* NULL with a message when the address cannot be served. */
struct fleet_metrics *fleet_metrics_start(const char *address, const struct policy *policy,
                                          char *error, size_t error_size);
/* lag[p] for p < partition_count: messages behind the end, or -1 when not ours. */
void fleet_metrics_publish(struct fleet_metrics *metrics, const struct correlator *correlator,
                           const int64_t *lag, size_t partition_count);
char *fleet_metrics_render(struct fleet_metrics *metrics, size_t *length);
void fleet_metrics_stop(struct fleet_metrics *metrics);

#endif

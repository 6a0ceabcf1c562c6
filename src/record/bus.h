/* The one-way internal bus: the sensor and its detectors publish records (an attempt once
 * it is over, a submission connection on 587 or 465 once it is over, a finding, the
 * periodic coverage and counters), and subscribers take them in
 * the order they subscribed: the output first (the event line), then the detectors that
 * build on attempts and findings, the report and the metrics. Nobody reads a record back
 * from JSON text.
 *
 * A subscriber may publish a finding while it takes a record (the bot detector judges a
 * subscriber when its attempt closes). That finding waits until every subscriber has taken
 * the record that caused it, so all hear the cause before its consequence, and the lines
 * keep the order the records were published in. */
#ifndef OP25B_BUS_H
#define OP25B_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record/attempt_record.h"
#include "record/connection_record.h"
#include "record/coverage.h"
#include "record/finding.h"
#include "record/stats.h"

#define BUS_SUBSCRIBERS_MAX 16
#define BUS_QUEUE_MAX 16

/* Every sensor report (each stats_interval, on demand, and the final one). */
struct periodic_record {
    packet_time now;
    bool final;
    const struct coverage *coverage; /* NULL: only the counters are told */
    const struct sensor_counters *counters;
    uint32_t snaplen; /* the smallest snap length of the capture sources; 0: unknown */
};

/* Each callback may be NULL. */
struct bus_subscriber {
    void (*attempt)(void *context, const struct attempt_record *attempt);
    void (*finding)(void *context, const struct finding *finding);
    void (*periodic)(void *context, const struct periodic_record *periodic);
    void (*flush)(void *context); /* after each periodic report: write out what is buffered */
    void *context;
    /* A submission connection on 587 or 465 ended (record/connection_record.h). */
    void (*connection)(void *context, const struct connection_record *connection);
};

struct bus {
    struct bus_subscriber subscribers[BUS_SUBSCRIBERS_MAX];
    size_t subscriber_count;
    unsigned depth; /* > 0 while a record is being handed out */
    struct finding queue[BUS_QUEUE_MAX];
    size_t queue_head;
    size_t queue_count;
};

void bus_init(struct bus *bus);
/* -1 when BUS_SUBSCRIBERS_MAX subscribe already. */
int bus_subscribe(struct bus *bus, struct bus_subscriber subscriber);

void bus_attempt(struct bus *bus, const struct attempt_record *attempt);
void bus_finding(struct bus *bus, const struct finding *finding);
void bus_periodic(struct bus *bus, const struct periodic_record *periodic);
void bus_connection(struct bus *bus, const struct connection_record *connection);

#endif

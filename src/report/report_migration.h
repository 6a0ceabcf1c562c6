/* The report's "Moving submission to 587" (draft 4.3, 4.3.2 steps 4-5): per MSA and dynamic
 * pool, the connections over the run on 25 (with AUTH, without, unknown), 587 and 465 and
 * the distinct subscribers behind them; those connections over time; and, for an MSA whose
 * port 25 is planned to close, who breaks when it does: each subscriber whose port-25
 * attempts it takes today. Collected from the attempt and connection records on the bus
 * (record/migration.h classes them as the submission_migration event does), written by
 * report_migration_write.c into the JSON, text and HTML reports. */
#ifndef OP25B_REPORT_MIGRATION_H
#define OP25B_REPORT_MIGRATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "record/attempt_record.h"
#include "record/connection_record.h"
#include "record/migration.h"
#include "util/json.h"
#include "util/window_set.h"

/* Subscribers listed as breaking when a port 25 closes; all are counted. */
#define REPORT_CLOSING_LISTED 500
/* Distinct (subscriber, MSA, pool, port, auth) keys counted exactly over the run, three a
 * subscriber; beyond, subscriber counts are lower bounds (subscribers_capped). */
#define REPORT_MIGRATION_DISTINCT (1u << 19)
#define REPORT_MIGRATION_BUCKETS 96

/* The chart's series: port 25 by AUTH, then 587 and 465. */
enum report_migration_series {
    SERIES_25_AUTH = 0,
    SERIES_25_NO_AUTH,
    SERIES_25_AUTH_UNKNOWN,
    SERIES_587,
    SERIES_465,
    REPORT_MIGRATION_SERIES
};

/* Connections over time, by series: buckets widen (doubling) to hold the span. */
struct report_migration_timeline {
    bool started;
    packet_time origin;
    packet_time width;
    size_t used;
    uint64_t counts[REPORT_MIGRATION_BUCKETS][REPORT_MIGRATION_SERIES];
};

/* A subscriber whose port-25 submissions an MSA planning to close takes today. */
struct report_closing {
    struct prefix subscriber;
    int msa;
    int pool;
    uint64_t connections[MIGRATION_AUTHS];
    packet_time first_seen;
    packet_time last_seen;
};

struct report_migration {
    const struct policy *policy;
    size_t row_count;              /* migration_row()'s */
    struct migration_counts *rows; /* over the run */
    struct window_set *distinct;   /* this process's; workers' subscribers are disjoint */
    struct report_migration_timeline timeline;
    struct report_closing *closing; /* REPORT_CLOSING_LISTED, made at the first */
    size_t closing_count;
    uint64_t closing_beyond_subscribers; /* past the list: counted, not listed */
    uint64_t closing_beyond_connections;
    struct window_set *beyond; /* the subscribers past the list, to count them once */
};

struct report_migration *report_migration_new(const struct policy *policy);
void report_migration_free(struct report_migration *migration);
void report_migration_attempt(struct report_migration *migration,
                              const struct attempt_record *attempt);
void report_migration_connection(struct report_migration *migration,
                                 const struct connection_record *connection);
/* Was any connection counted? */
bool report_migration_seen(const struct report_migration *migration);

/* --workers (report_merge.c): the state after the report's own, and its sum. */
int report_migration_save(const struct report_migration *migration, FILE *out);
bool report_migration_merge(struct report_migration *into, FILE *in);
/* The subscribers who break, most connections first (then by MSA and subscriber). */
void report_migration_order(struct report_migration *migration);

/* The writers (report_migration_write.c): report->migration, with the report's ways of
 * writing times. */
struct report;
void report_migration_write_json(const struct report *report, struct json_stream *w);
void report_migration_write_text(const struct report *report, FILE *out);
void report_migration_write_html(const struct report *report, FILE *out);

#endif

/* submission_migration: counts each dynamic subscriber's connections to the policy's MSAs on
 * 25, 587 and 465 per stats interval, and writes one event per MSA and pool that saw any
 * when the interval ends, as the sensor writes its coverage. Its memory is one row of
 * counts per (MSA, pool) and one bounded set of the interval's distinct (subscriber, row,
 * port, auth) keys; both are emptied when an interval is written.
 *
 * A connection counts in the interval in which its record came, that is when it ended (a
 * blocked SYN timeouts.syn after its last retry). With --workers every worker counts the
 * subscribers the fanout gives it, and a subscriber's packets all go to one worker, so the
 * workers' events add up to one sensor's: connections exactly, and distinct subscribers
 * too, but for a connection closed by a timer near an interval's end, which a worker may
 * count in the interval before or after the one a single sensor would. */
#include "detect/detect_migration.h"

#include <stdlib.h>
#include <string.h>

#include "record/finding.h"
#include "record/migration.h"
#include "util/log.h"
#include "util/window_set.h"

/* The distinct set: three keys per (subscriber, row, port, auth), within these bounds; an
 * eighth of the attempt table. */
#define DISTINCT_MIN 1024
#define DISTINCT_MAX (1u << 20)
#define DISTINCT_INITIAL 1024

struct migration_row {
    struct migration_counts counts;
    bool seen; /* a connection came in this interval */
};

struct migration_detector {
    struct detector base;
    const struct policy *policy;
    struct bus *bus;
    struct sensor_counters *counters;
    struct migration_row *rows; /* migration_row(): [msa * pool_count + pool] */
    size_t row_count;
    struct window_set *distinct;
    bool started;
    packet_time interval_start; /* the previous report, or the first packet */
    packet_time interval_end;   /* the next stats_interval boundary */
    uint64_t unmeasured;        /* connections to MSAs past MIGRATION_ROWS_MAX */
};

static struct migration_detector *of(struct detector *detector)
{
    return (struct migration_detector *)detector;
}

/* As the sensor times its reports: the next multiple of stats_interval after now. */
static void start_interval(struct migration_detector *detector, packet_time now)
{
    packet_time interval = detector->policy->stats_interval;
    detector->started = true;
    detector->interval_start = now;
    detector->interval_end = (now / interval + 1) * interval;
    detector->base.due = detector->interval_end;
}

static void count(struct migration_detector *detector, const struct flow_tuple *flow, int pool,
                  int msa, const struct smtp_facts *smtp, packet_time at)
{
    enum migration_port port = migration_port_of(flow->dst_port);
    if (msa < 0 || port == MIGRATION_PORTS)
        return;
    long index = migration_row(detector->policy, msa, pool);
    if (index < 0) {
        if ((size_t)msa >= migration_msas_measured(detector->policy) && pool >= 0 &&
            detector->policy->pools[pool].type == POOL_DYNAMIC)
            detector->unmeasured++;
        return;
    }
    if (!detector->started)
        start_interval(detector, at);
    struct migration_row *row = &detector->rows[index];
    row->seen = true;
    struct prefix subscriber = policy_subscriber(detector->policy, pool, &flow->src);
    if (!migration_count(&row->counts, detector->distinct, index, &subscriber, port,
                         migration_auth_of(smtp, port)))
        detector->counters->detector_exhausted++;
}

static void on_attempt(void *context, const struct attempt_record *attempt)
{
    count(context, &attempt->flow, attempt->pool, attempt->msa, attempt->smtp, attempt->last_seen);
}

static void on_connection(void *context, const struct connection_record *connection)
{
    count(context, &connection->flow, connection->pool, connection->msa, connection->smtp,
          connection->last_seen);
}

/* One event per row that saw a connection, in policy order (MSA, then pool); then the
 * next interval begins empty. */
static void write_interval(struct migration_detector *detector, packet_time now, bool final)
{
    const struct policy *policy = detector->policy;
    for (size_t i = 0; i < detector->row_count; i++) {
        struct migration_row *row = &detector->rows[i];
        if (!row->seen)
            continue;
        struct finding finding;
        finding_init(&finding, EVENT_SUBMISSION_MIGRATION, now);
        finding.pool = (int)(i % policy->pool_count);
        struct migration_finding *out = &finding.as.migration;
        out->msa = (int)(i / policy->pool_count);
        out->interval_start = detector->interval_start;
        out->final = final;
        out->counts = row->counts;
        bus_finding(detector->bus, &finding);
        memset(row, 0, sizeof(*row));
    }
    window_set_clear(detector->distinct);
}

static void migration_packet(struct detector *base, const struct packet *packet, int segment)
{
    (void)segment;
    struct migration_detector *detector = of(base);
    if (!detector->started)
        start_interval(detector, packet->ts);
}

static void migration_advance(struct detector *base, packet_time now)
{
    struct migration_detector *detector = of(base);
    if (!detector->started) {
        start_interval(detector, now);
        return;
    }
    if (now < detector->interval_end)
        return;
    write_interval(detector, now, false);
    start_interval(detector, now);
}

static void migration_finish(struct detector *base, packet_time now, const char *reason)
{
    (void)reason;
    struct migration_detector *detector = of(base);
    write_interval(detector, now, true);
    if (detector->unmeasured > 0)
        log_message(LOG_WARNING,
                    "%llu connections to MSAs past the first %zu were not counted in "
                    "submission_migration (at most %d MSA and pool pairs are)",
                    (unsigned long long)detector->unmeasured,
                    migration_msas_measured(detector->policy), MIGRATION_ROWS_MAX);
}

static void migration_free(struct detector *base)
{
    struct migration_detector *detector = of(base);
    if (detector == NULL)
        return;
    free(detector->rows);
    window_set_free(detector->distinct);
    free(detector);
}

static const struct detector_ops migration_ops = {
    .name = "migration",
    .packet = migration_packet,
    .advance = migration_advance,
    .finish = migration_finish,
    .free = migration_free,
};

struct detector *detect_migration_new(const struct detector_context *context, bool *disabled)
{
    const struct policy *policy = context->policy;
    *disabled = policy->msa_count == 0;
    if (*disabled)
        return NULL;
    struct migration_detector *detector = calloc(1, sizeof(*detector));
    if (detector == NULL)
        return NULL;
    detector->base.ops = &migration_ops;
    detector->policy = policy;
    detector->bus = context->bus;
    detector->counters = context->counters;
    detector->row_count = migration_msas_measured(policy) * policy->pool_count;
    detector->rows = calloc(detector->row_count, sizeof(*detector->rows));
    uint32_t capacity = policy->limits.flows / 8;
    capacity = capacity < DISTINCT_MIN   ? DISTINCT_MIN
               : capacity > DISTINCT_MAX ? DISTINCT_MAX
                                         : capacity;
    detector->distinct = window_set_new(DISTINCT_INITIAL, capacity);
    struct bus_subscriber subscriber = {
        .attempt = on_attempt, .connection = on_connection, .context = detector};
    if (detector->rows == NULL || detector->distinct == NULL ||
        bus_subscribe(context->bus, subscriber) != 0) {
        migration_free(&detector->base);
        return NULL;
    }
    if (migration_msas_measured(policy) < policy->msa_count)
        log_message(LOG_WARNING,
                    "submission_migration measures the first %zu of %zu MSAs: at most %d MSA "
                    "and pool pairs",
                    migration_msas_measured(policy), policy->msa_count, MIGRATION_ROWS_MAX);
    return &detector->base;
}

#include "report/report_migration.h"
#include "report/timeline.h"

#include <stdlib.h>
#include <string.h>

#define BEYOND_KIND 0x636c6f73 /* "clos" */

struct report_migration *report_migration_new(const struct policy *policy)
{
    struct report_migration *migration = calloc(1, sizeof(*migration));
    if (migration == NULL)
        return NULL;
    migration->policy = policy;
    migration->timeline.width = PACKET_TIME_SECOND;
    migration->row_count = migration_msas_measured(policy) * policy->pool_count;
    migration->rows = calloc(migration->row_count + 1, sizeof(*migration->rows));
    /* Small at first: the sets grow as subscribers come, up to their bounds. */
    migration->distinct = window_set_new(1024, REPORT_MIGRATION_DISTINCT);
    migration->beyond = window_set_new(256, REPORT_MIGRATION_DISTINCT / 8);
    if (migration->rows == NULL || migration->distinct == NULL || migration->beyond == NULL) {
        report_migration_free(migration);
        return NULL;
    }
    return migration;
}

void report_migration_free(struct report_migration *migration)
{
    if (migration == NULL)
        return;
    free(migration->rows);
    free(migration->closing);
    window_set_free(migration->distinct);
    window_set_free(migration->beyond);
    free(migration);
}

bool report_migration_seen(const struct report_migration *migration)
{
    for (size_t i = 0; i < migration->row_count; i++) {
        if (migration_total_connections(&migration->rows[i]) > 0)
            return true;
    }
    return false;
}

/* ---- Connections over time ---- */

static struct timeline_view connections_view(struct report_migration_timeline *timeline)
{
    return (struct timeline_view){
        &timeline->started,      &timeline->origin,        &timeline->width,       &timeline->used,
        &timeline->counts[0][0], REPORT_MIGRATION_BUCKETS, REPORT_MIGRATION_SERIES};
}

static enum report_migration_series series_of(enum migration_port port, enum migration_auth auth)
{
    if (port == MIGRATION_PORT_587)
        return SERIES_587;
    if (port == MIGRATION_PORT_465)
        return SERIES_465;
    return (enum report_migration_series)(SERIES_25_AUTH + auth);
}

/* ---- Who breaks when a port 25 closes ---- */

static struct report_closing *closing_find(struct report_migration *migration,
                                           const struct prefix *subscriber, int msa)
{
    for (size_t i = 0; i < migration->closing_count; i++) {
        struct report_closing *entry = &migration->closing[i];
        if (entry->msa == msa && entry->subscriber.length == subscriber->length &&
            address_equal(&entry->subscriber.address, &subscriber->address))
            return entry;
    }
    return NULL;
}

/* One subscriber's attempt of `connections` connections, first and last seen at those
 * times: listed while the list has room, counted beyond it. */
static void closing_add(struct report_migration *migration, const struct report_closing *one)
{
    struct report_closing *entry = closing_find(migration, &one->subscriber, one->msa);
    if (entry == NULL && migration->closing_count < REPORT_CLOSING_LISTED) {
        if (migration->closing == NULL &&
            (migration->closing = calloc(REPORT_CLOSING_LISTED, sizeof(*entry))) == NULL)
            return;
        entry = &migration->closing[migration->closing_count++];
        *entry = *one;
        memset(entry->connections, 0, sizeof(entry->connections));
    }
    uint64_t connections = 0;
    for (int a = 0; a < MIGRATION_AUTHS; a++)
        connections += one->connections[a];
    if (entry == NULL) {
        struct {
            struct prefix subscriber;
            int32_t msa;
        } key;
        memset(&key, 0, sizeof(key));
        key.subscriber = one->subscriber;
        key.msa = one->msa;
        migration->closing_beyond_connections += connections;
        if (window_set_add(migration->beyond, window_set_hash(BEYOND_KIND, &key, sizeof(key))) !=
            WINDOW_SET_PRESENT)
            migration->closing_beyond_subscribers++;
        return;
    }
    for (int a = 0; a < MIGRATION_AUTHS; a++)
        entry->connections[a] += one->connections[a];
    if (one->first_seen < entry->first_seen)
        entry->first_seen = one->first_seen;
    if (one->last_seen > entry->last_seen)
        entry->last_seen = one->last_seen;
}

/* Past the list, when merging workers' lists: the subscribers seen first stay listed, as
 * one process that saw them all would have listed them; the rest are counted beyond. */
static bool seen_before(const struct report_closing *a, const struct report_closing *b)
{
    if (a->first_seen != b->first_seen)
        return a->first_seen < b->first_seen;
    if (a->msa != b->msa)
        return a->msa < b->msa;
    return address_compare(&a->subscriber.address, &b->subscriber.address) < 0;
}

static void closing_beyond(struct report_migration *migration, const struct report_closing *one)
{
    struct report_closing counted = *one;
    counted.first_seen = counted.last_seen = 0;
    migration->closing_beyond_connections +=
        one->connections[0] + one->connections[1] + one->connections[2];
    memset(counted.connections, 0, sizeof(counted.connections));
    closing_add(migration, &counted); /* not listed: counts the subscriber once */
}

static void closing_merge(struct report_migration *migration, const struct report_closing *one)
{
    if (migration->closing_count < REPORT_CLOSING_LISTED ||
        closing_find(migration, &one->subscriber, one->msa) != NULL) {
        closing_add(migration, one);
        return;
    }
    size_t latest = 0;
    for (size_t i = 1; i < migration->closing_count; i++)
        if (seen_before(&migration->closing[latest], &migration->closing[i]))
            latest = i;
    if (!seen_before(one, &migration->closing[latest])) {
        closing_beyond(migration, one);
        return;
    }
    struct report_closing evicted = migration->closing[latest];
    migration->closing[latest] = *one;
    closing_beyond(migration, &evicted);
}

/* ---- Records ---- */

static void count(struct report_migration *migration, const struct flow_tuple *flow, int pool,
                  int msa, const struct smtp_facts *smtp, packet_time first_seen)
{
    enum migration_port port = migration_port_of(flow->dst_port);
    long row = migration_row(migration->policy, msa, pool);
    if (port == MIGRATION_PORTS || row < 0)
        return;
    enum migration_auth auth = migration_auth_of(smtp, port);
    struct prefix subscriber = policy_subscriber(migration->policy, pool, &flow->src);
    migration_count(&migration->rows[row], migration->distinct, row, &subscriber, port, auth);
    uint64_t one[REPORT_MIGRATION_SERIES] = {0};
    one[series_of(port, auth)] = 1;
    struct timeline_view view = connections_view(&migration->timeline);
    timeline_add(&view, first_seen, one);
}

void report_migration_attempt(struct report_migration *migration,
                              const struct attempt_record *attempt)
{
    count(migration, &attempt->flow, attempt->pool, attempt->msa, attempt->smtp,
          attempt->first_seen);
    /* Who breaks: the port-25 submissions the MSA takes today and will not once closed. */
    if (!attempt->to_designated_msa || !policy_msa_closing(migration->policy, attempt->msa, 25))
        return;
    struct report_closing one = {
        .subscriber = policy_subscriber(migration->policy, attempt->pool, &attempt->flow.src),
        .msa = attempt->msa,
        .pool = attempt->pool,
        .first_seen = attempt->first_seen,
        .last_seen = attempt->last_seen,
    };
    one.connections[migration_auth_of(attempt->smtp, MIGRATION_PORT_25)] = 1;
    closing_add(migration, &one);
}

void report_migration_connection(struct report_migration *migration,
                                 const struct connection_record *connection)
{
    count(migration, &connection->flow, connection->pool, connection->msa, connection->smtp,
          connection->first_seen);
}

/* ---- Workers ---- */

static bool put(FILE *out, const void *data, size_t size)
{
    return size == 0 || fwrite(data, size, 1, out) == 1;
}

static bool get(FILE *in, void *data, size_t size)
{
    return size == 0 || fread(data, size, 1, in) == 1;
}

int report_migration_save(const struct report_migration *migration, FILE *out)
{
    bool ok =
        put(out, &migration->row_count, sizeof(migration->row_count)) &&
        put(out, migration->rows, migration->row_count * sizeof(*migration->rows)) &&
        put(out, &migration->timeline, sizeof(migration->timeline)) &&
        put(out, &migration->closing_count, sizeof(migration->closing_count)) &&
        put(out, migration->closing, migration->closing_count * sizeof(*migration->closing)) &&
        put(out, &migration->closing_beyond_subscribers,
            sizeof(migration->closing_beyond_subscribers)) &&
        put(out, &migration->closing_beyond_connections,
            sizeof(migration->closing_beyond_connections));
    return ok ? 0 : -1;
}

/* Counts add up: a subscriber's packets all go to one worker, so each is in one state. */
bool report_migration_merge(struct report_migration *into, FILE *in)
{
    size_t rows, listed;
    struct migration_counts counts;
    if (!get(in, &rows, sizeof(rows)) || rows != into->row_count)
        return false;
    for (size_t i = 0; i < rows; i++) {
        if (!get(in, &counts, sizeof(counts)))
            return false;
        migration_counts_add(&into->rows[i], &counts);
    }
    struct report_migration_timeline *timeline = malloc(sizeof(*timeline));
    bool ok = timeline != NULL && get(in, timeline, sizeof(*timeline)) &&
              timeline->used <= REPORT_MIGRATION_BUCKETS;
    if (ok) {
        struct timeline_view to = connections_view(&into->timeline);
        struct timeline_view with = connections_view(timeline);
        timeline_merge(&to, &with);
    }
    free(timeline);
    if (!ok || !get(in, &listed, sizeof(listed)) || listed > REPORT_CLOSING_LISTED)
        return false;
    for (size_t i = 0; i < listed; i++) {
        struct report_closing entry;
        if (!get(in, &entry, sizeof(entry)))
            return false;
        closing_merge(into, &entry);
    }
    uint64_t beyond[2];
    if (!get(in, beyond, sizeof(beyond)))
        return false;
    into->closing_beyond_subscribers += beyond[0];
    into->closing_beyond_connections += beyond[1];
    return true;
}

static uint64_t closing_total(const struct report_closing *entry)
{
    return entry->connections[0] + entry->connections[1] + entry->connections[2];
}

static int closing_order(const void *a, const void *b)
{
    const struct report_closing *x = a, *y = b;
    uint64_t x_total = closing_total(x), y_total = closing_total(y);
    if (x_total != y_total)
        return x_total > y_total ? -1 : 1;
    if (x->msa != y->msa)
        return x->msa < y->msa ? -1 : 1;
    int order = address_compare(&x->subscriber.address, &y->subscriber.address);
    return order != 0 ? order : (int)x->subscriber.length - (int)y->subscriber.length;
}

void report_migration_order(struct report_migration *migration)
{
    if (migration->closing_count > 0)
        qsort(migration->closing, migration->closing_count, sizeof(*migration->closing),
              closing_order);
}

/* --report with --workers. Each worker sees only its share of the packets, so it keeps its
 * own report; at the end it saves the report's state to a file the parent made, and the
 * parent adds the states up into the one report it writes. The state is raw structs of
 * this very binary (the workers are forked from the parent, never exec'd): pointers are
 * replaced by what they point to, and a header checks the sizes. */
#include <stdlib.h>
#include <string.h>

#include "report/report.h"

#define STATE_MAGIC UINT64_C(0x3170657262353270) /* "p25brep1" */

struct state_header {
    uint64_t magic;
    uint32_t report_size;
    uint32_t leak_size;
    uint32_t finding_size;
    uint32_t server_size;
    uint32_t pool_count;
    uint32_t shutdown; /* the worker ended on a signal, not at the end of its input */
};

/* Counters add up field by field: every field of these is a uint64_t. */
_Static_assert(sizeof(struct sensor_counters) % sizeof(uint64_t) == 0, "counters are u64s");
_Static_assert(sizeof(struct coverage_counts) % sizeof(uint64_t) == 0, "counts are u64s");

static void add_counts(void *into, const void *from, size_t size)
{
    uint64_t *sum = into;
    const uint64_t *add = from;
    for (size_t i = 0; i < size / sizeof(uint64_t); i++)
        sum[i] += add[i];
}

/* ---- Saving ---- */

static bool put(FILE *out, const void *data, size_t size)
{
    return size == 0 || fwrite(data, size, 1, out) == 1;
}

/* A finding is a value: its strings are copied in or static, and workers are forked from
 * one binary, so its bytes mean the same in the parent. */
static bool put_finding(FILE *out, const struct finding *finding)
{
    return put(out, finding, sizeof(*finding));
}

static bool put_servers(FILE *out, const struct report_servers *servers)
{
    if (!put(out, &servers->count, sizeof(servers->count)) ||
        !put(out, &servers->not_kept, sizeof(servers->not_kept)))
        return false;
    for (size_t i = 0; i < servers->count; i++) {
        const struct report_server *server = &servers->items[i];
        if (!put(out, server, sizeof(*server)) ||
            !put(out, server->subscribers, server->subscriber_count * sizeof(struct address)))
            return false;
    }
    return true;
}

int report_save(const struct report *report, FILE *out)
{
    const struct policy *policy = report->policy;
    struct state_header header = {
        .magic = STATE_MAGIC,
        .report_size = sizeof(struct report),
        .leak_size = sizeof(struct report_leak),
        .finding_size = sizeof(struct finding),
        .server_size = sizeof(struct report_server),
        .pool_count = (uint32_t)policy->pool_count,
        .shutdown = report->end_reason != NULL && strcmp(report->end_reason, "shutdown") == 0,
    };
    bool ok =
        put(out, &header, sizeof(header)) && put(out, report, sizeof(*report)) &&
        put(out, report->coverage,
            report->coverage != NULL ? policy->pool_count * 2 * sizeof(*report->coverage) : 0) &&
        put(out, report->leaks, report->leak_count * sizeof(*report->leaks));
    for (int t = 0; ok && t < EVENT_TYPE_COUNT; t++)
        for (size_t i = 0; ok && i < report->finding_count[t]; i++)
            ok = put_finding(out, &report->findings[t][i]);
    for (size_t i = 0; ok && i < report->suspect_count; i++)
        ok = put_finding(out, &report->suspects[i]);
    ok = ok && put_servers(out, &report->third_party) &&
         put_servers(out, &report->open_submission) && put_servers(out, &report->pop_before_smtp) &&
         put_servers(out, &report->submission_seen);
    ok = ok && report_migration_save(report->migration, out) == 0;
    return ok && fflush(out) == 0 ? 0 : -1;
}

/* ---- Merging ---- */

static bool get(FILE *in, void *data, size_t size)
{
    return size == 0 || fread(data, size, 1, in) == 1;
}

static bool get_finding(FILE *in, struct finding *finding)
{
    return get(in, finding, sizeof(*finding)) && (unsigned)finding->type < EVENT_TYPE_COUNT;
}

static void merge_server(struct report_servers *into, const struct report_server *from)
{
    struct report_server *server = report_find_server(into, &from->address, from->port, true);
    if (server == NULL)
        return;
    server->sessions += from->sessions;
    if (from->first_seen != 0 && (server->first_seen == 0 || from->first_seen < server->first_seen))
        server->first_seen = from->first_seen;
    if (from->last_seen > server->last_seen)
        server->last_seen = from->last_seen;
    for (size_t i = 0; i < from->subscriber_count; i++)
        report_server_add_subscriber(server, &from->subscribers[i]);
    server->subscribers_capped |= from->subscribers_capped;
    server->submission_port_seen |= from->submission_port_seen;
    if (server->as_org[0] == '\0')
        memcpy(server->as_org, from->as_org, sizeof(server->as_org));
    if (server->country[0] == '\0')
        memcpy(server->country, from->country, sizeof(server->country));
}

static bool merge_servers(struct report_servers *into, FILE *in)
{
    size_t count;
    uint64_t not_kept;
    if (!get(in, &count, sizeof(count)) || !get(in, &not_kept, sizeof(not_kept)) ||
        count > REPORT_SERVERS_MAX)
        return false;
    into->not_kept += not_kept;
    for (size_t i = 0; i < count; i++) {
        struct report_server server;
        if (!get(in, &server, sizeof(server)) ||
            server.subscriber_count > REPORT_SUBSCRIBERS_PER_SERVER)
            return false;
        struct address *subscribers = calloc(server.subscriber_count + 1, sizeof(*subscribers));
        if (subscribers == NULL ||
            !get(in, subscribers, server.subscriber_count * sizeof(*subscribers))) {
            free(subscribers);
            return false;
        }
        server.subscribers = subscribers;
        merge_server(into, &server);
        free(subscribers);
    }
    return true;
}

/* One process lists the first leaks and findings it sees, which come in about the order of
 * time; of several workers' lists the merge keeps the earliest, as many as one lists. */
static void keep_leak(struct report *report, const struct report_leak *leak)
{
    if (report->leak_count < REPORT_LEAKS_MAX) {
        report->leaks[report->leak_count++] = *leak;
        return;
    }
    size_t latest = 0;
    for (size_t i = 1; i < report->leak_count; i++)
        if (report->leaks[i].ts > report->leaks[latest].ts)
            latest = i;
    if (leak->ts < report->leaks[latest].ts)
        report->leaks[latest] = *leak;
}

static void keep_finding(struct report *report, int type, const struct finding *finding)
{
    struct finding *kept = report->findings[type];
    if (report->finding_count[type] < REPORT_FINDINGS_KEPT) {
        kept[report->finding_count[type]++] = *finding;
        return;
    }
    size_t latest = 0;
    for (size_t i = 1; i < report->finding_count[type]; i++)
        if (kept[i].ts > kept[latest].ts)
            latest = i;
    if (finding->ts < kept[latest].ts)
        kept[latest] = *finding;
}

static int fail(char *error, size_t error_size, const char *message)
{
    snprintf(error, error_size, "%s", message);
    return -1;
}

/* The sizes and pool count of this build and policy, or the state is another's. */
static bool header_fits(const struct state_header *header, const struct policy *policy)
{
    return header->report_size == sizeof(struct report) &&
           header->leak_size == sizeof(struct report_leak) &&
           header->finding_size == sizeof(struct finding) &&
           header->server_size == sizeof(struct report_server) &&
           header->pool_count == policy->pool_count;
}

static bool counts_fit(const struct report *from)
{
    if (from->leak_count > REPORT_LEAKS_MAX || from->suspect_count > REPORT_SUSPECTS_MAX)
        return false;
    for (int t = 0; t < EVENT_TYPE_COUNT; t++)
        if (from->finding_count[t] > REPORT_FINDINGS_KEPT)
            return false;
    return true;
}

/* -1 on a truncated state, -2 out of memory. */
static int merge_coverage(struct report *report, const struct report *from, FILE *in)
{
    const struct policy *policy = report->policy;
    if (from->coverage == NULL)
        return 0;
    if (report->coverage == NULL &&
        (report->coverage = calloc(policy->pool_count * 2 + 1, sizeof(*report->coverage))) == NULL)
        return -2;
    for (size_t i = 0; i < policy->pool_count * 2; i++) {
        struct coverage_counts counts;
        if (!get(in, &counts, sizeof(counts)))
            return -1;
        add_counts(&report->coverage[i], &counts, sizeof(counts));
    }
    return 0;
}

/* Counters, times and tallies: what the state holds inline. */
static void merge_totals(struct report *report, const struct report *from, bool shutdown)
{
    add_counts(&report->counters, &from->counters, sizeof(report->counters));
    for (int t = 0; t < EVENT_TYPE_COUNT; t++) {
        report->events[t] += from->events[t];
        report->findings_total[t] += from->findings_total[t];
    }
    report->sink_errors += from->sink_errors;
    if (from->end > report->end)
        report->end = from->end;
    if (shutdown)
        report->end_reason = "shutdown";
    if (from->first_ts != 0 && (report->first_ts == 0 || from->first_ts < report->first_ts))
        report->first_ts = from->first_ts;
    if (from->last_ts > report->last_ts)
        report->last_ts = from->last_ts;
    report_timeline_merge(&report->timeline, &from->timeline);
    report->leaks_total += from->leaks_total;
    for (int e = 0; e < EVIDENCE_COUNT; e++)
        report->leak_stages[e] += from->leak_stages[e];
    report->suspects_not_kept += from->suspects_not_kept;
    report_collateral_merge(&report->collateral, &from->collateral);
}

/* The leaks, findings and suspects that follow; false on a truncated state. */
static bool merge_listed(struct report *report, const struct report *from, FILE *in)
{
    for (size_t i = 0; i < from->leak_count; i++) {
        struct report_leak leak;
        if (!get(in, &leak, sizeof(leak)))
            return false;
        keep_leak(report, &leak);
    }
    for (int t = 0; t < EVENT_TYPE_COUNT; t++) {
        for (size_t i = 0; i < from->finding_count[t]; i++) {
            struct finding finding;
            if (!get_finding(in, &finding))
                return false;
            if (report->findings[t] == NULL &&
                (report->findings[t] = calloc(REPORT_FINDINGS_KEPT, sizeof(finding))) == NULL)
                continue;
            keep_finding(report, t, &finding);
        }
    }
    for (size_t i = 0; i < from->suspect_count; i++) {
        struct finding suspect;
        if (!get_finding(in, &suspect))
            return false;
        report_keep_suspect(report, &suspect);
    }
    return merge_servers(&report->third_party, in) && merge_servers(&report->open_submission, in) &&
           merge_servers(&report->pop_before_smtp, in) &&
           merge_servers(&report->submission_seen, in);
}

int report_merge(struct report *report, FILE *in, char *error, size_t error_size)
{
    struct state_header header;
    if (!get(in, &header, sizeof(header)) || header.magic != STATE_MAGIC)
        return fail(error, error_size, "not a report state");
    if (!header_fits(&header, report->policy))
        return fail(error, error_size, "a report state of another build or policy");
    struct report *from = malloc(sizeof(*from));
    if (from == NULL)
        return fail(error, error_size, "out of memory");
    const char *problem = "a truncated report state";
    int status = -1;
    if (get(in, from, sizeof(*from)) && counts_fit(from)) {
        int coverage = merge_coverage(report, from, in);
        if (coverage == -2)
            problem = "out of memory";
        if (coverage == 0) {
            merge_totals(report, from, header.shutdown != 0);
            bool listed =
                merge_listed(report, from, in) && report_migration_merge(report->migration, in);
            status = listed ? 0 : -1;
        }
    }
    free(from);
    return status == 0 ? 0 : fail(error, error_size, problem);
}

static int by_time(packet_time a, packet_time b)
{
    return a < b ? -1 : a > b;
}

static int leak_order(const void *a, const void *b)
{
    const struct report_leak *x = a, *y = b;
    int order = by_time(x->ts, y->ts);
    if (order == 0)
        order = address_compare(&x->src, &y->src);
    return order != 0 ? order : (int)x->src_port - (int)y->src_port;
}

static const struct report *ordering; /* the report whose findings qsort orders */

/* By time, then subscriber, then what the finding says. */
static int finding_order(const void *a, const void *b)
{
    const struct finding *x = a, *y = b;
    int order = by_time(x->ts, y->ts);
    if (order == 0) {
        struct address x_subscriber = finding_subscriber(x), y_subscriber = finding_subscriber(y);
        order = address_compare(&x_subscriber, &y_subscriber);
    }
    if (order != 0)
        return order;
    char *x_fields = report_finding_fields(ordering, x, true);
    char *y_fields = report_finding_fields(ordering, y, true);
    order = strcmp(x_fields != NULL ? x_fields : "", y_fields != NULL ? y_fields : "");
    free(x_fields);
    free(y_fields);
    return order;
}

static int server_order(const void *a, const void *b)
{
    const struct report_server *x = a, *y = b;
    int order = by_time(x->first_seen, y->first_seen);
    if (order == 0)
        order = address_compare(&x->address, &y->address);
    return order != 0 ? order : (int)x->port - (int)y->port;
}

static void order_servers(struct report_servers *servers)
{
    if (servers->count > 0)
        qsort(servers->items, servers->count, sizeof(*servers->items), server_order);
}

int report_merge_finish(struct report *report)
{
    /* Each worker kept its own in the order it saw them: one order for all, by time, as
     * one process that saw them all in time order would have them. */
    qsort(report->leaks, report->leak_count, sizeof(*report->leaks), leak_order);
    order_servers(&report->third_party);
    order_servers(&report->open_submission);
    order_servers(&report->pop_before_smtp);
    order_servers(&report->submission_seen);
    ordering = report;
    for (int t = 0; t < EVENT_TYPE_COUNT; t++)
        if (report->findings[t] != NULL)
            qsort(report->findings[t], report->finding_count[t], sizeof(struct finding),
                  finding_order);
    ordering = NULL;
    const char *reason = report->end_reason != NULL ? report->end_reason : "end_of_input";
    return report_conclude(report, report->end, reason);
}

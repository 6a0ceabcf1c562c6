#include "report/report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "record/attempt_record.h"
#include "record/finding.h"
#include "record/smtp_fields.h"
#include "report/timeline.h"

#define SUBMISSION_PORT 587
#define SUBMISSIONS_PORT 465 /* RFC 8314: implicit TLS submission */

struct report *report_new(const struct policy *policy)
{
    struct report *report = calloc(1, sizeof(*report));
    if (report == NULL)
        return NULL;
    report->policy = policy;
    report->timeline.width = PACKET_TIME_SECOND;
    /* Taken up front: a leak is recorded on the packet path, which must not allocate. */
    report->leaks = calloc(REPORT_LEAKS_MAX, sizeof(*report->leaks));
    report->migration = report_migration_new(policy);
    if (report->leaks == NULL || report->migration == NULL) {
        free(report->leaks);
        report_migration_free(report->migration);
        free(report);
        return NULL;
    }
    return report;
}

static void free_servers(struct report_servers *servers)
{
    for (size_t i = 0; i < servers->count; i++)
        free(servers->items[i].subscribers);
    free(servers->items);
}

void report_free(struct report *report)
{
    if (report == NULL)
        return;
    for (int t = 0; t < EVENT_TYPE_COUNT; t++)
        free(report->findings[t]);
    free(report->suspects);
    free_servers(&report->third_party);
    free_servers(&report->open_submission);
    free_servers(&report->pop_before_smtp);
    free_servers(&report->submission_seen);
    free(report->leaks);
    free(report->coverage);
    acl_free(&report->acl);
    report_migration_free(report->migration);
    free(report);
}

void report_set_inputs(struct report *report, const char *const *names, size_t count)
{
    report->input_count = count < REPORT_INPUTS_MAX ? count : REPORT_INPUTS_MAX;
    for (size_t i = 0; i < report->input_count; i++)
        report->inputs[i] = names[i];
}

static void note_time(struct report *report, packet_time ts)
{
    if (report->first_ts == 0 || ts < report->first_ts)
        report->first_ts = ts;
    if (ts > report->last_ts)
        report->last_ts = ts;
}

/* ---- Attempts over time ---- */

static struct timeline_view attempts_view(struct report_timeline *timeline)
{
    return (struct timeline_view){
        &timeline->started,      &timeline->origin,       &timeline->width, &timeline->used,
        &timeline->counts[0][0], REPORT_TIMELINE_BUCKETS, VERDICT_COUNT};
}

static void attempts_add(struct report_timeline *timeline, packet_time ts, enum verdict verdict)
{
    uint64_t one[VERDICT_COUNT] = {0};
    one[verdict] = 1;
    struct timeline_view view = attempts_view(timeline);
    timeline_add(&view, ts, one);
}

void report_timeline_merge(struct report_timeline *into, const struct report_timeline *from)
{
    struct timeline_view to = attempts_view(into);
    struct timeline_view with = attempts_view((struct report_timeline *)from);
    timeline_merge(&to, &with);
}

/* Keeps what fits: EHLO names and domains are already cut to the SMTP parser's limits. */
static void copy_text(char *destination, size_t size, const char *source)
{
    size_t length = strnlen(source, size - 1);
    memcpy(destination, source, length);
    destination[length] = '\0';
}

static void note_attempt(struct report *report, const struct attempt_record *attempt)
{
    if (attempt->verdict >= VERDICT_COUNT)
        return;
    note_time(report, attempt->first_seen);
    attempts_add(&report->timeline, attempt->first_seen, attempt->verdict);
    if (attempt->verdict != VERDICT_LEAKED)
        return;
    report->leaks_total++;
    enum evidence stage = evidence_highest_leak(attempt->evidence);
    if (stage < EVIDENCE_COUNT)
        report->leak_stages[stage]++;
    if (report->leak_count == REPORT_LEAKS_MAX)
        return;
    struct report_leak *leak = &report->leaks[report->leak_count++];
    memset(leak, 0, sizeof(*leak));
    leak->ts = attempt->first_seen;
    leak->src = attempt->flow.src;
    leak->dst = attempt->flow.dst;
    leak->src_port = attempt->flow.src_port;
    leak->dst_port = attempt->flow.dst_port;
    leak->pool = attempt->pool;
    leak->segment = attempt->segment;
    leak->evidence = attempt->evidence;
    leak->syn_count = attempt->syn_count;
    copy_text(leak->close_reason, sizeof(leak->close_reason),
              attempt->close_reason != NULL ? attempt->close_reason : "");
    if (attempt->smtp != NULL) {
        const struct smtp_facts *smtp = attempt->smtp;
        leak->has_smtp = true;
        leak->auth = smtp->auth_success;
        leak->starttls = smtp->starttls_accepted;
        /* As in the attempt event: a count unseen bytes may have made low is left out. */
        leak->auth_known = smtp_auth_known(smtp);
        leak->starttls_known =
            smtp_starttls_known(smtp, attempt->server_stream || smtp->banner_seen);
        leak->rcpt_known = !smtp->commands_unseen;
        leak->messages_known = !smtp->commands_unseen && !smtp->message_answers_unseen;
        leak->rcpt_count = smtp->rcpt_count;
        leak->messages_accepted = smtp->messages_accepted;
        copy_text(leak->helo, sizeof(leak->helo), smtp->helo);
        copy_text(leak->mail_from_domain, sizeof(leak->mail_from_domain), smtp->mail_from_domain);
    }
}

/* ---- Findings ---- */

struct report_server *report_find_server(struct report_servers *servers,
                                         const struct address *address, uint16_t port, bool create)
{
    for (size_t i = 0; i < servers->count; i++) {
        if (servers->items[i].port == port && address_equal(&servers->items[i].address, address))
            return &servers->items[i];
    }
    if (!create)
        return NULL;
    if (servers->count == REPORT_SERVERS_MAX) {
        servers->not_kept++;
        return NULL;
    }
    if (servers->count == servers->capacity) {
        size_t grown = servers->capacity == 0 ? 16 : servers->capacity * 2;
        struct report_server *items = realloc(servers->items, grown * sizeof(*items));
        if (items == NULL)
            return NULL;
        servers->items = items;
        servers->capacity = grown;
    }
    struct report_server *server = &servers->items[servers->count++];
    memset(server, 0, sizeof(*server));
    server->address = *address;
    server->port = port;
    return server;
}

void report_server_add_subscriber(struct report_server *server, const struct address *subscriber)
{
    if (subscriber->family == 0)
        return;
    for (size_t i = 0; i < server->subscriber_count; i++) {
        if (address_equal(&server->subscribers[i], subscriber))
            return;
    }
    if (server->subscriber_count == REPORT_SUBSCRIBERS_PER_SERVER) {
        server->subscribers_capped = true;
        return;
    }
    if (server->subscriber_count == server->subscriber_capacity) {
        size_t grown = server->subscriber_capacity == 0 ? 8 : server->subscriber_capacity * 2;
        struct address *items = realloc(server->subscribers, grown * sizeof(*items));
        if (items == NULL) {
            server->subscribers_capped = true;
            return;
        }
        server->subscribers = items;
        server->subscriber_capacity = grown;
    }
    server->subscribers[server->subscriber_count++] = *subscriber;
}

static void count_server(struct report_servers *servers, const struct finding *finding,
                         const struct address *subscriber, uint16_t port)
{
    struct report_server *server = report_find_server(servers, &finding->flow.dst, port, true);
    if (server == NULL)
        return;
    server->sessions++;
    if (server->first_seen == 0 || finding->ts < server->first_seen)
        server->first_seen = finding->ts;
    if (finding->ts > server->last_seen)
        server->last_seen = finding->ts;
    report_server_add_subscriber(server, subscriber);
    const struct submission_finding *submission = &finding->as.submission;
    if (finding->type == EVENT_THIRD_PARTY_SUBMISSION &&
        (submission->port_587_connections > 0 || submission->port_465_connections > 0))
        server->submission_port_seen = true;
}

static double score_of(const struct finding *finding)
{
    return finding->as.bot.score;
}

/* Keeps the highest-scored bot_suspect finding of each subscriber. */
void report_keep_suspect(struct report *report, const struct finding *candidate)
{
    struct address subscriber = finding_subscriber(candidate);
    for (size_t i = 0; i < report->suspect_count; i++) {
        struct finding *kept = &report->suspects[i];
        struct address kept_subscriber = finding_subscriber(kept);
        if (!address_equal(&kept_subscriber, &subscriber))
            continue;
        if (score_of(candidate) > score_of(kept))
            *kept = *candidate;
        return;
    }
    if (report->suspect_count == REPORT_SUSPECTS_MAX) {
        /* Full: the new subscriber takes the place of the lowest score, if it beats it. */
        size_t lowest = 0;
        for (size_t i = 1; i < report->suspect_count; i++) {
            if (score_of(&report->suspects[i]) < score_of(&report->suspects[lowest]))
                lowest = i;
        }
        report->suspects_not_kept++;
        if (score_of(candidate) > score_of(&report->suspects[lowest]))
            report->suspects[lowest] = *candidate;
        return;
    }
    if (report->suspects == NULL) {
        report->suspects = calloc(REPORT_SUSPECTS_MAX, sizeof(*report->suspects));
        if (report->suspects == NULL)
            return;
    }
    report->suspects[report->suspect_count++] = *candidate;
}

static void note_finding(struct report *report, const struct finding *finding)
{
    enum event_type type = finding->type;
    if (type >= EVENT_TYPE_COUNT || report->finished || !event_type_is_finding(type))
        return;
    report->findings_total[type]++;
    note_time(report, finding->ts);
    struct address subscriber = finding_subscriber(finding);
    if (finding->has_flow) {
        uint16_t port = finding->flow.dst_port;
        if (port == SUBMISSION_PORT || port == SUBMISSIONS_PORT)
            report_find_server(&report->submission_seen, &finding->flow.dst, 0, true);
        if (type == EVENT_THIRD_PARTY_SUBMISSION)
            count_server(&report->third_party, finding, &subscriber, 0);
        else if (type == EVENT_OPEN_SUBMISSION)
            count_server(&report->open_submission, finding, &finding->flow.src, port);
        else if (type == EVENT_POP_BEFORE_SMTP)
            count_server(&report->pop_before_smtp, finding, &subscriber, 0);
    }
    if (type == EVENT_BOT_SUSPECT && subscriber.family != 0)
        report_keep_suspect(report, finding);
    if (type == EVENT_COLLATERAL_BLOCK)
        report_collateral_note(&report->collateral, finding, report->policy);
    if (report->finding_count[type] == REPORT_FINDINGS_KEPT)
        return;
    if (report->findings[type] == NULL) {
        report->findings[type] = calloc(REPORT_FINDINGS_KEPT, sizeof(struct finding));
        if (report->findings[type] == NULL)
            return;
    }
    report->findings[type][report->finding_count[type]++] = *finding;
}

static void on_attempt(void *context, const struct attempt_record *attempt)
{
    struct report *report = context;
    if (report->finished)
        return;
    note_attempt(report, attempt);
    report_migration_attempt(report->migration, attempt);
}

static void on_connection(void *context, const struct connection_record *connection)
{
    struct report *report = context;
    if (!report->finished)
        report_migration_connection(report->migration, connection);
}

static void on_finding(void *context, const struct finding *finding)
{
    note_finding(context, finding);
}

int report_attach(struct report *report, struct bus *bus)
{
    struct bus_subscriber subscriber = {.attempt = on_attempt,
                                        .finding = on_finding,
                                        .connection = on_connection,
                                        .context = report};
    return bus_subscribe(bus, subscriber);
}

int report_finish(struct report *report, const struct output_counts *output,
                  const struct sensor_counters *counters, const struct coverage *coverage,
                  packet_time end, const char *reason)
{
    const struct policy *policy = report->policy;
    free(report->coverage);
    report->coverage = calloc(policy->pool_count * 2 + 1, sizeof(*report->coverage));
    if (report->coverage == NULL)
        return -1;
    for (size_t p = 0; p < policy->pool_count && p < coverage->pool_count; p++) {
        report->coverage[p * 2] = *coverage_get(coverage, (int)p, ADDRESS_V4);
        report->coverage[p * 2 + 1] = *coverage_get(coverage, (int)p, ADDRESS_V6);
    }
    report->counters = *counters;
    if (output != NULL) {
        memcpy(report->events, output->emitted, sizeof(report->events));
        report->sink_errors = output->sink_errors;
    }
    return report_conclude(report, end, reason);
}

int report_conclude(struct report *report, packet_time end, const char *reason)
{
    acl_free(&report->acl);
    if (acl_build(report->policy, &report->acl) != 0)
        return -1;
    /* Third-party MSAs that other findings show on 587 or 465 (a submission server, an
     * open one, or a POP-before-SMTP provider's) do serve submission. */
    for (size_t i = 0; i < report->third_party.count; i++) {
        struct report_server *server = &report->third_party.items[i];
        if (report_find_server(&report->submission_seen, &server->address, 0, false) != NULL)
            server->submission_port_seen = true;
    }
    report_collateral_order(&report->collateral);
    report_migration_order(report->migration);
    report->end = end;
    report->end_reason = reason;
    report->finished = true;
    return 0;
}

/* ---- Shared by the writers ---- */

const struct coverage_counts *report_pool_counts(const struct report *report, int pool, int family)
{
    static const struct coverage_counts none;
    if (report->coverage == NULL || pool < 0 || (size_t)pool >= report->policy->pool_count)
        return &none;
    return &report->coverage[(size_t)pool * 2 + (family == ADDRESS_V6 ? 1 : 0)];
}

void report_point_counts(const struct report *report, int point, int family,
                         struct coverage_counts *out)
{
    memset(out, 0, sizeof(*out));
    const struct policy *policy = report->policy;
    for (size_t p = 0; p < policy->pool_count; p++) {
        if (policy->pools[p].type != POOL_DYNAMIC || policy->pools[p].blocking_point != point)
            continue;
        const struct coverage_counts *counts = report_pool_counts(report, (int)p, family);
        for (int v = 0; v < VERDICT_COUNT; v++)
            out->by_verdict[v] += counts->by_verdict[v];
    }
}

bool report_pool_has_family(const struct policy *policy, int pool, int family)
{
    const struct pool *entry = &policy->pools[pool];
    for (size_t i = 0; i < entry->prefix_count; i++) {
        if (entry->prefixes[i].address.family == family)
            return true;
    }
    return false;
}

bool report_point_has_family(const struct policy *policy, int point, int family)
{
    for (size_t p = 0; p < policy->pool_count; p++) {
        if (policy->pools[p].type == POOL_DYNAMIC && policy->pools[p].blocking_point == point &&
            report_pool_has_family(policy, (int)p, family))
            return true;
    }
    return false;
}

void report_totals(const struct report *report, struct coverage_counts *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t p = 0; p < report->policy->pool_count; p++) {
        for (int f = 0; f < 2; f++) {
            const struct coverage_counts *counts =
                report_pool_counts(report, (int)p, f == 0 ? ADDRESS_V4 : ADDRESS_V6);
            for (int v = 0; v < VERDICT_COUNT; v++)
                out->by_verdict[v] += counts->by_verdict[v];
        }
    }
}

static const struct report *sorting;

static int by_score(const void *a, const void *b)
{
    const struct finding *x = &sorting->suspects[*(const size_t *)a];
    const struct finding *y = &sorting->suspects[*(const size_t *)b];
    if (score_of(x) != score_of(y))
        return score_of(x) > score_of(y) ? -1 : 1;
    struct address x_subscriber = finding_subscriber(x), y_subscriber = finding_subscriber(y);
    return address_compare(&x_subscriber, &y_subscriber);
}

size_t report_top_suspects(const struct report *report, size_t *order, size_t capacity)
{
    size_t count = report->suspect_count;
    size_t *all = malloc((count + 1) * sizeof(*all));
    if (all == NULL)
        return 0;
    for (size_t i = 0; i < count; i++)
        all[i] = i;
    sorting = report;
    qsort(all, count, sizeof(*all), by_score);
    sorting = NULL;
    size_t listed = count < capacity ? count : capacity;
    memcpy(order, all, listed * sizeof(*order));
    free(all);
    return listed;
}

bool report_is_evasion(enum event_type type)
{
    return type == EVENT_ASYMMETRIC_ROUTING || type == EVENT_SPOOFED_SOURCE ||
           type == EVENT_TRIANGULAR_SPAM || type == EVENT_INBOUND_ACL_VIOLATION ||
           type == EVENT_NONSTANDARD_PORT_SMTP;
}

int report_format_of(const char *path)
{
    static const struct {
        const char *extension;
        enum report_format format;
    } known[] = {{".json", REPORT_JSON},
                 {".html", REPORT_HTML},
                 {".htm", REPORT_HTML},
                 {".txt", REPORT_TEXT}};
    const char *dot = strrchr(path, '.');
    if (dot == NULL || strchr(dot, '/') != NULL)
        return -1;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (strcasecmp(dot, known[i].extension) == 0)
            return (int)known[i].format;
    }
    return -1;
}

int report_write(const struct report *report, const char *path, char *error, size_t error_size)
{
    int format = report_format_of(path);
    if (format < 0) {
        snprintf(error, error_size, "%s: a report file ends in .json, .html or .txt", path);
        return -1;
    }
    /* Written beside the target and renamed, so a reader never sees half a report. */
    char temporary[4096];
    if (snprintf(temporary, sizeof(temporary), "%s" REPORT_TEMPORARY_SUFFIX, path) >=
        (int)sizeof(temporary)) {
        snprintf(error, error_size, "%s: path too long", path);
        return -1;
    }
    FILE *out = fopen(temporary, "w");
    if (out == NULL) {
        snprintf(error, error_size, "%s: %s", temporary, strerror(errno));
        return -1;
    }
    int status = format == REPORT_JSON   ? report_write_json(report, out)
                 : format == REPORT_HTML ? report_write_html(report, out)
                                         : report_write_text(report, out);
    if (ferror(out))
        status = -1;
    if (fclose(out) != 0)
        status = -1;
    if (status == 0 && rename(temporary, path) != 0)
        status = -1;
    if (status != 0) {
        snprintf(error, error_size, "%s: could not be written: %s", path, strerror(errno));
        remove(temporary);
        return -1;
    }
    return 0;
}

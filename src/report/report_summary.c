/* The summary's figures and sentences (report_summary.h); the next steps are in
 * report_steps.c. */
#include "report/report_summary.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void report_pool_total(const struct report *report, int pool, struct coverage_counts *out)
{
    memset(out, 0, sizeof(*out));
    for (int f = 0; f < 2; f++) {
        const struct coverage_counts *counts =
            report_pool_counts(report, pool, f == 0 ? ADDRESS_V4 : ADDRESS_V6);
        for (int v = 0; v < VERDICT_COUNT; v++)
            out->by_verdict[v] += counts->by_verdict[v];
    }
}

void report_point_summary(const struct report *report, int point, struct point_summary *out)
{
    memset(out, 0, sizeof(*out));
    for (int f = 0; f < 2; f++) {
        struct coverage_counts counts;
        report_point_counts(report, point, f == 0 ? ADDRESS_V4 : ADDRESS_V6, &counts);
        for (int v = 0; v < VERDICT_COUNT; v++)
            out->counts.by_verdict[v] += counts.by_verdict[v];
    }
    const uint64_t *by = out->counts.by_verdict;
    if (report->policy->blocking_points[point].state == BLOCKING_PLANNED)
        out->state = POINT_PLANNED;
    else if (by[VERDICT_LEAKED] > 0)
        out->state = POINT_LEAKING;
    else if (by[VERDICT_BLOCKED] > 0)
        out->state = POINT_HOLDING;
    else
        out->state = POINT_NO_DATA;
}

const char *report_point_state_name(enum point_state state)
{
    static const char *const names[] = {"LEAKING", "HOLDS", "NO DATA", "PLANNED"};
    return (size_t)state < sizeof(names) / sizeof(names[0]) ? names[state] : "?";
}

uint64_t report_evasion_total(const struct report *report)
{
    uint64_t total = 0;
    for (int t = 0; t < EVENT_TYPE_COUNT; t++) {
        if (report_is_evasion((enum event_type)t))
            total += report->findings_total[t];
    }
    return total;
}

void report_suspect_name(const struct finding *suspect, char *text, size_t size)
{
    const struct prefix *subscriber = &suspect->as.bot.subscriber;
    if (subscriber->address.family == ADDRESS_V6) {
        prefix_format(subscriber, text, size);
        return;
    }
    struct address address =
        subscriber->address.family != 0 ? subscriber->address : finding_subscriber(suspect);
    address_format(&address, text, size);
}

static const char *plural(uint64_t count)
{
    return count == 1 ? "" : "s";
}

/* A sentence built in memory; NULL when out of memory. */
static FILE *sentence_open(char **text, size_t *length)
{
    *text = NULL;
    return open_memstream(text, length);
}

/* The sentence once its stream is closed (open_memstream sets the text only then). */
static char *sentence_close(FILE *out, char **text)
{
    if (fclose(out) != 0) {
        free(*text);
        return NULL;
    }
    return *text;
}

/* "a 2, b 1": the pools behind point (or, with point POLICY_NO_INDEX, those
 * without one) that leaked. */
static void leaking_pools(const struct report *report, int point, FILE *out)
{
    const struct policy *policy = report->policy;
    size_t listed = 0;
    for (size_t p = 0; p < policy->pool_count; p++) {
        if (policy->pools[p].type != POOL_DYNAMIC || policy->pools[p].blocking_point != point)
            continue;
        struct coverage_counts counts;
        report_pool_total(report, (int)p, &counts);
        if (counts.by_verdict[VERDICT_LEAKED] == 0)
            continue;
        fprintf(out, "%s%s %llu", listed++ == 0 ? "" : ", ", policy->pools[p].name,
                (unsigned long long)counts.by_verdict[VERDICT_LEAKED]);
    }
}

static uint64_t unassigned_leaks(const struct report *report)
{
    uint64_t leaked = 0;
    for (size_t p = 0; p < report->policy->pool_count; p++) {
        const struct pool *pool = &report->policy->pools[p];
        if (pool->type != POOL_DYNAMIC || pool->blocking_point != POLICY_NO_INDEX)
            continue;
        struct coverage_counts counts;
        report_pool_total(report, (int)p, &counts);
        leaked += counts.by_verdict[VERDICT_LEAKED];
    }
    return leaked;
}

/* "2 through bras-east (from ftth-east 2); 1 from pools without a blocking point (lost 1)" */
static void leak_places(const struct report *report, FILE *out)
{
    const struct policy *policy = report->policy;
    size_t places = 0;
    for (size_t b = 0; b < policy->blocking_point_count; b++) {
        struct point_summary point;
        report_point_summary(report, (int)b, &point);
        uint64_t leaked = point.counts.by_verdict[VERDICT_LEAKED];
        if (leaked == 0)
            continue;
        fprintf(out, "%s%llu through %s (from ", places++ == 0 ? "" : "; ",
                (unsigned long long)leaked, policy->blocking_points[b].name);
        leaking_pools(report, (int)b, out);
        fputc(')', out);
    }
    uint64_t unassigned = unassigned_leaks(report);
    if (unassigned > 0) {
        fprintf(out, "%s%llu from pools without a blocking point (", places++ == 0 ? "" : "; ",
                (unsigned long long)unassigned);
        leaking_pools(report, POLICY_NO_INDEX, out);
        fputc(')', out);
    }
}

char *report_leaks_sentence(const struct report *report)
{
    char *text;
    size_t length;
    FILE *out = sentence_open(&text, &length);
    if (out == NULL)
        return NULL;
    if (report->leaks_total == 0) {
        fputs("No leak: no port-25 attempt from a dynamic pool got out.", out);
        return sentence_close(out, &text);
    }
    fprintf(out, "%llu leak%s: ", (unsigned long long)report->leaks_total,
            plural(report->leaks_total));
    leak_places(report, out);
    fputs(". By the furthest stage reached: ", out);
    for (int e = 0, n = 0; e < EVIDENCE_COUNT; e++) {
        if (report->leak_stages[e] > 0)
            fprintf(out, "%s%s %llu", n++ == 0 ? "" : ", ", evidence_name((enum evidence)e),
                    (unsigned long long)report->leak_stages[e]);
    }
    fputc('.', out);
    return sentence_close(out, &text);
}

char *report_suspects_sentence(const struct report *report, size_t top)
{
    char *text;
    size_t length;
    FILE *out = sentence_open(&text, &length);
    if (out == NULL)
        return NULL;
    size_t order[REPORT_TOP_SUSPECTS];
    size_t listed =
        report_top_suspects(report, order, top < REPORT_TOP_SUSPECTS ? top : REPORT_TOP_SUSPECTS);
    if (report->suspect_count == 0 || listed == 0) {
        fputs("No subscriber looks infected: no bot_suspect finding.", out);
        return sentence_close(out, &text);
    }
    uint64_t findings = report->findings_total[EVENT_BOT_SUSPECT];
    fprintf(out, "%zu subscriber%s flagged bot_suspect (%llu finding%s); the highest scores: ",
            report->suspect_count, plural(report->suspect_count), (unsigned long long)findings,
            plural(findings));
    for (size_t i = 0; i < listed; i++) {
        const struct finding *suspect = &report->suspects[order[i]];
        char name[PREFIX_TEXT_MAX];
        report_suspect_name(suspect, name, sizeof(name));
        fprintf(out, "%s%s (%.2f", i == 0 ? "" : ", ", name, suspect->as.bot.score);
        if (suspect->pool >= 0 && (size_t)suspect->pool < report->policy->pool_count)
            fprintf(out, ", pool %s", report->policy->pools[suspect->pool].name);
        fputc(')', out);
    }
    fputc('.', out);
    return sentence_close(out, &text);
}

char *report_evasion_sentence(const struct report *report)
{
    char *text;
    size_t length;
    FILE *out = sentence_open(&text, &length);
    if (out == NULL)
        return NULL;
    uint64_t total = report_evasion_total(report);
    if (total == 0) {
        fputs("No evasion finding: nothing went around the block.", out);
        return sentence_close(out, &text);
    }
    fprintf(out, "%llu evasion finding%s: ", (unsigned long long)total, plural(total));
    for (int t = 0, n = 0; t < EVENT_TYPE_COUNT; t++) {
        if (report_is_evasion((enum event_type)t) && report->findings_total[t] > 0)
            fprintf(out, "%s%s %llu", n++ == 0 ? "" : ", ", event_type_name((enum event_type)t),
                    (unsigned long long)report->findings_total[t]);
    }
    fputc('.', out);
    return sentence_close(out, &text);
}

/* The report as plain text: for a terminal, a ticket or an e-mail. */
#include <stdlib.h>
#include <string.h>

#include "report/report.h"
#include "report/report_summary.h"

/* Summary sentences are wrapped to this width, for a terminal or an e-mail. */
#define TEXT_WIDTH 90
#define SUMMARY_SUSPECTS 3

static void ratio_text(const struct coverage_counts *counts, char *buffer, size_t size)
{
    double ratio;
    if (coverage_ratio(counts, &ratio))
        snprintf(buffer, size, "%.1f%%", ratio * 100);
    else
        snprintf(buffer, size, "n/a");
}

static void heading(FILE *out, const char *title)
{
    size_t length = strlen(title);
    fprintf(out, "\n%s\n", title);
    for (size_t i = 0; i < length; i++)
        fputc('-', out);
    fputc('\n', out);
}

static void time_text(packet_time ts, char *buffer, size_t size)
{
    if (ts == 0)
        snprintf(buffer, size, "-");
    else
        packet_time_format(ts, buffer, size);
}

static void tally_header(FILE *out, const char *first, int width)
{
    fprintf(out, "%-*s %-5s %9s %8s %8s %7s %11s %8s %9s\n", width, first, "ip", "attempts",
            "allowed", "blocked", "leaked", "would_block", "unknown", "coverage");
}

static void tally_row(FILE *out, const char *first, int width, const char *family,
                      const struct coverage_counts *counts)
{
    char ratio[16];
    ratio_text(counts, ratio, sizeof(ratio));
    fprintf(out, "%-*s %-5s %9llu %8llu %8llu %7llu %11llu %8llu %9s\n", width, first, family,
            (unsigned long long)coverage_attempts(counts),
            (unsigned long long)counts->by_verdict[VERDICT_ALLOWED],
            (unsigned long long)counts->by_verdict[VERDICT_BLOCKED],
            (unsigned long long)counts->by_verdict[VERDICT_LEAKED],
            (unsigned long long)counts->by_verdict[VERDICT_WOULD_BLOCK],
            (unsigned long long)counts->by_verdict[VERDICT_UNKNOWN], ratio);
}

static void write_heading(const struct report *report, FILE *out)
{
    const struct policy *policy = report->policy;
    const struct sensor_counters *counters = &report->counters;
    char first[PACKET_TIME_TEXT_MAX], last[PACKET_TIME_TEXT_MAX];
    time_text(report->first_ts, first, sizeof(first));
    time_text(report->end > report->last_ts ? report->end : report->last_ts, last, sizeof(last));
    fprintf(out, "op25b-watch audit report\n========================\n");
    fprintf(out, "sensor %s (%s), policy %s\n", policy->sensor_name,
            sensor_position_name(policy->position), policy->path);
    fprintf(out, "input:");
    for (size_t i = 0; i < report->input_count; i++)
        fprintf(out, " %s", report->inputs[i]);
    fprintf(out, "\nfrom %s to %s, ended by %s\n", first, last,
            report->end_reason != NULL ? report->end_reason : "-");
    fprintf(out,
            "%llu packets, %llu bytes, %llu capture drops, %llu capture errors, "
            "%llu evictions\n",
            (unsigned long long)counters->packets, (unsigned long long)counters->bytes,
            (unsigned long long)counters->capture_drops,
            (unsigned long long)counters->capture_errors,
            (unsigned long long)counters->flow_evictions);
    struct coverage_counts totals;
    report_totals(report, &totals);
    fprintf(out, "%llu attempts:", (unsigned long long)coverage_attempts(&totals));
    for (int v = 0; v < VERDICT_COUNT; v++)
        fprintf(out, "%s %llu %s", v == 0 ? "" : ",", (unsigned long long)totals.by_verdict[v],
                verdict_name((enum verdict)v));
    fputc('\n', out);
}

/* Writes text wrapped at TEXT_WIDTH, the first line after first (already written, of
 * first_width columns), the others indented by indent spaces. */
static void wrap(FILE *out, const char *text, size_t first_width, size_t indent)
{
    size_t column = first_width;
    const char *word = text;
    while (*word != '\0') {
        while (*word == ' ')
            word++;
        size_t length = strcspn(word, " ");
        if (length == 0)
            break;
        if (column > indent && column + 1 + length > TEXT_WIDTH) {
            fprintf(out, "\n%*s", (int)indent, "");
            column = indent;
        } else if (column > indent) {
            fputc(' ', out);
            column++;
        }
        fwrite(word, 1, length, out);
        column += length;
        word += length;
    }
    fputc('\n', out);
}

static void sentence(FILE *out, char *text)
{
    wrap(out, text != NULL ? text : "(out of memory)", 0, 0);
    free(text);
}

static void write_summary_points(const struct report *report, FILE *out)
{
    const struct policy *policy = report->policy;
    fprintf(out, "%-28s %-10s %8s %9s %8s %7s %11s\n", "blocking point", "status", "coverage",
            "attempts", "blocked", "leaked", "would block");
    for (size_t b = 0; b < policy->blocking_point_count + policy->pool_count; b++) {
        struct point_summary point;
        const char *name, *state;
        char label[160];
        if (b < policy->blocking_point_count) {
            report_point_summary(report, (int)b, &point);
            name = policy->blocking_points[b].name;
            state = report_point_state_name(point.state);
        } else {
            const struct pool *pool = &policy->pools[b - policy->blocking_point_count];
            if (pool->type != POOL_DYNAMIC || pool->blocking_point != POLICY_NO_INDEX)
                continue;
            report_pool_total(report, (int)(b - policy->blocking_point_count), &point.counts);
            snprintf(label, sizeof(label), "pool %s has none", pool->name);
            name = label;
            state = "UNFILTERED";
        }
        char ratio[16];
        ratio_text(&point.counts, ratio, sizeof(ratio));
        const uint64_t *by = point.counts.by_verdict;
        fprintf(out, "%-28s %-10s %8s %9llu %8llu %7llu %11llu\n", name, state, ratio,
                (unsigned long long)coverage_attempts(&point.counts),
                (unsigned long long)by[VERDICT_BLOCKED], (unsigned long long)by[VERDICT_LEAKED],
                (unsigned long long)by[VERDICT_WOULD_BLOCK]);
    }
}

struct step_list {
    FILE *out;
    size_t number;
};

static void step_line(void *context, const char *text)
{
    struct step_list *list = context;
    int width = fprintf(list->out, "  %zu. ", ++list->number);
    wrap(list->out, text, width > 0 ? (size_t)width : 0, 5);
}

/* What an operations manager reads first: the figures, each blocking point, the leaks, the
 * infected subscribers, the evasion findings and the next steps. */
static void write_summary(const struct report *report, FILE *out)
{
    heading(out, "Summary");
    struct coverage_counts totals;
    report_totals(report, &totals);
    char ratio[16];
    ratio_text(&totals, ratio, sizeof(ratio));
    uint64_t evasion = report_evasion_total(report);
    fprintf(out, "coverage %s, %llu leak%s, %zu infected subscriber%s, %llu evasion finding%s\n\n",
            ratio, (unsigned long long)report->leaks_total, report->leaks_total == 1 ? "" : "s",
            report->suspect_count, report->suspect_count == 1 ? "" : "s",
            (unsigned long long)evasion, evasion == 1 ? "" : "s");
    write_summary_points(report, out);
    fputc('\n', out);
    sentence(out, report_leaks_sentence(report));
    sentence(out, report_suspects_sentence(report, SUMMARY_SUSPECTS));
    sentence(out, report_evasion_sentence(report));
    fputs("\nWhat to do next:\n", out);
    struct step_list list = {.out = out};
    report_next_steps(report, step_line, &list);
}

static const char *const family_names[2] = {"IPv4", "IPv6"};

static void write_point_tallies(const struct report *report, FILE *out)
{
    const struct policy *policy = report->policy;
    tally_header(out, "blocking point (level, state, seen)", 48);
    for (size_t b = 0; b < policy->blocking_point_count; b++) {
        const struct blocking_point *point = &policy->blocking_points[b];
        char label[160];
        snprintf(label, sizeof(label), "%s (%d %s, %s, %s)", point->name, (int)point->level,
                 blocking_level_name(point->level), blocking_state_name(point->state),
                 sensor_position_name(point->position));
        for (int f = 0; f < 2; f++) {
            int family = f == 0 ? ADDRESS_V4 : ADDRESS_V6;
            if (!report_point_has_family(policy, (int)b, family))
                continue;
            struct coverage_counts counts;
            report_point_counts(report, (int)b, family, &counts);
            tally_row(out, label, 48, family_names[f], &counts);
        }
    }
}

static void write_pool_tallies(const struct report *report, FILE *out)
{
    const struct policy *policy = report->policy;
    tally_header(out, "pool (blocking point)", 40);
    size_t unassigned = 0;
    for (size_t p = 0; p < policy->pool_count; p++) {
        const struct pool *pool = &policy->pools[p];
        if (pool->type != POOL_DYNAMIC)
            continue;
        char label[160];
        snprintf(label, sizeof(label), "%s (%s)", pool->name,
                 pool->blocking_point == POLICY_NO_INDEX
                     ? "NO BLOCKING POINT"
                     : policy->blocking_points[pool->blocking_point].name);
        unassigned += pool->blocking_point == POLICY_NO_INDEX;
        for (int f = 0; f < 2; f++) {
            int family = f == 0 ? ADDRESS_V4 : ADDRESS_V6;
            if (report_pool_has_family(policy, (int)p, family))
                tally_row(out, label, 40, family_names[f],
                          report_pool_counts(report, (int)p, family));
        }
    }
    fprintf(out, "\nPools without a blocking point: ");
    if (unassigned == 0)
        fprintf(out, "none");
    for (size_t p = 0, listed = 0; p < policy->pool_count; p++) {
        const struct pool *pool = &policy->pools[p];
        if (pool->type == POOL_DYNAMIC && pool->blocking_point == POLICY_NO_INDEX)
            fprintf(out, "%s%s", listed++ == 0 ? "" : ", ", pool->name);
    }
    fputc('\n', out);
}

static void write_leak(const struct report *report, const struct report_leak *leak, FILE *out)
{
    char when[PACKET_TIME_TEXT_MAX], src[ADDRESS_TEXT_MAX], dst[ADDRESS_TEXT_MAX];
    time_text(leak->ts, when, sizeof(when));
    address_format(&leak->src, src, sizeof(src));
    address_format(&leak->dst, dst, sizeof(dst));
    const char *pool = leak->pool >= 0 ? report->policy->pools[leak->pool].name : "-";
    fprintf(out, "  %s  %s port %u -> %s port %u  pool %s  evidence", when, src, leak->src_port,
            dst, leak->dst_port, pool);
    for (int e = 0, n = 0; e < EVIDENCE_COUNT; e++) {
        if (leak->evidence & EVIDENCE_BIT(e))
            fprintf(out, "%c%s", n++ == 0 ? ' ' : ',', evidence_name((enum evidence)e));
    }
    if (leak->has_smtp)
        fprintf(out, "  helo '%s' mail from '%s'", leak->helo, leak->mail_from_domain);
    if (leak->has_smtp && leak->rcpt_known)
        fprintf(out, " rcpt %u", leak->rcpt_count);
    fputc('\n', out);
}

static void write_leaks(const struct report *report, FILE *out)
{
    fprintf(out, "\nLeaks: %llu", (unsigned long long)report->leaks_total);
    if (report->leaks_total > report->leak_count)
        fprintf(out, " (the first %zu listed)", report->leak_count);
    fprintf(out, "; by the furthest stage reached:");
    bool any = false;
    for (int e = 0; e < EVIDENCE_COUNT; e++) {
        if (report->leak_stages[e] > 0) {
            fprintf(out, " %s %llu", evidence_name((enum evidence)e),
                    (unsigned long long)report->leak_stages[e]);
            any = true;
        }
    }
    fprintf(out, "%s\n", any ? "" : " none");
    for (size_t i = 0; i < report->leak_count; i++)
        write_leak(report, &report->leaks[i], out);
}

static void write_finding(const struct report *report, const struct finding *finding, FILE *out);

/* The other half of the audit: what the block refused that it must let through. */
static void write_collateral(const struct report *report, FILE *out)
{
    const struct policy *policy = report->policy;
    const struct report_collateral *collateral = &report->collateral;
    uint64_t total = report->findings_total[EVENT_COLLATERAL_BLOCK];
    fprintf(out, "\nWhat the block breaks: %llu collateral_block finding%s",
            (unsigned long long)total, total == 1 ? "" : "s");
    if (total == 0) {
        fprintf(out, "; no connection it must let through was seen refused\n");
        return;
    }
    fprintf(out, " (port 25 to a designated MSA, 587/465, port 25 from a static pool)\n");
    for (size_t i = 0; i < collateral->count; i++) {
        const struct report_collateral_row *row = &collateral->rows[i];
        fprintf(out, "  %s, pool %s, %s port %u: %llu (",
                policy->blocking_points[row->blocking_point].name, policy->pools[row->pool].name,
                collateral_reason_name((enum collateral_reason)row->reason), row->port,
                (unsigned long long)row->findings);
        for (int e = 0; e < COLLATERAL_EVIDENCES; e++)
            fprintf(out, "%s%s %llu", e == 0 ? "" : ", ",
                    collateral_evidence_name((enum collateral_evidence)e),
                    (unsigned long long)row->by_evidence[e]);
        fprintf(out, ")\n");
    }
    if (collateral->not_kept > 0)
        fprintf(out, "  ... and %llu findings in rows not listed\n",
                (unsigned long long)collateral->not_kept);
    size_t kept = report->finding_count[EVENT_COLLATERAL_BLOCK];
    if (total > kept)
        fprintf(out, "the first %zu:\n", kept);
    for (size_t i = 0; i < kept; i++)
        write_finding(report, &report->findings[EVENT_COLLATERAL_BLOCK][i], out);
}

static void write_coverage(const struct report *report, FILE *out)
{
    heading(out, "1. Coverage audit: does each block hold?");
    fprintf(out, "coverage = blocked / (blocked + leaked)\n\n");
    write_point_tallies(report, out);
    fputc('\n', out);
    write_pool_tallies(report, out);
    write_leaks(report, out);
    write_collateral(report, out);
}

static void write_timeline(const struct report *report, FILE *out)
{
    const struct report_timeline *timeline = &report->timeline;
    heading(out, "2. Attempts over time");
    if (!timeline->started) {
        fprintf(out, "no attempts\n");
        return;
    }
    fprintf(out, "buckets of %lld s; empty buckets left out\n",
            (long long)(timeline->width / PACKET_TIME_SECOND));
    fprintf(out, "%-28s %8s %8s %7s %11s %8s\n", "start", "allowed", "blocked", "leaked",
            "would_block", "unknown");
    for (size_t i = 0; i < timeline->used; i++) {
        const uint64_t *counts = timeline->counts[i];
        uint64_t total = 0;
        for (int v = 0; v < VERDICT_COUNT; v++)
            total += counts[v];
        if (total == 0)
            continue;
        char when[PACKET_TIME_TEXT_MAX];
        time_text(timeline->origin + (packet_time)i * timeline->width, when, sizeof(when));
        fprintf(out, "%-28s %8llu %8llu %7llu %11llu %8llu\n", when,
                (unsigned long long)counts[VERDICT_ALLOWED],
                (unsigned long long)counts[VERDICT_BLOCKED],
                (unsigned long long)counts[VERDICT_LEAKED],
                (unsigned long long)counts[VERDICT_WOULD_BLOCK],
                (unsigned long long)counts[VERDICT_UNKNOWN]);
    }
}

static void write_servers(FILE *out, const char *title, const struct report_servers *servers,
                          bool with_port, bool with_submission)
{
    fprintf(out, "\n%s: %zu\n", title, servers->count);
    for (size_t i = 0; i < servers->count; i++) {
        const struct report_server *server = &servers->items[i];
        char address[ADDRESS_TEXT_MAX];
        address_format(&server->address, address, sizeof(address));
        fprintf(out, "  %s", address);
        if (with_port)
            fprintf(out, " port %u", server->port);
        fprintf(out, "  %llu sessions, %zu%s subscribers", (unsigned long long)server->sessions,
                server->subscriber_count, server->subscribers_capped ? "+" : "");
        if (with_submission)
            fprintf(out, ", %s",
                    server->submission_port_seen ? "also seen on 587/465" : "NOT seen on 587/465");
        if (server->as_org[0] != '\0')
            fprintf(out, ", %s", server->as_org);
        if (server->country[0] != '\0')
            fprintf(out, " (%s)", server->country);
        fputc('\n', out);
    }
    if (servers->not_kept > 0)
        fprintf(out, "  ... and %llu findings about servers not listed\n",
                (unsigned long long)servers->not_kept);
}

static void write_impact(const struct report *report, FILE *out)
{
    heading(out, "3. Pre-rollout impact: what breaks when the block goes on?");
    fprintf(out, "Subscribers who authenticate on port 25 of third-party servers lose mail once\n"
                 "OP25B is on (draft section 4.1); a server also seen on 587/465 only needs the\n"
                 "subscriber's settings changed.\n");
    write_servers(out, "Third-party MSAs reached on port 25", &report->third_party, false, true);
    write_servers(out, "Open submission servers (MAIL and RCPT accepted without AUTH)",
                  &report->open_submission, true, false);
    write_servers(out, "POP-before-SMTP providers", &report->pop_before_smtp, false, false);
}

static void write_acl(const struct report *report, FILE *out)
{
    heading(out, "4. The ACL for this policy");
    acl_write_listing(&report->acl, report->policy, out);
    fprintf(out, "\nIn nftables syntax:\n\n");
    acl_write_nftables(&report->acl, report->policy, out);
}

static void write_finding(const struct report *report, const struct finding *finding, FILE *out)
{
    char when[PACKET_TIME_TEXT_MAX], src[ADDRESS_TEXT_MAX], dst[ADDRESS_TEXT_MAX];
    const struct flow_tuple *flow = &finding->flow;
    struct address subscriber = finding_subscriber(finding);
    time_text(finding->ts, when, sizeof(when));
    fprintf(out, "  %s", when);
    if (finding->has_flow) {
        address_format(&flow->src, src, sizeof(src));
        address_format(&flow->dst, dst, sizeof(dst));
        fprintf(out, "  %s port %u -> %s port %u", src, flow->src_port, dst, flow->dst_port);
    } else if (subscriber.family != 0) {
        address_format(&subscriber, src, sizeof(src));
        fprintf(out, "  %s", src);
    }
    if (finding->pool >= 0 && (size_t)finding->pool < report->policy->pool_count)
        fprintf(out, "  pool %s", report->policy->pools[finding->pool].name);
    if (finding->segment >= 0 && (size_t)finding->segment < report->policy->segment_count)
        fprintf(out, "  segment %s", report->policy->segments[finding->segment].name);
    char *fields = report_finding_fields(report, finding, false);
    if (fields != NULL && fields[0] != '\0')
        fprintf(out, "  %s", fields);
    free(fields);
    fputc('\n', out);
}

static void write_suspects(const struct report *report, FILE *out)
{
    size_t order[REPORT_TOP_SUSPECTS];
    size_t listed = report_top_suspects(report, order, REPORT_TOP_SUSPECTS);
    heading(out, "5. Bot suspects");
    fprintf(out, "%llu bot_suspect findings about %zu subscribers",
            (unsigned long long)report->findings_total[EVENT_BOT_SUSPECT], report->suspect_count);
    if (listed > 0)
        fprintf(out, "; the top %zu by score:", listed);
    fputc('\n', out);
    for (size_t i = 0; i < listed; i++) {
        const struct finding *suspect = &report->suspects[order[i]];
        struct address address = finding_subscriber(suspect);
        char subscriber[ADDRESS_TEXT_MAX];
        address_format(&address, subscriber, sizeof(subscriber));
        char *fields = report_finding_fields(report, suspect, false);
        fprintf(out, "  %2zu. %-40s score %.2f  %s\n", i + 1, subscriber, suspect->as.bot.score,
                fields != NULL ? fields : "");
        free(fields);
    }
}

static void write_evasion(const struct report *report, FILE *out)
{
    heading(out, "6. Evasion findings");
    for (int t = EVENT_FIRST_FINDING; t < EVENT_TYPE_COUNT; t++) {
        if (!report_is_evasion((enum event_type)t))
            continue;
        fprintf(out, "%s: %llu", event_type_name((enum event_type)t),
                (unsigned long long)report->findings_total[t]);
        if (report->findings_total[t] > report->finding_count[t])
            fprintf(out, " (the first %zu listed)", report->finding_count[t]);
        fputc('\n', out);
        for (size_t i = 0; i < report->finding_count[t]; i++)
            write_finding(report, &report->findings[t][i], out);
    }
}

static void write_abuse(const struct report *report, FILE *out)
{
    static const enum event_type types[] = {EVENT_MSA_ABUSE, EVENT_CLEARTEXT_AUTH};
    heading(out, "7. The MSAs' own abuse");
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        enum event_type t = types[i];
        fprintf(out, "%s: %llu", event_type_name(t), (unsigned long long)report->findings_total[t]);
        if (report->findings_total[t] > report->finding_count[t])
            fprintf(out, " (the first %zu listed)", report->finding_count[t]);
        fputc('\n', out);
        for (size_t f = 0; f < report->finding_count[t]; f++)
            write_finding(report, &report->findings[t][f], out);
    }
}

int report_write_text(const struct report *report, FILE *out)
{
    write_heading(report, out);
    write_summary(report, out);
    write_coverage(report, out);
    write_timeline(report, out);
    write_impact(report, out);
    write_acl(report, out);
    write_suspects(report, out);
    write_evasion(report, out);
    write_abuse(report, out);
    report_migration_write_text(report, out);
    return 0;
}

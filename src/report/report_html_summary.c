/* The summary that opens the HTML report: four figures (coverage, leaks, infected
 * subscribers, evasion findings), each blocking point with a mark saying whether it holds,
 * where the leaks got out, who looks infected, and what to do next. The figures carry
 * data-figure attributes and the rows data-point / data-pool, so a test can read them. */
#include <stdlib.h>

#include "report/report_html.h"
#include "report/report_summary.h"

#define SUMMARY_SUSPECTS 3

static void ratio_text(const struct coverage_counts *counts, char *text, size_t size)
{
    double ratio;
    if (coverage_ratio(counts, &ratio))
        snprintf(text, size, "%.1f%%", ratio * 100);
    else
        snprintf(text, size, "n/a");
}

enum figure_tone { FIGURE_GOOD, FIGURE_BAD, FIGURE_UNKNOWN };

static void figure(FILE *out, const char *key, enum figure_tone tone, const char *value,
                   const char *label)
{
    static const char *const classes[] = {"", " bad", " unknown"};
    fprintf(out, "<div class=\"figure%s\" data-figure=\"%s\"><b>", classes[tone], key);
    html_escape(out, value);
    fprintf(out, "</b>%s</div>\n", label);
}

static void write_figures(const struct report *report, FILE *out)
{
    struct coverage_counts totals;
    report_totals(report, &totals);
    char text[32];
    double ratio = 1;
    bool known = coverage_ratio(&totals, &ratio);
    fputs("<div class=\"figures\">\n", out);
    ratio_text(&totals, text, sizeof(text));
    figure(out, "coverage",
           !known      ? FIGURE_UNKNOWN
           : ratio < 1 ? FIGURE_BAD
                       : FIGURE_GOOD,
           text, "coverage");
    snprintf(text, sizeof(text), "%llu", (unsigned long long)report->leaks_total);
    figure(out, "leaks", report->leaks_total > 0 ? FIGURE_BAD : FIGURE_GOOD, text,
           report->leaks_total == 1 ? "leak" : "leaks");
    snprintf(text, sizeof(text), "%zu", report->suspect_count);
    figure(out, "infected", report->suspect_count > 0 ? FIGURE_BAD : FIGURE_GOOD, text,
           report->suspect_count == 1 ? "infected subscriber" : "infected subscribers");
    uint64_t evasion = report_evasion_total(report);
    snprintf(text, sizeof(text), "%llu", (unsigned long long)evasion);
    figure(out, "evasion", evasion > 0 ? FIGURE_BAD : FIGURE_GOOD, text,
           evasion == 1 ? "evasion finding" : "evasion findings");
    fputs("</div>\n", out);
}

static void status_row_cells(FILE *out, const char *mark_class, const char *mark,
                             const struct coverage_counts *counts)
{
    char ratio[32];
    ratio_text(counts, ratio, sizeof(ratio));
    const uint64_t *by = counts->by_verdict;
    fprintf(out,
            "<td><span class=\"mark %s\">%s</span></td><td class=\"n\">%s</td>"
            "<td class=\"n\">%llu</td><td class=\"n\">%llu</td><td class=\"n%s\">%llu</td>"
            "<td class=\"n\">%llu</td></tr>\n",
            mark_class, mark, ratio, (unsigned long long)coverage_attempts(counts),
            (unsigned long long)by[VERDICT_BLOCKED], by[VERDICT_LEAKED] > 0 ? " bad" : "",
            (unsigned long long)by[VERDICT_LEAKED], (unsigned long long)by[VERDICT_WOULD_BLOCK]);
}

static void write_points(const struct report *report, FILE *out)
{
    static const char *const classes[] = {"leaking", "holds", "nodata", "planned"};
    const struct policy *policy = report->policy;
    fputs("<table class=\"points\">\n<tr><th>blocking point</th><th>status</th>"
          "<th>coverage</th><th>attempts</th><th>blocked</th><th>leaked</th>"
          "<th>would block</th></tr>\n",
          out);
    for (size_t b = 0; b < policy->blocking_point_count; b++) {
        struct point_summary point;
        report_point_summary(report, (int)b, &point);
        fputs("<tr data-point=\"", out);
        html_escape(out, policy->blocking_points[b].name);
        fputs("\"><td>", out);
        html_escape(out, policy->blocking_points[b].name);
        fputs("</td>", out);
        status_row_cells(out, classes[point.state], report_point_state_name(point.state),
                         &point.counts);
    }
    for (size_t p = 0; p < policy->pool_count; p++) {
        const struct pool *pool = &policy->pools[p];
        if (pool->type != POOL_DYNAMIC || pool->blocking_point != POLICY_NO_INDEX)
            continue;
        struct coverage_counts counts;
        report_pool_total(report, (int)p, &counts);
        fputs("<tr data-pool=\"", out);
        html_escape(out, pool->name);
        fputs("\"><td>pool ", out);
        html_escape(out, pool->name);
        fputs(" has none</td>", out);
        status_row_cells(out, "leaking", "UNFILTERED", &counts);
    }
    fputs("</table>\n", out);
}

static void sentence(FILE *out, const char *key, char *text)
{
    fprintf(out, "<p data-sentence=\"%s\">", key);
    html_escape(out, text != NULL ? text : "(out of memory)");
    fputs("</p>\n", out);
    free(text);
}

static void step_item(void *context, const char *text)
{
    FILE *out = context;
    fputs("<li>", out);
    html_escape(out, text);
    fputs("</li>\n", out);
}

void html_write_summary(const struct report *report, FILE *out)
{
    fputs("<section class=\"summary\" id=\"summary\">\n<h2>Summary</h2>\n", out);
    write_figures(report, out);
    write_points(report, out);
    sentence(out, "leaks", report_leaks_sentence(report));
    sentence(out, "infected", report_suspects_sentence(report, SUMMARY_SUSPECTS));
    sentence(out, "evasion", report_evasion_sentence(report));
    fputs("<h3>What to do next</h3>\n<ol class=\"steps\">\n", out);
    report_next_steps(report, step_item, out);
    fputs("</ol>\n</section>\n", out);
}

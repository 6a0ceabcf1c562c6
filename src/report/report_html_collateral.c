/* The HTML report's "What the block breaks": the collateral_block findings summed by blocking
 * point, pool, reason and port, then listed one by one. */
#include <stdio.h>

#include "report/report_html.h"

#define CELL(name)                                                                                 \
    static void name(const struct report *report, const void *row, char *text, size_t size)

static const struct report_collateral_row *row_of(const void *row)
{
    return row;
}

static const struct finding *finding_of(const void *row)
{
    return row;
}

CELL(row_point)
{
    snprintf(text, size, "%s", report->policy->blocking_points[row_of(row)->blocking_point].name);
}

CELL(row_pool)
{
    html_cell_pool(report, row_of(row)->pool, text, size);
}

CELL(row_reason)
{
    (void)report;
    snprintf(text, size, "%s", collateral_reason_name((enum collateral_reason)row_of(row)->reason));
}

CELL(row_port)
{
    (void)report;
    snprintf(text, size, "%u", row_of(row)->port);
}

CELL(row_findings)
{
    (void)report;
    snprintf(text, size, "%llu", (unsigned long long)row_of(row)->findings);
}

CELL(row_icmp)
{
    (void)report;
    snprintf(text, size, "%llu",
             (unsigned long long)row_of(row)->by_evidence[COLLATERAL_ICMP_PROHIBITED]);
}

CELL(row_reset)
{
    (void)report;
    snprintf(text, size, "%llu",
             (unsigned long long)row_of(row)->by_evidence[COLLATERAL_RST_BLOCKING_POINT]);
}

CELL(row_silence)
{
    (void)report;
    snprintf(text, size, "%llu", (unsigned long long)row_of(row)->by_evidence[COLLATERAL_NO_REPLY]);
}

CELL(row_first)
{
    html_cell_time(report, row_of(row)->first_seen, text, size);
}

CELL(row_last)
{
    html_cell_time(report, row_of(row)->last_seen, text, size);
}

static const struct html_column row_columns[] = {
    {"blocking point", false, row_point}, {"pool", false, row_pool},
    {"reason", false, row_reason},        {"port", true, row_port},
    {"findings", true, row_findings},     {"ICMP prohibited", true, row_icmp},
    {"reset", true, row_reset},           {"no reply", true, row_silence},
    {"first", false, row_first},          {"last", false, row_last},
};

CELL(finding_time)
{
    html_cell_time(report, finding_of(row)->ts, text, size);
}

CELL(finding_client)
{
    (void)report;
    const struct finding *finding = finding_of(row);
    html_cell_endpoint(&finding->flow.src, finding->flow.src_port, text, size);
}

CELL(finding_server)
{
    (void)report;
    const struct finding *finding = finding_of(row);
    html_cell_endpoint(&finding->flow.dst, finding->flow.dst_port, text, size);
}

CELL(finding_point)
{
    int point = finding_blocking_point(finding_of(row), report->policy);
    if (point >= 0)
        snprintf(text, size, "%s", report->policy->blocking_points[point].name);
}

CELL(finding_pool)
{
    html_cell_pool(report, finding_of(row)->pool, text, size);
}

CELL(finding_reason)
{
    (void)report;
    snprintf(text, size, "%s",
             collateral_reason_name((enum collateral_reason)finding_of(row)->as.collateral.reason));
}

CELL(finding_evidence)
{
    (void)report;
    const struct collateral_finding *facts = &finding_of(row)->as.collateral;
    snprintf(text, size, "%s", collateral_evidence_name((enum collateral_evidence)facts->evidence));
}

CELL(finding_msa)
{
    int msa = finding_of(row)->as.collateral.msa;
    if (msa >= 0 && (size_t)msa < report->policy->msa_count)
        snprintf(text, size, "%s", report->policy->msas[msa].name);
}

CELL(finding_syns)
{
    (void)report;
    snprintf(text, size, "%u", finding_of(row)->as.collateral.syn_count);
}

CELL(finding_icmp_from)
{
    (void)report;
    const struct collateral_finding *facts = &finding_of(row)->as.collateral;
    if (facts->icmp_seen)
        address_format(&facts->icmp_from, text, size);
}

static const struct html_column finding_columns[] = {
    {"time", false, finding_time},     {"subscriber", false, finding_client},
    {"server", false, finding_server}, {"MSA", false, finding_msa},
    {"pool", false, finding_pool},     {"blocking point", false, finding_point},
    {"reason", false, finding_reason}, {"evidence", false, finding_evidence},
    {"SYNs", true, finding_syns},      {"ICMP from", false, finding_icmp_from},
};

void html_write_collateral(const struct report *report, FILE *out)
{
    uint64_t total = report->findings_total[EVENT_COLLATERAL_BLOCK];
    fprintf(out, "<h3>What the block breaks: %llu</h3>\n", (unsigned long long)total);
    fputs("<p>What OP25B must let through, refused at the blocking point in front of the pool "
          "(collateral_block): port 25 to a designated MSA the pool may use, submission on 587 "
          "and 465 to any server (draft section 4.4.5: port 587 must be permitted), and port 25 "
          "from static customers (draft figures 6 and 19). Seen only where the sensor is on the "
          "subscriber side of an active point.</p>\n",
          out);
    if (total == 0) {
        fputs("<p>None seen.</p>\n", out);
        return;
    }
    const struct report_collateral *collateral = &report->collateral;
    html_table(out, report, row_columns, sizeof(row_columns) / sizeof(row_columns[0]),
               collateral->rows, sizeof(collateral->rows[0]), collateral->count);
    if (collateral->not_kept > 0)
        fprintf(out, "<p class=\"muted\">%llu more findings in rows not listed.</p>\n",
                (unsigned long long)collateral->not_kept);
    size_t kept = report->finding_count[EVENT_COLLATERAL_BLOCK];
    if (total > kept)
        fprintf(out, "<p class=\"muted\">The first %zu of %llu are listed.</p>\n", kept,
                (unsigned long long)total);
    html_table(out, report, finding_columns, sizeof(finding_columns) / sizeof(finding_columns[0]),
               report->findings[EVENT_COLLATERAL_BLOCK], sizeof(struct finding), kept);
}

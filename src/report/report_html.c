/* The report as one self-contained HTML page: inline CSS and inline SVG charts, nothing
 * fetched from anywhere, laid out to print on A4. Every text that came off the wire (EHLO
 * names, domains, finding fields) or out of the policy is escaped. It opens with a summary
 * (report_html_summary.c); the coverage audit, the pre-rollout impact and the ACL follow,
 * and the findings close it as tables of named columns (report_html_findings.c). */
#include <stdlib.h>
#include <string.h>

#include "report/report_html.h"
#include "report/report_summary.h"

static void ratio_cell(FILE *out, const struct coverage_counts *counts)
{
    double ratio;
    if (!coverage_ratio(counts, &ratio)) {
        fputs("<td class=\"n\">n/a</td>", out);
        return;
    }
    fprintf(out, "<td class=\"n %s\">%.1f%%</td>", ratio < 1.0 ? "bad" : "good", ratio * 100);
}

static void tally_cells(FILE *out, const struct coverage_counts *counts)
{
    fprintf(out, "<td class=\"n\">%llu</td>", (unsigned long long)coverage_attempts(counts));
    for (int v = 0; v < VERDICT_COUNT; v++)
        fprintf(out, "<td class=\"n%s\">%llu</td>",
                v == VERDICT_LEAKED && counts->by_verdict[v] > 0 ? " bad" : "",
                (unsigned long long)counts->by_verdict[v]);
    ratio_cell(out, counts);
}

static void tally_header(FILE *out, const char *first)
{
    fprintf(out, "<tr><th>%s</th><th>IP</th><th>attempts</th>", first);
    for (int v = 0; v < VERDICT_COUNT; v++)
        fprintf(out, "<th>%s</th>", verdict_name((enum verdict)v));
    fputs("<th>coverage</th></tr>\n", out);
}

/* ---- Sections ---- */

static const char style[] =
    "<style>\n"
    "body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;color:#222;margin:2em auto;"
    "max-width:60em;padding:0 1em;line-height:1.35}\n"
    "h1{font-size:1.6em;border-bottom:2px solid #222}h2{font-size:1.25em;margin-top:1.6em;"
    "border-bottom:1px solid #999}h3{font-size:1.05em}\n"
    "table{border-collapse:collapse;margin:.5em 0 1em;font-size:.85em}\n"
    "th,td{border:1px solid #bbb;padding:.2em .45em;text-align:left;vertical-align:top}\n"
    "th{background:#eee}td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
    ".bad{color:#b00020;font-weight:bold}.good{color:#1b5e20}\n"
    ".legend span{margin-right:1em;font-size:.85em}.legend i{display:inline-block;width:.9em;"
    "height:.9em;margin-right:.3em;vertical-align:middle}\n"
    "svg.chart{max-width:100%;height:auto}svg .label,svg .value{font-size:11px;fill:#333}"
    "svg .axis{stroke:#666}\n"
    "pre{background:#f6f6f6;border:1px solid #ddd;padding:.6em;font-size:.75em;"
    "white-space:pre-wrap}\n"
    "table.about td{border:none;padding:.1em .8em .1em 0}.muted{color:#666}\n"
    "p.context{color:#444;margin-top:-.4em}\n"
    "section.summary{border:2px solid #222;padding:.2em 1em .6em;margin:1em 0 2em}\n"
    "section.summary h2{margin-top:.4em}\n"
    ".figures{display:flex;gap:.8em;flex-wrap:wrap;margin:.6em 0}\n"
    ".figure{flex:1;min-width:8em;border:1px solid #bbb;padding:.3em .6em;color:#1b5e20}\n"
    ".figure b{display:block;font-size:1.8em}.figure.bad{color:#b00020;border-color:#b00020}"
    ".figure.unknown{color:#666}\n"
    ".mark{display:inline-block;padding:0 .5em;border-radius:.3em;color:#fff;"
    "font-weight:bold;font-size:.9em}\n"
    ".mark.leaking{background:#b00020}.mark.holds{background:#1b5e20}"
    ".mark.nodata{background:#777}.mark.planned{background:#b35c00}\n"
    "ol.steps li{margin:.2em 0}\n"
    "table.findings{font-size:.75em;margin:.5em auto 1em}table.findings td.n{white-space:nowrap}"
    "table.findings th,table.findings td{padding:.15em .3em}\n"
    "@media screen{div.wide{margin:0 calc(50% - 50vw);padding:0 1em;overflow-x:auto}}\n"
    "code{font-size:.9em}\n"
    "@media print{body{margin:0;max-width:none;font-size:10pt}h2{break-after:avoid}"
    "table,svg,pre,section.summary{break-inside:avoid}a{color:inherit;text-decoration:none}"
    "div.findings-part{page:wide}table.findings{font-size:7pt;break-inside:auto}}\n"
    "@page{size:A4;margin:15mm}@page wide{size:A4 landscape;margin:12mm}\n"
    "</style>\n";

static void write_heading(const struct report *report, FILE *out)
{
    const struct policy *policy = report->policy;
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n", out);
    fputs("<title>OP25B audit: ", out);
    html_escape(out, policy->sensor_name);
    fputs("</title>\n", out);
    fputs(style, out);
    fputs("</head>\n<body>\n<h1>OP25B audit report</h1>\n<p class=\"context\">Sensor ", out);
    html_escape(out, policy->sensor_name);
    fprintf(out, " (%s), packet time ", sensor_position_name(policy->position));
    html_escape_time(out, report->first_ts);
    fputs(" to ", out);
    html_escape_time(out, report->end > report->last_ts ? report->end : report->last_ts);
    char date[16];
    if (html_one_day(report, date, sizeof(date)))
        fprintf(out, " UTC; the tables' times are of %s", date);
    else
        fputs(" UTC", out);
    fputs("</p>\n", out);
}

/* What was read, and how much: after the summary, for whoever checks the run. */
static void write_run(const struct report *report, FILE *out)
{
    const struct policy *policy = report->policy;
    const struct sensor_counters *counters = &report->counters;
    struct coverage_counts totals;
    report_totals(report, &totals);
    fputs("<h2>The run</h2>\n<table class=\"about\">\n<tr><td>Policy</td><td><code>", out);
    html_escape(out, policy->path);
    fputs("</code></td></tr>\n<tr><td>Input</td><td>", out);
    for (size_t i = 0; i < report->input_count; i++) {
        fputs(i == 0 ? "<code>" : ", <code>", out);
        html_escape(out, report->inputs[i]);
        fputs("</code>", out);
    }
    fputs("</td></tr>\n<tr><td>Ended by</td><td>", out);
    html_escape(out, report->end_reason != NULL ? report->end_reason : "-");
    fprintf(out,
            "</td></tr>\n<tr><td>Traffic</td><td>%llu packets, %llu bytes, %llu capture drops, "
            "%llu capture errors, %llu flow evictions</td></tr>\n",
            (unsigned long long)counters->packets, (unsigned long long)counters->bytes,
            (unsigned long long)counters->capture_drops,
            (unsigned long long)counters->capture_errors,
            (unsigned long long)counters->flow_evictions);
    fprintf(out, "<tr><td>Attempts</td><td>%llu:", (unsigned long long)coverage_attempts(&totals));
    for (int v = 0; v < VERDICT_COUNT; v++)
        fprintf(out, "%s %llu %s", v == 0 ? "" : ",", (unsigned long long)totals.by_verdict[v],
                verdict_name((enum verdict)v));
    fputs("</td></tr>\n</table>\n", out);
}

static void write_leak_stages(const struct report *report, FILE *out)
{
    fprintf(out, "<h3>Leaks: %llu</h3>\n", (unsigned long long)report->leaks_total);
    if (report->leaks_total == 0) {
        fputs("<p>No attempt got through a blocking point.</p>\n", out);
        return;
    }
    fputs("<p>By the furthest stage reached:", out);
    for (int e = 0, n = 0; e < EVIDENCE_COUNT; e++) {
        if (report->leak_stages[e] > 0)
            fprintf(out, "%s %s %llu", n++ == 0 ? "" : ",", evidence_name((enum evidence)e),
                    (unsigned long long)report->leak_stages[e]);
    }
    fputs(". Section 4 lists them one by one.</p>\n", out);
}

static void write_coverage(const struct report *report, FILE *out)
{
    const struct policy *policy = report->policy;
    fputs("<h2>1. Coverage audit: does each block hold?</h2>\n", out);
    fputs("<p>Coverage is blocked / (blocked + leaked) for the attempts from dynamic pools. "
          "<em>would_block</em> counts attempts a planned blocking point will stop once it is "
          "on.</p>\n",
          out);
    html_coverage_chart(report, out);
    html_legend(out);
    fputs("<table>\n", out);
    tally_header(out, "blocking point");
    for (size_t b = 0; b < policy->blocking_point_count; b++) {
        const struct blocking_point *point = &policy->blocking_points[b];
        for (int f = 0; f < 2; f++) {
            int family = f == 0 ? ADDRESS_V4 : ADDRESS_V6;
            if (!report_point_has_family(policy, (int)b, family))
                continue;
            struct coverage_counts counts;
            report_point_counts(report, (int)b, family, &counts);
            fputs("<tr><td>", out);
            html_escape(out, point->name);
            fprintf(out,
                    " <span class=\"muted\">level %d %s, %s, %s, seen %s</span></td>"
                    "<td>IPv%d</td>",
                    (int)point->level, blocking_level_name(point->level),
                    blocking_state_name(point->state), blocking_reject_name(point->reject),
                    sensor_position_name(point->position), family);
            tally_cells(out, &counts);
            fputs("</tr>\n", out);
        }
    }
    fputs("</table>\n<table>\n", out);
    tally_header(out, "pool");
    for (size_t p = 0; p < policy->pool_count; p++) {
        const struct pool *pool = &policy->pools[p];
        if (pool->type != POOL_DYNAMIC)
            continue;
        for (int f = 0; f < 2; f++) {
            int family = f == 0 ? ADDRESS_V4 : ADDRESS_V6;
            if (!report_pool_has_family(policy, (int)p, family))
                continue;
            fputs("<tr><td>", out);
            html_escape(out, pool->name);
            fputs(" <span class=\"muted\">", out);
            if (pool->blocking_point == POLICY_NO_INDEX)
                fputs("</span><span class=\"bad\">no blocking point", out);
            else
                html_escape(out, policy->blocking_points[pool->blocking_point].name);
            fprintf(out, "</span></td><td>IPv%d</td>", family);
            tally_cells(out, report_pool_counts(report, (int)p, family));
            fputs("</tr>\n", out);
        }
    }
    fputs("</table>\n<h3>Pools without a blocking point</h3>\n<p>", out);
    size_t listed = 0;
    for (size_t p = 0; p < policy->pool_count; p++) {
        const struct pool *pool = &policy->pools[p];
        if (pool->type != POOL_DYNAMIC || pool->blocking_point != POLICY_NO_INDEX)
            continue;
        fputs(listed++ == 0 ? "<span class=\"bad\">" : ", <span class=\"bad\">", out);
        html_escape(out, pool->name);
        fputs("</span>", out);
    }
    fputs(listed == 0 ? "None: every dynamic pool has one.</p>\n"
                      : ": port 25 from these pools is not filtered anywhere.</p>\n",
          out);
    fputs("<h3>Attempts over time</h3>\n", out);
    html_timeline_chart(report, out);
    if (report->timeline.started)
        html_legend(out);
    write_leak_stages(report, out);
    html_write_collateral(report, out);
}

/* The network column only when some server's network is known (GeoIP). */
static bool networks_known(const struct report_servers *servers)
{
    for (size_t i = 0; i < servers->count; i++) {
        if (servers->items[i].as_org[0] != '\0' || servers->items[i].country[0] != '\0')
            return true;
    }
    return false;
}

static void network_cell(FILE *out, const struct report_server *server)
{
    fputs("<td>", out);
    html_escape(out, server->as_org);
    if (server->country[0] != '\0') {
        fputs(server->as_org[0] != '\0' ? " (" : "", out);
        html_escape(out, server->country);
        fputs(server->as_org[0] != '\0' ? ")" : "", out);
    }
    fputs("</td>", out);
}

static void write_servers(FILE *out, const char *title, const char *empty,
                          const struct report_servers *servers, bool with_port,
                          bool with_submission)
{
    fprintf(out, "<h3>%s: %zu</h3>\n", title, servers->count);
    if (servers->count == 0) {
        fprintf(out, "<p>%s</p>\n", empty);
        return;
    }
    bool networks = networks_known(servers);
    fputs("<table>\n<tr><th>server</th>", out);
    if (with_port)
        fputs("<th>port</th>", out);
    fputs("<th>sessions</th><th>subscribers</th>", out);
    if (with_submission)
        fputs("<th>seen on 587/465</th>", out);
    fprintf(out, "%s<th>first seen</th><th>last seen</th></tr>\n",
            networks ? "<th>network</th>" : "");
    for (size_t i = 0; i < servers->count; i++) {
        const struct report_server *server = &servers->items[i];
        fputs("<tr><td>", out);
        html_escape_address(out, &server->address);
        fputs("</td>", out);
        if (with_port)
            fprintf(out, "<td class=\"n\">%u</td>", server->port);
        fprintf(out, "<td class=\"n\">%llu</td><td class=\"n\">%zu%s</td>",
                (unsigned long long)server->sessions, server->subscriber_count,
                server->subscribers_capped ? "+" : "");
        if (with_submission)
            fputs(server->submission_port_seen ? "<td class=\"good\">yes</td>"
                                               : "<td class=\"bad\">no</td>",
                  out);
        if (networks)
            network_cell(out, server);
        fputs("<td>", out);
        html_escape_time(out, server->first_seen);
        fputs("</td><td>", out);
        html_escape_time(out, server->last_seen);
        fputs("</td></tr>\n", out);
    }
    fputs("</table>\n", out);
    if (servers->not_kept > 0)
        fprintf(out, "<p class=\"muted\">%llu more findings name servers not listed.</p>\n",
                (unsigned long long)servers->not_kept);
}

static void write_impact(const struct report *report, FILE *out)
{
    fputs("<h2>2. Pre-rollout impact: what breaks when the block goes on?</h2>\n", out);
    fputs("<p>Subscribers who authenticate on port 25 of third-party servers lose mail once "
          "OP25B is on (draft section 4.1). Where the same server is also seen on 587 or 465, "
          "they only need their mail client's settings changed; where it is not, the provider "
          "must offer submission first (draft section 4.4.2).</p>\n",
          out);
    write_servers(out, "Third-party MSAs reached on port 25", "None seen.", &report->third_party,
                  false, true);
    write_servers(out, "Open submission servers", "None seen accepting MAIL and RCPT without AUTH.",
                  &report->open_submission, true, false);
    write_servers(out, "POP-before-SMTP providers", "None seen.", &report->pop_before_smtp, false,
                  false);
}

/* The rules, one row each; the MSA column only when some rule permits one. */
static void write_acl_point(const struct policy *policy, int point, FILE *out)
{
    if (point == POLICY_NO_INDEX) {
        fputs("<span class=\"bad\">none</span>", out);
        return;
    }
    html_escape(out, policy->blocking_points[point].name);
    if (policy->blocking_points[point].state == BLOCKING_PLANNED)
        fputs(" (planned)", out);
}

static void write_acl_counts(const struct acl *acl, FILE *out)
{
    for (int f = 0; f < 2; f++) {
        const struct acl_count *count = &acl->families[f];
        fprintf(out,
                "<li>IPv%d: %zu &times; (%zu + 1) = %zu rules by the formula; <strong>%zu "
                "generated</strong> (MSA permits %zu, exempt permits %zu, denies %zu), %zu of "
                "them at planned points</li>\n",
                f == 0 ? 4 : 6, count->dynamic_blocks, count->msa_blocks, count->formula,
                count->rules, count->msa_permits, count->exempt_permits, count->denies,
                count->planned);
    }
    if (acl->unassigned > 0)
        fprintf(out,
                "<li class=\"bad\">%zu more rules for pools that have no blocking point "
                "yet</li>\n",
                acl->unassigned);
}

/* The rules, one row each; the MSA or exemption column only when some rule has one. */
static void write_acl_rules(const struct report *report, FILE *out)
{
    const struct policy *policy = report->policy;
    const struct acl *acl = &report->acl;
    bool named = false;
    for (size_t i = 0; i < acl->count; i++)
        named |= acl->rules[i].action == ACL_PERMIT || acl->rules[i].action == ACL_EXEMPT;
    fprintf(out,
            "<table>\n<tr><th>#</th><th>rule</th><th>pool</th>%s<th>blocking point</th></tr>\n",
            named ? "<th>MSA or exemption</th>" : "");
    for (size_t i = 0; i < acl->count; i++) {
        const struct acl_rule *rule = &acl->rules[i];
        char text[2 * PREFIX_TEXT_MAX + 32];
        acl_rule_format(rule, text, sizeof(text));
        fprintf(out, "<tr><td class=\"n\">%zu</td><td><code>", i + 1);
        html_escape(out, text);
        fputs("</code></td><td>", out);
        html_escape(out, policy->pools[rule->pool].name);
        if (named) {
            fputs("</td><td>", out);
            if (rule->action == ACL_PERMIT) {
                html_escape(out, policy->msas[rule->msa].name);
                if (policy->msas[rule->msa].port25_planned_close)
                    fputs(" (port 25 planned to close)", out);
            } else if (rule->action == ACL_EXEMPT) {
                fputs("exempt inside ", out);
                html_escape(out, policy->pools[rule->inside].name);
            }
        }
        fputs("</td><td>", out);
        write_acl_point(policy, rule->blocking_point, out);
        fputs("</td></tr>\n", out);
    }
    fputs("</table>\n", out);
}

static void write_acl(const struct report *report, FILE *out)
{
    const struct policy *policy = report->policy;
    const struct acl *acl = &report->acl;
    fputs("<h2>3. The ACL for this policy</h2>\n<p>Draft section 4: per dynamic block, permit "
          "TCP/25 to each designated MSA block (port 25) the pool may use, then deny TCP/25; "
          "before them, permit TCP/25 from each prefix carved out of the block (exempt: static "
          "senders must not be blocked). Size by the draft's formula, dynamic blocks &times; "
          "(MSA blocks + 1), and as generated; rules at a planned point are what its ACL will "
          "be:</p>\n<ul>\n",
          out);
    write_acl_counts(acl, out);
    fputs("</ul>\n", out);
    write_acl_rules(report, out);
    fputs("<h3>In nftables syntax</h3>\n<pre>", out);
    char *nft = NULL;
    size_t length = 0;
    FILE *memory = open_memstream(&nft, &length);
    if (memory != NULL) {
        acl_write_nftables(acl, policy, memory);
        if (fclose(memory) == 0)
            html_escape(out, nft);
    }
    free(nft);
    fputs("</pre>\n", out);
}

int report_write_html(const struct report *report, FILE *out)
{
    write_heading(report, out);
    html_write_summary(report, out);
    write_run(report, out);
    write_coverage(report, out);
    write_impact(report, out);
    write_acl(report, out);
    /* The second half: findings one by one, in tables printed on landscape pages. */
    fputs("<div class=\"findings-part\">\n", out);
    html_write_leaks(report, out);
    html_write_suspects(report, out);
    html_write_evasion(report, out);
    html_write_abuse(report, out);
    report_migration_write_html(report, out);
    fputs("<p class=\"muted\">Written by op25b-watch " OP25B_VERSION
          " from packet time only: the same capture gives the same report.</p>\n"
          "</div>\n</body>\n</html>\n",
          out);
    return 0;
}

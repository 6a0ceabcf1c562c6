/* The report as one self-contained HTML page: inline CSS and inline SVG charts, nothing
 * fetched from anywhere, laid out to print on A4. Every text that came off the wire (EHLO
 * names, domains, finding fields) or out of the policy is escaped. */
#include <stdlib.h>
#include <string.h>

#include "report/report.h"

static const char *const verdict_colors[VERDICT_COUNT] = {
    "#4e79a7", /* allowed */
    "#59a14f", /* blocked */
    "#e15759", /* leaked */
    "#f28e2b", /* would_block */
    "#9d9d9d", /* unknown */
};

static void escape(FILE *out, const char *text)
{
    for (const char *c = text; *c != '\0'; c++) {
        switch (*c) {
        case '&':
            fputs("&amp;", out);
            break;
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        case '\'':
            fputs("&#39;", out);
            break;
        default:
            fputc(*c, out);
        }
    }
}

static void escape_address(FILE *out, const struct address *address)
{
    char text[ADDRESS_TEXT_MAX];
    address_format(address, text, sizeof(text));
    escape(out, text);
}

static void escape_time(FILE *out, packet_time ts)
{
    char text[PACKET_TIME_TEXT_MAX];
    if (ts == 0) {
        fputs("-", out);
        return;
    }
    packet_time_format(ts, text, sizeof(text));
    escape(out, text);
}

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

static void legend(FILE *out)
{
    fputs("<p class=\"legend\">", out);
    for (int v = 0; v < VERDICT_COUNT; v++)
        fprintf(out, "<span><i style=\"background:%s\"></i>%s</span> ", verdict_colors[v],
                verdict_name((enum verdict)v));
    fputs("</p>\n", out);
}

/* ---- Charts ---- */

struct bar {
    char label[160];
    struct coverage_counts counts;
};

/* One horizontal bar per blocking point and family, split by verdict. */
static void coverage_chart(const struct report *report, FILE *out)
{
    const struct policy *policy = report->policy;
    size_t capacity = policy->blocking_point_count * 2 + 1;
    struct bar *bars = calloc(capacity, sizeof(*bars));
    if (bars == NULL)
        return;
    size_t count = 0;
    uint64_t most = 0;
    for (size_t b = 0; b < policy->blocking_point_count; b++) {
        for (int f = 0; f < 2; f++) {
            int family = f == 0 ? ADDRESS_V4 : ADDRESS_V6;
            if (!report_point_has_family(policy, (int)b, family))
                continue;
            struct bar *bar = &bars[count++];
            snprintf(bar->label, sizeof(bar->label), "%s IPv%d", policy->blocking_points[b].name,
                     family);
            report_point_counts(report, (int)b, family, &bar->counts);
            uint64_t attempts = coverage_attempts(&bar->counts);
            most = attempts > most ? attempts : most;
        }
    }
    const int left = 190, width = 330, row = 28, top = 10;
    int height = top + (int)count * row + 10;
    fprintf(out,
            "<svg class=\"chart\" role=\"img\" aria-label=\"Attempts and coverage per blocking "
            "point\" viewBox=\"0 0 720 %d\" width=\"720\" height=\"%d\">\n",
            height, height);
    for (size_t i = 0; i < count; i++) {
        const struct bar *bar = &bars[i];
        int y = top + (int)i * row;
        fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" class=\"label\">", left - 8,
                y + 15);
        escape(out, bar->label);
        fputs("</text>\n", out);
        uint64_t attempts = coverage_attempts(&bar->counts);
        double x = left;
        for (int v = 0; v < VERDICT_COUNT && most > 0; v++) {
            double w = (double)width * (double)bar->counts.by_verdict[v] / (double)most;
            if (w <= 0)
                continue;
            fprintf(out,
                    "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"20\" fill=\"%s\">"
                    "<title>%s: %llu</title></rect>\n",
                    x, y, w, verdict_colors[v], verdict_name((enum verdict)v),
                    (unsigned long long)bar->counts.by_verdict[v]);
            x += w;
        }
        double ratio;
        char ratio_text[32] = "coverage n/a";
        if (coverage_ratio(&bar->counts, &ratio))
            snprintf(ratio_text, sizeof(ratio_text), "coverage %.1f%%", ratio * 100);
        fprintf(out, "<text x=\"%.1f\" y=\"%d\" class=\"value\">%llu attempts, %s</text>\n", x + 6,
                y + 15, (unsigned long long)attempts, ratio_text);
    }
    fputs("</svg>\n", out);
    free(bars);
}

/* Stacked columns of attempts per time bucket, by verdict. */
static void timeline_chart(const struct report *report, FILE *out)
{
    const struct report_timeline *timeline = &report->timeline;
    if (!timeline->started) {
        fputs("<p>No attempts were seen.</p>\n", out);
        return;
    }
    uint64_t most = 0;
    for (size_t i = 0; i < timeline->used; i++) {
        uint64_t total = 0;
        for (int v = 0; v < VERDICT_COUNT; v++)
            total += timeline->counts[i][v];
        most = total > most ? total : most;
    }
    const int left = 50, top = 10, plot_width = 650, plot_height = 180;
    double column = (double)plot_width / (double)timeline->used;
    fprintf(out, "<svg class=\"chart\" role=\"img\" aria-label=\"Attempts over time by verdict\" "
                 "viewBox=\"0 0 720 230\" width=\"720\" height=\"230\">\n");
    fprintf(out,
            "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"axis\"/>\n"
            "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"axis\"/>\n",
            left, top, left, top + plot_height, left, top + plot_height, left + plot_width,
            top + plot_height);
    fprintf(out,
            "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" class=\"label\">%llu</text>\n"
            "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" class=\"label\">0</text>\n",
            left - 6, top + 10, (unsigned long long)most, left - 6, top + plot_height);
    for (size_t i = 0; i < timeline->used && most > 0; i++) {
        double y = top + plot_height;
        for (int v = 0; v < VERDICT_COUNT; v++) {
            uint64_t value = timeline->counts[i][v];
            if (value == 0)
                continue;
            double h = (double)plot_height * (double)value / (double)most;
            y -= h;
            fprintf(out,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
                    "<title>%s: %llu</title></rect>\n",
                    left + column * (double)i + column * 0.1, y, column * 0.8, h, verdict_colors[v],
                    verdict_name((enum verdict)v), (unsigned long long)value);
        }
    }
    /* Time labels at the start, middle and end of the span. */
    size_t marks[3] = {0, timeline->used / 2, timeline->used};
    const char *anchors[3] = {"start", "middle", "end"};
    for (int m = 0; m < 3; m++) {
        char when[PACKET_TIME_TEXT_MAX];
        packet_time_format(timeline->origin + (packet_time)marks[m] * timeline->width, when,
                           sizeof(when));
        when[19] = '\0'; /* to the second: YYYY-MM-DDTHH:MM:SS */
        fprintf(out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"%s\" class=\"label\">%sZ</text>\n",
                left + column * (double)marks[m], top + plot_height + 18, anchors[m], when);
    }
    fputs("</svg>\n", out);
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
    ".summary td{border:none;padding:.1em .8em .1em 0}.muted{color:#666}\n"
    "code{font-size:.9em}\n"
    "@media print{body{margin:0;max-width:none;font-size:10pt}h2{break-after:avoid}"
    "table,svg,pre{break-inside:avoid}a{color:inherit;text-decoration:none}}\n"
    "@page{size:A4;margin:15mm}\n"
    "</style>\n";

static void write_heading(const struct report *report, FILE *out)
{
    const struct policy *policy = report->policy;
    const struct sensor_counters *counters = &report->counters;
    struct coverage_counts totals;
    report_totals(report, &totals);
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n", out);
    fputs("<title>OP25B audit: ", out);
    escape(out, policy->sensor_name);
    fputs("</title>\n", out);
    fputs(style, out);
    fputs("</head>\n<body>\n<h1>OP25B audit report</h1>\n<table class=\"summary\">\n", out);
    fputs("<tr><td>Sensor</td><td>", out);
    escape(out, policy->sensor_name);
    fprintf(out, " (%s)</td></tr>\n<tr><td>Policy</td><td><code>",
            sensor_position_name(policy->position));
    escape(out, policy->path);
    fputs("</code></td></tr>\n<tr><td>Input</td><td>", out);
    for (size_t i = 0; i < report->input_count; i++) {
        fputs(i == 0 ? "<code>" : ", <code>", out);
        escape(out, report->inputs[i]);
        fputs("</code>", out);
    }
    fputs("</td></tr>\n<tr><td>Packet time</td><td>", out);
    escape_time(out, report->first_ts);
    fputs(" to ", out);
    escape_time(out, report->end > report->last_ts ? report->end : report->last_ts);
    fputs(", ended by ", out);
    escape(out, report->end_reason != NULL ? report->end_reason : "-");
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

static void write_leaks(const struct report *report, FILE *out)
{
    const struct policy *policy = report->policy;
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
    fputs("</p>\n", out);
    if (report->leaks_total > report->leak_count)
        fprintf(out, "<p class=\"muted\">The first %zu are listed.</p>\n", report->leak_count);
    fputs("<table>\n<tr><th>time</th><th>subscriber</th><th>server</th><th>pool</th>"
          "<th>evidence</th><th>dialogue</th></tr>\n",
          out);
    for (size_t i = 0; i < report->leak_count; i++) {
        const struct report_leak *leak = &report->leaks[i];
        fputs("<tr><td>", out);
        escape_time(out, leak->ts);
        fputs("</td><td>", out);
        escape_address(out, &leak->src);
        fprintf(out, " port %u</td><td>", leak->src_port);
        escape_address(out, &leak->dst);
        fprintf(out, " port %u</td><td>", leak->dst_port);
        escape(out, leak->pool >= 0 ? policy->pools[leak->pool].name : "-");
        fputs("</td><td>", out);
        for (int e = 0, n = 0; e < EVIDENCE_COUNT; e++) {
            if (leak->evidence & EVIDENCE_BIT(e))
                fprintf(out, "%s%s", n++ == 0 ? "" : ", ", evidence_name((enum evidence)e));
        }
        fputs("</td><td>", out);
        if (leak->has_smtp) {
            fputs("EHLO <code>", out);
            escape(out, leak->helo);
            fputs("</code>", out);
            if (leak->mail_from_domain[0] != '\0') {
                fputs(", mail from <code>", out);
                escape(out, leak->mail_from_domain);
                fputs("</code>", out);
            }
            if (leak->rcpt_known)
                fprintf(out, ", %u RCPT", leak->rcpt_count);
        }
        fputs("</td></tr>\n", out);
    }
    fputs("</table>\n", out);
}

static void write_coverage(const struct report *report, FILE *out)
{
    const struct policy *policy = report->policy;
    fputs("<h2>1. Coverage audit: does each block hold?</h2>\n", out);
    fputs("<p>Coverage is blocked / (blocked + leaked) for the attempts from dynamic pools "
          "(guide section 3). <em>would_block</em> counts attempts a planned blocking point "
          "will stop once it is on.</p>\n",
          out);
    coverage_chart(report, out);
    legend(out);
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
            escape(out, point->name);
            fprintf(out, " <span class=\"muted\">level %d %s, %s, %s</span></td><td>IPv%d</td>",
                    (int)point->level, blocking_level_name(point->level),
                    blocking_state_name(point->state), blocking_reject_name(point->reject), family);
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
            escape(out, pool->name);
            fputs(" <span class=\"muted\">", out);
            if (pool->blocking_point == POLICY_NO_INDEX)
                fputs("</span><span class=\"bad\">no blocking point", out);
            else
                escape(out, policy->blocking_points[pool->blocking_point].name);
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
        escape(out, pool->name);
        fputs("</span>", out);
    }
    fputs(listed == 0 ? "None: every dynamic pool has one.</p>\n"
                      : ": port 25 from these pools is not filtered anywhere.</p>\n",
          out);
    fputs("<h3>Attempts over time</h3>\n", out);
    timeline_chart(report, out);
    if (report->timeline.started)
        legend(out);
    write_leaks(report, out);
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
    fputs("<table>\n<tr><th>server</th>", out);
    if (with_port)
        fputs("<th>port</th>", out);
    fputs("<th>sessions</th><th>subscribers</th>", out);
    if (with_submission)
        fputs("<th>seen on 587/465</th>", out);
    fputs("<th>network</th><th>first seen</th><th>last seen</th></tr>\n", out);
    for (size_t i = 0; i < servers->count; i++) {
        const struct report_server *server = &servers->items[i];
        fputs("<tr><td>", out);
        escape_address(out, &server->address);
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
        fputs("<td>", out);
        escape(out, server->as_org);
        if (server->country[0] != '\0') {
            fputs(" (", out);
            escape(out, server->country);
            fputs(")", out);
        }
        fputs("</td><td>", out);
        escape_time(out, server->first_seen);
        fputs("</td><td>", out);
        escape_time(out, server->last_seen);
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

static void write_acl(const struct report *report, FILE *out)
{
    const struct policy *policy = report->policy;
    const struct acl *acl = &report->acl;
    fputs("<h2>3. The ACL for this policy</h2>\n<p>Draft section 4: per dynamic block, permit "
          "TCP/25 to each designated MSA block the pool may use, then deny TCP/25. Size by the "
          "draft's formula, dynamic blocks &times; (MSA blocks + 1):</p>\n<ul>\n",
          out);
    for (int f = 0; f < 2; f++) {
        struct acl_rule_count count;
        policy_acl_rule_count(policy, f == 0 ? ADDRESS_V4 : ADDRESS_V6, &count);
        fprintf(out,
                "<li>IPv%d: %zu &times; (%zu + 1) = <strong>%zu rules</strong>; %zu listed "
                "below</li>\n",
                f == 0 ? 4 : 6, count.dynamic_blocks, count.msa_blocks,
                count.dynamic_blocks * (count.msa_blocks + 1), acl->assigned[f]);
    }
    if (acl->unassigned > 0)
        fprintf(out,
                "<li class=\"bad\">%zu more rules for pools that have no blocking point "
                "yet</li>\n",
                acl->unassigned);
    fputs("</ul>\n<table>\n<tr><th>#</th><th>rule</th><th>pool</th><th>MSA</th>"
          "<th>blocking point</th></tr>\n",
          out);
    for (size_t i = 0; i < acl->count; i++) {
        const struct acl_rule *rule = &acl->rules[i];
        char text[2 * PREFIX_TEXT_MAX + 32];
        acl_rule_format(rule, text, sizeof(text));
        fprintf(out, "<tr><td class=\"n\">%zu</td><td><code>", i + 1);
        escape(out, text);
        fputs("</code></td><td>", out);
        escape(out, policy->pools[rule->pool].name);
        fputs("</td><td>", out);
        escape(out, rule->action == ACL_PERMIT ? policy->msas[rule->msa].name : "");
        fputs("</td><td>", out);
        if (rule->blocking_point == POLICY_NO_INDEX)
            fputs("<span class=\"bad\">none</span>", out);
        else
            escape(out, policy->blocking_points[rule->blocking_point].name);
        fputs("</td></tr>\n", out);
    }
    fputs("</table>\n<h3>In nftables syntax</h3>\n<pre>", out);
    char *nft = NULL;
    size_t length = 0;
    FILE *memory = open_memstream(&nft, &length);
    if (memory != NULL) {
        acl_write_nftables(acl, policy, memory);
        if (fclose(memory) == 0)
            escape(out, nft);
    }
    free(nft);
    fputs("</pre>\n", out);
}

static void finding_cells(const struct report *report, const struct finding *finding,
                          FILE *out)
{
    const struct policy *policy = report->policy;
    const struct flow_tuple *flow = &finding->flow;
    struct address subscriber = finding_subscriber(finding);
    fputs("<td>", out);
    escape_time(out, finding->ts);
    fputs("</td><td>", out);
    if (finding->has_flow) {
        escape_address(out, &flow->src);
        fprintf(out, " port %u &rarr; ", flow->src_port);
        escape_address(out, &flow->dst);
        fprintf(out, " port %u", flow->dst_port);
    } else if (subscriber.family != 0) {
        escape_address(out, &subscriber);
    }
    fputs("</td><td>", out);
    if (finding->pool >= 0 && (size_t)finding->pool < policy->pool_count)
        escape(out, policy->pools[finding->pool].name);
    if (finding->segment >= 0 && (size_t)finding->segment < policy->segment_count) {
        fputs(" / ", out);
        escape(out, policy->segments[finding->segment].name);
    }
    fputs("</td><td><code>", out);
    char *fields = report_finding_fields(report, finding, false);
    escape(out, fields != NULL ? fields : "");
    free(fields);
    fputs("</code></td>", out);
}

static void write_suspects(const struct report *report, FILE *out)
{
    size_t order[REPORT_TOP_SUSPECTS];
    size_t listed = report_top_suspects(report, order, REPORT_TOP_SUSPECTS);
    fputs("<h2>4. Bot suspects</h2>\n", out);
    fprintf(out, "<p>%llu bot_suspect findings about %zu subscribers.",
            (unsigned long long)report->findings_total[EVENT_BOT_SUSPECT], report->suspect_count);
    if (listed == 0) {
        fputs("</p>\n", out);
        return;
    }
    fprintf(out, " The top %zu by score, with the features behind it:</p>\n", listed);
    fputs("<table>\n<tr><th>#</th><th>score</th><th>time</th><th>subscriber</th>"
          "<th>pool</th><th>features</th></tr>\n",
          out);
    for (size_t i = 0; i < listed; i++) {
        const struct finding *suspect = &report->suspects[order[i]];
        fprintf(out, "<tr><td class=\"n\">%zu</td><td class=\"n\">%.2f</td>", i + 1,
                suspect->as.bot.score);
        finding_cells(report, suspect, out);
        fputs("</tr>\n", out);
    }
    fputs("</table>\n", out);
}

static void write_evasion(const struct report *report, FILE *out)
{
    fputs("<h2>5. Evasion findings</h2>\n<p>The ways around OP25B of draft section 4.4.1 "
          "(asymmetric routing, triangular spamming), the missing inbound ACL and source "
          "address validation they rely on, and SMTP relayed on other ports.</p>\n<table>\n"
          "<tr><th>finding</th><th>count</th></tr>\n",
          out);
    for (int t = EVENT_SENSOR_STATS + 1; t < EVENT_TYPE_COUNT; t++) {
        if (!report_is_evasion((enum event_type)t))
            continue;
        fprintf(out, "<tr><td>%s</td><td class=\"n%s\">%llu</td></tr>\n",
                event_type_name((enum event_type)t), report->findings_total[t] > 0 ? " bad" : "",
                (unsigned long long)report->findings_total[t]);
    }
    fputs("</table>\n", out);
    for (int t = EVENT_SENSOR_STATS + 1; t < EVENT_TYPE_COUNT; t++) {
        if (!report_is_evasion((enum event_type)t) || report->finding_count[t] == 0)
            continue;
        fprintf(out, "<h3>%s</h3>\n", event_type_name((enum event_type)t));
        if (report->findings_total[t] > report->finding_count[t])
            fprintf(out, "<p class=\"muted\">The first %zu of %llu are listed.</p>\n",
                    report->finding_count[t], (unsigned long long)report->findings_total[t]);
        fputs("<table>\n<tr><th>time</th><th>flow</th><th>pool / segment</th>"
              "<th>details</th></tr>\n",
              out);
        for (size_t i = 0; i < report->finding_count[t]; i++) {
            fputs("<tr>", out);
            finding_cells(report, &report->findings[t][i], out);
            fputs("</tr>\n", out);
        }
        fputs("</table>\n", out);
    }
}

int report_write_html(const struct report *report, FILE *out)
{
    write_heading(report, out);
    write_coverage(report, out);
    write_impact(report, out);
    write_acl(report, out);
    write_suspects(report, out);
    write_evasion(report, out);
    fputs("<p class=\"muted\">Written by op25b-watch " OP25B_VERSION
          " from packet time only: the same capture gives the same report.</p>\n"
          "</body>\n</html>\n",
          out);
    return 0;
}

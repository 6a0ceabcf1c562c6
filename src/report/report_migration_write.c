/* "Moving submission to 587" in the three reports: per MSA and pool, the connections and
 * subscribers on 25 (by AUTH), 587 and 465 over the run; connections over time (a stacked
 * inline SVG chart in HTML); and who breaks when an MSA closes its port 25. */
#include <stdlib.h>
#include <string.h>

#include "report/report.h"
#include "report/report_html.h"

static const char *const series_names[REPORT_MIGRATION_SERIES] = {
    "port_25_auth", "port_25_no_auth", "port_25_auth_unknown", "port_587", "port_465"};
static const char *const series_labels[REPORT_MIGRATION_SERIES] = {
    "25 with AUTH", "25 without AUTH", "25, AUTH unknown (TLS)", "587", "465"};
/* Port 25 in warm colours, the submission ports in cool ones. */
static const char *const series_colors[REPORT_MIGRATION_SERIES] = {"#d37295", "#b6332e", "#e8a838",
                                                                   "#499894", "#86bcb6"};

static uint64_t closing_connections(const struct report_closing *entry)
{
    uint64_t total = 0;
    for (int a = 0; a < MIGRATION_AUTHS; a++)
        total += entry->connections[a];
    return total;
}

static void closing_totals(const struct report_migration *migration, uint64_t *subscribers,
                           uint64_t *connections)
{
    *subscribers = migration->closing_count + migration->closing_beyond_subscribers;
    *connections = migration->closing_beyond_connections;
    for (size_t i = 0; i < migration->closing_count; i++)
        *connections += closing_connections(&migration->closing[i]);
}

static void subscriber_text(const struct prefix *subscriber, char *text, size_t size)
{
    if (subscriber->address.family == ADDRESS_V6)
        prefix_format(subscriber, text, size);
    else
        address_format(&subscriber->address, text, size);
}

static const char *point_of(const struct policy *policy, int pool)
{
    int point = policy->pools[pool].blocking_point;
    return point == POLICY_NO_INDEX ? NULL : policy->blocking_points[point].name;
}

/* ---- JSON ---- */

static void put_u64(void *context, const char *name, uint64_t value)
{
    json_stream_u64(context, name, value);
}

static void put_boolean(void *context, const char *name, bool value)
{
    json_stream_bool(context, name, value);
}

static void json_time(struct json_stream *w, const char *key, packet_time ts)
{
    char text[PACKET_TIME_TEXT_MAX];
    packet_time_format(ts, text, sizeof(text));
    json_stream_string(w, key, text);
}

static void json_rows(const struct report_migration *migration, struct json_stream *w)
{
    const struct policy *policy = migration->policy;
    static const struct field_walker walker = {.u64 = put_u64, .boolean = put_boolean};
    json_stream_array(w, "rows");
    for (size_t i = 0; i < migration->row_count; i++) {
        const struct migration_counts *counts = &migration->rows[i];
        if (migration_total_connections(counts) == 0)
            continue;
        const struct msa *msa = &policy->msas[i / policy->pool_count];
        int pool = (int)(i % policy->pool_count);
        json_stream_object(w, NULL);
        json_stream_string(w, "msa", msa->name);
        json_stream_bool(w, "planned_close", msa->port25_planned_close);
        json_stream_string(w, "pool", policy->pools[pool].name);
        json_stream_string(w, "blocking_point", point_of(policy, pool));
        migration_walk_counts(counts, &walker, w);
        json_stream_object_end(w);
    }
    json_stream_array_end(w);
}

static void json_timeline(const struct report_migration *migration, struct json_stream *w)
{
    const struct report_migration_timeline *timeline = &migration->timeline;
    json_stream_object(w, "timeline");
    json_stream_u64(w, "bucket_seconds", (uint64_t)(timeline->width / PACKET_TIME_SECOND));
    json_stream_array(w, "buckets");
    for (size_t i = 0; timeline->started && i < timeline->used; i++) {
        json_stream_object(w, NULL);
        json_time(w, "start", timeline->origin + (packet_time)i * timeline->width);
        for (int s = 0; s < REPORT_MIGRATION_SERIES; s++)
            json_stream_u64(w, series_names[s], timeline->counts[i][s]);
        json_stream_object_end(w);
    }
    json_stream_array_end(w);
    json_stream_object_end(w);
}

static void json_closing(const struct report_migration *migration, struct json_stream *w)
{
    const struct policy *policy = migration->policy;
    uint64_t subscribers, connections;
    closing_totals(migration, &subscribers, &connections);
    json_stream_object(w, "planned_close");
    json_stream_u64(w, "subscribers", subscribers);
    json_stream_u64(w, "connections", connections);
    json_stream_u64(w, "listed", migration->closing_count);
    json_stream_array(w, "items");
    for (size_t i = 0; i < migration->closing_count; i++) {
        const struct report_closing *entry = &migration->closing[i];
        char text[PREFIX_TEXT_MAX];
        subscriber_text(&entry->subscriber, text, sizeof(text));
        json_stream_object(w, NULL);
        json_stream_string(w, "subscriber", text);
        json_stream_string(w, "msa", policy->msas[entry->msa].name);
        json_stream_string(w, "pool", policy->pools[entry->pool].name);
        json_stream_string(w, "blocking_point", point_of(policy, entry->pool));
        json_stream_u64(w, "connections", closing_connections(entry));
        for (int a = 0; a < MIGRATION_AUTHS; a++)
            json_stream_u64(w, migration_auth_suffix((enum migration_auth)a),
                            entry->connections[a]);
        json_time(w, "first_seen", entry->first_seen);
        json_time(w, "last_seen", entry->last_seen);
        json_stream_object_end(w);
    }
    json_stream_array_end(w);
    json_stream_object_end(w);
}

void report_migration_write_json(const struct report *report, struct json_stream *w)
{
    const struct report_migration *migration = report->migration;
    json_stream_object(w, "submission_migration");
    json_rows(migration, w);
    json_timeline(migration, w);
    json_closing(migration, w);
    json_stream_object_end(w);
}

/* ---- Text ---- */

static void text_rows(const struct report_migration *migration, FILE *out)
{
    const struct policy *policy = migration->policy;
    fprintf(out, "%-16s %-16s %9s %6s %6s %7s %9s %6s %6s %7s %9s %11s %6s %6s %6s\n", "msa",
            "pool", "25", "auth", "none", "unknown", "587", "auth", "none", "unknown", "465",
            "subscribers", "on 25", "on 587", "on 465");
    for (size_t i = 0; i < migration->row_count; i++) {
        const struct migration_counts *c = &migration->rows[i];
        if (migration_total_connections(c) == 0)
            continue;
        const char *capped = c->subscribers_capped ? "+" : "";
        fprintf(out, "%-16s %-16s", policy->msas[i / policy->pool_count].name,
                policy->pools[i % policy->pool_count].name);
        for (int p = MIGRATION_PORT_25; p <= MIGRATION_PORT_587; p++)
            fprintf(out, " %9llu %6llu %6llu %7llu",
                    (unsigned long long)migration_port_connections(c, (enum migration_port)p),
                    (unsigned long long)c->connections[p][MIGRATION_AUTH_YES],
                    (unsigned long long)c->connections[p][MIGRATION_AUTH_NO],
                    (unsigned long long)c->connections[p][MIGRATION_AUTH_UNKNOWN]);
        fprintf(out, " %9llu %10llu%1s %6llu %6llu %6llu\n",
                (unsigned long long)migration_port_connections(c, MIGRATION_PORT_465),
                (unsigned long long)c->all_subscribers, capped,
                (unsigned long long)c->port_subscribers[MIGRATION_PORT_25],
                (unsigned long long)c->port_subscribers[MIGRATION_PORT_587],
                (unsigned long long)c->port_subscribers[MIGRATION_PORT_465]);
    }
}

static void text_timeline(const struct report_migration *migration, FILE *out)
{
    const struct report_migration_timeline *timeline = &migration->timeline;
    fprintf(out, "\nconnections over time, buckets of %lld s; empty buckets left out\n",
            (long long)(timeline->width / PACKET_TIME_SECOND));
    fprintf(out, "%-28s %9s %9s %9s %9s %9s\n", "start", "25 auth", "25 none", "25 unkn.", "587",
            "465");
    for (size_t i = 0; timeline->started && i < timeline->used; i++) {
        const uint64_t *counts = timeline->counts[i];
        uint64_t total = 0;
        for (int s = 0; s < REPORT_MIGRATION_SERIES; s++)
            total += counts[s];
        if (total == 0)
            continue;
        char when[PACKET_TIME_TEXT_MAX];
        packet_time_format(timeline->origin + (packet_time)i * timeline->width, when, sizeof(when));
        fprintf(out, "%-28s", when);
        for (int s = 0; s < REPORT_MIGRATION_SERIES; s++)
            fprintf(out, " %9llu", (unsigned long long)counts[s]);
        fputc('\n', out);
    }
}

static void text_closing(const struct report_migration *migration, FILE *out)
{
    const struct policy *policy = migration->policy;
    uint64_t subscribers, connections;
    closing_totals(migration, &subscribers, &connections);
    fprintf(out,
            "\nwho breaks when port 25 closes (planned_close): %llu subscribers, %llu "
            "connections\n",
            (unsigned long long)subscribers, (unsigned long long)connections);
    if (migration->closing_count > 0)
        fprintf(out, "%-40s %-16s %-16s %6s %6s %6s %7s  %-27s  %s\n", "subscriber", "msa", "pool",
                "conns", "auth", "none", "unknown", "first seen", "last seen");
    for (size_t i = 0; i < migration->closing_count; i++) {
        const struct report_closing *entry = &migration->closing[i];
        char text[PREFIX_TEXT_MAX], first[PACKET_TIME_TEXT_MAX], last[PACKET_TIME_TEXT_MAX];
        subscriber_text(&entry->subscriber, text, sizeof(text));
        packet_time_format(entry->first_seen, first, sizeof(first));
        packet_time_format(entry->last_seen, last, sizeof(last));
        fprintf(out, "%-40s %-16s %-16s %6llu %6llu %6llu %7llu  %-27s  %s\n", text,
                policy->msas[entry->msa].name, policy->pools[entry->pool].name,
                (unsigned long long)closing_connections(entry),
                (unsigned long long)entry->connections[MIGRATION_AUTH_YES],
                (unsigned long long)entry->connections[MIGRATION_AUTH_NO],
                (unsigned long long)entry->connections[MIGRATION_AUTH_UNKNOWN], first, last);
    }
    if (migration->closing_beyond_subscribers > 0)
        fprintf(out, "%llu more subscribers (%llu connections) not listed\n",
                (unsigned long long)migration->closing_beyond_subscribers,
                (unsigned long long)migration->closing_beyond_connections);
}

static bool any_closing(const struct policy *policy)
{
    for (size_t m = 0; m < policy->msa_count; m++) {
        if (policy->msas[m].port25_planned_close)
            return true;
    }
    return false;
}

void report_migration_write_text(const struct report *report, FILE *out)
{
    const struct report_migration *migration = report->migration;
    fputs("\n7. Moving submission to 587\n---------------------------\n", out);
    if (!report_migration_seen(migration)) {
        fputs("no connection from a dynamic pool to an MSA on 25, 587 or 465\n", out);
        return;
    }
    fputs("dynamic subscribers' connections to each MSA over the run, by whether the client sent "
          "AUTH\n(unknown: STARTTLS or 465's TLS hid it), and the distinct subscribers behind "
          "them\n",
          out);
    text_rows(migration, out);
    text_timeline(migration, out);
    if (any_closing(report->policy))
        text_closing(migration, out);
}

/* ---- HTML ---- */

static void html_rows(const struct report_migration *migration, FILE *out)
{
    const struct policy *policy = migration->policy;
    fputs("<table>\n<tr><th>MSA</th><th>pool</th><th>connections on 25</th><th>25 with AUTH</th>"
          "<th>25 without AUTH</th><th>25, AUTH unknown</th><th>connections on 587</th>"
          "<th>connections on 465</th><th>subscribers</th><th>subscribers on 25</th>"
          "<th>subscribers on 587</th><th>subscribers on 465</th></tr>\n",
          out);
    for (size_t i = 0; i < migration->row_count; i++) {
        const struct migration_counts *c = &migration->rows[i];
        if (migration_total_connections(c) == 0)
            continue;
        const struct msa *msa = &policy->msas[i / policy->pool_count];
        fputs("<tr><td>", out);
        html_escape(out, msa->name);
        if (msa->port25_planned_close)
            fputs(" (port 25 planned to close)", out);
        fputs("</td><td>", out);
        html_escape(out, policy->pools[i % policy->pool_count].name);
        fprintf(out, "</td><td class=\"n\">%llu</td>",
                (unsigned long long)migration_port_connections(c, MIGRATION_PORT_25));
        for (int a = 0; a < MIGRATION_AUTHS; a++)
            fprintf(out, "<td class=\"n%s\">%llu</td>",
                    a == MIGRATION_AUTH_NO && c->connections[MIGRATION_PORT_25][a] > 0 ? " bad"
                                                                                       : "",
                    (unsigned long long)c->connections[MIGRATION_PORT_25][a]);
        fprintf(out, "<td class=\"n\">%llu</td><td class=\"n\">%llu</td>",
                (unsigned long long)migration_port_connections(c, MIGRATION_PORT_587),
                (unsigned long long)migration_port_connections(c, MIGRATION_PORT_465));
        fprintf(out, "<td class=\"n\">%llu%s</td>", (unsigned long long)c->all_subscribers,
                c->subscribers_capped ? "+" : "");
        for (int p = 0; p < MIGRATION_PORTS; p++)
            fprintf(out, "<td class=\"n\">%llu</td>", (unsigned long long)c->port_subscribers[p]);
        fputs("</tr>\n", out);
    }
    fputs("</table>\n", out);
}

/* Stacked columns of connections per time bucket, by port and AUTH. */
static void html_chart(const struct report_migration *migration, FILE *out)
{
    const struct report_migration_timeline *timeline = &migration->timeline;
    uint64_t most = 0;
    for (size_t i = 0; i < timeline->used; i++) {
        uint64_t total = 0;
        for (int s = 0; s < REPORT_MIGRATION_SERIES; s++)
            total += timeline->counts[i][s];
        most = total > most ? total : most;
    }
    const int left = 50, top = 10, plot_width = 650, plot_height = 160;
    double column = (double)plot_width / (double)(timeline->used > 0 ? timeline->used : 1);
    fputs("<p class=\"legend\">", out);
    for (int s = 0; s < REPORT_MIGRATION_SERIES; s++)
        fprintf(out, "<span><i style=\"background:%s\"></i>%s</span> ", series_colors[s],
                series_labels[s]);
    fputs("</p>\n", out);
    fprintf(out,
            "<svg class=\"chart\" role=\"img\" aria-label=\"Submission connections over time by "
            "port\" viewBox=\"0 0 720 210\" width=\"720\" height=\"210\">\n"
            "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"axis\"/>\n"
            "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" class=\"label\">%llu</text>\n",
            left, top + plot_height, left + plot_width, top + plot_height, left - 6, top + 10,
            (unsigned long long)most);
    for (size_t i = 0; i < timeline->used && most > 0; i++) {
        double y = top + plot_height;
        for (int s = 0; s < REPORT_MIGRATION_SERIES; s++) {
            uint64_t value = timeline->counts[i][s];
            if (value == 0)
                continue;
            double h = (double)plot_height * (double)value / (double)most;
            y -= h;
            fprintf(out,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
                    "<title>%s: %llu</title></rect>\n",
                    left + column * (double)i + column * 0.1, y, column * 0.8, h, series_colors[s],
                    series_labels[s], (unsigned long long)value);
        }
    }
    for (int m = 0; m < 2; m++) {
        char when[PACKET_TIME_TEXT_MAX];
        size_t mark = m == 0 ? 0 : timeline->used;
        packet_time_format(timeline->origin + (packet_time)mark * timeline->width, when,
                           sizeof(when));
        when[19] = '\0'; /* to the second */
        fprintf(out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"%s\" class=\"label\">%sZ</text>\n",
                left + column * (double)mark, top + plot_height + 18, m == 0 ? "start" : "end",
                when);
    }
    fputs("</svg>\n", out);
}

static void html_closing(const struct report *report, FILE *out)
{
    const struct report_migration *migration = report->migration;
    const struct policy *policy = report->policy;
    uint64_t subscribers, connections;
    closing_totals(migration, &subscribers, &connections);
    fprintf(out,
            "<h3>Who breaks when port 25 closes: %llu subscribers, %llu connections</h3>\n"
            "<p>Subscribers whose port-25 submissions an MSA marked <code>planned_close</code> "
            "takes today (their attempts are <code>would_block</code>): each needs its mail "
            "client moved to 587 or 465, and those without AUTH credentials set up too.</p>\n",
            (unsigned long long)subscribers, (unsigned long long)connections);
    if (migration->closing_count == 0)
        return;
    fputs("<table>\n<tr><th>subscriber</th><th>MSA</th><th>pool</th><th>connections</th>"
          "<th>with AUTH</th><th>without AUTH</th><th>AUTH unknown</th><th>first seen</th>"
          "<th>last seen</th></tr>\n",
          out);
    for (size_t i = 0; i < migration->closing_count; i++) {
        const struct report_closing *entry = &migration->closing[i];
        char text[PREFIX_TEXT_MAX];
        subscriber_text(&entry->subscriber, text, sizeof(text));
        fputs("<tr><td>", out);
        html_escape(out, text);
        fputs("</td><td>", out);
        html_escape(out, policy->msas[entry->msa].name);
        fputs("</td><td>", out);
        html_escape(out, policy->pools[entry->pool].name);
        fprintf(out, "</td><td class=\"n\">%llu</td>",
                (unsigned long long)closing_connections(entry));
        for (int a = 0; a < MIGRATION_AUTHS; a++)
            fprintf(out, "<td class=\"n\">%llu</td>", (unsigned long long)entry->connections[a]);
        char first[PACKET_TIME_TEXT_MAX], last[PACKET_TIME_TEXT_MAX];
        html_cell_time(report, entry->first_seen, first, sizeof(first));
        html_cell_time(report, entry->last_seen, last, sizeof(last));
        fprintf(out, "<td>%s</td><td>%s</td></tr>\n", first, last);
    }
    fputs("</table>\n", out);
    if (migration->closing_beyond_subscribers > 0)
        fprintf(out,
                "<p class=\"muted\">%llu more subscribers (%llu connections) not listed.</p>\n",
                (unsigned long long)migration->closing_beyond_subscribers,
                (unsigned long long)migration->closing_beyond_connections);
}

void report_migration_write_html(const struct report *report, FILE *out)
{
    const struct report_migration *migration = report->migration;
    fputs("<h2>7. Moving submission to 587</h2>\n<p>The draft's last steps (section 4.3.2, steps 4 "
          "and 5): "
          "subscribers move their mail clients from an MSA's port 25 to 587 with AUTH (or 465), "
          "then port 25 stops taking submissions. Dynamic subscribers' connections to each MSA "
          "over the run, by whether the client sent AUTH (unknown: STARTTLS, or 465's TLS, hid "
          "it), and the distinct subscribers behind them.</p>\n",
          out);
    if (!report_migration_seen(migration)) {
        fputs("<p>No connection from a dynamic pool to an MSA on 25, 587 or 465.</p>\n", out);
        return;
    }
    html_rows(migration, out);
    html_chart(migration, out);
    if (any_closing(report->policy))
        html_closing(report, out);
}

/* The second half of the HTML report: the leaks, the bot suspects and the evasion
 * findings as tables of named columns, one set of columns per kind, each cell taken from
 * the kind's own members (struct report_leak, struct bot_finding, struct window_finding,
 * struct triangular_finding, struct submission_finding). html_table leaves out a column
 * that no row has a value for. */
#include <string.h>

#include "report/report_html.h"
#include "report/report_summary.h"

#define CELL(name)                                                                                 \
    static void name(const struct report *report, const void *row, char *text, size_t size)
#define COLUMNS(array) array, sizeof(array) / sizeof(array[0])

static const char *yes_no(bool value)
{
    return value ? "yes" : "no";
}

/* ---- Leaks ---- */

static const struct report_leak *leak_of(const void *row)
{
    return row;
}

CELL(leak_time)
{
    html_cell_time(report, leak_of(row)->ts, text, size);
}

CELL(leak_subscriber)
{
    (void)report;
    html_cell_endpoint(&leak_of(row)->src, leak_of(row)->src_port, text, size);
}

CELL(leak_server)
{
    (void)report;
    html_cell_endpoint(&leak_of(row)->dst, leak_of(row)->dst_port, text, size);
}

CELL(leak_pool)
{
    html_cell_pool(report, leak_of(row)->pool, text, size);
}

CELL(leak_segment)
{
    html_cell_segment(report, leak_of(row)->segment, text, size);
}

CELL(leak_stage)
{
    (void)report;
    enum evidence stage = evidence_highest_leak(leak_of(row)->evidence);
    snprintf(text, size, "%s", stage < EVIDENCE_COUNT ? evidence_name(stage) : "");
}

CELL(leak_syns)
{
    (void)report;
    snprintf(text, size, "%u", leak_of(row)->syn_count);
}

CELL(leak_helo)
{
    (void)report;
    snprintf(text, size, "%s", leak_of(row)->has_smtp ? leak_of(row)->helo : "");
}

CELL(leak_mail_from)
{
    (void)report;
    snprintf(text, size, "%s", leak_of(row)->has_smtp ? leak_of(row)->mail_from_domain : "");
}

/* Counts the capture could not make whole are left out (report.h's *_known). */
CELL(leak_rcpt)
{
    (void)report;
    if (leak_of(row)->has_smtp && leak_of(row)->rcpt_known)
        snprintf(text, size, "%u", leak_of(row)->rcpt_count);
}

CELL(leak_messages)
{
    (void)report;
    if (leak_of(row)->has_smtp && leak_of(row)->messages_known)
        snprintf(text, size, "%u", leak_of(row)->messages_accepted);
}

CELL(leak_auth)
{
    (void)report;
    if (leak_of(row)->has_smtp && leak_of(row)->auth_known)
        snprintf(text, size, "%s", yes_no(leak_of(row)->auth));
}

CELL(leak_starttls)
{
    (void)report;
    if (leak_of(row)->has_smtp && leak_of(row)->starttls_known)
        snprintf(text, size, "%s", yes_no(leak_of(row)->starttls));
}

CELL(leak_close)
{
    (void)report;
    snprintf(text, size, "%s", leak_of(row)->close_reason);
}

static const struct html_column leak_columns[] = {
    {"time", false, leak_time},
    {"subscriber", false, leak_subscriber},
    {"server", false, leak_server},
    {"pool", false, leak_pool},
    {"segment", false, leak_segment},
    {"reached", false, leak_stage},
    {"SYNs", true, leak_syns},
    {"EHLO", false, leak_helo},
    {"mail from", false, leak_mail_from},
    {"RCPT", true, leak_rcpt},
    {"messages", true, leak_messages},
    {"AUTH", false, leak_auth},
    {"TLS", false, leak_starttls},
    {"ended by", false, leak_close},
};

void html_write_leaks(const struct report *report, FILE *out)
{
    fprintf(out, "<h2>4. Leaks, one by one: %llu</h2>\n", (unsigned long long)report->leaks_total);
    if (report->leaks_total == 0) {
        fputs("<p>No attempt got through a blocking point.</p>\n", out);
        return;
    }
    fputs("<p>Each attempt that got out, with how far its SMTP dialogue went.", out);
    if (report->leaks_total > report->leak_count)
        fprintf(out, " The first %zu are listed.", report->leak_count);
    fputs("</p>\n", out);
    html_table(out, report, COLUMNS(leak_columns), report->leaks, sizeof(*report->leaks),
               report->leak_count);
}

/* ---- Bot suspects ---- */

struct ranked {
    size_t rank;
    const struct finding *finding;
};

static const struct bot_finding *bot_of(const void *row)
{
    return &((const struct ranked *)row)->finding->as.bot;
}

static const struct bot_features *features_of(const void *row)
{
    return &bot_of(row)->features;
}

CELL(bot_rank)
{
    (void)report;
    snprintf(text, size, "%zu", ((const struct ranked *)row)->rank);
}

CELL(bot_score)
{
    (void)report;
    snprintf(text, size, "%.2f", bot_of(row)->score);
}

CELL(bot_subscriber)
{
    (void)report;
    report_suspect_name(((const struct ranked *)row)->finding, text, size);
}

CELL(bot_pool)
{
    html_cell_pool(report, ((const struct ranked *)row)->finding->pool, text, size);
}

/* "09:00:00 to 09:05:00"; the end's date only when it differs from the start's. */
CELL(bot_window)
{
    char start[HTML_CELL_MAX], end[HTML_CELL_MAX];
    html_cell_time(report, bot_of(row)->window_start, start, sizeof(start));
    html_cell_time(report, bot_of(row)->window_end, end, sizeof(end));
    bool dated = strlen(start) > 11 && start[10] == ' ';
    bool same_day = dated && strlen(end) > 11 && strncmp(start, end, 11) == 0;
    snprintf(text, size, "%s to %s", start, same_day ? end + 11 : end);
}

CELL(bot_attempts)
{
    (void)report;
    snprintf(text, size, "%u", features_of(row)->attempts);
}

CELL(bot_fanout)
{
    (void)report;
    snprintf(text, size, "%u%s", features_of(row)->fanout,
             features_of(row)->fanout_capped ? "+" : "");
}

CELL(bot_mx_direct)
{
    (void)report;
    snprintf(text, size, "%u", features_of(row)->mx_direct);
}

CELL(bot_rcpt_accepted)
{
    (void)report;
    snprintf(text, size, "%u", features_of(row)->rcpt_accepted);
}

CELL(bot_rcpt_rejected)
{
    (void)report;
    snprintf(text, size, "%u", features_of(row)->rcpt_rejected);
}

CELL(bot_messages)
{
    (void)report;
    snprintf(text, size, "%u", features_of(row)->messages);
}

CELL(bot_deferred)
{
    (void)report;
    snprintf(text, size, "%u", features_of(row)->deferred);
}

CELL(bot_nonstandard)
{
    (void)report;
    snprintf(text, size, "%u", features_of(row)->nonstandard_smtp);
}

CELL(bot_odd_helo)
{
    (void)report;
    snprintf(text, size, "%u", features_of(row)->odd_helo);
}

CELL(bot_odd_helo_example)
{
    (void)report;
    const struct bot_finding *bot = bot_of(row);
    if (bot->features.odd_helo == 0 || bot->odd_helo[0] == '\0')
        return;
    if (bot->odd_helo_kind != NULL)
        snprintf(text, size, "%s (%s)", bot->odd_helo, bot->odd_helo_kind);
    else
        snprintf(text, size, "%s", bot->odd_helo);
}

CELL(bot_receives_smtp)
{
    (void)report;
    snprintf(text, size, "%s", yes_no(features_of(row)->receives_smtp));
}

static const struct html_column bot_columns[] = {
    {"#", true, bot_rank},
    {"score", true, bot_score},
    {"subscriber", false, bot_subscriber},
    {"pool", false, bot_pool},
    {"window", false, bot_window},
    {"attempts", true, bot_attempts},
    {"fan-out", true, bot_fanout},
    {"direct MX", true, bot_mx_direct},
    {"RCPT accepted", true, bot_rcpt_accepted},
    {"RCPT refused", true, bot_rcpt_rejected},
    {"messages", true, bot_messages},
    {"deferred", true, bot_deferred},
    {"other-port SMTP", true, bot_nonstandard},
    {"odd EHLO", true, bot_odd_helo},
    {"odd EHLO name", false, bot_odd_helo_example},
    {"receives SMTP", false, bot_receives_smtp},
};

void html_write_suspects(const struct report *report, FILE *out)
{
    size_t order[REPORT_TOP_SUSPECTS];
    size_t listed = report_top_suspects(report, order, REPORT_TOP_SUSPECTS);
    fputs("<h2>5. Bot suspects</h2>\n", out);
    fprintf(out, "<p>%llu bot_suspect findings about %zu subscribers.",
            (unsigned long long)report->findings_total[EVENT_BOT_SUSPECT], report->suspect_count);
    if (listed == 0) {
        fputs("</p>\n", out);
        return;
    }
    fprintf(out,
            " The top %zu by their best score (0 to 100; a subscriber is flagged from %llu), "
            "with the features the score counts in that window:</p>\n",
            listed, (unsigned long long)report->suspects[order[0]].as.bot.score_threshold);
    struct ranked rows[REPORT_TOP_SUSPECTS];
    for (size_t i = 0; i < listed; i++)
        rows[i] = (struct ranked){.rank = i + 1, .finding = &report->suspects[order[i]]};
    html_table(out, report, COLUMNS(bot_columns), rows, sizeof(rows[0]), listed);
}

/* ---- Evasion findings: what every finding has ---- */

static const struct finding *finding_of(const void *row)
{
    return row;
}

CELL(finding_time)
{
    html_cell_time(report, finding_of(row)->ts, text, size);
}

CELL(flow_source)
{
    (void)report;
    const struct finding *finding = finding_of(row);
    if (finding->has_flow)
        html_cell_endpoint(&finding->flow.src, finding->flow.src_port, text, size);
}

CELL(flow_destination)
{
    (void)report;
    const struct finding *finding = finding_of(row);
    if (finding->has_flow)
        html_cell_endpoint(&finding->flow.dst, finding->flow.dst_port, text, size);
}

CELL(finding_pool)
{
    html_cell_pool(report, finding_of(row)->pool, text, size);
}

CELL(finding_segment)
{
    html_cell_segment(report, finding_of(row)->segment, text, size);
}

/* ---- triangular_spam ---- */

static const struct triangular_finding *triangle_of(const void *row)
{
    return &finding_of(row)->as.triangular;
}

CELL(triangle_relay)
{
    (void)report;
    address_format(&triangle_of(row)->relay, text, size);
}

CELL(triangle_variant)
{
    (void)report;
    snprintf(text, size, "%s", triangle_of(row)->tunnelled ? "tunnelled" : "rewritten");
}

CELL(triangle_tunnel)
{
    (void)report;
    const char *tunnel = finding_tunnel_name(triangle_of(row));
    snprintf(text, size, "%s", tunnel != NULL ? tunnel : "");
}

CELL(triangle_tunnel_source)
{
    (void)report;
    if (triangle_of(row)->tunnelled)
        address_format(&triangle_of(row)->tunnel_src, text, size);
}

CELL(triangle_reply_segment)
{
    html_cell_segment(report, triangle_of(row)->reply_segment, text, size);
}

CELL(triangle_syns)
{
    (void)report;
    snprintf(text, size, "%u", triangle_of(row)->syn_count);
}

CELL(triangle_reply_seen)
{
    html_cell_time(report, triangle_of(row)->reply_seen, text, size);
}

static const struct html_column triangular_columns[] = {
    {"time", false, finding_time},
    {"spammer", false, flow_source},
    {"relay", false, triangle_relay},
    {"target", false, flow_destination},
    {"variant", false, triangle_variant},
    {"tunnel", false, triangle_tunnel},
    {"tunnel source", false, triangle_tunnel_source},
    {"pool", false, finding_pool},
    {"segment", false, finding_segment},
    {"reply segment", false, triangle_reply_segment},
    {"SYNs", true, triangle_syns},
    {"reply seen", false, triangle_reply_seen},
};

/* ---- asymmetric_routing, spoofed_source, inbound_acl_violation ---- */

static const struct window_finding *window_of(const void *row)
{
    return &finding_of(row)->as.window;
}

CELL(window_prefix)
{
    (void)report;
    if (window_of(row)->has_subscriber_prefix)
        prefix_format(&window_of(row)->subscriber_prefix, text, size);
}

CELL(window_expected)
{
    const struct window_finding *window = window_of(row);
    size_t used = 0;
    for (size_t i = 0; i < window->expected_count && used < size; i++) {
        char name[HTML_CELL_MAX];
        html_cell_segment(report, window->expected[i], name, sizeof(name));
        int written = snprintf(text + used, size - used, "%s%s", used == 0 ? "" : ", ", name);
        used += written > 0 ? (size_t)written : 0;
    }
}

CELL(window_msa)
{
    int msa = window_of(row)->msa;
    if (msa >= 0 && (size_t)msa < report->policy->msa_count)
        snprintf(text, size, "%s", report->policy->msas[msa].name);
}

#define WINDOW_COUNT_CELL(name, member)                                                            \
    CELL(name)                                                                                     \
    {                                                                                              \
        (void)report;                                                                              \
        snprintf(text, size, "%llu", (unsigned long long)window_of(row)->member);                  \
    }
WINDOW_COUNT_CELL(window_packets, count)
WINDOW_COUNT_CELL(window_syns, syn_count)
WINDOW_COUNT_CELL(window_syn_acks, syn_ack_count)
WINDOW_COUNT_CELL(window_rsts, rst_count)
WINDOW_COUNT_CELL(window_payload_packets, payload_packets)
WINDOW_COUNT_CELL(window_payload_bytes, payload_bytes)

CELL(window_backscatter)
{
    (void)report;
    snprintf(text, size, "%s", yes_no(window_of(row)->backscatter));
}

CELL(window_ports_varied)
{
    (void)report;
    snprintf(text, size, "%s", yes_no(window_of(row)->ports_varied));
}

CELL(window_first_seen)
{
    html_cell_time(report, window_of(row)->first_seen, text, size);
}

CELL(window_last_seen)
{
    html_cell_time(report, window_of(row)->last_seen, text, size);
}

CELL(window_vlan)
{
    (void)report;
    const struct layer2_place *place = &window_of(row)->layer2;
    if (place->vlan_count > 1)
        snprintf(text, size, "%u (inner %u)", place->vlan[0], place->vlan[1]);
    else if (place->vlan_count == 1)
        snprintf(text, size, "%u", place->vlan[0]);
}

CELL(window_pppoe)
{
    (void)report;
    if (window_of(row)->layer2.has_pppoe)
        snprintf(text, size, "%u", window_of(row)->layer2.pppoe_session);
}

static void mac_text(const uint8_t mac[6], char *text, size_t size)
{
    snprintf(text, size, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
             mac[5]);
}

CELL(window_src_mac)
{
    (void)report;
    if (window_of(row)->layer2.has_mac)
        mac_text(window_of(row)->layer2.src_mac, text, size);
}

CELL(window_dst_mac)
{
    (void)report;
    if (window_of(row)->layer2.has_mac)
        mac_text(window_of(row)->layer2.dst_mac, text, size);
}

CELL(window_close)
{
    (void)report;
    const char *reason = window_of(row)->close_reason;
    snprintf(text, size, "%s", reason != NULL ? reason : "");
}

/* Where the window's first packet was seen, and how the window ended: every window kind. */
#define WINDOW_PLACE_COLUMNS                                                                       \
    {"first seen", false, window_first_seen}, {"last seen", false, window_last_seen},              \
        {"VLAN", true, window_vlan}, {"PPPoE session", true, window_pppoe},                        \
        {"source MAC", false, window_src_mac}, {"destination MAC", false, window_dst_mac},         \
    {                                                                                              \
        "ended by", false, window_close                                                            \
    }

static const struct html_column spoofed_columns[] = {
    {"time", false, finding_time},
    {"spoofed source", false, flow_source},
    {"target", false, flow_destination},
    {"subscriber prefix", false, window_prefix},
    {"pool", false, finding_pool},
    {"segment", false, finding_segment},
    {"packets", true, window_packets},
    {"SYNs", true, window_syns},
    {"payload packets", true, window_payload_packets},
    WINDOW_PLACE_COLUMNS,
};

static const struct html_column asymmetric_columns[] = {
    {"time", false, finding_time},
    {"subscriber", false, flow_source},
    {"server", false, flow_destination},
    {"subscriber prefix", false, window_prefix},
    {"pool", false, finding_pool},
    {"seen on segment", false, finding_segment},
    {"expected on", false, window_expected},
    {"packets", true, window_packets},
    {"SYNs", true, window_syns},
    {"payload packets", true, window_payload_packets},
    WINDOW_PLACE_COLUMNS,
};

static const struct html_column inbound_columns[] = {
    {"time", false, finding_time},
    {"server", false, flow_source},
    {"subscriber", false, flow_destination},
    {"subscriber prefix", false, window_prefix},
    {"pool", false, finding_pool},
    {"segment", false, finding_segment},
    {"sender is MSA", false, window_msa},
    {"packets", true, window_packets},
    {"SYN-ACKs", true, window_syn_acks},
    {"RSTs", true, window_rsts},
    {"payload packets", true, window_payload_packets},
    {"payload bytes", true, window_payload_bytes},
    {"backscatter", false, window_backscatter},
    {"ports varied", false, window_ports_varied},
    WINDOW_PLACE_COLUMNS,
};

/* ---- nonstandard_port_smtp ---- */

static const struct submission_finding *submission_of(const void *row)
{
    return &finding_of(row)->as.submission;
}

CELL(smtp_protocol)
{
    (void)report;
    const char *protocol = submission_of(row)->protocol;
    snprintf(text, size, "%s", protocol != NULL ? protocol : "");
}

CELL(smtp_helo)
{
    (void)report;
    const struct smtp_facts *smtp = &submission_of(row)->smtp;
    snprintf(text, size, "%s", smtp->helo_seen ? smtp->helo : "");
}

CELL(smtp_mail_from)
{
    (void)report;
    snprintf(text, size, "%s", submission_of(row)->smtp.mail_from_domain);
}

/* As the finding's smtp object: a count unseen bytes may have made too low is left out. */
CELL(smtp_rcpt)
{
    (void)report;
    const struct smtp_facts *smtp = &submission_of(row)->smtp;
    if (!smtp->commands_unseen)
        snprintf(text, size, "%u", smtp->rcpt_count);
}

CELL(smtp_rcpt_accepted)
{
    (void)report;
    const struct smtp_facts *smtp = &submission_of(row)->smtp;
    if (!smtp->commands_unseen && !smtp->rcpt_answers_unseen)
        snprintf(text, size, "%u", smtp->rcpt_accepted);
}

CELL(smtp_messages)
{
    (void)report;
    const struct smtp_facts *smtp = &submission_of(row)->smtp;
    if (!smtp->commands_unseen && !smtp->message_answers_unseen)
        snprintf(text, size, "%u", smtp->messages_accepted);
}

CELL(smtp_auth)
{
    (void)report;
    snprintf(text, size, "%s", yes_no(submission_of(row)->smtp.auth_success));
}

CELL(smtp_starttls)
{
    (void)report;
    snprintf(text, size, "%s", yes_no(submission_of(row)->smtp.starttls_accepted));
}

CELL(smtp_close)
{
    (void)report;
    const char *reason = submission_of(row)->close_reason;
    snprintf(text, size, "%s", reason != NULL ? reason : "");
}

static const struct html_column nonstandard_columns[] = {
    {"time", false, finding_time},       {"subscriber", false, flow_source},
    {"server", false, flow_destination}, {"pool", false, finding_pool},
    {"segment", false, finding_segment}, {"protocol", false, smtp_protocol},
    {"EHLO", false, smtp_helo},          {"mail from", false, smtp_mail_from},
    {"RCPT", true, smtp_rcpt},           {"RCPT accepted", true, smtp_rcpt_accepted},
    {"messages", true, smtp_messages},   {"AUTH", false, smtp_auth},
    {"TLS", false, smtp_starttls},       {"ended by", false, smtp_close},
};

/* The columns of an evasion kind; count 0 for a type that is no evasion. */
static const struct html_column *evasion_columns(enum event_type type, size_t *count)
{
    switch (type) {
    case EVENT_TRIANGULAR_SPAM:
        *count = sizeof(triangular_columns) / sizeof(triangular_columns[0]);
        return triangular_columns;
    case EVENT_SPOOFED_SOURCE:
        *count = sizeof(spoofed_columns) / sizeof(spoofed_columns[0]);
        return spoofed_columns;
    case EVENT_ASYMMETRIC_ROUTING:
        *count = sizeof(asymmetric_columns) / sizeof(asymmetric_columns[0]);
        return asymmetric_columns;
    case EVENT_INBOUND_ACL_VIOLATION:
        *count = sizeof(inbound_columns) / sizeof(inbound_columns[0]);
        return inbound_columns;
    case EVENT_NONSTANDARD_PORT_SMTP:
        *count = sizeof(nonstandard_columns) / sizeof(nonstandard_columns[0]);
        return nonstandard_columns;
    default:
        *count = 0;
        return NULL;
    }
}

void html_write_evasion(const struct report *report, FILE *out)
{
    fputs("<h2>6. Evasion findings</h2>\n<p>The ways around OP25B of draft section 4.4.1 "
          "(asymmetric routing, triangular spamming), the missing inbound ACL and source "
          "address validation they rely on, and SMTP relayed on other ports.</p>\n<table>\n"
          "<tr><th>finding</th><th>count</th></tr>\n",
          out);
    for (int t = EVENT_FIRST_FINDING; t < EVENT_TYPE_COUNT; t++) {
        if (!report_is_evasion((enum event_type)t))
            continue;
        fprintf(out, "<tr><td>%s</td><td class=\"n%s\">%llu</td></tr>\n",
                event_type_name((enum event_type)t), report->findings_total[t] > 0 ? " bad" : "",
                (unsigned long long)report->findings_total[t]);
    }
    fputs("</table>\n", out);
    for (int t = EVENT_FIRST_FINDING; t < EVENT_TYPE_COUNT; t++) {
        size_t count;
        const struct html_column *columns = evasion_columns((enum event_type)t, &count);
        if (columns == NULL || report->finding_count[t] == 0)
            continue;
        fprintf(out, "<h3>%s</h3>\n", event_type_name((enum event_type)t));
        if (report->findings_total[t] > report->finding_count[t])
            fprintf(out, "<p class=\"muted\">The first %zu of %llu are listed.</p>\n",
                    report->finding_count[t], (unsigned long long)report->findings_total[t]);
        html_table(out, report, columns, count, report->findings[t], sizeof(struct finding),
                   report->finding_count[t]);
    }
}

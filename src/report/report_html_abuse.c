/* The HTML report's section on the designated MSAs' own abuse: msa_abuse (the draft's
 * pattern I: a subscriber's volume, concurrency, failed logins and quota replies towards the
 * ISP's MSAs) and cleartext_auth (passwords sent before any TLS), as tables of named
 * columns taken from struct msa_abuse_finding and the cleartext finding's smtp facts. */
#include <string.h>

#include "record/finding_fields.h"
#include "report/report_html.h"

#define CELL(name)                                                                                 \
    static void name(const struct report *report, const void *row, char *text, size_t size)
#define COLUMNS(array) array, sizeof(array) / sizeof(array[0])

static const struct finding *finding_of(const void *row)
{
    return row;
}

static void msa_name(const struct report *report, int msa, char *text, size_t size)
{
    if (msa >= 0 && (size_t)msa < report->policy->msa_count)
        snprintf(text, size, "%s", report->policy->msas[msa].name);
}

CELL(finding_pool)
{
    html_cell_pool(report, finding_of(row)->pool, text, size);
}

/* ---- msa_abuse ---- */

static const struct msa_abuse_finding *abuse_of(const void *row)
{
    return &finding_of(row)->as.msa_abuse;
}

CELL(abuse_window)
{
    char start[HTML_CELL_MAX], end[HTML_CELL_MAX];
    html_cell_time(report, abuse_of(row)->window_start, start, sizeof(start));
    html_cell_time(report, abuse_of(row)->window_end, end, sizeof(end));
    bool same_day = strlen(start) > 11 && start[10] == ' ' && strncmp(start, end, 11) == 0;
    snprintf(text, size, "%s to %s", start, same_day ? end + 11 : end);
}

CELL(abuse_subscriber)
{
    (void)report;
    const struct prefix *subscriber = &abuse_of(row)->subscriber;
    if (subscriber->address.family == ADDRESS_V6)
        prefix_format(subscriber, text, size);
    else
        address_format(&subscriber->address, text, size);
}

CELL(abuse_msa)
{
    msa_name(report, abuse_of(row)->msa, text, size);
}

CELL(abuse_exceeded)
{
    (void)report;
    size_t used = 0;
    text[0] = '\0';
    for (int reason = 0; reason < MSA_ABUSE_REASONS && used < size; reason++) {
        if (!(abuse_of(row)->reasons & (1u << reason)))
            continue;
        int written = snprintf(text + used, size - used, "%s%s", used == 0 ? "" : ", ",
                               msa_abuse_reason_name((enum msa_abuse_reason)reason));
        used += written > 0 ? (size_t)written : 0;
    }
}

#define ABUSE_COUNT_CELL(name, member)                                                             \
    CELL(name)                                                                                     \
    {                                                                                              \
        (void)report;                                                                              \
        snprintf(text, size, "%u", abuse_of(row)->member);                                         \
    }
ABUSE_COUNT_CELL(abuse_connections, connections)
ABUSE_COUNT_CELL(abuse_on_25, connections_25)
ABUSE_COUNT_CELL(abuse_on_587, connections_587)
ABUSE_COUNT_CELL(abuse_on_465, connections_465)
ABUSE_COUNT_CELL(abuse_concurrency, peak_concurrency)
ABUSE_COUNT_CELL(abuse_auth_failures, auth_failures)
ABUSE_COUNT_CELL(abuse_quota, quota_replies)
ABUSE_COUNT_CELL(abuse_rcpt, rcpt)
ABUSE_COUNT_CELL(abuse_clear, clear_dialogues)
ABUSE_COUNT_CELL(abuse_tls, tls_connections)
ABUSE_COUNT_CELL(abuse_tls_short, tls_short)

/* "14 of ~1480 bytes": the largest group of alike short TLS connections. */
CELL(abuse_tls_similar)
{
    (void)report;
    const struct msa_abuse_finding *abuse = abuse_of(row);
    if (abuse->tls_short > 0)
        snprintf(text, size, "%u of ~%u bytes", abuse->tls_similar, abuse->tls_similar_bytes);
}

static const struct html_column abuse_columns[] = {
    {"window", false, abuse_window},
    {"subscriber", false, abuse_subscriber},
    {"pool", false, finding_pool},
    {"MSA", false, abuse_msa},
    {"exceeded", false, abuse_exceeded},
    {"connections", true, abuse_connections},
    {"on 25", true, abuse_on_25},
    {"on 587", true, abuse_on_587},
    {"on 465", true, abuse_on_465},
    {"most at once", true, abuse_concurrency},
    {"AUTH failed (535)", true, abuse_auth_failures},
    {"quota replies (421, 452)", true, abuse_quota},
    {"RCPT", true, abuse_rcpt},
    {"read in clear", true, abuse_clear},
    {"under TLS", true, abuse_tls},
    {"short TLS", true, abuse_tls_short},
    {"alike short TLS", false, abuse_tls_similar},
};

/* ---- cleartext_auth ---- */

static const struct smtp_facts *smtp_of(const void *row)
{
    return &finding_of(row)->as.submission.smtp;
}

CELL(clear_time)
{
    html_cell_time(report, finding_of(row)->ts, text, size);
}

CELL(clear_client)
{
    (void)report;
    html_cell_endpoint(&finding_of(row)->flow.src, finding_of(row)->flow.src_port, text, size);
}

CELL(clear_server)
{
    (void)report;
    html_cell_endpoint(&finding_of(row)->flow.dst, finding_of(row)->flow.dst_port, text, size);
}

CELL(clear_msa)
{
    msa_name(report, finding_of(row)->as.submission.msa, text, size);
}

CELL(clear_mechanism)
{
    (void)report;
    snprintf(text, size, "%s", smtp_of(row)->auth_mechanism);
}

CELL(clear_worked)
{
    (void)report;
    snprintf(text, size, "%s", smtp_of(row)->auth_success ? "yes" : "no");
}

CELL(clear_offers_starttls)
{
    (void)report;
    snprintf(text, size, "%s", smtp_of(row)->ehlo_offers_starttls ? "yes" : "no");
}

static const struct html_column cleartext_columns[] = {
    {"time", false, clear_time},
    {"client", false, clear_client},
    {"server", false, clear_server},
    {"pool", false, finding_pool},
    {"MSA", false, clear_msa},
    {"mechanism", false, clear_mechanism},
    {"password accepted", false, clear_worked},
    {"server offers STARTTLS", false, clear_offers_starttls},
};

static void write_type(const struct report *report, FILE *out, enum event_type type,
                       const struct html_column *columns, size_t count, const char *none)
{
    fprintf(out, "<h3>%s: %llu</h3>\n", event_type_name(type),
            (unsigned long long)report->findings_total[type]);
    if (report->finding_count[type] == 0) {
        fprintf(out, "<p>%s</p>\n", none);
        return;
    }
    if (report->findings_total[type] > report->finding_count[type])
        fprintf(out, "<p class=\"muted\">The first %zu of %llu are listed.</p>\n",
                report->finding_count[type], (unsigned long long)report->findings_total[type]);
    html_table(out, report, columns, count, report->findings[type], sizeof(struct finding),
               report->finding_count[type]);
}

void html_write_abuse(const struct report *report, FILE *out)
{
    fputs("<h2>7. The MSAs' own abuse</h2>\n<p>What reaches the designated MSAs the block "
          "leaves open: subscribers whose connections, concurrency, failed logins (535), "
          "quota replies (421, 452) or recipients in a window reach thresholds.msa_abuse, "
          "or whose short TLS connections of one size look like password guessing (draft "
          "section 3.3, pattern I; section 4.4.3); and passwords sent on 25 or 587 before "
          "any TLS, on the wire this sensor watches.</p>\n",
          out);
    write_type(report, out, EVENT_MSA_ABUSE, COLUMNS(abuse_columns),
               "No subscriber reached a threshold towards the MSAs.");
    write_type(report, out, EVENT_CLEARTEXT_AUTH, COLUMNS(cleartext_columns),
               "No password was seen sent in the clear.");
}

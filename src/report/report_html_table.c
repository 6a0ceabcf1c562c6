/* Escaping, and tables of named columns: each cell is plain text made by its column,
 * escaped on the way out; a column that has no value in any row is left out, so a table
 * never shows a column of blanks. */
#include <string.h>

#include "report/report_html.h"

void html_escape(FILE *out, const char *text)
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

void html_escape_address(FILE *out, const struct address *address)
{
    char text[ADDRESS_TEXT_MAX];
    address_format(address, text, sizeof(text));
    html_escape(out, text);
}

/* "2026-01-15 09:00:10", with milliseconds when the time is not on a whole second (the
 * JSON report and the events keep the microseconds); empty for 0. */
static void short_time(packet_time ts, char *text, size_t size)
{
    char full[PACKET_TIME_TEXT_MAX];
    text[0] = '\0';
    if (ts == 0)
        return;
    size_t length = packet_time_format(ts, full, sizeof(full));
    /* YYYY-MM-DDTHH:MM:SS.uuuuuuZ; another form (a year past 9999) is shown whole. */
    if (length != 27 || full[10] != 'T' || full[19] != '.') {
        snprintf(text, size, "%s", full);
        return;
    }
    full[10] = ' ';
    full[strncmp(full + 20, "000", 3) == 0 ? 19 : 23] = '\0';
    snprintf(text, size, "%s", full);
}

bool html_one_day(const struct report *report, char *date, size_t size)
{
    char first[PACKET_TIME_TEXT_MAX], last[PACKET_TIME_TEXT_MAX];
    short_time(report->first_ts, first, sizeof(first));
    short_time(report->end > report->last_ts ? report->end : report->last_ts, last, sizeof(last));
    if (strlen(first) < 19 || strlen(last) < 19 || strncmp(first, last, 11) != 0)
        return false;
    snprintf(date, size, "%.10s", first);
    return true;
}

void html_escape_time(FILE *out, packet_time ts)
{
    char text[PACKET_TIME_TEXT_MAX];
    short_time(ts, text, sizeof(text));
    html_escape(out, text[0] != '\0' ? text : "-");
}

void html_cell_time(const struct report *report, packet_time ts, char *text, size_t size)
{
    char date[16];
    short_time(ts, text, size);
    size_t length = strlen(text);
    if (length > 11 && html_one_day(report, date, sizeof(date)) && strncmp(text, date, 10) == 0)
        memmove(text, text + 11, length - 10);
}

void html_cell_endpoint(const struct address *address, uint16_t port, char *text, size_t size)
{
    char host[ADDRESS_TEXT_MAX];
    text[0] = '\0';
    if (address->family == 0)
        return;
    address_format(address, host, sizeof(host));
    if (address->family == ADDRESS_V6)
        snprintf(text, size, "[%s]:%u", host, port);
    else
        snprintf(text, size, "%s:%u", host, port);
}

void html_cell_pool(const struct report *report, int pool, char *text, size_t size)
{
    const struct policy *policy = report->policy;
    snprintf(text, size, "%s",
             pool >= 0 && (size_t)pool < policy->pool_count ? policy->pools[pool].name : "");
}

void html_cell_segment(const struct report *report, int segment, char *text, size_t size)
{
    const struct policy *policy = report->policy;
    snprintf(text, size, "%s",
             segment >= 0 && (size_t)segment < policy->segment_count
                 ? policy->segments[segment].name
                 : "");
}

static const void *row_at(const void *rows, size_t row_size, size_t index)
{
    return (const char *)rows + index * row_size;
}

/* Which columns have a value in some row. */
static void shown_columns(const struct report *report, const struct html_column *columns,
                          size_t column_count, const void *rows, size_t row_size, size_t count,
                          bool *shown)
{
    char text[HTML_CELL_MAX];
    for (size_t c = 0; c < column_count; c++) {
        shown[c] = false;
        for (size_t r = 0; r < count && !shown[c]; r++) {
            text[0] = '\0';
            columns[c].cell(report, row_at(rows, row_size, r), text, sizeof(text));
            shown[c] = text[0] != '\0';
        }
    }
}

void html_table(FILE *out, const struct report *report, const struct html_column *columns,
                size_t column_count, const void *rows, size_t row_size, size_t count)
{
    bool shown[HTML_COLUMNS_MAX];
    if (column_count > HTML_COLUMNS_MAX)
        column_count = HTML_COLUMNS_MAX;
    shown_columns(report, columns, column_count, rows, row_size, count, shown);
    fputs("<div class=\"wide\"><table class=\"findings\">\n<tr>", out);
    for (size_t c = 0; c < column_count; c++) {
        if (!shown[c])
            continue;
        fputs("<th>", out);
        html_escape(out, columns[c].header);
        fputs("</th>", out);
    }
    fputs("</tr>\n", out);
    char text[HTML_CELL_MAX];
    for (size_t r = 0; r < count; r++) {
        fputs("<tr>", out);
        for (size_t c = 0; c < column_count; c++) {
            if (!shown[c])
                continue;
            text[0] = '\0';
            columns[c].cell(report, row_at(rows, row_size, r), text, sizeof(text));
            fputs(columns[c].numeric ? "<td class=\"n\">" : "<td>", out);
            html_escape(out, text);
            fputs("</td>", out);
        }
        fputs("</tr>\n", out);
    }
    fputs("</table></div>\n", out);
}

/* The HTML report's pieces, shared by its files: escaping, tables of named columns whose
 * empty columns are left out, the charts, the summary and the findings. Private to the
 * HTML writer (report_write_html in report_html.c puts the page together). */
#ifndef OP25B_REPORT_HTML_H
#define OP25B_REPORT_HTML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "report/report.h"

/* The longest text of one table cell. */
#define HTML_CELL_MAX 512
/* The most columns a table has. */
#define HTML_COLUMNS_MAX 32

extern const char *const html_verdict_colors[VERDICT_COUNT];

/* Text that came off the wire or out of the policy, made safe to show. */
void html_escape(FILE *out, const char *text);
void html_escape_address(FILE *out, const struct address *address);
void html_escape_time(FILE *out, packet_time ts);

/* A column: its header, and how to write one row's cell as plain text (escaped when the
 * table is written). An empty cell has no value; a column without a value in any row is
 * left out of the table. */
struct html_column {
    const char *header;
    bool numeric;
    void (*cell)(const struct report *report, const void *row, char *text, size_t size);
};

/* count rows of row_size bytes each, from rows. */
void html_table(FILE *out, const struct report *report, const struct html_column *columns,
                size_t column_count, const void *rows, size_t row_size, size_t count);

/* Cells every table uses. A time is "2026-01-15 09:00:10" (milliseconds when not on a
 * whole second), or "09:00:10" when the whole report lies in one UTC day, which the
 * page's heading names (html_one_day gives it, YYYY-MM-DD). */
bool html_one_day(const struct report *report, char *date, size_t size);
void html_cell_time(const struct report *report, packet_time ts, char *text, size_t size);
/* "192.0.2.1:25", "[2001:db8::1]:25". */
void html_cell_endpoint(const struct address *address, uint16_t port, char *text, size_t size);
void html_cell_pool(const struct report *report, int pool, char *text, size_t size);
void html_cell_segment(const struct report *report, int segment, char *text, size_t size);

void html_coverage_chart(const struct report *report, FILE *out);
void html_timeline_chart(const struct report *report, FILE *out);
void html_legend(FILE *out);

/* The summary that opens the page (report_html_summary.c). */
void html_write_summary(const struct report *report, FILE *out);
/* The findings tables (report_html_findings.c). */
void html_write_leaks(const struct report *report, FILE *out);
void html_write_suspects(const struct report *report, FILE *out);
void html_write_evasion(const struct report *report, FILE *out);
/* msa_abuse and cleartext_auth (report_html_abuse.c). */
void html_write_abuse(const struct report *report, FILE *out);
/* What the block breaks (report_html_collateral.c): the end of the coverage audit. */
void html_write_collateral(const struct report *report, FILE *out);

#endif

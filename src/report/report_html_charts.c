/* The report's charts, inline SVG drawn here (nothing fetched): attempts and coverage per
 * blocking point, attempts over time, and the verdict colours' legend. */
#include <stdlib.h>

#include "report/report_html.h"

const char *const html_verdict_colors[VERDICT_COUNT] = {
    "#4e79a7", /* allowed */
    "#59a14f", /* blocked */
    "#e15759", /* leaked */
    "#f28e2b", /* would_block */
    "#9d9d9d", /* unknown */
};

void html_legend(FILE *out)
{
    fputs("<p class=\"legend\">", out);
    for (int v = 0; v < VERDICT_COUNT; v++)
        fprintf(out, "<span><i style=\"background:%s\"></i>%s</span> ", html_verdict_colors[v],
                verdict_name((enum verdict)v));
    fputs("</p>\n", out);
}

struct bar {
    char label[160];
    struct coverage_counts counts;
};

/* One horizontal bar per blocking point and family, split by verdict. */
void html_coverage_chart(const struct report *report, FILE *out)
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
        html_escape(out, bar->label);
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
                    x, y, w, html_verdict_colors[v], verdict_name((enum verdict)v),
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
void html_timeline_chart(const struct report *report, FILE *out)
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
                    left + column * (double)i + column * 0.1, y, column * 0.8, h,
                    html_verdict_colors[v], verdict_name((enum verdict)v),
                    (unsigned long long)value);
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

/* What the block breaks, summed for the report: collateral_block findings by blocking point,
 * pool, reason and server port, each with its evidence and first and last time. The rows are
 * bounded; findings past them are counted as not kept, and all are in the findings' total. */
#include <stdlib.h>
#include <string.h>

#include "report/report.h"

static struct report_collateral_row *row_for(struct report_collateral *collateral, int point,
                                             int pool, unsigned reason, uint16_t port)
{
    for (size_t i = 0; i < collateral->count; i++) {
        struct report_collateral_row *row = &collateral->rows[i];
        if (row->blocking_point == point && row->pool == pool && row->reason == reason &&
            row->port == port)
            return row;
    }
    if (collateral->count == REPORT_COLLATERAL_ROWS)
        return NULL;
    struct report_collateral_row *row = &collateral->rows[collateral->count++];
    memset(row, 0, sizeof(*row));
    row->blocking_point = point;
    row->pool = pool;
    row->reason = (uint8_t)reason;
    row->port = port;
    return row;
}

static void add_times(struct report_collateral_row *row, packet_time first, packet_time last)
{
    if (row->first_seen == 0 || first < row->first_seen)
        row->first_seen = first;
    if (last > row->last_seen)
        row->last_seen = last;
}

void report_collateral_note(struct report_collateral *collateral, const struct finding *finding,
                            const struct policy *policy)
{
    const struct collateral_finding *facts = &finding->as.collateral;
    if (facts->reason >= COLLATERAL_REASONS || facts->evidence >= COLLATERAL_EVIDENCES)
        return;
    struct report_collateral_row *row =
        row_for(collateral, finding_blocking_point(finding, policy), finding->pool, facts->reason,
                finding->flow.dst_port);
    if (row == NULL) {
        collateral->not_kept++;
        return;
    }
    row->findings++;
    row->by_evidence[facts->evidence]++;
    add_times(row, finding->ts, finding->ts);
}

void report_collateral_merge(struct report_collateral *into, const struct report_collateral *from)
{
    into->not_kept += from->not_kept;
    for (size_t i = 0; i < from->count && i < REPORT_COLLATERAL_ROWS; i++) {
        const struct report_collateral_row *add = &from->rows[i];
        struct report_collateral_row *row =
            row_for(into, add->blocking_point, add->pool, add->reason, add->port);
        if (row == NULL) {
            into->not_kept += add->findings;
            continue;
        }
        row->findings += add->findings;
        for (int e = 0; e < COLLATERAL_EVIDENCES; e++)
            row->by_evidence[e] += add->by_evidence[e];
        add_times(row, add->first_seen, add->last_seen);
    }
}

static int row_order(const void *a, const void *b)
{
    const struct report_collateral_row *x = a, *y = b;
    if (x->blocking_point != y->blocking_point)
        return x->blocking_point < y->blocking_point ? -1 : 1;
    if (x->pool != y->pool)
        return x->pool < y->pool ? -1 : 1;
    if (x->reason != y->reason)
        return x->reason < y->reason ? -1 : 1;
    return (x->port > y->port) - (x->port < y->port);
}

void report_collateral_order(struct report_collateral *collateral)
{
    if (collateral->count > 1)
        qsort(collateral->rows, collateral->count, sizeof(collateral->rows[0]), row_order);
}

#include "correlate/decide.h"

static const char *const reason_names[REASON_COUNT] = {
    "msa",
    "planned",
    "core_side_seen",
    "leak_evidence",
    "absent_core_side",
    "block_evidence",
    "no_core_side_sensor",
    "core_side_silent",
    "no_blocking_point",
};

const char *fleet_reason_name(enum fleet_reason reason)
{
    return reason >= 0 && reason < REASON_COUNT ? reason_names[reason] : "unknown";
}

/* The sensor's silence about the attempt is proof it did not see it: its clock passed the
 * attempt's last packet by the window, or it ended after that packet (a sensor writes
 * every open attempt when its input ends). */
static bool silence_counts(const struct sensor_view *view, const struct fleet_attempt *attempt,
                           packet_time window)
{
    return view->clock > attempt->end + window || (view->ended && view->ended_at >= attempt->end);
}

bool fleet_ready(const struct policy *policy, const struct fleet_attempt *attempt,
                 const struct sensor_view *views, packet_time window)
{
    for (size_t s = 0; s < policy->fleet_sensor_count; s++) {
        if (!policy_fleet_carries(policy, (int)s, attempt->pool) ||
            join_report_of(attempt, (int)s) != NULL)
            continue;
        const struct sensor_view *view = &views[s];
        if (!silence_counts(view, attempt, window) && !view->ended && !view->quiet)
            return false;
    }
    return true;
}

static bool any_verdict(const struct fleet_attempt *attempt, enum verdict verdict)
{
    for (int i = 0; i < attempt->report_count; i++) {
        if (attempt->reports[i].verdict == verdict)
            return true;
    }
    return false;
}

/* Without a blocking point the sensors' own verdicts are all there is: the strongest. */
static enum verdict strongest(const struct fleet_attempt *attempt)
{
    static const enum verdict order[] = {VERDICT_LEAKED, VERDICT_BLOCKED, VERDICT_WOULD_BLOCK};
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        if (any_verdict(attempt, order[i]))
            return order[i];
    }
    return VERDICT_UNKNOWN;
}

/* Seen core-side of the point by a sensor, or leak evidence anywhere. */
static bool leaked(const struct policy *policy, const struct fleet_attempt *attempt, int point,
                   enum fleet_reason *reason)
{
    for (int i = 0; i < attempt->report_count; i++) {
        const struct fleet_sensor *sensor = &policy->fleet_sensors[attempt->reports[i].sensor];
        if (sensor->positions[point] == POSITION_CORE_SIDE) {
            *reason = REASON_CORE_SIDE_SEEN;
            return true;
        }
    }
    for (int i = 0; i < attempt->report_count; i++) {
        if (attempt->reports[i].evidence & EVIDENCE_LEAK_MASK) {
            *reason = REASON_LEAK_EVIDENCE;
            return true;
        }
    }
    return false;
}

/* Only edge-side reports, none with leak evidence: held when every core-side sensor that
 * carries the pool was silent where silence counts. */
static void edge_only(const struct policy *policy, const struct fleet_attempt *attempt, int point,
                      const struct sensor_view *views, packet_time window,
                      struct fleet_decision *out)
{
    size_t core_sensors = 0, vouching = 0;
    for (size_t s = 0; s < policy->fleet_sensor_count; s++) {
        if (!policy_fleet_carries(policy, (int)s, attempt->pool) ||
            policy->fleet_sensors[s].positions[point] != POSITION_CORE_SIDE)
            continue;
        core_sensors++;
        vouching += silence_counts(&views[s], attempt, window);
    }
    out->verdict = VERDICT_BLOCKED;
    out->held = true;
    if (core_sensors > 0 && vouching == core_sensors) {
        out->reason = REASON_ABSENT_CORE_SIDE;
    } else if (any_verdict(attempt, VERDICT_BLOCKED)) {
        out->reason = REASON_BLOCK_EVIDENCE;
    } else {
        out->verdict = VERDICT_UNKNOWN;
        out->held = false;
        out->reason = core_sensors == 0 ? REASON_NO_CORE_SIDE : REASON_CORE_SIDE_SILENT;
    }
}

void fleet_decide(const struct policy *policy, const struct fleet_attempt *attempt,
                  const struct sensor_view *views, packet_time window, struct fleet_decision *out)
{
    int point = policy->pools[attempt->pool].blocking_point;
    *out = (struct fleet_decision){.verdict = VERDICT_UNKNOWN, .point = point};
    enum fleet_reason reason;
    if (any_verdict(attempt, VERDICT_ALLOWED)) {
        out->verdict = VERDICT_ALLOWED;
        out->reason = REASON_MSA;
    } else if (point == POLICY_NO_INDEX) {
        out->verdict = strongest(attempt);
        out->reason = REASON_NO_BLOCKING_POINT;
    } else if (policy->blocking_points[point].state == BLOCKING_PLANNED) {
        out->verdict = VERDICT_WOULD_BLOCK;
        out->reason = REASON_PLANNED;
    } else if (leaked(policy, attempt, point, &reason)) {
        out->verdict = VERDICT_LEAKED;
        out->reason = reason;
        out->failed = true;
    } else {
        edge_only(policy, attempt, point, views, window, out);
    }
}

#include "correlate/correlator.h"

#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* How many messages of a partition between two looks at what waits there. */
#define SCAN_EVERY 256

int correlator_init(struct correlator *correlator, const struct policy *policy,
                    const struct correlate_options *options, struct fleet_output *output,
                    struct sensor_clocks *clocks)
{
    memset(correlator, 0, sizeof(*correlator));
    correlator->policy = policy;
    correlator->options = options;
    correlator->output = output;
    correlator->clocks = clocks;
    size_t sensors = policy->fleet_sensor_count;
    correlator->views = calloc(sensors, sizeof(*correlator->views));
    correlator->counts.sensor_reports = calloc(sensors, sizeof(uint64_t));
    correlator->leaks_at = calloc(policy->blocking_point_count + 1, sizeof(uint64_t));
    correlator->held_at = calloc(policy->blocking_point_count + 1, sizeof(uint64_t));
    if (correlator->views == NULL || correlator->counts.sensor_reports == NULL ||
        correlator->leaks_at == NULL || correlator->held_at == NULL ||
        coverage_init(&correlator->totals, policy->pool_count) != 0)
        return -1;
    return 0;
}

static void state_free(struct partition_state *state)
{
    join_free(&state->join);
    free(state->clock);
    resume_free(&state->resumed);
    coverage_free(&state->pending);
    free(state);
}

void correlator_free(struct correlator *correlator)
{
    for (size_t i = 0; i < correlator->partition_slots; i++) {
        if (correlator->partitions[i] != NULL)
            state_free(correlator->partitions[i]);
    }
    free(correlator->partitions);
    free(correlator->views);
    free(correlator->counts.sensor_reports);
    free(correlator->leaks_at);
    free(correlator->held_at);
    coverage_free(&correlator->totals);
    memset(correlator, 0, sizeof(*correlator));
}

struct partition_state *correlator_partition(struct correlator *correlator, int32_t id)
{
    if (id < 0 || (size_t)id >= correlator->partition_slots)
        return NULL;
    return correlator->partitions[id];
}

static packet_time next_boundary(const struct policy *policy, packet_time ts)
{
    packet_time interval = policy->stats_interval;
    return (ts / interval + 1) * interval;
}

/* Counts written since the partition's last fleet_coverage, taken over from its output. */
static void take_over(const struct policy *policy, struct partition_state *state)
{
    struct resume_point *resumed = &state->resumed;
    state->next_offset = resumed->resume;
    state->position_floor = resumed->position;
    size_t slots = policy->pool_count * 2;
    memcpy(state->pending.counts, resumed->pending.counts, slots * sizeof(*state->pending.counts));
    for (size_t i = 0; i < slots; i++)
        state->pending_any = state->pending_any || coverage_attempts(&state->pending.counts[i]) > 0;
    state->written_ts = resumed->written_ts;
    if (resumed->coverage_ts > 0)
        state->next_coverage = next_boundary(policy, resumed->coverage_ts);
    else if (resumed->written_ts > 0)
        state->next_coverage = next_boundary(policy, resumed->written_ts);
}

static int make_room(struct correlator *correlator, int32_t id)
{
    if ((size_t)id < correlator->partition_slots)
        return 0;
    size_t slots = (size_t)id + 1;
    struct partition_state **larger = realloc(correlator->partitions, slots * sizeof(*larger));
    if (larger == NULL)
        return -1;
    for (size_t i = correlator->partition_slots; i < slots; i++)
        larger[i] = NULL;
    correlator->partitions = larger;
    correlator->partition_slots = slots;
    return 0;
}

int correlator_assign(struct correlator *correlator, int32_t id, struct resume_point *resumed)
{
    const struct policy *policy = correlator->policy;
    if (id < 0 || make_room(correlator, id) != 0)
        return -1;
    correlator_revoke(correlator, id);
    struct partition_state *state = calloc(1, sizeof(*state));
    if (state == NULL)
        return -1;
    state->id = id;
    state->clock = calloc(policy->fleet_sensor_count, sizeof(*state->clock));
    if (state->clock == NULL || join_init(&state->join) != 0 ||
        coverage_init(&state->pending, policy->pool_count) != 0) {
        state_free(state);
        return -1;
    }
    state->next_offset = -1;
    state->resumed = *resumed;
    memset(resumed, 0, sizeof(*resumed));
    if (state->resumed.found)
        take_over(policy, state);
    correlator->partitions[id] = state;
    return 0;
}

static void write_coverage(struct correlator *correlator, struct partition_state *state,
                           packet_time ts, bool final);

void correlator_release(struct correlator *correlator, int32_t id)
{
    struct partition_state *state = correlator_partition(correlator, id);
    if (state != NULL && state->pending_any)
        write_coverage(correlator, state, state->written_ts, false);
}

void correlator_revoke(struct correlator *correlator, int32_t id)
{
    struct partition_state *state = correlator_partition(correlator, id);
    if (state == NULL)
        return;
    correlator->pending -= state->join.count;
    state_free(state);
    correlator->partitions[id] = NULL;
}

int64_t correlator_resume_offset(const struct partition_state *state)
{
    return state->join.oldest != NULL ? state->join.oldest->first_offset : state->next_offset;
}

/* What the fleet knows of each sensor, seen from this partition. A sensor's periodic
 * clock counts here only once the partition was read to its end a grace after it was
 * learned: then every report the sensor made before that clock is read. */
static const struct sensor_view *views_of(struct correlator *correlator,
                                          const struct partition_state *state, double now)
{
    const struct sensor_clocks *clocks = correlator->clocks;
    for (size_t s = 0; s < correlator->policy->fleet_sensor_count; s++) {
        const struct sensor_clock *clock = &clocks->sensors[s];
        struct sensor_view *view = &correlator->views[s];
        bool current =
            state->at_end && state->end_seen >= clock->learned + SENSOR_CLOCK_GRACE_SECONDS;
        view->clock = state->clock[s];
        if (current && clock->clock > view->clock)
            view->clock = clock->clock;
        view->ended = current && clock->ended;
        view->ended_at = clock->clock;
        view->quiet = now - clock->heard > correlator->options->sensor_timeout;
    }
    return correlator->views;
}

static void write_coverage(struct correlator *correlator, struct partition_state *state,
                           packet_time ts, bool final)
{
    struct fleet_mark mark = {
        .partition = state->id,
        .resume = correlator_resume_offset(state),
        .position =
            state->next_offset > state->position_floor ? state->next_offset : state->position_floor,
    };
    fleet_output_coverage(correlator->output, &state->pending, ts, final, &mark);
    memset(state->pending.counts, 0,
           correlator->policy->pool_count * 2 * sizeof(*state->pending.counts));
    state->pending_any = false;
}

static void decide(struct correlator *correlator, struct partition_state *state,
                   struct fleet_attempt *attempt, const struct sensor_view *views)
{
    struct fleet_decision decision;
    fleet_decide(correlator->policy, attempt, views, correlator->options->window, &decision);
    int64_t offsets[FLEET_REPORTS_MAX];
    for (int i = 0; i < attempt->report_count; i++)
        offsets[i] = attempt->reports[i].offset;
    /* The oldest report still needed once this attempt is written. */
    const struct fleet_attempt *oldest =
        state->join.oldest == attempt ? attempt->newer : state->join.oldest;
    struct fleet_mark mark = {
        .partition = state->id,
        .offsets = offsets,
        .offset_count = attempt->report_count,
        .resume = oldest != NULL ? oldest->first_offset : state->next_offset,
        .position =
            state->next_offset > state->position_floor ? state->next_offset : state->position_floor,
    };
    fleet_output_attempt(correlator->output, attempt, &decision, &mark);
    coverage_add(&state->pending, attempt->pool, attempt->family, decision.verdict);
    coverage_add(&correlator->totals, attempt->pool, attempt->family, decision.verdict);
    /* Counted as fleet_output_attempt names them: held_at and failed_at need a point. */
    if (decision.point != POLICY_NO_INDEX && decision.held)
        correlator->held_at[decision.point]++;
    if (decision.point != POLICY_NO_INDEX && decision.failed)
        correlator->leaks_at[decision.point]++;
    state->pending_any = true;
    packet_time ts = attempt->start;
    join_remove(&state->join, attempt);
    correlator->pending--;
    if (ts > state->written_ts)
        state->written_ts = ts;
    if (state->next_coverage == 0)
        state->next_coverage = next_boundary(correlator->policy, ts);
    if (state->written_ts >= state->next_coverage) {
        packet_time interval = correlator->policy->stats_interval;
        write_coverage(correlator, state, state->written_ts / interval * interval, false);
        state->next_coverage = next_boundary(correlator->policy, state->written_ts);
    }
}

static void decide_partition(struct correlator *correlator, struct partition_state *state,
                             double now)
{
    const struct sensor_view *views = views_of(correlator, state, now);
    struct fleet_attempt *attempt = state->join.oldest;
    while (attempt != NULL) {
        struct fleet_attempt *next = attempt->newer;
        if (fleet_ready(correlator->policy, attempt, views, correlator->options->window))
            decide(correlator, state, attempt, views);
        attempt = next;
    }
}

static void observe(struct correlator *correlator, struct partition_state *state,
                    const struct fleet_input *input)
{
    if (input->sensor < 0)
        return;
    packet_time clock = input->kind == INPUT_ATTEMPT ? input->end : input->ts;
    if (clock > state->clock[input->sensor])
        state->clock[input->sensor] = clock;
    sensor_clocks_observe(correlator->clocks, input->sensor, input->ts, input->kind == INPUT_CLOCK,
                          input->final);
}

static void count_input(struct correlator *correlator, const struct fleet_input *input)
{
    if (input->kind == INPUT_STRANGER)
        correlator->counts.strangers++;
    else if (input->kind == INPUT_BAD)
        correlator->counts.bad++;
}

static void join_report(struct correlator *correlator, struct partition_state *state,
                        const struct fleet_input *input, const void *key, size_t key_length,
                        int64_t offset)
{
    if (resume_skips(&state->resumed, offset)) {
        correlator->counts.skipped++;
        return;
    }
    size_t before = state->join.count;
    struct fleet_attempt *attempt =
        join_add(&state->join, input, key, key_length, offset, correlator->options->skew);
    if (attempt == NULL) {
        log_message(LOG_ERROR, "out of memory: a report of partition %d is lost", state->id);
        return;
    }
    correlator->pending += state->join.count - before;
    correlator->counts.reports++;
    correlator->counts.sensor_reports[input->sensor]++;
    double now = monotonic_seconds();
    const struct sensor_view *views = views_of(correlator, state, now);
    if (fleet_ready(correlator->policy, attempt, views, correlator->options->window))
        decide(correlator, state, attempt, views);
    while (correlator->pending > correlator->options->pending_max && state->join.oldest != NULL) {
        correlator->counts.forced++;
        decide(correlator, state, state->join.oldest, views);
    }
}

void correlator_message(struct correlator *correlator, int32_t id, int64_t offset, const void *key,
                        size_t key_length, const char *type, const void *value, size_t length)
{
    struct partition_state *state = correlator_partition(correlator, id);
    if (state == NULL)
        return;
    state->next_offset = offset + 1;
    state->at_end = false;
    struct fleet_input input;
    fleet_input_read(correlator->policy, type, value, length, &input);
    count_input(correlator, &input);
    observe(correlator, state, &input);
    if (input.kind == INPUT_ATTEMPT)
        join_report(correlator, state, &input, key != NULL ? key : "", key != NULL ? key_length : 0,
                    offset);
    else if (input.kind == INPUT_OTHER && input.sensor >= 0)
        correlator->counts.not_judged++;
    if (offset % SCAN_EVERY == 0)
        decide_partition(correlator, state, monotonic_seconds());
}

void correlator_at_end(struct correlator *correlator, int32_t id)
{
    struct partition_state *state = correlator_partition(correlator, id);
    if (state == NULL)
        return;
    state->at_end = true;
    state->end_seen = monotonic_seconds();
    decide_partition(correlator, state, state->end_seen);
}

void correlator_decide_ready(struct correlator *correlator)
{
    double now = monotonic_seconds();
    for (size_t i = 0; i < correlator->partition_slots; i++) {
        if (correlator->partitions[i] != NULL)
            decide_partition(correlator, correlator->partitions[i], now);
    }
}

void correlator_finish(struct correlator *correlator)
{
    double now = monotonic_seconds();
    for (size_t i = 0; i < correlator->partition_slots; i++) {
        struct partition_state *state = correlator->partitions[i];
        if (state == NULL)
            continue;
        const struct sensor_view *views = views_of(correlator, state, now);
        while (state->join.oldest != NULL) {
            correlator->counts.forced++;
            decide(correlator, state, state->join.oldest, views);
        }
        if (state->pending_any)
            write_coverage(correlator, state, state->written_ts, true);
    }
}

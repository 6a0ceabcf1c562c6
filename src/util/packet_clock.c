#include "util/packet_clock.h"

#include <string.h>

void packet_clock_init(struct packet_clock *clock)
{
    memset(clock, 0, sizeof(*clock));
}

/* Both times lie within PACKET_TIME_MIN..MAX, so the differences cannot overflow. */
static bool near(packet_time a, packet_time b)
{
    return a - b <= PACKET_CLOCK_JUMP && b - a <= PACKET_CLOCK_JUMP;
}

static void add(struct clock_plan *plan, enum clock_action action, enum clock_judgement judgement,
                unsigned slot, packet_time at)
{
    plan->steps[plan->count++] = (struct clock_step){action, judgement, slot, at};
}

/* A time taken as the packet's own: the clock moves to it, or it is a regression. */
static enum clock_judgement accept(struct packet_clock *clock, packet_time at)
{
    if (at < clock->now)
        return CLOCK_REGRESSION;
    clock->now = at;
    return CLOCK_ON_TIME;
}

static void release_on_time(struct packet_clock *clock, struct clock_plan *plan, unsigned slot)
{
    packet_time at = clock->held_at[slot];
    add(plan, CLOCK_RELEASE, accept(clock, at), slot, at);
}

static void release_outlier(struct packet_clock *clock, struct clock_plan *plan, unsigned slot)
{
    add(plan, CLOCK_RELEASE, CLOCK_OUTLIER, slot, clock->now);
}

static void start(struct packet_clock *clock, packet_time at)
{
    clock->started = true;
    clock->now = at;
}

/* The held packet was vouched for: a real jump. Returns the shift applied to later times. */
static packet_time confirm(struct packet_clock *clock, struct clock_plan *plan)
{
    packet_time held = clock->held_at[0];
    clock->held = 0;
    if (held >= clock->now) {
        release_on_time(clock, plan, 0);
        return 0;
    }
    packet_time shift = clock->now - held;
    clock->offset += shift;
    plan->stepped_back = shift;
    add(plan, CLOCK_RELEASE, CLOCK_ON_TIME, 0, clock->now);
    return shift;
}

/* The time `at` (of the next packet, or a tick) does not return towards the clock: it is
 * near the held one or beyond it, on the far side. A damaged timestamp sits alone: the packets
 * after it come back to the clock. Time that really jumped stays away, whether the next
 * packet follows closely or after another gap (a sparse capture of lone packets hours
 * apart). */
static bool vouches(const struct packet_clock *clock, packet_time at)
{
    packet_time held = clock->held_at[0];
    if (clock->held != 1 || near(at, clock->now))
        return false;
    return held > clock->now ? at > held - PACKET_CLOCK_JUMP : at < held + PACKET_CLOCK_JUMP;
}

static void take_started(struct packet_clock *clock, packet_time at, bool can_hold,
                         struct clock_plan *plan)
{
    if (vouches(clock, at))
        at = packet_time_clamp(at + confirm(clock, plan)); /* then judged against it */
    else if (clock->held == 1)
        release_outlier(clock, plan, 0);
    clock->held = 0;
    if (near(at, clock->now)) {
        add(plan, CLOCK_PROCESS, accept(clock, at), 0, at);
    } else if (can_hold) {
        clock->held_at[0] = at;
        clock->held = 1;
        add(plan, CLOCK_HOLD, CLOCK_ON_TIME, 0, at);
    } else {
        add(plan, CLOCK_PROCESS, CLOCK_OUTLIER, 0, clock->now);
    }
}

/* Two held: the second far behind the first. The third sides with one of them; when it sides
 * with neither, the second starts the clock, the first having been contradicted twice. */
static void start_from_two(struct packet_clock *clock, packet_time at, struct clock_plan *plan)
{
    packet_time first = clock->held_at[0], second = clock->held_at[1];
    clock->held = 0;
    if (near(at, first) && !near(at, second)) {
        start(clock, first);
        release_on_time(clock, plan, 0);
        release_outlier(clock, plan, 1);
    } else {
        start(clock, second);
        release_outlier(clock, plan, 0);
        release_on_time(clock, plan, 1);
    }
}

static void take_unstarted(struct packet_clock *clock, packet_time at, bool can_hold,
                           struct clock_plan *plan)
{
    if (clock->held == 2) {
        start_from_two(clock, at, plan);
    } else if (clock->held == 1 && can_hold && !near(at, clock->held_at[0]) &&
               at < clock->held_at[0]) {
        /* Far behind the first: one of the two is damaged, and a third must say which. */
        clock->held_at[1] = at;
        clock->held = 2;
        add(plan, CLOCK_HOLD, CLOCK_ON_TIME, 1, at);
        return;
    } else if (clock->held == 1) {
        /* Near it, or after it (a first packet followed by a gap): the first starts it. */
        start(clock, clock->held_at[0]);
        clock->held = 0;
        release_on_time(clock, plan, 0);
    } else if (can_hold) {
        clock->held_at[0] = at;
        clock->held = 1;
        add(plan, CLOCK_HOLD, CLOCK_ON_TIME, 0, at);
        return;
    } else {
        start(clock, at);
    }
    take_started(clock, at, can_hold, plan);
}

/* Timestamps are clamped before the offset is added and after, so neither sum overflows. */
static packet_time shifted(const struct packet_clock *clock, packet_time ts)
{
    return packet_time_clamp(packet_time_clamp(ts) + clock->offset);
}

void packet_clock_take(struct packet_clock *clock, packet_time ts, bool can_hold,
                       struct clock_plan *plan)
{
    memset(plan, 0, sizeof(*plan));
    packet_time at = shifted(clock, ts);
    if (clock->started)
        take_started(clock, at, can_hold, plan);
    else
        take_unstarted(clock, at, can_hold, plan);
    plan->advance_to = clock->now;
}

void packet_clock_tick(struct packet_clock *clock, packet_time now, struct clock_plan *plan)
{
    memset(plan, 0, sizeof(*plan));
    packet_time at = shifted(clock, now);
    if (!clock->started && clock->held == 2) {
        start_from_two(clock, at, plan);
    } else if (!clock->started && clock->held == 1) {
        /* A first packet far ahead of the host's clock is the damaged one. */
        clock->held = 0;
        if (near(at, clock->held_at[0]) || at > clock->held_at[0]) {
            start(clock, clock->held_at[0]);
            release_on_time(clock, plan, 0);
        } else {
            start(clock, at);
            release_outlier(clock, plan, 0);
        }
    } else if (!clock->started) {
        start(clock, at);
    } else if (vouches(clock, at)) {
        at = packet_time_clamp(at + confirm(clock, plan));
    } else if (clock->held == 1) {
        clock->held = 0;
        release_outlier(clock, plan, 0);
    }
    if (at > clock->now)
        clock->now = at;
    plan->advance_to = clock->now;
}

void packet_clock_flush(struct packet_clock *clock, struct clock_plan *plan)
{
    memset(plan, 0, sizeof(*plan));
    if (!clock->started && clock->held > 0) {
        /* No one to side with either: the first packet starts the clock, as it always did. */
        start(clock, clock->held_at[0]);
        release_on_time(clock, plan, 0);
        if (clock->held == 2)
            release_outlier(clock, plan, 1);
    } else if (clock->held == 1) {
        release_outlier(clock, plan, 0);
    }
    clock->held = 0;
    plan->advance_to = clock->now;
}

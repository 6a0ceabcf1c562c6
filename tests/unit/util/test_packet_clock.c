/* The packet clock (src/util/packet_clock.c): which time each packet is judged at when a
 * timestamp is damaged, and that real jumps still move the clock. A small model of the
 * sensor's hold carries out each plan, so every test reads as packets in, times out. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "util/packet_clock.h"

#define S PACKET_TIME_SECOND
#define BASE ((packet_time)1768467600 * S)      /* 2026-01-15T09:00:00Z */
#define FLIP_AHEAD ((packet_time)(1 << 26) * S) /* bit 26 of the seconds: +2.1 years */

/* What the sensor would do: packets are numbered in arrival order; each judged one is
 * recorded with the time it was judged at, and the judgements are counted. */
struct run {
    struct packet_clock clock;
    int held[PACKET_CLOCK_HELD_MAX];
    int order[64];
    packet_time at[64];
    unsigned judged;
    unsigned outliers;
    unsigned regressions;
    packet_time stepped_back;
    int next;
};

static void carry_out(struct run *run, const struct clock_plan *plan, int packet)
{
    for (unsigned i = 0; i < plan->count; i++) {
        const struct clock_step *step = &plan->steps[i];
        if (step->action == CLOCK_HOLD) {
            run->held[step->slot] = packet;
            continue;
        }
        cr_assert_lt(run->judged, 64);
        run->order[run->judged] = step->action == CLOCK_PROCESS ? packet : run->held[step->slot];
        run->at[run->judged] = step->at;
        run->judged++;
        run->outliers += step->judgement == CLOCK_OUTLIER;
        run->regressions += step->judgement == CLOCK_REGRESSION;
    }
    run->stepped_back += plan->stepped_back;
}

static void packet(struct run *run, packet_time ts)
{
    struct clock_plan plan;
    packet_clock_take(&run->clock, ts, true, &plan);
    carry_out(run, &plan, run->next++);
}

static void flush(struct run *run)
{
    struct clock_plan plan;
    packet_clock_flush(&run->clock, &plan);
    carry_out(run, &plan, -1);
}

static void init(struct run *run)
{
    memset(run, 0, sizeof(*run));
    packet_clock_init(&run->clock);
}

/* Every packet judged once, in arrival order, at these times. */
static void expect(const struct run *run, const packet_time *times, unsigned count)
{
    cr_assert_eq(run->judged, count, "%u judged, %u expected", run->judged, count);
    for (unsigned i = 0; i < count; i++) {
        cr_assert_eq(run->order[i], (int)i, "packet %d judged in place %u", run->order[i], i);
        cr_assert_eq(run->at[i], times[i], "packet %u judged at %lld, expected %lld", i,
                     (long long)run->at[i], (long long)times[i]);
    }
}

Test(packet_clock, ordinary_packets_keep_their_times)
{
    struct run run;
    init(&run);
    packet_time times[] = {BASE, BASE + S / 10, BASE + 2 * S, BASE + 59 * S, BASE + 100 * S};
    for (unsigned i = 0; i < 5; i++)
        packet(&run, times[i]);
    flush(&run);
    expect(&run, times, 5);
    cr_assert_eq(run.outliers, 0);
    cr_assert_eq(run.clock.now, BASE + 100 * S);
}

Test(packet_clock, small_regressions_keep_their_own_times)
{
    struct run run;
    init(&run);
    packet_time times[] = {BASE, BASE + 10 * S, BASE + 4 * S, BASE + 11 * S};
    for (unsigned i = 0; i < 4; i++)
        packet(&run, times[i]);
    flush(&run);
    expect(&run, times, 4);
    cr_assert_eq(run.regressions, 1);
    cr_assert_eq(run.outliers, 0);
}

/* One bit flipped into 2028 mid-dialogue, one into the past: both judged at the clock's
 * time, counted, and the clock never left 2026. */
Test(packet_clock, a_future_and_a_past_outlier_do_not_move_the_clock)
{
    struct run run;
    init(&run);
    packet(&run, BASE);
    packet(&run, BASE + S);
    packet(&run, BASE + 2 * S + FLIP_AHEAD);
    packet(&run, BASE + 3 * S);
    packet(&run, BASE + 4 * S - 2 * FLIP_AHEAD);
    packet(&run, BASE + 5 * S);
    flush(&run);
    packet_time want[] = {BASE, BASE + S, BASE + S, BASE + 3 * S, BASE + 3 * S, BASE + 5 * S};
    expect(&run, want, 6);
    cr_assert_eq(run.outliers, 2);
    cr_assert_eq(run.regressions, 0);
    cr_assert_eq(run.clock.now, BASE + 5 * S);
}

/* An idle hour, then traffic: the packet after the gap is vouched for by the next one. */
Test(packet_clock, a_real_gap_moves_the_clock)
{
    struct run run;
    init(&run);
    packet_time times[] = {BASE, BASE + S, BASE + 3600 * S, BASE + 3600 * S + S / 50,
                           BASE + 3601 * S};
    for (unsigned i = 0; i < 5; i++)
        packet(&run, times[i]);
    flush(&run);
    expect(&run, times, 5);
    cr_assert_eq(run.outliers, 0);
}

/* The last packet of the input far ahead: nothing vouches for it. */
Test(packet_clock, an_unconfirmed_jump_at_the_end_is_an_outlier)
{
    struct run run;
    init(&run);
    packet(&run, BASE);
    packet(&run, BASE + S);
    packet(&run, BASE + 3600 * S);
    flush(&run);
    packet_time want[] = {BASE, BASE + S, BASE + S};
    expect(&run, want, 3);
    cr_assert_eq(run.outliers, 1);
}

/* A sparse capture, lone packets hours apart, time only going forward: each packet is
 * vouched for by the next, which does not come back; the last, which nothing follows, is not. */
Test(packet_clock, lone_packets_hours_apart_move_the_clock_but_the_last)
{
    struct run run;
    init(&run);
    packet(&run, BASE);
    packet(&run, BASE + 4 * 3600 * S);
    packet(&run, BASE + 11 * 3600 * S);
    packet(&run, BASE + 26 * 3600 * S);
    flush(&run);
    packet_time want[] = {BASE, BASE + 4 * 3600 * S, BASE + 11 * 3600 * S, BASE + 11 * 3600 * S};
    expect(&run, want, 4);
    cr_assert_eq(run.outliers, 1);
}

/* The packet that vouched for a jump is judged against the clock the jump moved: far again,
 * it waits for a voucher of its own, and none comes. */
Test(packet_clock, a_voucher_far_beyond_is_held_in_turn)
{
    struct run run;
    init(&run);
    packet(&run, BASE);
    packet(&run, BASE + 3600 * S);
    packet(&run, BASE + 3 * 3600 * S);
    packet(&run, BASE + 2 * S);
    flush(&run);
    packet_time want[] = {BASE, BASE + 3600 * S, BASE + 3600 * S, BASE + 3600 * S};
    expect(&run, want, 4);
    cr_assert_eq(run.outliers, 2);
}

/* Two damaged packets in a row, far apart from each other and one on each side of the clock:
 * neither vouches for the other. */
Test(packet_clock, damaged_packets_on_both_sides_are_each_outliers)
{
    struct run run;
    init(&run);
    packet(&run, BASE);
    packet(&run, BASE + S);
    packet(&run, BASE + S + FLIP_AHEAD);
    packet(&run, BASE + S - 2 * FLIP_AHEAD);
    packet(&run, BASE + 2 * S);
    flush(&run);
    packet_time want[] = {BASE, BASE + S, BASE + S, BASE + S, BASE + 2 * S};
    expect(&run, want, 5);
    cr_assert_eq(run.outliers, 2);
}

/* A damaged first timestamp must not start the clock in the wrong year. */
Test(packet_clock, a_damaged_first_packet_is_outvoted)
{
    struct run run;
    init(&run);
    packet(&run, BASE + FLIP_AHEAD);
    packet(&run, BASE + S);
    packet(&run, BASE + 2 * S);
    packet(&run, BASE + 3 * S);
    flush(&run);
    packet_time want[] = {BASE + S, BASE + S, BASE + 2 * S, BASE + 3 * S};
    expect(&run, want, 4);
    cr_assert_eq(run.outliers, 1);
    cr_assert_eq(run.stepped_back, 0);
}

/* The second far behind, the third with the first: the second was damaged. */
Test(packet_clock, a_damaged_second_packet_is_outvoted)
{
    struct run run;
    init(&run);
    packet(&run, BASE);
    packet(&run, BASE - FLIP_AHEAD);
    packet(&run, BASE + S);
    flush(&run);
    packet_time want[] = {BASE, BASE, BASE + S};
    expect(&run, want, 3);
    cr_assert_eq(run.outliers, 1);
}

/* A capture whose clock was set back an hour: once two packets agree, time goes on from where
 * it was, and later packets are shifted by the step, so the clock never runs backwards. */
Test(packet_clock, a_backward_step_shifts_later_times)
{
    struct run run;
    init(&run);
    packet(&run, BASE);
    packet(&run, BASE + 10 * S);
    packet(&run, BASE - 3590 * S);
    packet(&run, BASE - 3589 * S);
    packet(&run, BASE - 3580 * S);
    flush(&run);
    packet_time want[] = {BASE, BASE + 10 * S, BASE + 10 * S, BASE + 11 * S, BASE + 20 * S};
    expect(&run, want, 5);
    cr_assert_eq(run.stepped_back, 3600 * S);
    cr_assert_eq(run.outliers, 0);
}

/* Any int64 in, a time within the four-digit years out, and no overflow on the way (the
 * UBSan build checks the arithmetic). */
Test(packet_clock, extreme_timestamps_are_clamped)
{
    struct run run;
    init(&run);
    packet(&run, INT64_MAX);
    packet(&run, INT64_MAX - 1);
    packet(&run, INT64_MIN);
    packet(&run, INT64_MIN + 5);
    packet(&run, INT64_MIN);
    packet(&run, 0);
    flush(&run);
    cr_assert_eq(run.judged, 6);
    for (unsigned i = 0; i < run.judged; i++)
        cr_assert(run.at[i] >= PACKET_TIME_MIN && run.at[i] <= PACKET_TIME_MAX);
    cr_assert(run.clock.now <= PACKET_TIME_MAX);
}

/* A packet the caller cannot keep is judged at once. */
Test(packet_clock, a_packet_that_cannot_be_held_is_judged_at_once)
{
    struct clock_plan plan;
    struct packet_clock clock;
    packet_clock_init(&clock);
    packet_clock_take(&clock, BASE, false, &plan);
    cr_assert_eq(plan.count, 1);
    cr_assert_eq(plan.steps[0].action, CLOCK_PROCESS);
    cr_assert_eq(plan.steps[0].at, BASE);
    packet_clock_take(&clock, BASE + FLIP_AHEAD, false, &plan);
    cr_assert_eq(plan.count, 1);
    cr_assert_eq(plan.steps[0].judgement, CLOCK_OUTLIER);
    cr_assert_eq(plan.steps[0].at, BASE);
}

/* Live: the idle wall clock moves time on, however far, and settles a held packet. */
Test(packet_clock, ticks_are_trusted_and_settle_what_is_held)
{
    struct clock_plan plan;
    struct packet_clock clock;
    packet_clock_init(&clock);
    packet_clock_tick(&clock, BASE, &plan);
    cr_assert(clock.started);
    cr_assert_eq(plan.advance_to, BASE);
    packet_clock_tick(&clock, BASE + 7200 * S, &plan);
    cr_assert_eq(plan.advance_to, BASE + 7200 * S, "a quiet link's timers still run");
    packet_clock_tick(&clock, BASE, &plan);
    cr_assert_eq(plan.advance_to, BASE + 7200 * S, "ticks never move the clock back");

    /* A packet far ahead of the wall clock, then a tick: it was damaged. */
    packet_clock_take(&clock, BASE + 7200 * S + FLIP_AHEAD, true, &plan);
    cr_assert_eq(plan.steps[0].action, CLOCK_HOLD);
    packet_clock_tick(&clock, BASE + 7201 * S, &plan);
    cr_assert_eq(plan.count, 1);
    cr_assert_eq(plan.steps[0].judgement, CLOCK_OUTLIER);
    cr_assert_eq(plan.steps[0].at, BASE + 7200 * S);
    cr_assert_eq(plan.advance_to, BASE + 7201 * S);

    /* The first packet of a live capture is held until the next packet or tick. */
    packet_clock_init(&clock);
    packet_clock_take(&clock, BASE, true, &plan);
    cr_assert_eq(plan.steps[0].action, CLOCK_HOLD);
    packet_clock_tick(&clock, BASE + S / 5, &plan);
    cr_assert_eq(plan.count, 1);
    cr_assert_eq(plan.steps[0].action, CLOCK_RELEASE);
    cr_assert_eq(plan.steps[0].at, BASE);
    cr_assert_eq(plan.advance_to, BASE + S / 5);
}

/* The packet clock: the time each packet is judged at, robust to a damaged timestamp.
 *
 * Packet time drives every timer, so one timestamp far from its neighbours (a bit flipped
 * into another year, a garbled pcapng offset) must not move the clock for good. A packet
 * within PACKET_CLOCK_JUMP of the clock is on time (or, if older, a time regression judged at
 * its own time, as packets reordered between sources are). A packet further away is held
 * until the next packet says which it was:
 *   - the next packet is near the held one, or further on the same side: a real jump (a
 *     mirror idle for an hour, two files merged with a gap, the capture host's clock stepped,
 *     a sparse capture of lone packets hours apart). Forward, the clock moves to it;
 *     backward, the clock does not go back but every later timestamp is shifted by the step,
 *     so time keeps running and nothing that counts on it ever sees it reverse;
 *   - the next packet comes back near the clock (or lands on its other side): the held one
 *     was an outlier, judged at the clock's time (so its SYN-ACK or command still counts for
 *     its attempt, whose timers it does not disturb) and counted. So is a held packet the
 *     input ends on: nothing vouched for it.
 * The first packet is held too: a damaged first timestamp would otherwise start the clock in
 * the wrong year. When the second is far behind the first, a third decides between them.
 * At most two packets are ever held; the sensor keeps their bytes.
 *
 * Ticks (time passing without packets: the live capture's idle wall clock) are trusted: the
 * host's clock is not a damaged capture. */
#ifndef OP25B_PACKET_CLOCK_H
#define OP25B_PACKET_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "util/packet_time.h"

/* Further than this from the clock, a timestamp waits for the next packet to vouch for it.
 * Longer than any pause between two packets of a mirrored link carrying subscribers (idle
 * links are ticked by the wall clock, not by packets); short enough that a jump the clock
 * takes at once cannot close a dialogue as idle (smtp_idle defaults to 600 s) or age more than
 * two SYN timeouts (timeouts.syn defaults to 30 s). A constant, not a policy key: what a
 * damaged timestamp looks like is a property of capture hardware, not of an ISP's policy,
 * and the same capture then gives the same events under every policy. */
#define PACKET_CLOCK_JUMP (60 * PACKET_TIME_SECOND)
#define PACKET_CLOCK_HELD_MAX 2

enum clock_action {
    CLOCK_PROCESS, /* judge the packet just given, at `at` */
    CLOCK_RELEASE, /* judge the packet held in `slot`, at `at` */
    CLOCK_HOLD,    /* keep the packet just given in `slot`: its time is not known yet */
};

enum clock_judgement {
    CLOCK_ON_TIME = 0,
    CLOCK_REGRESSION, /* older than the clock, but near it: judged at its own time */
    CLOCK_OUTLIER,    /* far from its neighbours: judged at the clock's time */
};

struct clock_step {
    enum clock_action action;
    enum clock_judgement judgement;
    unsigned slot;
    packet_time at;
};

/* What to do, in order; the sensor counts each step's judgement as it carries it out. */
struct clock_plan {
    struct clock_step steps[PACKET_CLOCK_HELD_MAX + 2];
    unsigned count;
    packet_time advance_to;   /* ticks: where the timers run to once the steps are done */
    packet_time stepped_back; /* > 0: later timestamps are shifted forward by this much */
};

struct packet_clock {
    bool started;
    packet_time now;    /* the latest time accepted; never goes back */
    packet_time offset; /* added to every timestamp since a backward step */
    unsigned held;
    packet_time held_at[PACKET_CLOCK_HELD_MAX]; /* the held packets' times, offset applied */
};

void packet_clock_init(struct packet_clock *clock);
/* A packet stamped ts. can_hold: the caller can keep the packet's bytes; when it cannot, the
 * packet is judged at once (far from the clock: as an outlier). */
void packet_clock_take(struct packet_clock *clock, packet_time ts, bool can_hold,
                       struct clock_plan *plan);
/* The common case, decided in a few instructions: the clock runs, holds nothing and has
 * never stepped back, and ts is at or after it and near it. Then the packet is on time, the
 * clock moves to ts and true is returned: exactly what packet_clock_take would plan (one
 * CLOCK_PROCESS at ts, CLOCK_ON_TIME). Otherwise false, and nothing changed: take it. */
static inline bool packet_clock_on_time(struct packet_clock *clock, packet_time ts)
{
    if (!clock->started || clock->held != 0 || clock->offset != 0 || ts < clock->now ||
        ts - clock->now > PACKET_CLOCK_JUMP || ts > PACKET_TIME_MAX)
        return false;
    clock->now = ts;
    return true;
}
/* Time passing without a packet (started here if no packet started it). */
void packet_clock_tick(struct packet_clock *clock, packet_time now, struct clock_plan *plan);
/* The input ended: what is held is judged (an unconfirmed jump as an outlier). */
void packet_clock_flush(struct packet_clock *clock, struct clock_plan *plan);

#endif

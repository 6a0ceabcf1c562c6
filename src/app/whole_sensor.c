#include "app/whole_sensor.h"

#include <stdlib.h>
#include <time.h>

#include "app/event_sinks.h"
#include "util/log.h"

struct whole_sensor {
    struct whole_sensor_setup setup;
    struct events events;
    struct worker_figures figures;
    struct worker_state states[WORKERS_MAX];
    double started;
    packet_time written;  /* the latest interval boundary written */
    double waiting_since; /* when a later one was first reported; 0: none */
    bool asked;           /* a SIGUSR1 waits for the workers' answers */
    double asked_at;
    uint64_t answered_before[WORKERS_MAX];
};

static double monotonic_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static packet_time wall_clock(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (packet_time)now.tv_sec * PACKET_TIME_SECOND + now.tv_nsec / 1000;
}

int whole_sensor_open(const struct whole_sensor_setup *setup, struct whole_sensor **out)
{
    struct whole_sensor *voice = calloc(1, sizeof(*voice));
    if (voice == NULL || metrics_figures_init(setup->metrics, &voice->figures) != 0) {
        log_message(LOG_FAILURE, "out of memory for the whole sensor's figures");
        free(voice);
        return EXIT_RUNTIME;
    }
    voice->setup = *setup;
    voice->started = monotonic_seconds();
    events_init(&voice->events, setup->policy);
    voice->events.elsewhere = &voice->figures.events;
    int status = event_sinks_open(&voice->events, setup->options, setup->policy, -1, true,
                                  setup->stop_waiting);
    if (status != EXIT_DONE) {
        events_close(&voice->events);
        metrics_figures_free(&voice->figures);
        free(voice);
        return status;
    }
    *out = voice;
    return EXIT_DONE;
}

/* The workers' figures summed, as events: as of their latest reports (with coverage), or
 * as last published (sensor_stats alone, for SIGUSR1). at: the events' time; 0: the
 * latest of the workers' clocks. */
static void write_figures(struct whole_sensor *voice, bool reported, bool final, packet_time at)
{
    metrics_read_workers(voice->setup.metrics, reported, &voice->figures, NULL);
    packet_time now = at != 0 ? at : voice->figures.now;
    /* No worker got as far as its clock (they all failed at once): the time written. */
    if (now == 0)
        now = wall_clock();
    if (reported)
        event_coverage(&voice->events, &voice->figures.coverage, now, final);
    event_sensor_stats(&voice->events, &voice->figures.counters, voice->figures.snaplen, now,
                       final);
    events_flush(&voice->events);
}

/* The interval boundary a worker's latest report is for; 0 before its first. */
static packet_time reported_boundary(const struct whole_sensor *voice, unsigned worker)
{
    packet_time interval = voice->setup.policy->stats_interval;
    const struct worker_state *state = &voice->states[worker];
    return state->reports > 0 ? state->reported / interval * interval : 0;
}

static void poll_intervals(struct whole_sensor *voice, const bool *ended, double now)
{
    metrics_read_workers(voice->setup.metrics, true, NULL, voice->states);
    packet_time newest = 0, at = 0;
    for (unsigned w = 0; w < voice->setup.workers; w++) {
        packet_time boundary = reported_boundary(voice, w);
        newest = boundary > newest ? boundary : newest;
    }
    /* The events' time: the latest report of that interval, as one process's would be the
     * packet that passed the boundary. */
    for (unsigned w = 0; w < voice->setup.workers; w++)
        if (reported_boundary(voice, w) == newest && voice->states[w].reported > at)
            at = voice->states[w].reported;
    if (newest <= voice->written) {
        voice->waiting_since = 0;
        return;
    }
    if (voice->waiting_since == 0)
        voice->waiting_since = now;
    bool caught_up = true;
    for (unsigned w = 0; w < voice->setup.workers; w++)
        if (!ended[w] && !voice->states[w].final && reported_boundary(voice, w) < newest)
            caught_up = false;
    if (!caught_up && now - voice->waiting_since < WHOLE_SENSOR_CATCH_UP_SECONDS)
        return;
    write_figures(voice, true, false, at);
    voice->written = newest;
    voice->waiting_since = 0;
}

void whole_sensor_request_stats(struct whole_sensor *voice)
{
    if (voice == NULL || voice->asked)
        return; /* one answer serves requests that come while it is awaited */
    metrics_read_workers(voice->setup.metrics, false, NULL, voice->states);
    for (unsigned w = 0; w < voice->setup.workers; w++)
        voice->answered_before[w] = voice->states[w].requests;
    voice->asked = true;
    voice->asked_at = monotonic_seconds();
}

static void poll_request(struct whole_sensor *voice, const bool *ended, double now)
{
    if (!voice->asked)
        return;
    metrics_read_workers(voice->setup.metrics, false, NULL, voice->states);
    bool answered = true;
    for (unsigned w = 0; w < voice->setup.workers; w++)
        if (!ended[w] && !voice->states[w].final &&
            voice->states[w].requests <= voice->answered_before[w])
            answered = false;
    if (!answered && now - voice->asked_at < WHOLE_SENSOR_ANSWER_SECONDS)
        return;
    write_figures(voice, false, false, 0);
    voice->asked = false;
}

void whole_sensor_poll(struct whole_sensor *voice, const bool *ended)
{
    double now = monotonic_seconds();
    poll_intervals(voice, ended, now);
    poll_request(voice, ended, now);
    events_flush(&voice->events); /* Kafka's delivery reports, the spool */
    metrics_set_own(voice->setup.metrics, &voice->events);
}

void whole_sensor_reopen(struct whole_sensor *voice)
{
    if (voice != NULL)
        events_reopen(&voice->events);
}

void whole_sensor_rename(struct whole_sensor *voice)
{
    if (voice != NULL && events_rename(&voice->events, voice->setup.policy->sensor_name) != 0)
        log_message(LOG_ERROR, "out of memory while reloading: the Kafka header keeps the "
                               "old sensor name");
}

void whole_sensor_finish(struct whole_sensor *voice)
{
    write_figures(voice, true, true, 0);
    metrics_set_own(voice->setup.metrics, &voice->events);
    if (voice->setup.options->verbosity < 0)
        return;
    struct bot_rank ranks[SUMMARY_SUSPECTS];
    size_t ranked = summary_merge(voice->setup.summaries, voice->setup.workers, ranks);
    summary_print(stderr, voice->setup.policy, &voice->figures.counters, &voice->figures.coverage,
                  ranks, ranked, monotonic_seconds() - voice->started);
}

struct output_counts whole_sensor_counts(const struct whole_sensor *voice)
{
    return events_counts(&voice->events);
}

int whole_sensor_close(struct whole_sensor *voice, int status)
{
    if (voice == NULL)
        return status;
    struct sink_stats sinks;
    events_sink_stats(&voice->events, &sinks);
    uint64_t undelivered = events_close(&voice->events);
    status = event_sinks_closed(voice->setup.options, &sinks, undelivered, status);
    metrics_figures_free(&voice->figures);
    free(voice);
    return status;
}

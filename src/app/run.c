#include "app/run.h"

#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "app/event_sinks.h"
#include "app/privileges.h"
#include "app/progress.h"
#include "app/report_files.h"
#include "app/summary.h"
#include "capture/capture.h"
#include "capture/prefilter.h"
#include "detect/detect_bot.h"
#include "output/event.h"
#include "report/report.h"
#include "policy/policy_reload.h"
#include "sensor.h"
#include "util/log.h"

/* Live capture: how many packets pass between two looks at the kernel's drop counters. */
#define CAPTURE_STATS_EVERY 0x10000

/* Everything one run holds, from the capture to the last event. */
struct run {
    const struct options *options;
    const struct run_role *role;
    struct policy *policy;
    struct capture *capture;
    bool live;
    struct events events;
    struct bus bus; /* the sensor's records: the event lines subscribe first */
    struct bot_ranking *suspects;
    struct sensor *sensor;
    struct report *report;
    struct metrics *metrics;
    bool metrics_served; /* --metrics: figures handed over while packets come */
    const char *source_names[INPUTS_MAX];
    size_t source_count;
    const char *reason; /* why the input ended, for the final events */
    bool reader_gone;   /* an output's reader went away: the run ended early, status 1 */
    uint64_t received, drops, errors;
    unsigned policy_generation; /* a worker: the parent's reloads it has followed */
};

static struct capture *running_capture;
/* A signal that came while the capture was still being opened: honoured once it is. */
static volatile sig_atomic_t stop_requested;
/* Once the input is over, or at a second SIGINT/SIGTERM: the final delivery wait (Kafka's
 * --kafka-timeout) is cut short, so that an operator who asks again is not kept waiting. */
static volatile sig_atomic_t input_over;
static volatile sig_atomic_t cut_waits;
/* The operator's requests, served by the packet loop between two packets. */
static volatile sig_atomic_t reload_requested; /* SIGHUP */
static volatile sig_atomic_t stats_requested;  /* SIGUSR1 */

static void on_stop_signal(int signal_number)
{
    (void)signal_number;
    if (stop_requested || input_over)
        cut_waits = 1;
    stop_requested = 1;
    if (running_capture != NULL)
        capture_interrupt(running_capture);
}

static void on_request_signal(int signal_number)
{
    if (signal_number == SIGHUP)
        reload_requested = 1;
    else
        stats_requested = 1;
}

void run_catch_signals(void)
{
    /* Not restarted: a read from a pipe that waits for more must end at once. */
    struct sigaction stop = {.sa_handler = on_stop_signal};
    sigemptyset(&stop.sa_mask);
    sigaction(SIGINT, &stop, NULL);
    sigaction(SIGTERM, &stop, NULL);
    /* Restarted: the read goes on, and the request waits for the next packet (or, live,
     * the next idle tick), so it is never taken for the end of the input. */
    struct sigaction request = {.sa_handler = on_request_signal, .sa_flags = SA_RESTART};
    sigemptyset(&request.sa_mask);
    sigaction(SIGHUP, &request, NULL);
    sigaction(SIGUSR1, &request, NULL);
    /* A closed pipe is a write error (EPIPE) the sink reports, not a silent death; a file
     * past a size limit (RLIMIT_FSIZE) is a write error (EFBIG) counted like a full disk. */
    struct sigaction ignore = {.sa_handler = SIG_IGN};
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGPIPE, &ignore, NULL);
    sigaction(SIGXFSZ, &ignore, NULL);
}

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

static char prefilter_text[PREFILTER_TEXT_MAX], untagged_text[PREFILTER_TEXT_MAX];

/* The policy's prefilter with and without its 802.1Q part, into prefilter_text and
 * untagged_text; false (both empty) when it is not wanted or does not fit. */
static bool make_prefilter(const struct run *run)
{
    const struct options *options = run->options;
    prefilter_text[0] = untagged_text[0] = '\0';
    bool want_prefilter =
        options->interface_count > 0 ? !options->no_prefilter : options->prefilter_files;
    if (!want_prefilter)
        return false;
    if (prefilter_expression(run->policy, true, prefilter_text, sizeof(prefilter_text)) == 0 ||
        prefilter_expression(run->policy, false, untagged_text, sizeof(untagged_text)) == 0) {
        log_message(LOG_WARNING, "the policy's prefixes make the prefilter too long; "
                                 "reading without it");
        prefilter_text[0] = untagged_text[0] = '\0';
        return false;
    }
    return true;
}

/* The files or interfaces, with the policy's prefilter where it applies: on by default for
 * live capture, where it saves the copy out of the kernel; on files only when asked,
 * libpcap then applying it as it reads. */
static int open_capture(struct run *run)
{
    const struct options *options = run->options;
    make_prefilter(run);
    struct capture_options capture_options = {
        .files = options->files,
        .file_count = options->file_count,
        .interfaces = options->interfaces,
        .interface_count = options->interface_count,
        .filter = options->filter,
        .prefilter = prefilter_text[0] != '\0' && untagged_text[0] != '\0' ? prefilter_text : NULL,
        .prefilter_untagged = untagged_text,
        .fanout_group = run->role->fanout_group,
        .fanout_ipv6_bits = (uint8_t)policy_ipv6_subscriber_bits(run->policy),
    };
    enum capture_error capture_error;
    char error[512];
    run->capture = capture_open(&capture_options, &capture_error, error, sizeof(error));
    if (run->capture == NULL) {
        log_message(LOG_FAILURE, "%s", error);
        return capture_error == CAPTURE_ERROR_FILTER ? EXIT_USAGE : EXIT_RUNTIME;
    }
    run->live = capture_is_live(run->capture);
    run->source_count = capture_source_count(run->capture);
    for (size_t i = 0; i < run->source_count && i < INPUTS_MAX; i++)
        run->source_names[i] = capture_source_name(run->capture, i);
    return EXIT_DONE;
}

/* -v: one line for each input, as it was opened. The workers capture on the same
 * interfaces, so only the first says it. */
static void log_inputs(const struct run *run)
{
    if (run->role->worker > 0)
        return;
    char workers[32] = "";
    if (run->options->workers > 1)
        snprintf(workers, sizeof(workers), ", %u workers", run->options->workers);
    for (size_t i = 0; i < run->source_count; i++) {
        struct capture_source_info info;
        capture_source_describe(run->capture, i, &info);
        const char *prefilter = info.prefiltered ? "on" : "off";
        if (info.live)
            log_message(LOG_INFO, "capturing on %s (link type %s, prefilter %s%s)", info.name,
                        info.link_type, prefilter, workers);
        else
            log_message(LOG_INFO, "reading %s (%s, link type %s, prefilter %s)", info.name,
                        info.format, info.link_type, prefilter);
    }
}

static int open_metrics(struct run *run)
{
    run->metrics_served = run->options->metrics_address != NULL;
    if (run->role->shared_metrics != NULL) {
        run->metrics = run->role->shared_metrics;
        metrics_become_worker(run->metrics, (unsigned)run->role->worker);
        if (metrics_attach(run->metrics, &run->bus, &run->events) != 0) {
            log_message(LOG_FAILURE, "too many bus subscribers");
            return EXIT_RUNTIME;
        }
    } else if (run->options->metrics_address != NULL) {
        char error[512];
        run->metrics =
            metrics_start(run->options->metrics_address, run->policy, error, sizeof(error));
        if (run->metrics == NULL || metrics_attach(run->metrics, &run->bus, &run->events) != 0) {
            log_message(LOG_FAILURE, "%s",
                        run->metrics == NULL ? error : "too many bus subscribers");
            return EXIT_RUNTIME;
        }
    }
    return EXIT_DONE;
}

/* The sensor and what listens to its events: the suspect ranking, the report, metrics. */
static int open_sensor(struct run *run)
{
    /* Before the sensor, so it hears every bot_suspect event. */
    run->suspects = bot_ranking_new(SUMMARY_SUSPECTS);
    if (run->suspects == NULL || bot_ranking_attach(run->suspects, &run->bus) != 0) {
        log_message(LOG_FAILURE, "out of memory for the suspect ranking");
        return EXIT_RUNTIME;
    }
    run->sensor =
        sensor_new(run->policy, &run->bus, run->source_names, run->source_count, run->role->share);
    if (run->sensor == NULL) {
        log_message(LOG_FAILURE, "out of memory for %u flows", run->policy->limits.flows);
        return EXIT_RUNTIME;
    }
    sensor_set_snaplen(run->sensor, capture_snaplen(run->capture));
    if (run->options->report_count > 0) {
        run->report = report_new(run->policy);
        if (run->report == NULL || report_attach(run->report, &run->bus) != 0) {
            log_message(LOG_FAILURE, "out of memory for the report");
            return EXIT_RUNTIME;
        }
        report_set_inputs(run->report, run->source_names, run->source_count);
    }
    return open_metrics(run);
}

/* Once capture and outputs are open: -u, and a worker's word to the parent that it got
 * this far. */
static int settle(struct run *run)
{
    const struct run_role *role = run->role;
    char error[512];
    if (run->options->user != NULL &&
        drop_privileges(run->options->user, error, sizeof(error)) != 0) {
        log_message(LOG_FAILURE, "%s", error);
        return EXIT_RUNTIME;
    }
    if (run->options->user != NULL && role->worker >= 0)
        stop_with_parent(role->parent);
    if (role->ready_fd >= 0) {
        ssize_t said = write(role->ready_fd, "r", 1);
        (void)said; /* the parent takes silence as a worker that did not get this far */
        close(role->ready_fd);
    }
    return EXIT_DONE;
}

static void update_capture_stats(struct run *run)
{
    capture_stats(run->capture, &run->received, &run->drops, &run->errors);
    sensor_set_capture_stats(run->sensor, run->received, run->drops, run->errors);
}

/* Without --metrics a worker hands its figures over at its reports only. */
static void update_metrics(struct run *run)
{
    if (run->metrics_served)
        metrics_update(run->metrics, sensor_counters(run->sensor), sensor_coverage(run->sensor),
                       &run->events, sensor_now(run->sensor));
}

static void take_packet(struct run *run, const struct capture_packet *packet,
                        struct progress *progress)
{
    sensor_packet(run->sensor, packet->linktype, packet->source, packet->ts, packet->data,
                  packet->captured_length, packet->wire_length);
    uint64_t packets = sensor_counters(run->sensor)->packets;
    if (run->live && packets % CAPTURE_STATS_EVERY == 0)
        update_capture_stats(run);
    update_metrics(run);
    progress_update(progress, run->capture, packets);
}

/* Live packet time is the wall clock, so idle time may run the timers. */
static void pass_idle_time(struct run *run)
{
    update_capture_stats(run);
    sensor_tick(run->sensor, wall_clock());
    events_flush(&run->events);
    update_metrics(run);
}

static void say_warning(void *context, const char *message)
{
    (void)context;
    log_message(LOG_WARNING, "%s", message);
}

static void keep_quiet(void *context, const char *message)
{
    (void)context;
    (void)message;
}

/* SIGHUP's second half: the policy file read again (policy/policy_reload.h) and, when it is
 * taken, in effect from the next packet on. An attempt or window in progress keeps the
 * pool, MSA and segment it was given at its first packet; what it is judged by when it
 * ends (a blocking point's state, the sensor's name) is the new policy. A worker follows
 * the parent, which read the file first and said what was wrong with it. */
static void reload_policy(struct run *run)
{
    const struct run_role *role = run->role;
    if (role->policy_generation != NULL) {
        unsigned generation = __atomic_load_n(role->policy_generation, __ATOMIC_ACQUIRE);
        if (generation == run->policy_generation)
            return;
        run->policy_generation = generation;
    }
    char error[1024];
    struct policy *fresh = policy_reload_read(
        run->policy, role->worker >= 0 ? keep_quiet : say_warning, NULL, error, sizeof(error));
    if (fresh == NULL) {
        log_message(LOG_ERROR, "%s; not reloaded, the running policy stays", error);
        return;
    }
    unsigned fanout_bits = policy_ipv6_subscriber_bits(run->policy);
    metrics_policy_hold(run->metrics);
    policy_reload_apply(run->policy, fresh);
    metrics_policy_release(run->metrics);
    if (sensor_policy_changed(run->sensor) != 0 ||
        events_rename(&run->events, run->policy->sensor_name) != 0)
        log_message(LOG_ERROR, "out of memory while reloading: segments or the Kafka header "
                               "may follow the old policy");
    /* Only the sources that have the prefilter take the new one. */
    make_prefilter(run);
    capture_refilter(run->capture, prefilter_text[0] != '\0' ? prefilter_text : NULL, untagged_text,
                     run->options->filter);
    if (role->worker == 0 && policy_ipv6_subscriber_bits(run->policy) != fanout_bits)
        log_message(LOG_WARNING, "the workers share IPv6 traffic by /%u until a restart",
                    fanout_bits);
    if (role->worker <= 0)
        log_message(LOG_INFO, "reloaded %s (sensor %s)", run->policy->path,
                    run->policy->sensor_name);
}

/* SIGHUP: the outputs re-opened, so that logrotate can move them away, and the policy read
 * again. */
static void reload(struct run *run)
{
    events_reopen(&run->events);
    reload_policy(run);
}

/* Between two packets, what the operator's signals asked for. */
static void serve_requests(struct run *run)
{
    if (reload_requested) {
        reload_requested = 0;
        reload(run);
    }
    if (stats_requested) {
        stats_requested = 0;
        update_capture_stats(run);
        sensor_write_stats(run->sensor);
    }
}

static void read_packets(struct run *run)
{
    struct progress progress;
    progress_init(&progress, stderr, run->options->verbosity >= 0 && !run->live);
    running_capture = run->capture;
    if (stop_requested)
        capture_interrupt(run->capture);
    for (;;) {
        struct capture_packet packet;
        enum capture_status next = capture_next(run->capture, &packet);
        if (next == CAPTURE_PACKET) {
            take_packet(run, &packet, &progress);
        } else if (next == CAPTURE_IDLE) {
            pass_idle_time(run);
        } else {
            if (next == CAPTURE_INTERRUPTED)
                run->reason = "shutdown";
            break;
        }
        if (reload_requested || stats_requested)
            serve_requests(run);
        /* Nothing more can be delivered there: stop as on SIGTERM (the sink said why). */
        if (events_reader_gone(&run->events) != NULL) {
            run->reason = "shutdown";
            run->reader_gone = true;
            break;
        }
    }
    running_capture = NULL;
    input_over = 1;
    progress_clear(&progress);
}

/* The report: written here, or with --workers saved for the parent, which writes it from
 * every worker's state. */
static int finish_report(struct run *run)
{
    struct output_counts written = events_counts(&run->events);
    if (report_finish(run->report, &written, sensor_counters(run->sensor),
                      sensor_coverage(run->sensor), sensor_now(run->sensor), run->reason) != 0) {
        log_message(LOG_FAILURE, "out of memory for the report");
        return EXIT_RUNTIME;
    }
    if (run->role->worker < 0)
        return write_report_files(run->report, run->options->reports, run->options->report_count) !=
                       0
                   ? EXIT_RUNTIME
                   : EXIT_DONE;
    int status = EXIT_DONE;
    FILE *state = fdopen(dup(run->role->report_state_fd), "w");
    if (state == NULL || report_save(run->report, state) != 0) {
        log_message(LOG_FAILURE, "worker %d could not save its report state", run->role->worker);
        status = EXIT_RUNTIME;
    }
    if (state != NULL)
        fclose(state);
    return status;
}

/* Whether this process speaks for the whole sensor (coverage, sensor_stats, the summary):
 * alone it does; a worker leaves that to the parent, unless the parent is gone (killed
 * outright: the kernel then stopped the worker), when its own figures are better than
 * none. */
static bool speaks_for_sensor(const struct run *run)
{
    return run->role->worker < 0 || getppid() != run->role->parent;
}

/* The input has ended: the final events, metrics, the report and the summary. */
static int finish(struct run *run, double started)
{
    int status = EXIT_DONE;
    bool speaks = speaks_for_sensor(run);
    run->events.skip_periodic = !speaks;
    update_capture_stats(run);
    if (run->live)
        sensor_tick(run->sensor, wall_clock()); /* the final events' time: now */
    sensor_finish(run->sensor, run->reason);
    if (run->metrics != NULL)
        metrics_publish(run->metrics, sensor_counters(run->sensor), sensor_coverage(run->sensor),
                        &run->events, sensor_now(run->sensor));
    if (run->report != NULL)
        status = finish_report(run);
    if (run->role->summary != NULL)
        summary_save(run->role->summary, run->suspects);
    if (speaks && run->options->verbosity >= 0) {
        const struct bot_rank *ranks;
        size_t ranked = bot_ranking_top(run->suspects, &ranks);
        summary_print(stderr, run->policy, sensor_counters(run->sensor),
                      sensor_coverage(run->sensor), ranks, ranked, monotonic_seconds() - started);
    }
    if (run->errors > 0) {
        log_message(LOG_FAILURE,
                    "%llu capture input(s) were damaged; what could be read was judged and "
                    "reported",
                    (unsigned long long)run->errors);
        status = EXIT_RUNTIME;
    }
    return run->reader_gone ? EXIT_RUNTIME : status;
}

/* Releases what was opened, in any state the run stopped in; the sinks last, as they
 * deliver what is still queued. */
static int close_run(struct run *run, int status)
{
    input_over = 1;
    metrics_stop(run->metrics);
    report_free(run->report);
    sensor_free(run->sensor);
    struct sink_stats sinks = {0};
    events_sink_stats(&run->events, &sinks);
    uint64_t undelivered = events_close(&run->events);
    status = event_sinks_closed(run->options, &sinks, undelivered, status);
    bot_ranking_free(run->suspects);
    capture_close(run->capture);
    return status;
}

int run_process(const struct options *options, struct policy *policy, const struct run_role *role)
{
    run_catch_signals();
    struct run run = {.options = options, .role = role, .policy = policy, .reason = "end_of_input"};
    int status = open_capture(&run);
    if (status != EXIT_DONE)
        return status;
    log_inputs(&run);
    events_init(&run.events, policy);
    run.events.worker = role->worker;
    run.events.skip_periodic = role->worker >= 0; /* the parent writes them */
    /* The event lines subscribe first: lines keep the order records are published in. */
    bus_init(&run.bus);
    bus_subscribe(&run.bus, events_subscriber(&run.events));
    status =
        event_sinks_open(&run.events, options, policy, role->worker, role->worker >= 0, &cut_waits);
    if (status == EXIT_DONE)
        status = open_sensor(&run);
    if (status == EXIT_DONE)
        status = settle(&run);
    if (status == EXIT_DONE) {
        double started = monotonic_seconds();
        read_packets(&run);
        status = finish(&run, started);
    }
    return close_run(&run, status);
}

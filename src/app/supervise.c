/* One process per worker, each in the same PACKET_FANOUT group: the kernel gives each a
 * share of the packets, chosen so that every packet of an attempt meets in one worker
 * (fanout.c). Each worker is a sensor with its own flow table (limits.flows / N) and
 * writes its own attempts and findings, marked with "worker"; the parent speaks for the
 * whole sensor (whole_sensor.h): one coverage and sensor_stats per interval and at the
 * end, one summary, one report, one metrics endpoint. */
#include "app/supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "app/privileges.h"
#include "app/report_files.h"
#include "app/run.h"
#include "app/summary.h"
#include "app/whole_sensor.h"
#include "output/metrics.h"
#include "policy/policy_reload.h"
#include "report/report.h"
#include "util/log.h"
#include "workers/worker_share.h"

/* What the parent holds for its workers. */
struct supervisor {
    const struct options *options;
    struct policy *policy;
    int report_states[WORKERS_MAX]; /* --report: where each worker saves its report */
    /* The workers' figures, handed over at each of their reports, and served by --metrics
     * as one endpoint. */
    struct metrics *shared_metrics;
    struct worker_summary *summaries; /* each worker's top suspects, saved at its end */
    struct whole_sensor *voice;       /* the parent's own events */
    unsigned *policy_generation;      /* shared: the policy reloads taken (run.h) */
    struct worker_share share;
    uint16_t fanout_group;
    int ready[2]; /* -u: each worker says here it has dropped root */
    pid_t children[WORKERS_MAX];
    bool ended[WORKERS_MAX];
    unsigned started;
    double stop_began; /* when the first stop signal was passed on or a worker ended */
};

/* How often the parent looks at its workers' figures and ends. */
#define POLL_MILLISECONDS 50

/* The signals an operator sends the parent, each passed on to every worker: SIGINT and
 * SIGTERM stop them, SIGHUP re-opens their outputs (and the parent's), SIGUSR1 asks each
 * for fresh counters, from which the parent writes one sensor_stats. */
static const int forwarded_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGUSR1};
#define FORWARDED_SIGNAL_COUNT (sizeof(forwarded_signals) / sizeof(forwarded_signals[0]))
/* Each kept apart, so that two different signals close together are both passed on. */
static volatile sig_atomic_t signal_pending[FORWARDED_SIGNAL_COUNT];
static volatile sig_atomic_t any_signal_pending;
/* As in a run without workers: a second SIGINT/SIGTERM, or one once the workers have
 * ended, cuts the parent's own wait for Kafka's delivery short. */
static volatile sig_atomic_t stop_seen, workers_over, cut_waits;

static void on_alarm(int signal_number)
{
    (void)signal_number;
    cut_waits = 1;
}

static double monotonic_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static void on_forwarded_signal(int signal_number)
{
    for (size_t i = 0; i < FORWARDED_SIGNAL_COUNT; i++)
        if (forwarded_signals[i] == signal_number)
            signal_pending[i] = 1;
    if (signal_number == SIGINT || signal_number == SIGTERM) {
        if (stop_seen || workers_over)
            cut_waits = 1;
        stop_seen = 1;
    }
    any_signal_pending = 1;
}

static void say_warning(void *context, const char *message)
{
    (void)context;
    log_message(LOG_WARNING, "%s", message);
}

/* SIGHUP, before it is passed on: the parent's outputs re-opened and the policy read again
 * (app/run.c says what a reload changes); when it is taken, the workers follow it. */
static void reload(struct supervisor *supervisor)
{
    whole_sensor_reopen(supervisor->voice);
    char error[1024];
    struct policy *fresh =
        policy_reload_read(supervisor->policy, say_warning, NULL, error, sizeof(error));
    if (fresh == NULL) {
        log_message(LOG_ERROR, "%s; not reloaded, the running policy stays", error);
        return;
    }
    metrics_policy_hold(supervisor->shared_metrics);
    policy_reload_apply(supervisor->policy, fresh);
    metrics_policy_release(supervisor->shared_metrics);
    whole_sensor_rename(supervisor->voice);
    __atomic_add_fetch(supervisor->policy_generation, 1, __ATOMIC_RELEASE);
}

static void forward_signals(struct supervisor *supervisor)
{
    any_signal_pending = 0; /* before the flags: one set meanwhile is seen next time */
    for (size_t s = 0; s < FORWARDED_SIGNAL_COUNT; s++) {
        if (!signal_pending[s])
            continue;
        signal_pending[s] = 0;
        /* Before the workers answer: the parent notes where each stood. */
        if (forwarded_signals[s] == SIGUSR1)
            whole_sensor_request_stats(supervisor->voice);
        else if (forwarded_signals[s] == SIGHUP)
            reload(supervisor);
        else if (supervisor->stop_began == 0)
            supervisor->stop_began = monotonic_seconds();
        for (unsigned i = 0; i < supervisor->started; i++)
            kill(supervisor->children[i], forwarded_signals[s]);
    }
}

static void stop_workers(const struct supervisor *supervisor)
{
    for (unsigned i = 0; i < supervisor->started; i++)
        kill(supervisor->children[i], SIGTERM);
}

/* What the workers write to or share, made before they are forked. */
static int prepare_shared(struct supervisor *supervisor)
{
    const struct options *options = supervisor->options;
    /* Anonymous files: a worker's report state can be larger than a pipe holds, and the
     * parent only reads it once the worker is gone. */
    for (unsigned i = 0; options->report_count > 0 && i < options->workers; i++) {
        supervisor->report_states[i] = memfd_create("op25b-report-state", MFD_CLOEXEC);
        if (supervisor->report_states[i] < 0) {
            log_message(LOG_FAILURE, "memfd_create: %s", strerror(errno));
            return EXIT_RUNTIME;
        }
    }
    if (options->output != NULL && strcmp(options->output, "-") != 0) {
        /* Tried once here, so that a path that cannot be written is said once; the workers
         * each open it again and append, as a run without workers does. */
        int fd = open(options->output, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
        if (fd < 0) {
            log_message(LOG_FAILURE, "%s: cannot open for writing: %s", options->output,
                        strerror(errno));
            return EXIT_RUNTIME;
        }
        close(fd);
    }
    /* How the workers hand the parent their figures, and with --metrics one endpoint for
     * all: the parent serves the workers' sum from shared memory. */
    char error[512];
    supervisor->shared_metrics =
        metrics_start_shared(supervisor->policy, options->workers, error, sizeof(error));
    if (supervisor->shared_metrics == NULL) {
        log_message(LOG_FAILURE, "%s", error);
        return EXIT_RUNTIME;
    }
    void *generation =
        mmap(NULL, sizeof(unsigned), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (generation == MAP_FAILED) {
        log_message(LOG_FAILURE, "no shared memory for %u workers", options->workers);
        return EXIT_RUNTIME;
    }
    supervisor->policy_generation = generation;
    void *summaries = mmap(NULL, options->workers * sizeof(struct worker_summary),
                           PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (summaries == MAP_FAILED) {
        log_message(LOG_FAILURE, "no shared memory for %u workers", options->workers);
        return EXIT_RUNTIME;
    }
    supervisor->summaries = summaries;
    /* What one worker sees and another needs: the halves of a triangular-spam join, a
     * server's connections, findings one per server (worker_share.h). */
    if (!worker_share_init(&supervisor->share, options->workers, supervisor->policy->segment_count,
                           NULL)) {
        log_message(LOG_FAILURE, "no shared memory for %u workers", options->workers);
        return EXIT_RUNTIME;
    }
    return EXIT_DONE;
}

/* The child's side of the fork: worker `index`, a whole sensor until its input ends. */
static _Noreturn void become_worker(struct supervisor *supervisor, unsigned index, pid_t parent,
                                    const sigset_t *unblocked)
{
    worker_share_set_worker(&supervisor->share, index);
    struct run_role role = {
        .worker = (int)index,
        .parent = parent,
        .fanout_group = supervisor->fanout_group,
        .report_state_fd =
            supervisor->options->report_count > 0 ? supervisor->report_states[index] : -1,
        .ready_fd = supervisor->ready[1],
        .share = &supervisor->share,
        .shared_metrics = supervisor->shared_metrics,
        .summary = &supervisor->summaries[index],
        .policy_generation = supervisor->policy_generation,
    };
    if (supervisor->ready[0] >= 0)
        close(supervisor->ready[0]);
    run_catch_signals();
    stop_with_parent(parent);
    sigprocmask(SIG_SETMASK, unblocked, NULL);
    int status = run_process(supervisor->options, supervisor->policy, &role);
    fflush(NULL);
    _exit(status);
}

/* Forks the workers: EXIT_DONE when all of them started, EXIT_RUNTIME when only some did,
 * -1 when none could be. */
static int start_workers(struct supervisor *supervisor)
{
    const struct options *options = supervisor->options;
    /* Before the first fork, so a signal during the forks is passed on, not fatal; held
     * back while forking, so a child only takes it once its own handler is in place. */
    struct sigaction action = {.sa_handler = on_forwarded_signal};
    sigemptyset(&action.sa_mask);
    sigset_t forwarded, previous;
    sigemptyset(&forwarded);
    for (size_t s = 0; s < FORWARDED_SIGNAL_COUNT; s++) {
        sigaction(forwarded_signals[s], &action, NULL);
        sigaddset(&forwarded, forwarded_signals[s]);
    }
    sigprocmask(SIG_BLOCK, &forwarded, &previous);
    /* With -u the parent drops root as well, once every worker has (before, it could
     * not signal them): each says so on this pipe. */
    if (options->user != NULL && pipe(supervisor->ready) != 0) {
        log_message(LOG_FAILURE, "pipe: %s", strerror(errno));
        sigprocmask(SIG_SETMASK, &previous, NULL);
        return -1;
    }
    pid_t parent = getpid();
    for (unsigned i = 0; i < options->workers; i++) {
        pid_t child = fork();
        if (child < 0) {
            log_message(LOG_FAILURE, "fork: %s", strerror(errno));
            break;
        }
        if (child == 0)
            become_worker(supervisor, i, parent, &previous);
        supervisor->children[supervisor->started++] = child;
    }
    sigprocmask(SIG_SETMASK, &previous, NULL);
    return supervisor->started == options->workers ? EXIT_DONE : EXIT_RUNTIME;
}

/* -u with --workers: waits until every worker has dropped root (or has ended: its end of
 * the pipe closes), passing signals on meanwhile, then drops root in the parent too, which
 * goes on to serve metrics. */
static int await_workers_unprivileged(struct supervisor *supervisor, int status)
{
    close(supervisor->ready[1]);
    unsigned said = 0;
    while (said < supervisor->started) {
        char byte;
        ssize_t got = read(supervisor->ready[0], &byte, 1);
        if (got == 1) {
            said++;
        } else if (got < 0 && errno == EINTR) {
            if (any_signal_pending)
                forward_signals(supervisor);
        } else {
            break; /* every worker has ended or said so */
        }
    }
    close(supervisor->ready[0]);
    char error[512];
    if (drop_privileges(supervisor->options->user, error, sizeof(error)) != 0) {
        log_message(LOG_FAILURE, "%s", error);
        stop_workers(supervisor);
        return EXIT_RUNTIME;
    }
    return status;
}

/* A worker's end, said at once: the operator learns which one went and how, while the
 * others go on. Returns the exit status it stands for: its own, or 1 for a signal. */
static int note_worker_end(struct supervisor *supervisor, pid_t pid, int how)
{
    unsigned index = 0;
    while (index < supervisor->started && supervisor->children[index] != pid)
        index++;
    if (index < supervisor->started)
        supervisor->ended[index] = true;
    if (WIFSIGNALED(how)) {
        log_message(LOG_ERROR, "worker %u (pid %ld) was killed by signal %d (%s)", index, (long)pid,
                    WTERMSIG(how), strsignal(WTERMSIG(how)));
        return EXIT_RUNTIME;
    }
    int code = WIFEXITED(how) ? WEXITSTATUS(how) : EXIT_RUNTIME;
    if (code != EXIT_DONE)
        log_message(LOG_ERROR, "worker %u (pid %ld) ended with exit status %d", index, (long)pid,
                    code);
    return code;
}

static void nap(void)
{
    struct timespec pause = {.tv_sec = 0, .tv_nsec = POLL_MILLISECONDS * 1000000L};
    nanosleep(&pause, NULL); /* a signal ends it early: passed on at once */
}

/* The workers act on the signals themselves; the parent passes them on, and meanwhile
 * writes the whole sensor's periodic events. Returns the worst of their exit statuses and
 * status. */
static int wait_for_workers(struct supervisor *supervisor, int status)
{
    unsigned running = supervisor->started;
    while (running > 0) {
        if (any_signal_pending)
            forward_signals(supervisor);
        int child_status;
        pid_t done = waitpid(-1, &child_status, WNOHANG);
        if (done < 0 && errno != EINTR)
            break;
        if (done > 0) {
            running--;
            if (supervisor->stop_began == 0)
                supervisor->stop_began = monotonic_seconds();
            int code = note_worker_end(supervisor, done, child_status);
            if (code > status)
                status = code;
            continue;
        }
        if (supervisor->voice != NULL)
            whole_sensor_poll(supervisor->voice, supervisor->ended);
        nap();
    }
    workers_over = 1;
    return status;
}

/* --report with --workers: the workers' report states added into one report, written
 * as each --report file asks. A worker whose state is missing or damaged is named, and the
 * report is still written from the others. */
static int write_merged_report(const struct supervisor *supervisor)
{
    const struct options *options = supervisor->options;
    char error[512];
    int status = 0;
    struct report *report = report_new(supervisor->policy);
    if (report == NULL) {
        log_message(LOG_FAILURE, "out of memory for the report");
        return -1;
    }
    report_set_inputs(report, options->interfaces, options->interface_count);
    for (unsigned i = 0; i < supervisor->started; i++) {
        int fd = dup(supervisor->report_states[i]);
        FILE *state = fd >= 0 && lseek(fd, 0, SEEK_SET) == 0 ? fdopen(fd, "r") : NULL;
        if (state == NULL) {
            if (fd >= 0)
                close(fd);
            log_message(LOG_FAILURE, "worker %u's report state: %s", i, strerror(errno));
            status = -1;
            continue;
        }
        if (report_merge(report, state, error, sizeof(error)) != 0) {
            log_message(LOG_FAILURE, "worker %u's report state: %s; the report lacks what it saw",
                        i, error);
            status = -1;
        }
        fclose(state);
    }
    /* The parent's own lines (coverage, sensor_stats) beside the workers'. */
    if (supervisor->voice != NULL) {
        struct output_counts own = whole_sensor_counts(supervisor->voice);
        for (int t = 0; t < EVENT_TYPE_COUNT; t++)
            report->events[t] += own.emitted[t];
        report->sink_errors += own.sink_errors;
    }
    if (report_merge_finish(report) != 0) {
        log_message(LOG_FAILURE, "out of memory for the report");
        status = -1;
    } else if (write_report_files(report, options->reports, options->report_count) != 0) {
        status = -1;
    }
    report_free(report);
    return status;
}

/* The parent's own outputs, once the workers are forked; a failure stops them. */
static int open_voice(struct supervisor *supervisor)
{
    struct whole_sensor_setup setup = {
        .options = supervisor->options,
        .policy = supervisor->policy,
        .metrics = supervisor->shared_metrics,
        .summaries = supervisor->summaries,
        .workers = supervisor->started,
        .stop_waiting = &cut_waits,
    };
    int status = whole_sensor_open(&setup, &supervisor->voice);
    if (status != EXIT_DONE)
        stop_workers(supervisor);
    return status;
}

/* With --metrics, the server's thread only now: the workers were forked from a single
 * thread. */
static int serve_metrics(struct supervisor *supervisor)
{
    char error[512];
    if (supervisor->options->metrics_address == NULL ||
        metrics_serve(supervisor->shared_metrics, supervisor->options->metrics_address, error,
                      sizeof(error)) == 0)
        return EXIT_DONE;
    log_message(LOG_FAILURE, "%s", error);
    stop_workers(supervisor);
    return EXIT_RUNTIME;
}

/* The parent's own wait for Kafka's delivery ends when the workers' would have: each began
 * its wait as it stopped, and the parent's final events exist only once they are over, so
 * two full waits one after the other would double the time a stop takes (and outlast a
 * service manager's stop timeout). At least a second, for the final events to go out. */
static void bound_delivery_wait(const struct supervisor *supervisor)
{
    if (supervisor->options->kafka_brokers == NULL || supervisor->stop_began == 0)
        return;
    double timeout = (double)supervisor->options->kafka_timeout_milliseconds / 1000;
    double left = timeout - (monotonic_seconds() - supervisor->stop_began);
    if (left > timeout - 1)
        return; /* the workers hardly waited: the parent's own timeout is the bound */
    struct sigaction action = {.sa_handler = on_alarm};
    sigemptyset(&action.sa_mask);
    sigaction(SIGALRM, &action, NULL);
    alarm(left < 1 ? 1 : (unsigned)left + 1);
}

static void release_shared(struct supervisor *supervisor)
{
    metrics_stop(supervisor->shared_metrics);
    supervisor->shared_metrics = NULL;
    if (supervisor->summaries != NULL)
        munmap(supervisor->summaries, supervisor->options->workers * sizeof(struct worker_summary));
    if (supervisor->policy_generation != NULL)
        munmap(supervisor->policy_generation, sizeof(unsigned));
    worker_share_free(&supervisor->share);
}

static int worse(int status, int other)
{
    return other > status ? other : status;
}

int supervise_workers(const struct options *options, struct policy *policy)
{
    if (options->interface_count == 0) {
        log_message(LOG_FAILURE, "--workers needs live capture (-i)");
        return EXIT_USAGE;
    }
    struct supervisor supervisor = {.options = options, .policy = policy, .ready = {-1, -1}};
    /* A closed standard output or error must not kill the parent and leave the workers
     * without it: a write there fails instead. */
    signal(SIGPIPE, SIG_IGN);
    int status = prepare_shared(&supervisor);
    if (status != EXIT_DONE) {
        release_shared(&supervisor);
        return status;
    }
    policy->limits.flows = policy->limits.flows / options->workers + 1;
    supervisor.fanout_group = (uint16_t)((getpid() & 0x7fff) | 0x8000);
    fflush(NULL);
    status = start_workers(&supervisor);
    if (status < 0) {
        release_shared(&supervisor);
        return EXIT_RUNTIME;
    }
    status = worse(status, open_voice(&supervisor));
    if (options->user != NULL)
        status = await_workers_unprivileged(&supervisor, status);
    if (supervisor.voice != NULL)
        status = worse(status, serve_metrics(&supervisor));
    status = wait_for_workers(&supervisor, status);
    if (supervisor.voice != NULL)
        whole_sensor_finish(supervisor.voice);
    if (options->report_count > 0 && write_merged_report(&supervisor) != 0)
        status = EXIT_RUNTIME;
    release_shared(&supervisor);
    bound_delivery_wait(&supervisor);
    status = whole_sensor_close(supervisor.voice, status);
    alarm(0);
    return status;
}

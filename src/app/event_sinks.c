#include "app/event_sinks.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "app/worker_spool.h"
#include "output/sink.h"
#include "output/spool.h"
#include "util/log.h"

/* The spool directory, as root: with -u it is created for the user (or checked writable by
 * it), as it is written after root is dropped. */
static int prepare_spool(const struct options *options, const char *directory)
{
    char error[512];
    if (options->user != NULL) {
        if (spool_prepare_directory(directory, options->user_uid, options->user_gid, error,
                                    sizeof(error)) != 0) {
            log_message(LOG_FAILURE, "%s", error);
            return EXIT_USAGE;
        }
    } else if (mkdir(directory, 0700) != 0 && errno != EEXIST) {
        log_message(LOG_FAILURE, "spool %s: %s", directory, strerror(errno));
        return EXIT_RUNTIME;
    }
    return EXIT_DONE;
}

static int open_kafka(struct events *events, const struct options *options,
                      const struct policy *policy, int worker,
                      const volatile sig_atomic_t *stop_waiting)
{
    char worker_spool[PATH_MAX];
    const char *spool = options->spool;
    if (spool != NULL && worker >= 0) {
        if (worker_spool_path(spool, worker, worker_spool, sizeof(worker_spool)) != 0) {
            log_message(LOG_FAILURE, "spool %s: %s", spool, strerror(errno));
            return EXIT_RUNTIME;
        }
        int prepared = prepare_spool(options, spool);
        if (prepared != EXIT_DONE)
            return prepared;
        spool = worker_spool;
    }
    if (spool != NULL && options->user != NULL) {
        int prepared = prepare_spool(options, spool);
        if (prepared != EXIT_DONE)
            return prepared;
    }
    struct sink_kafka_options kafka = {
        .brokers = options->kafka_brokers,
        .topic = options->kafka_topic,
        .properties = options->kafka_properties,
        .property_count = options->kafka_property_count,
        .queue_megabytes = options->kafka_queue_megabytes,
        .timeout_milliseconds = options->kafka_timeout_milliseconds,
        .spool_directory = spool,
        .sensor = policy->sensor_name,
        .schema_version = EVENT_SCHEMA_VERSION,
        .stop_waiting = stop_waiting,
    };
    bool bad_option;
    char error[512];
    struct sink *sink = sink_kafka_open(&kafka, &bad_option, error, sizeof(error));
    if (sink == NULL) {
        log_message(LOG_FAILURE, "%s", error);
        return bad_option ? EXIT_USAGE : EXIT_RUNTIME;
    }
    events_add_sink(events, sink);
    return EXIT_DONE;
}

int event_sinks_open(struct events *events, const struct options *options,
                     const struct policy *policy, int worker, bool shared,
                     const volatile sig_atomic_t *stop_waiting)
{
    /* Standard output is the default only without Kafka; -o works beside it. */
    if (options->output != NULL || options->kafka_brokers == NULL) {
        char error[512];
        struct sink *output = sink_file_open(options->output != NULL ? options->output : "-",
                                             shared, error, sizeof(error));
        if (output == NULL) {
            log_message(LOG_FAILURE, "%s", error);
            return EXIT_RUNTIME;
        }
        events_add_sink(events, output);
    }
    return options->kafka_brokers != NULL
               ? open_kafka(events, options, policy, worker, stop_waiting)
               : EXIT_DONE;
}

int event_sinks_closed(const struct options *options, const struct sink_stats *sinks,
                       uint64_t undelivered, int status)
{
    if (sinks->damaged > 0) {
        log_message(LOG_FAILURE,
                    "%llu damaged spool segment(s) set aside as *.damaged in %s: events of an "
                    "earlier run may be missing",
                    (unsigned long long)sinks->damaged, options->spool);
        status = EXIT_RUNTIME;
    }
    if (undelivered > 0) {
        log_message(LOG_FAILURE, "%llu events could not be delivered",
                    (unsigned long long)undelivered);
        status = EXIT_RUNTIME;
    }
    return status;
}

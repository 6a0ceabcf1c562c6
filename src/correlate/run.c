/* The group member. Partitions come and go by the group's rebalances: on assignment the
 * correlator resumes each where its output says (--output-topic) or at the group's
 * committed offset (-o only); on revocation it delivers what it wrote and commits, then
 * forgets what waited there, which the next owner reads again. */
#include "correlate/run.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "correlate/correlator.h"
#include "correlate/fleet_metrics.h"
#include "correlate/kafka_config.h"
#include "util/log.h"

#define POLL_MS 100
#define TICK_SECONDS 0.2
#define COMMIT_SECONDS 1.0
#define FLUSH_MS 30000
/* How far back the clocks reader starts in a long-running correlator. */
#define CLOCK_LOOKBACK_SECONDS 900.0
#define CLOCKS_WAIT_SECONDS 120

struct run {
    const struct correlate_options *options;
    const struct policy *policy;
    rd_kafka_t *consumer;
    rd_kafka_t *tail_reader; /* reads back the output (--output-topic) */
    struct fleet_output output;
    struct sensor_clocks clocks;
    struct correlator correlator;
    struct fleet_metrics *metrics;
    int32_t input_partitions;
    size_t assigned;
    bool ever_assigned;
    int status;
    double last_tick;
    double last_commit;
};

static volatile sig_atomic_t stop_requested;

static void on_stop(int signal_number)
{
    (void)signal_number;
    stop_requested = 1;
}

static void commit(struct run *run, bool synchronous)
{
    struct correlator *correlator = &run->correlator;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(4);
    for (size_t i = 0; i < correlator->partition_slots; i++) {
        const struct partition_state *state = correlator->partitions[i];
        if (state != NULL && state->next_offset >= 0)
            rd_kafka_topic_partition_list_add(list, run->options->topic, state->id)->offset =
                correlator_resume_offset(state);
    }
    if (list->cnt > 0)
        rd_kafka_commit(run->consumer, list, synchronous ? 0 : 1);
    rd_kafka_topic_partition_list_destroy(list);
}

/* What was written reaches the file and the brokers before offsets are committed, and
 * before a partition passes to another member. */
static void deliver_and_commit(struct run *run, bool synchronous)
{
    if (fleet_output_flush(&run->output, FLUSH_MS) != 0) {
        log_message(LOG_ERROR, "fleet events not delivered within %d s", FLUSH_MS / 1000);
        run->status = CORRELATE_RUNTIME;
        return; /* no commit: what was not delivered is read again */
    }
    commit(run, synchronous);
}

static int assign_one(struct run *run, rd_kafka_topic_partition_t *partition)
{
    struct resume_point resumed;
    memset(&resumed, 0, sizeof(resumed));
    char error[512];
    if (run->tail_reader != NULL &&
        resume_read(run->tail_reader, run->options->output_topic, partition->partition, run->policy,
                    &resumed, error, sizeof(error)) != 0) {
        log_message(LOG_ERROR, "%s", error);
        resume_free(&resumed);
        return -1;
    }
    partition->offset = resumed.found ? resumed.resume : RD_KAFKA_OFFSET_INVALID;
    if (resumed.found)
        log_message(LOG_INFO,
                    "partition %" PRId32 ": resuming at offset %" PRId64 " (%zu reports already "
                    "decided, %" PRIu64 " output messages read back)",
                    partition->partition, resumed.resume, resumed.skip_count,
                    resumed.messages_read);
    int status = correlator_assign(&run->correlator, partition->partition, &resumed);
    resume_free(&resumed);
    return status;
}

static void log_assignment(const char *what, const rd_kafka_topic_partition_list_t *partitions)
{
    char text[1024] = "";
    size_t used = 0;
    for (int i = 0; i < partitions->cnt && used < sizeof(text); i++)
        used += (size_t)snprintf(text + used, sizeof(text) - used, "%s%" PRId32, i ? "," : "",
                                 partitions->elems[i].partition);
    log_message(LOG_INFO, "%s partitions %s", what, partitions->cnt > 0 ? text : "(none)");
}

static void on_rebalance(rd_kafka_t *consumer, rd_kafka_resp_err_t reason,
                         rd_kafka_topic_partition_list_t *partitions, void *opaque)
{
    struct run *run = opaque;
    if (reason == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        for (int i = 0; i < partitions->cnt; i++) {
            if (assign_one(run, &partitions->elems[i]) != 0) {
                run->status = CORRELATE_RUNTIME;
                stop_requested = 1;
            }
        }
        rd_kafka_assign(consumer, partitions);
        run->assigned = (size_t)partitions->cnt;
        run->ever_assigned = run->ever_assigned || partitions->cnt > 0;
        log_assignment("assigned", partitions);
        return;
    }
    for (int i = 0; i < partitions->cnt; i++)
        correlator_release(&run->correlator, partitions->elems[i].partition);
    deliver_and_commit(run, true);
    for (int i = 0; i < partitions->cnt; i++)
        correlator_revoke(&run->correlator, partitions->elems[i].partition);
    rd_kafka_assign(consumer, NULL);
    run->assigned = 0;
    log_assignment("revoked", partitions);
}

static rd_kafka_t *open_consumer(struct run *run, char *error, size_t error_size)
{
    const struct correlate_options *options = run->options;
    char group[300];
    snprintf(group, sizeof(group), "group.id=%s", options->group);
    const char *defaults[] = {group,
                              "client.id=op25b-correlate",
                              "enable.auto.commit=false",
                              "enable.partition.eof=true",
                              "auto.offset.reset=earliest",
                              "isolation.level=read_committed",
                              options->verbosity >= 2 ? "log_level=7" : "log_level=3"};
    rd_kafka_conf_t *conf =
        kafka_config(options, defaults, sizeof(defaults) / sizeof(defaults[0]), error, error_size);
    if (conf == NULL)
        return NULL;
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_opaque(conf, run);
    char reason[512];
    rd_kafka_t *consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, reason, sizeof(reason));
    if (consumer == NULL) {
        snprintf(error, error_size, "kafka: %s", reason);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_poll_set_consumer(consumer);
    return consumer;
}

/* The output topic must have a partition for each input partition. */
static int check_output_topic(struct run *run, char *error, size_t error_size)
{
    int32_t count =
        kafka_partition_count(run->tail_reader, run->options->output_topic, error, error_size);
    if (count < 0)
        return -1;
    if (count < run->input_partitions) {
        snprintf(error, error_size,
                 "--output-topic %s has %" PRId32 " partitions, the events topic %s %" PRId32
                 ": each input partition writes to its own",
                 run->options->output_topic, count, run->options->topic, run->input_partitions);
        return -1;
    }
    return 0;
}

static int wait_for_clocks(struct run *run, char *error, size_t error_size)
{
    double deadline = monotonic_seconds() + CLOCKS_WAIT_SECONDS;
    while ((!run->clocks.caught_up || monotonic_seconds() < sensor_clocks_settled(&run->clocks)) &&
           !stop_requested) {
        if (monotonic_seconds() > deadline) {
            snprintf(error, error_size, "kafka: %s not read to its end within %d s",
                     run->options->topic, CLOCKS_WAIT_SECONDS);
            return -1;
        }
        sensor_clocks_poll(&run->clocks, POLL_MS);
    }
    return 0;
}

static int start(struct run *run, char *error, size_t error_size)
{
    const struct correlate_options *options = run->options;
    if (fleet_output_open(&run->output, run->policy, options, error, error_size) != 0)
        return -1;
    double lookback = CLOCK_LOOKBACK_SECONDS;
    if (sensor_clocks_start(&run->clocks, run->policy, options, lookback, error, error_size) != 0)
        return -1;
    run->input_partitions = run->clocks.partition_count;
    /* A batch run learns every sensor's clock before it reads a report, so what it
     * decides, and in which order, depends only on the topic's contents. */
    if (options->exit_at_end && wait_for_clocks(run, error, error_size) != 0)
        return -1;
    if (options->output_topic != NULL) {
        run->tail_reader = kafka_reader(options, "op25b-correlate-resume", error, error_size);
        if (run->tail_reader == NULL || check_output_topic(run, error, error_size) != 0)
            return -1;
    }
    if (correlator_init(&run->correlator, run->policy, options, &run->output, &run->clocks) != 0) {
        snprintf(error, error_size, "out of memory");
        return -1;
    }
    if (options->metrics_address != NULL &&
        (run->metrics =
             fleet_metrics_start(options->metrics_address, run->policy, error, error_size)) == NULL)
        return -1;
    if ((run->consumer = open_consumer(run, error, error_size)) == NULL)
        return -1;
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, options->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t failed = rd_kafka_subscribe(run->consumer, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (failed != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(error, error_size, "kafka: subscribing to %s: %s", options->topic,
                 rd_kafka_err2str(failed));
        return -1;
    }
    return 0;
}

static void take_message(struct run *run, rd_kafka_message_t *message)
{
    if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        correlator_at_end(&run->correlator, message->partition);
        return;
    }
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        char reason[512];
        if (rd_kafka_fatal_error(run->consumer, reason, sizeof(reason)) !=
            RD_KAFKA_RESP_ERR_NO_ERROR) {
            log_message(LOG_FAILURE, "kafka: %s", reason);
            run->status = CORRELATE_RUNTIME;
            stop_requested = 1;
        } else {
            log_message(LOG_INFO, "kafka: %s", rd_kafka_message_errstr(message));
        }
        return;
    }
    rd_kafka_headers_t *headers = NULL;
    const void *type = NULL;
    size_t type_size = 0;
    char type_text[32];
    const char *type_name = NULL;
    if (rd_kafka_message_headers(message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        rd_kafka_header_get_last(headers, "type", &type, &type_size) ==
            RD_KAFKA_RESP_ERR_NO_ERROR &&
        type_size < sizeof(type_text)) {
        memcpy(type_text, type, type_size);
        type_text[type_size] = '\0';
        type_name = type_text;
    }
    correlator_message(&run->correlator, message->partition, message->offset, message->key,
                       message->key_len, type_name, message->payload, message->len);
}

/* A partition read to its end before a sensor's clock settled is asked again whether it
 * still is: the clock counts there only once it is (correlator.c, sensor_clock.h). */
static void refresh_ends(struct run *run, double now)
{
    struct correlator *correlator = &run->correlator;
    double settled = sensor_clocks_settled(&run->clocks);
    if (now < settled)
        return;
    for (size_t i = 0; i < correlator->partition_slots; i++) {
        struct partition_state *state = correlator->partitions[i];
        if (state == NULL || !state->at_end || state->end_seen >= settled)
            continue;
        int64_t low, high;
        if (rd_kafka_query_watermark_offsets(run->consumer, run->options->topic, state->id, &low,
                                             &high, 1000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            high <= state->next_offset)
            state->end_seen = now;
    }
}

static void publish_metrics(struct run *run)
{
    int64_t lag[1024];
    size_t count = run->input_partitions > 0 ? (size_t)run->input_partitions : 0;
    if (count > 1024)
        count = 1024;
    for (size_t p = 0; p < count; p++) {
        const struct partition_state *state = correlator_partition(&run->correlator, (int32_t)p);
        int64_t low, high;
        lag[p] = -1;
        if (state != NULL &&
            rd_kafka_get_watermark_offsets(run->consumer, run->options->topic, (int32_t)p, &low,
                                           &high) == RD_KAFKA_RESP_ERR_NO_ERROR)
            lag[p] = high - (state->next_offset >= 0 ? state->next_offset : low);
        if (lag[p] < -1)
            lag[p] = 0;
    }
    fleet_metrics_publish(run->metrics, &run->correlator, lag, count);
}

static void tick(struct run *run)
{
    double now = monotonic_seconds();
    if (now - run->last_tick < TICK_SECONDS)
        return;
    run->last_tick = now;
    refresh_ends(run, now);
    correlator_decide_ready(&run->correlator);
    if (run->metrics != NULL)
        publish_metrics(run);
    if (now - run->last_commit >= COMMIT_SECONDS) {
        run->last_commit = now;
        deliver_and_commit(run, false);
    }
}

/* --exit-at-end: every assigned partition, and the clocks reader, at the end, the
 * partitions since every clock settled. */
static bool at_end(struct run *run)
{
    if (!run->ever_assigned || run->assigned == 0 || !run->clocks.caught_up)
        return false;
    double settled = sensor_clocks_settled(&run->clocks);
    struct correlator *correlator = &run->correlator;
    for (size_t i = 0; i < correlator->partition_slots; i++) {
        const struct partition_state *state = correlator->partitions[i];
        if (state != NULL && (!state->at_end || state->end_seen < settled))
            return false;
    }
    return true;
}

static void loop(struct run *run)
{
    while (!stop_requested) {
        rd_kafka_message_t *message = rd_kafka_consumer_poll(run->consumer, POLL_MS);
        if (message != NULL) {
            take_message(run, message);
            rd_kafka_message_destroy(message);
        }
        sensor_clocks_poll(&run->clocks, 0);
        fleet_output_poll(&run->output);
        tick(run);
        if (run->options->exit_at_end && at_end(run)) {
            /* One more look with the clocks as they are now, then the rest with what is
             * known. */
            refresh_ends(run, monotonic_seconds());
            correlator_decide_ready(&run->correlator);
            correlator_finish(&run->correlator);
            break;
        }
    }
}

static void stop(struct run *run)
{
    if (run->consumer != NULL) {
        /* Leaves the group: the revocation delivers and commits. */
        rd_kafka_consumer_close(run->consumer);
        rd_kafka_destroy(run->consumer);
    }
    if (fleet_output_flush(&run->output, FLUSH_MS) != 0) {
        log_message(LOG_FAILURE, "fleet events not delivered within %d s", FLUSH_MS / 1000);
        run->status = CORRELATE_RUNTIME;
    }
    fleet_metrics_stop(run->metrics);
    correlator_free(&run->correlator);
    if (run->tail_reader != NULL)
        rd_kafka_destroy(run->tail_reader);
    sensor_clocks_stop(&run->clocks);
    fleet_output_close(&run->output);
}

int correlate_run(const struct correlate_options *options, const struct policy *policy)
{
    struct run run = {.options = options, .policy = policy, .status = CORRELATE_DONE};
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = on_stop;
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    signal(SIGPIPE, SIG_IGN);
    char error[1024];
    if (start(&run, error, sizeof(error)) != 0) {
        log_message(LOG_FAILURE, "%s", error);
        run.status = CORRELATE_RUNTIME;
    } else {
        loop(&run);
    }
    stop(&run);
    log_message(LOG_INFO, "%" PRIu64 " fleet_attempt and %" PRIu64 " fleet_coverage events written",
                run.output.written[FLEET_ATTEMPT], run.output.written[FLEET_COVERAGE]);
    return run.status;
}

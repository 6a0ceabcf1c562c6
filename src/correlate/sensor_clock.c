#include "correlate/sensor_clock.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "correlate/event_reader.h"
#include "correlate/kafka_config.h"
#include "util/log.h"

#define POLL_BATCH 1000

double monotonic_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

void sensor_clocks_observe(struct sensor_clocks *clocks, int sensor, packet_time ts, bool periodic,
                           bool final)
{
    if (sensor < 0 || (size_t)sensor >= clocks->policy->fleet_sensor_count)
        return;
    struct sensor_clock *clock = &clocks->sensors[sensor];
    double now = monotonic_seconds();
    clock->heard = now;
    if (!periodic)
        return;
    /* A final event, then a newer clock: the sensor started again. */
    if (ts > clock->clock || final != clock->ended) {
        if (ts > clock->clock)
            clock->clock = ts;
        clock->ended = final;
        clock->learned = now;
    }
}

/* Every partition from the beginning, or from the offsets of lookback seconds ago. */
static int assign_all(struct sensor_clocks *clocks, const char *topic, bool beginning,
                      double lookback, char *error, size_t error_size)
{
    rd_kafka_topic_partition_list_t *list =
        rd_kafka_topic_partition_list_new(clocks->partition_count);
    int64_t since = (int64_t)((double)time(NULL) - lookback) * 1000;
    for (int32_t p = 0; p < clocks->partition_count; p++)
        rd_kafka_topic_partition_list_add(list, topic, p)->offset =
            beginning ? RD_KAFKA_OFFSET_BEGINNING : since;
    rd_kafka_resp_err_t failed = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (!beginning)
        failed = rd_kafka_offsets_for_times(clocks->reader, list, 10000);
    for (int i = 0; i < list->cnt && failed == RD_KAFKA_RESP_ERR_NO_ERROR; i++) {
        if (list->elems[i].offset < 0)
            list->elems[i].offset = RD_KAFKA_OFFSET_END; /* nothing that recent */
    }
    if (failed == RD_KAFKA_RESP_ERR_NO_ERROR)
        failed = rd_kafka_assign(clocks->reader, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (failed != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(error, error_size, "kafka: reading the sensors' clocks on %s: %s", topic,
                 rd_kafka_err2str(failed));
        return -1;
    }
    return 0;
}

int sensor_clocks_start(struct sensor_clocks *clocks, const struct policy *policy,
                        const struct correlate_options *options, double lookback, char *error,
                        size_t error_size)
{
    memset(clocks, 0, sizeof(*clocks));
    clocks->policy = policy;
    clocks->started = monotonic_seconds();
    clocks->sensors = calloc(policy->fleet_sensor_count, sizeof(*clocks->sensors));
    if (clocks->sensors == NULL) {
        snprintf(error, error_size, "out of memory");
        return -1;
    }
    for (size_t s = 0; s < policy->fleet_sensor_count; s++)
        clocks->sensors[s].heard = clocks->started;
    clocks->reader = kafka_reader(options, "op25b-correlate-clocks", error, error_size);
    if (clocks->reader == NULL)
        return -1;
    clocks->partition_count =
        kafka_partition_count(clocks->reader, options->topic, error, error_size);
    if (clocks->partition_count < 0)
        return -1;
    clocks->at_end = calloc((size_t)clocks->partition_count + 1, sizeof(*clocks->at_end));
    if (clocks->at_end == NULL) {
        snprintf(error, error_size, "out of memory");
        return -1;
    }
    return assign_all(clocks, options->topic, options->exit_at_end, lookback, error, error_size);
}

static bool type_is_periodic(const rd_kafka_message_t *message)
{
    rd_kafka_headers_t *headers = NULL;
    const void *value;
    size_t size;
    if (rd_kafka_message_headers(message, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        rd_kafka_header_get_last(headers, "type", &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return true; /* no header: read it to know */
    return (size == 12 && memcmp(value, "sensor_stats", 12) == 0) ||
           (size == 8 && memcmp(value, "coverage", 8) == 0);
}

static void take(struct sensor_clocks *clocks, const rd_kafka_message_t *message)
{
    int32_t p = message->partition;
    if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (p >= 0 && p < clocks->partition_count)
            clocks->at_end[p] = true;
        bool all = true;
        for (int32_t i = 0; i < clocks->partition_count; i++)
            all = all && clocks->at_end[i];
        clocks->caught_up = all;
        return;
    }
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        log_message(LOG_INFO, "kafka: reading the sensors' clocks: %s",
                    rd_kafka_message_errstr(message));
        return;
    }
    if (p >= 0 && p < clocks->partition_count)
        clocks->at_end[p] = false;
    clocks->caught_up = false;
    if (!type_is_periodic(message))
        return;
    struct fleet_input input;
    fleet_input_read(clocks->policy, NULL, message->payload, message->len, &input);
    if (input.kind == INPUT_CLOCK)
        sensor_clocks_observe(clocks, input.sensor, input.ts, true, input.final);
}

void sensor_clocks_poll(struct sensor_clocks *clocks, int wait_ms)
{
    for (int i = 0; i < POLL_BATCH; i++) {
        rd_kafka_message_t *message = rd_kafka_consumer_poll(clocks->reader, i == 0 ? wait_ms : 0);
        if (message == NULL)
            return;
        take(clocks, message);
        rd_kafka_message_destroy(message);
    }
}

double sensor_clocks_settled(const struct sensor_clocks *clocks)
{
    double learned = 0;
    for (size_t s = 0; s < clocks->policy->fleet_sensor_count; s++) {
        if (clocks->sensors[s].learned > learned)
            learned = clocks->sensors[s].learned;
    }
    return learned + SENSOR_CLOCK_GRACE_SECONDS;
}

void sensor_clocks_stop(struct sensor_clocks *clocks)
{
    if (clocks->reader != NULL) {
        rd_kafka_consumer_close(clocks->reader);
        rd_kafka_destroy(clocks->reader);
    }
    free(clocks->sensors);
    free(clocks->at_end);
    memset(clocks, 0, sizeof(*clocks));
}

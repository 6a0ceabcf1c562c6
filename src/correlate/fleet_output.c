#include "correlate/fleet_output.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "correlate/kafka_config.h"
#include "util/json.h"
#include "util/log.h"

#define EVENT_VERSION 1

static const char *const event_names[FLEET_EVENT_COUNT] = {"fleet_attempt", "fleet_coverage"};

const char *fleet_event_name(enum fleet_event type)
{
    return event_names[type];
}

static void on_delivery(rd_kafka_t *producer, const rd_kafka_message_t *message, void *opaque)
{
    (void)producer;
    struct fleet_output *output = opaque;
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        output->errors++;
        log_message(LOG_ERROR, "kafka: a fleet event was not delivered: %s",
                    rd_kafka_err2str(message->err));
    }
}

static rd_kafka_t *open_producer(struct fleet_output *output,
                                 const struct correlate_options *options, char *error,
                                 size_t error_size)
{
    /* Idempotent: a retry after a broken connection neither loses nor repeats a message,
     * and messages of a partition stay in order without gaps. They wait as long as they
     * must (the memory bound is librdkafka's queue). */
    const char *defaults[] = {"client.id=op25b-correlate",
                              "enable.idempotence=true",
                              "acks=all",
                              "message.timeout.ms=0",
                              "linger.ms=5",
                              options->verbosity >= 2 ? "log_level=7" : "log_level=3"};
    rd_kafka_conf_t *conf =
        kafka_config(options, defaults, sizeof(defaults) / sizeof(defaults[0]), error, error_size);
    if (conf == NULL)
        return NULL;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, output);
    char reason[512];
    rd_kafka_t *producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, reason, sizeof(reason));
    if (producer == NULL) {
        snprintf(error, error_size, "kafka: %s", reason);
        rd_kafka_conf_destroy(conf);
    }
    return producer;
}

int fleet_output_open(struct fleet_output *output, const struct policy *policy,
                      const struct correlate_options *options, char *error, size_t error_size)
{
    memset(output, 0, sizeof(*output));
    output->policy = policy;
    output->topic = options->output_topic;
    if (options->output_path != NULL &&
        (output->file = sink_file_open(options->output_path, false, error, error_size)) == NULL)
        return -1;
    if (options->output_topic != NULL &&
        (output->producer = open_producer(output, options, error, error_size)) == NULL)
        return -1;
    return 0;
}

static void add_number(rd_kafka_headers_t *headers, const char *name, int64_t value)
{
    char text[24];
    int length = snprintf(text, sizeof(text), "%" PRId64, value);
    rd_kafka_header_add(headers, name, -1, text, length);
}

static rd_kafka_headers_t *mark_headers(enum fleet_event type, const struct fleet_mark *mark)
{
    rd_kafka_headers_t *headers = rd_kafka_headers_new(6);
    rd_kafka_header_add(headers, "type", -1, event_names[type], -1);
    rd_kafka_header_add(headers, "v", -1, "1", 1);
    add_number(headers, "in_partition", mark->partition);
    if (mark->offset_count > 0) {
        char text[FLEET_REPORTS_MAX * 21];
        size_t used = 0;
        for (int i = 0; i < mark->offset_count && used < sizeof(text); i++)
            used += (size_t)snprintf(text + used, sizeof(text) - used, "%s%" PRId64,
                                     i == 0 ? "" : ",", mark->offsets[i]);
        rd_kafka_header_add(headers, "in_offsets", -1, text, (ssize_t)strlen(text));
    }
    add_number(headers, "resume", mark->resume);
    add_number(headers, "position", mark->position);
    return headers;
}

/* Hands the finished line to the file and the topic. */
static void emit(struct fleet_output *output, struct json_writer *writer, enum fleet_event type,
                 const char *key, const struct fleet_mark *mark)
{
    json_object_end(writer);
    if (!json_finish(writer)) {
        output->errors++;
        log_message(LOG_ERROR, "a %s event did not fit %d bytes and was dropped", event_names[type],
                    FLEET_LINE_MAX);
        return;
    }
    output->written[type]++;
    if (output->file != NULL) {
        struct event_line line = {event_names[type], writer->buffer, writer->length, key,
                                  strlen(key)};
        if (output->file->ops->write(output->file, &line) != 0)
            output->errors++;
    }
    if (output->producer == NULL)
        return;
    rd_kafka_headers_t *headers = mark_headers(type, mark);
    rd_kafka_resp_err_t failed = rd_kafka_producev(
        output->producer, RD_KAFKA_V_TOPIC(output->topic), RD_KAFKA_V_PARTITION(mark->partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE(writer->buffer, writer->length - 1), RD_KAFKA_V_KEY(key, strlen(key)),
        RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END);
    if (failed != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_headers_destroy(headers);
        output->errors++;
        log_message(LOG_ERROR, "kafka: a %s event could not be queued: %s", event_names[type],
                    rd_kafka_err2str(failed));
    }
}

static void begin(struct fleet_output *output, struct json_writer *writer, enum fleet_event type,
                  packet_time ts)
{
    char time_text[PACKET_TIME_TEXT_MAX];
    size_t time_length = packet_time_format(ts, time_text, sizeof(time_text));
    json_init(writer, output->line, sizeof(output->line));
    json_object_begin(writer);
    json_key_plain(writer, "type", event_names[type], strlen(event_names[type]));
    json_key_u64(writer, "v", EVENT_VERSION);
    json_key_plain(writer, "ts", time_text, time_length);
}

static void write_sensors(struct json_writer *writer, const struct policy *policy,
                          const struct fleet_attempt *attempt)
{
    /* In the fleet policy's order, so the same attempt always reads the same. */
    json_key_array_begin(writer, "seen_by");
    for (size_t s = 0; s < policy->fleet_sensor_count; s++) {
        if (join_report_of(attempt, (int)s) != NULL)
            json_array_string(writer, policy->fleet_sensors[s].name);
    }
    json_array_end(writer);
    json_key_object_begin(writer, "sensor_verdicts");
    for (size_t s = 0; s < policy->fleet_sensor_count; s++) {
        const struct fleet_report *report = join_report_of(attempt, (int)s);
        if (report != NULL)
            json_key_string(writer, policy->fleet_sensors[s].name, verdict_name(report->verdict));
    }
    json_object_end(writer);
}

void fleet_output_attempt(struct fleet_output *output, const struct fleet_attempt *attempt,
                          const struct fleet_decision *decision, const struct fleet_mark *mark)
{
    const struct policy *policy = output->policy;
    struct json_writer writer;
    begin(output, &writer, FLEET_ATTEMPT, attempt->start);
    json_key_plain(&writer, "src_ip", attempt->src, strlen(attempt->src));
    json_key_u64(&writer, "src_port", attempt->src_port);
    json_key_plain(&writer, "dst_ip", attempt->dst, strlen(attempt->dst));
    json_key_u64(&writer, "dst_port", attempt->dst_port);
    json_key_plain(&writer, "proto", "tcp", 3);
    json_key_plain(&writer, "community_id", attempt->community_id, strlen(attempt->community_id));
    json_key_string(&writer, "pool", policy->pools[attempt->pool].name);
    const char *point =
        decision->point != POLICY_NO_INDEX ? policy->blocking_points[decision->point].name : NULL;
    if (point != NULL)
        json_key_string(&writer, "blocking_point", point);
    json_key_u64(&writer, "ip_version", attempt->family);
    json_key_string(&writer, "verdict", verdict_name(decision->verdict));
    json_key_string(&writer, "reason", fleet_reason_name(decision->reason));
    if (decision->held && point != NULL)
        json_key_string(&writer, "held_at", point);
    if (decision->failed && point != NULL) {
        json_key_array_begin(&writer, "failed_at");
        json_array_string(&writer, point);
        json_array_end(&writer);
    }
    write_sensors(&writer, policy, attempt);
    emit(output, &writer, FLEET_ATTEMPT, attempt->key, mark);
}

static void write_counts(struct json_writer *writer, const struct coverage_counts *counts)
{
    json_key_u64(writer, "attempts", coverage_attempts(counts));
    for (int v = 0; v < VERDICT_COUNT; v++)
        json_key_u64(writer, verdict_name((enum verdict)v), counts->by_verdict[v]);
    double ratio;
    if (coverage_ratio(counts, &ratio))
        json_key_fixed(writer, "coverage", ratio, 4);
}

void fleet_output_coverage(struct fleet_output *output, const struct coverage *counts,
                           packet_time ts, bool final, const struct fleet_mark *mark)
{
    static const int families[2] = {ADDRESS_V4, ADDRESS_V6};
    const struct policy *policy = output->policy;
    for (size_t p = 0; p < policy->pool_count; p++) {
        for (int f = 0; f < 2; f++) {
            const struct coverage_counts *pool_counts = coverage_get(counts, (int)p, families[f]);
            if (coverage_attempts(pool_counts) == 0)
                continue;
            struct json_writer writer;
            begin(output, &writer, FLEET_COVERAGE, ts);
            json_key_u64(&writer, "partition", (uint64_t)mark->partition);
            json_key_string(&writer, "pool", policy->pools[p].name);
            int point = policy->pools[p].blocking_point;
            if (point != POLICY_NO_INDEX)
                json_key_string(&writer, "blocking_point", policy->blocking_points[point].name);
            json_key_u64(&writer, "ip_version", (uint64_t)families[f]);
            write_counts(&writer, pool_counts);
            json_key_bool(&writer, "final", final);
            emit(output, &writer, FLEET_COVERAGE, policy->pools[p].name, mark);
        }
    }
}

int fleet_output_flush(struct fleet_output *output, int timeout_ms)
{
    int status = 0;
    if (output->file != NULL && output->file->ops->flush(output->file) != 0)
        status = -1;
    if (output->producer != NULL &&
        rd_kafka_flush(output->producer, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
        status = -1;
    return status;
}

void fleet_output_poll(struct fleet_output *output)
{
    if (output->producer != NULL)
        rd_kafka_poll(output->producer, 0);
}

void fleet_output_close(struct fleet_output *output)
{
    if (output->file != NULL)
        output->file->ops->close(output->file);
    if (output->producer != NULL)
        rd_kafka_destroy(output->producer);
    output->file = NULL;
    output->producer = NULL;
}

#include "correlate/resume.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "correlate/event_reader.h"

#define CHUNK 1000
#define WAIT_MS 10000
/* A backlog this long behind its resume point is no correlator's output. */
#define MESSAGES_MAX 10000000

struct scan {
    const struct policy *policy;
    struct resume_point *out;
    bool have_last;
    bool passed_resume; /* an older message had read no further than the resume point */
    bool have_coverage; /* the partition's last fleet_coverage was seen */
};

static bool header_number(rd_kafka_headers_t *headers, const char *name, int64_t *out)
{
    const void *value;
    size_t size;
    char text[24];
    if (headers == NULL ||
        rd_kafka_header_get_last(headers, name, &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        size == 0 || size >= sizeof(text))
        return false;
    memcpy(text, value, size);
    text[size] = '\0';
    char *end;
    long long number = strtoll(text, &end, 10);
    *out = number;
    return *end == '\0';
}

static int add_skip(struct resume_point *out, int64_t offset)
{
    if (out->skip_count == out->skip_capacity) {
        size_t capacity = out->skip_capacity == 0 ? 64 : out->skip_capacity * 2;
        int64_t *larger = realloc(out->skip, capacity * sizeof(*larger));
        if (larger == NULL)
            return -1;
        out->skip = larger;
        out->skip_capacity = capacity;
    }
    out->skip[out->skip_count++] = offset;
    return 0;
}

static int take_offsets(struct resume_point *out, rd_kafka_headers_t *headers)
{
    const void *value;
    size_t size;
    if (rd_kafka_header_get_last(headers, "in_offsets", &value, &size) !=
        RD_KAFKA_RESP_ERR_NO_ERROR)
        return 0;
    char text[512];
    if (size >= sizeof(text))
        return -1;
    memcpy(text, value, size);
    text[size] = '\0';
    for (char *part = strtok(text, ","); part != NULL; part = strtok(NULL, ",")) {
        int64_t offset = strtoll(part, NULL, 10);
        if (offset >= out->resume && add_skip(out, offset) != 0)
            return -1;
    }
    return 0;
}

/* A fleet_attempt written since the last fleet_coverage: its pool, family and verdict. */
static void count_attempt(const struct policy *policy, struct resume_point *out,
                          const rd_kafka_message_t *message)
{
    json_t *event = json_loadb(message->payload, message->len, 0, NULL);
    const char *pool = json_string_value(json_object_get(event, "pool"));
    const char *verdict = json_string_value(json_object_get(event, "verdict"));
    const char *ts = json_string_value(json_object_get(event, "ts"));
    json_int_t family = json_integer_value(json_object_get(event, "ip_version"));
    packet_time time;
    for (size_t p = 0; pool != NULL && verdict != NULL && p < policy->pool_count; p++) {
        if (strcmp(policy->pools[p].name, pool) != 0)
            continue;
        for (int v = 0; v < VERDICT_COUNT; v++) {
            if (strcmp(verdict, verdict_name((enum verdict)v)) == 0)
                coverage_add(&out->pending, (int)p, (int)family, (enum verdict)v);
        }
    }
    if (ts != NULL && fleet_parse_time(ts, &time) && time > out->written_ts)
        out->written_ts = time;
    json_decref(event);
}

static packet_time coverage_time(const rd_kafka_message_t *message)
{
    json_t *event = json_loadb(message->payload, message->len, 0, NULL);
    const char *ts = json_string_value(json_object_get(event, "ts"));
    packet_time time = 0;
    if (ts != NULL)
        fleet_parse_time(ts, &time);
    json_decref(event);
    return time;
}

/* One message, newest first. -1 when it is no correlator's. */
static int take(struct scan *scan, const rd_kafka_message_t *message)
{
    struct resume_point *out = scan->out;
    rd_kafka_headers_t *headers = NULL;
    rd_kafka_message_headers(message, &headers);
    int64_t resume, position;
    const void *type;
    size_t type_size;
    if (!header_number(headers, "resume", &resume) ||
        !header_number(headers, "position", &position) ||
        rd_kafka_header_get_last(headers, "type", &type, &type_size) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return -1;
    if (!scan->have_last) {
        scan->have_last = true;
        out->found = true;
        out->resume = resume;
        out->position = position;
    }
    bool attempt = type_size == 13 && memcmp(type, "fleet_attempt", 13) == 0;
    if (!scan->have_coverage && attempt)
        count_attempt(scan->policy, out, message);
    if (!scan->have_coverage && !attempt) {
        scan->have_coverage = true;
        out->coverage_ts = coverage_time(message);
    }
    /* Positions never decrease: once one is at or before the resume point, every older
     * message's reports are too, and none is read again. */
    if (position <= out->resume)
        scan->passed_resume = true;
    else if (attempt && take_offsets(out, headers) != 0)
        return -1;
    return 0;
}

/* Reads [from, to) into messages (allocated, to - from entries). */
static int read_chunk(rd_kafka_t *reader, const char *topic, int32_t partition, int64_t from,
                      int64_t to, rd_kafka_message_t **messages)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, topic, partition)->offset = from;
    rd_kafka_resp_err_t failed = rd_kafka_assign(reader, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (failed != RD_KAFKA_RESP_ERR_NO_ERROR)
        return -1;
    int64_t next = from;
    int waited = 0;
    while (next < to && waited < WAIT_MS) {
        rd_kafka_message_t *message = rd_kafka_consumer_poll(reader, 100);
        if (message == NULL) {
            waited += 100;
            continue;
        }
        if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR && message->offset >= from &&
            message->offset < to && messages[message->offset - from] == NULL) {
            messages[message->offset - from] = message;
            next = message->offset + 1;
            continue;
        }
        rd_kafka_message_destroy(message);
    }
    rd_kafka_assign(reader, NULL);
    return next == to ? 0 : -1;
}

/* Scans [from, to) newest first; 1 when the scan is complete, 0 to go on, -1 on error. */
static int scan_chunk(struct scan *scan, rd_kafka_t *reader, const char *topic, int32_t partition,
                      int64_t from, int64_t to)
{
    size_t count = (size_t)(to - from);
    rd_kafka_message_t **messages = calloc(count, sizeof(*messages));
    if (messages == NULL)
        return -1;
    int status = read_chunk(reader, topic, partition, from, to, messages);
    for (size_t i = count; i-- > 0 && status == 0;) {
        if (messages[i] == NULL || take(scan, messages[i]) != 0)
            status = -1;
        scan->out->messages_read++;
    }
    for (size_t i = 0; i < count; i++) {
        if (messages[i] != NULL)
            rd_kafka_message_destroy(messages[i]);
    }
    free(messages);
    if (status != 0)
        return -1;
    return scan->passed_resume && scan->have_coverage ? 1 : 0;
}

static int compare_offsets(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int resume_read(rd_kafka_t *reader, const char *topic, int32_t partition,
                const struct policy *policy, struct resume_point *out, char *error,
                size_t error_size)
{
    memset(out, 0, sizeof(*out));
    if (coverage_init(&out->pending, policy->pool_count) != 0) {
        snprintf(error, error_size, "out of memory");
        return -1;
    }
    int64_t low = 0, high = 0;
    rd_kafka_resp_err_t failed =
        rd_kafka_query_watermark_offsets(reader, topic, partition, &low, &high, WAIT_MS);
    if (failed != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(error, error_size, "kafka: output %s [%" PRId32 "]: %s", topic, partition,
                 rd_kafka_err2str(failed));
        return -1;
    }
    struct scan scan = {.policy = policy, .out = out};
    int status = 0;
    for (int64_t to = high; to > low && status == 0 && out->messages_read < MESSAGES_MAX;) {
        int64_t from = to - CHUNK > low ? to - CHUNK : low;
        status = scan_chunk(&scan, reader, topic, partition, from, to);
        to = from;
    }
    if (status < 0) {
        snprintf(error, error_size,
                 "kafka: output %s [%" PRId32 "] cannot be read back, or holds messages "
                 "op25b-correlate did not write",
                 topic, partition);
        return -1;
    }
    if (out->skip_count > 1)
        qsort(out->skip, out->skip_count, sizeof(*out->skip), compare_offsets);
    return 0;
}

bool resume_skips(const struct resume_point *point, int64_t offset)
{
    return point->skip_count > 0 && bsearch(&offset, point->skip, point->skip_count,
                                            sizeof(*point->skip), compare_offsets) != NULL;
}

void resume_free(struct resume_point *point)
{
    free(point->skip);
    coverage_free(&point->pending);
    memset(point, 0, sizeof(*point));
}

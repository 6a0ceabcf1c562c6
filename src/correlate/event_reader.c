#include "correlate/event_reader.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

bool fleet_parse_time(const char *text, packet_time *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    unsigned micros = 0;
    int used = 0;
    if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d.%6uZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &micros, &used) != 7 ||
        used != PACKET_TIME_TEXT_LENGTH || text[used] != '\0')
        return false;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t seconds = timegm(&tm);
    *out = (packet_time)seconds * PACKET_TIME_SECOND + micros;
    return true;
}

static const char *text_of(const json_t *object, const char *key)
{
    return json_string_value(json_object_get(object, key));
}

static bool copy_text(const json_t *object, const char *key, char *out, size_t size)
{
    const char *text = text_of(object, key);
    if (text == NULL || strlen(text) >= size)
        return false;
    memcpy(out, text, strlen(text) + 1);
    return true;
}

static bool read_port(const json_t *object, const char *key, uint16_t *out)
{
    json_int_t value = json_integer_value(json_object_get(object, key));
    if (!json_is_integer(json_object_get(object, key)) || value < 0 || value > 65535)
        return false;
    *out = (uint16_t)value;
    return true;
}

static bool read_verdict(const json_t *event, enum verdict *verdict, evidence_set *evidence)
{
    const char *name = text_of(event, "verdict");
    if (name == NULL)
        return false;
    *verdict = VERDICT_COUNT;
    for (int v = 0; v < VERDICT_COUNT; v++) {
        if (strcmp(name, verdict_name((enum verdict)v)) == 0)
            *verdict = (enum verdict)v;
    }
    *evidence = 0;
    size_t index;
    json_t *item;
    json_array_foreach(json_object_get(event, "evidence"), index, item)
    {
        const char *evidence_text = json_string_value(item);
        for (int e = 0; e < EVIDENCE_COUNT && evidence_text != NULL; e++) {
            if (strcmp(evidence_text, evidence_name((enum evidence)e)) == 0)
                *evidence |= EVIDENCE_BIT(e);
        }
    }
    return *verdict != VERDICT_COUNT;
}

/* The attempt's flow, place and verdict; false when a field is missing or wrong. */
static bool read_attempt(const struct policy *policy, const json_t *event, struct fleet_input *out)
{
    struct address source;
    if (!copy_text(event, "community_id", out->community_id, sizeof(out->community_id)) ||
        !copy_text(event, "src_ip", out->src, sizeof(out->src)) ||
        !copy_text(event, "dst_ip", out->dst, sizeof(out->dst)) ||
        !read_port(event, "src_port", &out->src_port) ||
        !read_port(event, "dst_port", &out->dst_port) || !address_parse(out->src, &source) ||
        !read_verdict(event, &out->verdict, &out->evidence))
        return false;
    json_t *duration = json_object_get(event, "duration");
    if (!json_is_number(duration) || json_number_value(duration) < 0)
        return false;
    out->end = out->ts + (packet_time)(json_number_value(duration) * PACKET_TIME_SECOND + 0.5);
    out->family = source.family;
    out->pool = policy_pool_of(policy, &source);
    if (out->pool == POLICY_NO_INDEX || policy->pools[out->pool].type != POOL_DYNAMIC)
        out->kind = INPUT_OTHER;
    return true;
}

static enum fleet_input_kind kind_of_type(const char *type)
{
    if (strcmp(type, "attempt") == 0)
        return INPUT_ATTEMPT;
    if (strcmp(type, "sensor_stats") == 0 || strcmp(type, "coverage") == 0)
        return INPUT_CLOCK;
    return INPUT_OTHER;
}

static void read_event(const struct policy *policy, const json_t *event, struct fleet_input *out)
{
    const char *type = text_of(event, "type");
    const char *sensor = text_of(event, "sensor");
    const char *ts = text_of(event, "ts");
    if (!json_is_object(event) || type == NULL || sensor == NULL || ts == NULL ||
        json_integer_value(json_object_get(event, "v")) != 1 || !fleet_parse_time(ts, &out->ts))
        return;
    out->sensor = policy_fleet_sensor(policy, sensor);
    if (out->sensor == POLICY_NO_INDEX) {
        out->kind = INPUT_STRANGER;
        return;
    }
    enum fleet_input_kind kind = kind_of_type(type);
    out->kind = kind;
    if (kind == INPUT_CLOCK)
        out->final = json_is_true(json_object_get(event, "final"));
    else if (kind == INPUT_ATTEMPT && !read_attempt(policy, event, out))
        out->kind = INPUT_BAD;
}

void fleet_input_read(const struct policy *policy, const char *type, const void *value,
                      size_t length, struct fleet_input *out)
{
    memset(out, 0, sizeof(*out));
    out->kind = INPUT_BAD;
    out->sensor = POLICY_NO_INDEX;
    /* Findings are many and say nothing the join needs but the sensor's clock, which the
     * attempts and periodic events already carry: skipped unread. */
    if (type != NULL && kind_of_type(type) == INPUT_OTHER) {
        out->kind = INPUT_OTHER;
        return;
    }
    json_error_t error;
    json_t *event = json_loadb(value, length, JSON_REJECT_DUPLICATES, &error);
    if (event == NULL)
        return;
    read_event(policy, event, out);
    json_decref(event);
}

#include <string.h>

#include "output/event_writer.h"
#include "policy/geoip.h"
#include "record/finding_fields.h"

/* ---- Walked fields into the line ---- */

static void put_u64(void *context, const char *name, uint64_t value)
{
    json_key_u64(context, name, value);
}

static void put_string(void *context, const char *name, const char *value)
{
    if (name == NULL)
        json_array_string(context, value);
    else
        json_key_string(context, name, value);
}

static void put_boolean(void *context, const char *name, bool value)
{
    json_key_bool(context, name, value);
}

static void put_fixed(void *context, const char *name, double value, int decimals)
{
    json_key_fixed(context, name, value, decimals);
}

static void put_address(void *context, const char *name, const struct address *value)
{
    char text[ADDRESS_TEXT_MAX];
    address_format(value, text, sizeof(text));
    put_string(context, name, text);
}

static void put_time(void *context, const char *name, packet_time value)
{
    char text[PACKET_TIME_TEXT_MAX];
    packet_time_format(value, text, sizeof(text));
    json_key_string(context, name, text);
}

static void put_object(void *context, const char *name)
{
    json_key_object_begin(context, name);
}

static void put_object_end(void *context)
{
    json_object_end(context);
}

static void put_list(void *context, const char *name)
{
    json_key_array_begin(context, name);
}

static void put_list_end(void *context)
{
    json_array_end(context);
}

const struct field_walker json_field_walker = {
    .u64 = put_u64,
    .string = put_string,
    .boolean = put_boolean,
    .fixed = put_fixed,
    .address = put_address,
    .time = put_time,
    .object_begin = put_object,
    .object_end = put_object_end,
    .list_begin = put_list,
    .list_end = put_list_end,
};

void event_write_geoip(struct json_writer *writer, const struct policy *policy,
                       const struct address *dst)
{
    struct geoip_result where;
    if (policy->geoip == NULL || !geoip_lookup(policy->geoip, dst, &where))
        return;
    if (where.has_asn) {
        json_key_u64(writer, "dst_asn", where.asn);
        if (where.as_org[0] != '\0')
            json_key_string(writer, "dst_as_org", where.as_org);
    }
    if (where.has_country)
        json_key_string(writer, "dst_country", where.country);
}

void event_finding(struct events *events, const struct finding *finding)
{
    const struct policy *policy = events->policy;
    const struct flow_tuple *flow = &finding->flow;
    struct json_writer writer;
    char src_text[ADDRESS_TEXT_MAX], key_text[PREFIX_TEXT_MAX];
    event_begin(events, &writer, finding->type, finding->ts);
    if (finding->has_flow)
        event_write_flow(&writer, policy, &flow->src, flow->src_port, &flow->dst, flow->dst_port,
                         flow->proto, src_text);
    int point = finding_blocking_point(finding, policy);
    if (finding->pool >= 0 && (size_t)finding->pool < policy->pool_count &&
        point == policy->pools[finding->pool].blocking_point)
        event_write_place_cached(events, &writer, finding->pool, finding->segment);
    else /* a finding about another point than its pool's (a carved static pool's) */
        event_write_place_at(&writer, policy, finding->pool, point, finding->segment);
    finding_walk(finding, policy, &json_field_walker, &writer);
    if ((unsigned)finding->type < EVENT_TYPE_COUNT && events->limits[finding->type].pending > 0) {
        json_key_u64(&writer, "suppressed_before", events->limits[finding->type].pending);
        events->limits[finding->type].pending = 0;
    }
    /* The subscriber it is about (finding_subscriber: its key, else the flow's source). */
    const char *key = policy->sensor_name;
    if (finding->has_key || finding->has_flow) {
        struct address subscriber = finding_subscriber(finding);
        event_subscriber_key(policy, &subscriber, key_text, sizeof(key_text));
        key = key_text;
    }
    event_emit(events, &writer, finding->type, key);
}

/* Minutes of packet time as the writer's clock reaches them, each type counted apart. */
bool event_finding_suppressed(struct events *events, const struct finding *finding)
{
    if ((unsigned)finding->type >= EVENT_TYPE_COUNT)
        return false;
    struct event_limit *limit = &events->limits[finding->type];
    if (limit->per_minute == 0)
        return false;
    const int64_t minute_length = 60 * PACKET_TIME_SECOND;
    int64_t minute = events->clock / minute_length;
    if (events->clock % minute_length < 0)
        minute--;
    if (minute != limit->minute) {
        limit->minute = minute;
        limit->written = 0;
    }
    if (limit->written >= limit->per_minute) {
        limit->pending++;
        limit->suppressed++;
        return true;
    }
    limit->written++;
    return false;
}

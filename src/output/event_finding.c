#include <string.h>

#include "output/event_writer.h"
#include "record/finding.h"
#include "policy/geoip.h"
#include "util/log.h"

void finding_init(struct finding *finding, enum event_type type, packet_time ts)
{
    finding->type = type;
    finding->ts = ts;
    finding->has_flow = false;
    finding->has_key = false;
    finding->pool = -1;
    finding->segment = -1;
    finding->field_count = 0;
    finding->overflow = false;
}

void finding_set_flow(struct finding *finding, const struct address *src, uint16_t src_port,
                      const struct address *dst, uint16_t dst_port, uint8_t proto)
{
    finding->has_flow = true;
    finding->src = *src;
    finding->dst = *dst;
    finding->src_port = src_port;
    finding->dst_port = dst_port;
    finding->proto = proto;
}

void finding_set_key(struct finding *finding, const struct address *subscriber)
{
    finding->has_key = true;
    finding->key = *subscriber;
}

static struct finding_field *add(struct finding *finding, const char *name,
                                 enum finding_field_kind kind)
{
    if (finding->field_count == FINDING_MAX_FIELDS) {
        finding->overflow = true;
        return NULL;
    }
    struct finding_field *field = &finding->fields[finding->field_count++];
    field->name = name;
    field->kind = (uint8_t)kind;
    field->decimals = 0;
    return field;
}

const struct finding_field *finding_field_named(const struct finding *finding, const char *name)
{
    int depth = 0;
    for (size_t i = 0; i < finding->field_count; i++) {
        const struct finding_field *field = &finding->fields[i];
        if (field->kind == FINDING_END) {
            depth -= depth > 0;
            continue;
        }
        if (depth == 0 && field->name != NULL && strcmp(field->name, name) == 0)
            return field;
        if (field->kind == FINDING_OBJECT || field->kind == FINDING_LIST)
            depth++;
    }
    return NULL;
}

bool finding_field_number(const struct finding_field *field, double *value)
{
    if (field == NULL)
        return false;
    switch ((enum finding_field_kind)field->kind) {
    case FINDING_NUMBER:
        *value = field->value.number;
        return true;
    case FINDING_U64:
        *value = (double)field->value.u64;
        return true;
    case FINDING_I64:
        *value = (double)field->value.i64;
        return true;
    default:
        return false;
    }
}

void finding_u64(struct finding *finding, const char *name, uint64_t value)
{
    struct finding_field *field = add(finding, name, FINDING_U64);
    if (field != NULL)
        field->value.u64 = value;
}

void finding_i64(struct finding *finding, const char *name, int64_t value)
{
    struct finding_field *field = add(finding, name, FINDING_I64);
    if (field != NULL)
        field->value.i64 = value;
}

void finding_string(struct finding *finding, const char *name, const char *value)
{
    struct finding_field *field = add(finding, name, FINDING_STRING);
    if (field != NULL)
        field->value.string = value != NULL ? value : "";
}

void finding_bool(struct finding *finding, const char *name, bool value)
{
    struct finding_field *field = add(finding, name, FINDING_BOOL);
    if (field != NULL)
        field->value.boolean = value;
}

void finding_number(struct finding *finding, const char *name, double value, int decimals)
{
    struct finding_field *field = add(finding, name, FINDING_NUMBER);
    if (field != NULL) {
        field->value.number = value;
        field->decimals = (uint8_t)(decimals < 0 ? 0 : decimals > 9 ? 9 : decimals);
    }
}

void finding_address(struct finding *finding, const char *name, const struct address *value)
{
    struct finding_field *field = add(finding, name, FINDING_ADDRESS);
    if (field != NULL)
        field->value.address = *value;
}

void finding_time(struct finding *finding, const char *name, packet_time value)
{
    struct finding_field *field = add(finding, name, FINDING_TIME);
    if (field != NULL)
        field->value.time = value;
}

void finding_object_begin(struct finding *finding, const char *name)
{
    add(finding, name, FINDING_OBJECT);
}

void finding_list_begin(struct finding *finding, const char *name)
{
    add(finding, name, FINDING_LIST);
}

void finding_end(struct finding *finding)
{
    add(finding, NULL, FINDING_END);
}

static void write_fields(struct json_writer *writer, const struct finding *finding)
{
    /* Whether each open level is a list, so its members are written without names. */
    bool in_list[8] = {false};
    int depth = 0;
    for (size_t i = 0; i < finding->field_count; i++) {
        const struct finding_field *field = &finding->fields[i];
        bool listed = in_list[depth];
        char
            text[ADDRESS_TEXT_MAX > PACKET_TIME_TEXT_MAX ? ADDRESS_TEXT_MAX : PACKET_TIME_TEXT_MAX];
        switch ((enum finding_field_kind)field->kind) {
        case FINDING_U64:
            json_key_u64(writer, field->name, field->value.u64);
            break;
        case FINDING_I64:
            json_key_i64(writer, field->name, field->value.i64);
            break;
        case FINDING_STRING:
            if (listed)
                json_array_string(writer, field->value.string);
            else
                json_key_string(writer, field->name, field->value.string);
            break;
        case FINDING_BOOL:
            json_key_bool(writer, field->name, field->value.boolean);
            break;
        case FINDING_NUMBER:
            json_key_fixed(writer, field->name, field->value.number, field->decimals);
            break;
        case FINDING_ADDRESS:
            address_format(&field->value.address, text, sizeof(text));
            if (listed)
                json_array_string(writer, text);
            else
                json_key_string(writer, field->name, text);
            break;
        case FINDING_TIME:
            packet_time_format(field->value.time, text, sizeof(text));
            json_key_string(writer, field->name, text);
            break;
        case FINDING_OBJECT:
        case FINDING_LIST:
            if (depth + 1 >= (int)(sizeof(in_list) / sizeof(in_list[0])))
                return; /* json_finish() then fails: counted as oversize, never malformed */
            depth++;
            in_list[depth] = field->kind == FINDING_LIST;
            if (field->kind == FINDING_LIST)
                json_key_array_begin(writer, field->name);
            else
                json_key_object_begin(writer, field->name);
            break;
        case FINDING_END:
            if (depth == 0)
                break;
            if (in_list[depth])
                json_array_end(writer);
            else
                json_object_end(writer);
            depth--;
            break;
        }
    }
    while (depth > 0) { /* a detector forgot an end: close what is open */
        if (in_list[depth])
            json_array_end(writer);
        else
            json_object_end(writer);
        depth--;
    }
}

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
    struct json_writer writer;
    char src_text[ADDRESS_TEXT_MAX], key_text[ADDRESS_TEXT_MAX];
    if (finding->overflow)
        log_message(LOG_WARNING, "a %s finding had more than %d fields; the rest were left out",
                    event_type_name(finding->type), FINDING_MAX_FIELDS);
    event_begin(events, &writer, finding->type, finding->ts);
    if (finding->has_flow)
        event_write_flow(&writer, policy, &finding->src, finding->src_port, &finding->dst,
                         finding->dst_port, finding->proto, src_text);
    event_write_place(&writer, policy, finding->pool, finding->segment);
    write_fields(&writer, finding);
    const char *key = policy->sensor_name;
    if (finding->has_key) {
        address_format(&finding->key, key_text, sizeof(key_text));
        key = key_text;
    } else if (finding->has_flow) {
        key = src_text;
    }
    event_emit(events, &writer, finding->type, key, finding);
}

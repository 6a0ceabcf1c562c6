/* The YAML side of the policy loader: messages with FILE:LINE, nodes and values, mappings
 * with their expected keys, the names of lists, and the event pass that refuses what the
 * loader does not support. */
#include "policy/policy_reader.h"

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Nesting past this is no policy. */
#define POLICY_DEPTH_MAX 32

/* ---- Messages ---- */

int line_of(const yaml_node_t *node)
{
    size_t line = node->start_mark.line + 1;
    return line > INT_MAX ? INT_MAX : (int)line;
}

static void write_error(struct loader *loader, int line, const char *format, va_list args)
{
    if (loader->error == NULL || loader->error_size == 0)
        return;
    int used = line > 0 ? snprintf(loader->error, loader->error_size, "%s:%d: ", loader->name, line)
                        : snprintf(loader->error, loader->error_size, "%s: ", loader->name);
    if (used < 0 || (size_t)used >= loader->error_size)
        return;
    vsnprintf(loader->error + used, loader->error_size - (size_t)used, format, args);
}

/* Writes "NAME:LINE: message" (or "NAME: message" for line 0) and returns -1. */
int fail_line(struct loader *loader, int line, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    write_error(loader, line, format, args);
    va_end(args);
    return -1;
}

#define fail_at(loader, node, ...) fail_line((loader), line_of(node), __VA_ARGS__)

int fail_memory(struct loader *loader)
{
    return fail_line(loader, 0, "out of memory");
}

/* "a or b", or "one of: a, b, c". */
void format_choices(const char *const *names, size_t count, char *buffer, size_t size)
{
    size_t used = 0;
    if (count == 2) {
        snprintf(buffer, size, "%s or %s", names[0], names[1]);
        return;
    }
    used += (size_t)snprintf(buffer, size, "one of: ");
    for (size_t i = 0; i < count && used < size; i++)
        used += (size_t)snprintf(buffer + used, size - used, "%s%s", i == 0 ? "" : ", ", names[i]);
}

/* ---- Nodes ---- */

const yaml_node_t *node_at(struct loader *loader, int index)
{
    return yaml_document_get_node(&loader->document, index);
}

/* YAML's spellings of "no value"; an empty value is the common one (`key:`). */
bool is_null(const yaml_node_t *node)
{
    if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *text = (const char *)node->data.scalar.value;
    return node->data.scalar.length == 0 || strcmp(text, "~") == 0 || strcmp(text, "null") == 0 ||
           strcmp(text, "Null") == 0 || strcmp(text, "NULL") == 0;
}

const char *kind_of(const yaml_node_t *node)
{
    switch (node->type) {
    case YAML_SCALAR_NODE:
        return is_null(node) ? "no value" : "a single value";
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_MAPPING_NODE:
        return "a mapping";
    default:
        return "no value";
    }
}

size_t list_length(const yaml_node_t *node)
{
    return (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
}

const yaml_node_t *list_item(struct loader *loader, const yaml_node_t *node, size_t index)
{
    return node_at(loader, node->data.sequence.items.start[index]);
}

int expect_list(struct loader *loader, const yaml_node_t *node, const char *what)
{
    if (node->type == YAML_SEQUENCE_NODE)
        return 0;
    return fail_at(loader, node, "expected a list for %s, found %s%s", what, kind_of(node),
                   is_null(node) ? " (write [] for an empty list)" : "");
}

/* Text of a scalar that must hold a value. */
int read_text(struct loader *loader, const yaml_node_t *node, const char *what, const char **out)
{
    if (node->type != YAML_SCALAR_NODE)
        return fail_at(loader, node, "expected a single value for %s, found %s", what,
                       kind_of(node));
    if (is_null(node) || node->data.scalar.length == 0)
        return fail_at(loader, node, "%s must not be empty", what);
    const char *text = (const char *)node->data.scalar.value;
    if (strlen(text) != node->data.scalar.length)
        return fail_at(loader, node, "%s contains a NUL character", what);
    *out = text;
    return 0;
}

/* The code point UTF-8 encodes at text, and its byte count in *size; -1 when the bytes
 * there are no UTF-8 (a stray or missing continuation byte, an overlong form, a surrogate,
 * past U+10FFFF). The NUL that ends text is no continuation byte, so nothing is read past
 * it. */
static long decode_utf8(const unsigned char *text, size_t *size)
{
    static const struct {
        unsigned char mask, lead, bits;
        long smallest;
    } forms[] = {{0x80, 0x00, 0x7f, 0},
                 {0xe0, 0xc0, 0x1f, 0x80},
                 {0xf0, 0xe0, 0x0f, 0x800},
                 {0xf8, 0xf0, 0x07, 0x10000}};
    for (size_t count = 1; count <= 4; count++) {
        if ((text[0] & forms[count - 1].mask) != forms[count - 1].lead)
            continue;
        long point = text[0] & forms[count - 1].bits;
        for (size_t i = 1; i < count; i++) {
            if ((text[i] & 0xc0) != 0x80)
                return -1;
            point = point << 6 | (text[i] & 0x3f);
        }
        if (point < forms[count - 1].smallest || point > 0x10ffff ||
            (point >= 0xd800 && point <= 0xdfff))
            return -1;
        *size = count;
        return point;
    }
    return -1;
}

/* Characters that change how the text around them is shown: the explicit embeddings,
 * overrides and isolates, and the marks. In a report, U+202E would turn what follows it
 * around. */
static bool is_bidi_control(long point)
{
    return (point >= 0x202a && point <= 0x202e) || (point >= 0x2066 && point <= 0x2069) ||
           point == 0x200e || point == 0x200f || point == 0x061c;
}

/* Names go into every event, report and metric label: a bounded length, and characters
 * shown as they are read. The name itself is not echoed: it is what is wrong. */
int read_name(struct loader *loader, const yaml_node_t *node, const char *what, char **out)
{
    const char *text;
    if (read_text(loader, node, what, &text) != 0)
        return -1;
    size_t length = strlen(text);
    if (length > POLICY_NAME_MAX)
        return fail_at(loader, node, "%s is %zu bytes long (at most %d)", what, length,
                       POLICY_NAME_MAX);
    for (size_t at = 0, size = 0; at < length; at += size) {
        long point = decode_utf8((const unsigned char *)text + at, &size);
        if (point < 0)
            return fail_at(loader, node, "%s is not valid UTF-8 (byte %zu)", what, at + 1);
        if (point < 0x20 || (point >= 0x7f && point <= 0x9f))
            return fail_at(loader, node, "%s contains a control character (U+%04lX, byte %zu)",
                           what, (unsigned long)point, at + 1);
        if (is_bidi_control(point))
            return fail_at(loader, node,
                           "%s contains a bidirectional control character (U+%04lX, byte %zu)",
                           what, (unsigned long)point, at + 1);
    }
    *out = strdup(text);
    return *out == NULL ? fail_memory(loader) : 0;
}

int read_choice(struct loader *loader, const yaml_node_t *node, const char *what,
                const char *const *names, size_t count, int *out)
{
    const char *text;
    if (read_text(loader, node, what, &text) != 0)
        return -1;
    for (size_t i = 0; i < count; i++) {
        if (strcmp(text, names[i]) == 0) {
            *out = (int)i;
            return 0;
        }
    }
    char choices[256];
    format_choices(names, count, choices, sizeof(choices));
    return fail_at(loader, node, "bad value '" QUOTE "' for %s (expected %s)", text, what, choices);
}

enum decimal_result { DECIMAL_OK, DECIMAL_BAD, DECIMAL_OVERFLOW };

/* Digits without sign or leading zeros (YAML 1.1 reads 010 as octal; better refuse it). */
static enum decimal_result parse_decimal(const char *text, uint64_t *value, const char **end)
{
    const char *c = text;
    uint64_t result = 0;
    bool overflow = false;
    while (*c >= '0' && *c <= '9') {
        unsigned digit = (unsigned)(*c - '0');
        if (result > (UINT64_MAX - digit) / 10)
            overflow = true;
        else
            result = result * 10 + digit;
        c++;
    }
    *end = c;
    if (c == text || (text[0] == '0' && c - text > 1))
        return DECIMAL_BAD;
    *value = result;
    return overflow ? DECIMAL_OVERFLOW : DECIMAL_OK;
}

int read_number(struct loader *loader, const yaml_node_t *node, const char *what, uint64_t min,
                uint64_t max, uint64_t *out)
{
    const char *text;
    if (read_text(loader, node, what, &text) != 0)
        return -1;
    uint64_t value = 0;
    const char *end;
    enum decimal_result result = parse_decimal(text, &value, &end);
    if (result == DECIMAL_BAD || *end != '\0')
        return fail_at(loader, node,
                       "bad value '" QUOTE "' for %s (expected a whole number from %llu to %llu)",
                       text, what, (unsigned long long)min, (unsigned long long)max);
    if (result == DECIMAL_OVERFLOW || value < min || value > max)
        return fail_at(loader, node,
                       "value '" QUOTE "' for %s is out of range (expected %llu to %llu)", text,
                       what, (unsigned long long)min, (unsigned long long)max);
    *out = value;
    return 0;
}

int read_duration(struct loader *loader, const yaml_node_t *node, const char *what,
                  packet_time *out)
{
    static const struct {
        const char *suffix;
        packet_time unit;
    } units[] = {
        {"", PACKET_TIME_SECOND},         {"ms", PACKET_TIME_SECOND / 1000},
        {"s", PACKET_TIME_SECOND},        {"m", 60 * PACKET_TIME_SECOND},
        {"h", 3600 * PACKET_TIME_SECOND},
    };
    const char *text;
    if (read_text(loader, node, what, &text) != 0)
        return -1;
    uint64_t count = 0;
    const char *suffix;
    enum decimal_result result = parse_decimal(text, &count, &suffix);
    packet_time unit = 0;
    for (size_t i = 0; i < COUNT_OF(units) && result != DECIMAL_BAD; i++) {
        if (strcmp(suffix, units[i].suffix) == 0)
            unit = units[i].unit;
    }
    if (result == DECIMAL_BAD || unit == 0)
        return fail_at(loader, node,
                       "bad duration '" QUOTE "' for %s (expected a whole number with unit ms, s, "
                       "m or h, such as 300s; a bare number means seconds)",
                       text, what);
    if (result == DECIMAL_OVERFLOW || count > (uint64_t)(INT64_MAX / unit))
        return fail_at(loader, node, "duration '" QUOTE "' for %s is too long", text, what);
    if (count == 0)
        return fail_at(loader, node, "%s must be longer than 0", what);
    *out = (packet_time)count * unit;
    return 0;
}

/* Checks node is a mapping with only the given keys, each at most once, and points each
 * field at its value. what names the mapping in messages; NULL means the top level. */
int match_keys(struct loader *loader, const yaml_node_t *node, const char *what,
               struct field *fields, size_t field_count)
{
    if (node->type != YAML_MAPPING_NODE) {
        if (what == NULL)
            return fail_at(loader, node,
                           "the policy must be a mapping with keys sensor, own_prefixes, pools "
                           "and so on, found %s",
                           kind_of(node));
        return fail_at(loader, node, "expected a mapping for %s, found %s", what, kind_of(node));
    }
    char where[64] = "at the top level";
    if (what != NULL)
        snprintf(where, sizeof(where), "in %s", what);
    for (const yaml_node_pair_t *pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top; pair++) {
        const yaml_node_t *key = node_at(loader, pair->key);
        const yaml_node_t *value = node_at(loader, pair->value);
        if (key->type != YAML_SCALAR_NODE)
            return fail_at(loader, key, "expected a plain key %s, found %s", where, kind_of(key));
        const char *key_text = (const char *)key->data.scalar.value;
        size_t key_length = key->data.scalar.length;
        struct field *field = NULL;
        for (size_t i = 0; i < field_count && field == NULL; i++) {
            if (strlen(fields[i].key) == key_length && strcmp(fields[i].key, key_text) == 0)
                field = &fields[i];
        }
        if (field == NULL) {
            char expected[512];
            size_t used = 0;
            for (size_t i = 0; i < field_count && used < sizeof(expected); i++)
                used += (size_t)snprintf(expected + used, sizeof(expected) - used, "%s%s",
                                         i == 0 ? "" : ", ", fields[i].key);
            return fail_at(loader, key, "unknown key '" QUOTE "' %s (expected one of: %s)",
                           key_text, where, expected);
        }
        if (field->key_node != NULL)
            return fail_at(loader, key, "duplicate key '%s' %s (first at line %d)", field->key,
                           where, line_of(field->key_node));
        field->key_node = key;
        field->value = value;
    }
    return 0;
}

int require_key(struct loader *loader, const yaml_node_t *node, const char *what,
                const struct field *field)
{
    if (field->value != NULL)
        return 0;
    if (what == NULL)
        return fail_at(loader, node, "missing required key '%s' at the top level", field->key);
    return fail_at(loader, node, "missing required key '%s' in %s", field->key, what);
}

/* Checks node is a mapping with only the given keys, each at most once and the required
 * ones present, and points each field at its value. */
int read_mapping(struct loader *loader, const yaml_node_t *node, const char *what,
                 struct field *fields, size_t field_count)
{
    if (match_keys(loader, node, what, fields, field_count) != 0)
        return -1;
    for (size_t i = 0; i < field_count; i++) {
        if (fields[i].required && require_key(loader, node, what, &fields[i]) != 0)
            return -1;
    }
    return 0;
}

/* ---- Names ---- */

int name_index_init(struct loader *loader, struct name_index *index, size_t count)
{
    size_t capacity = 16;
    while (capacity < count * 2)
        capacity *= 2;
    index->slots = calloc(capacity, sizeof(*index->slots));
    if (index->slots == NULL)
        return fail_memory(loader);
    index->mask = capacity - 1;
    return 0;
}

/* The slot holding name, or the free slot where it belongs. */
static struct name_slot *name_index_slot(const struct name_index *index, const char *name)
{
    /* FNV-1a */
    uint64_t hash = UINT64_C(14695981039346656037);
    for (const unsigned char *c = (const unsigned char *)name; *c != '\0'; c++)
        hash = (hash ^ *c) * UINT64_C(1099511628211);
    size_t slot = (size_t)hash & index->mask;
    /* At most half full, so a free slot ends every probe. */
    while (index->slots[slot].name != NULL && strcmp(index->slots[slot].name, name) != 0)
        slot = (slot + 1) & index->mask;
    return &index->slots[slot];
}

int name_index_find(const struct name_index *index, const char *name)
{
    if (index->slots == NULL)
        return POLICY_NO_INDEX;
    const struct name_slot *slot = name_index_slot(index, name);
    return slot->name != NULL ? slot->index : POLICY_NO_INDEX;
}

/* Records the name of entry position of a list; what says which list, for the message. */
int claim_name(struct loader *loader, struct name_index *index, const yaml_node_t *node,
               const char *what, const char *name, size_t position)
{
    struct name_slot *slot = name_index_slot(index, name);
    if (slot->name != NULL)
        return fail_at(loader, node, "duplicate %s name '%s' (first at line %d)", what, name,
                       slot->line);
    *slot = (struct name_slot){.name = name, .index = (int)position, .line = line_of(node)};
    return 0;
}

/* ---- YAML ---- */

/* libyaml reports reader errors (bad UTF-8, control characters) by byte offset only. */
static int line_at_offset(const unsigned char *text, size_t length, size_t offset)
{
    int line = 1;
    for (size_t i = 0; i < offset && i < length && line < INT_MAX; i++)
        line += text[i] == '\n';
    return line;
}

static int fail_syntax(struct loader *loader, const yaml_parser_t *parser,
                       const unsigned char *text, size_t length)
{
    if (parser->error == YAML_MEMORY_ERROR)
        return fail_memory(loader);
    int line =
        parser->error == YAML_READER_ERROR
            ? line_at_offset(text, length, parser->problem_offset)
            : (int)(parser->problem_mark.line < INT_MAX ? parser->problem_mark.line + 1 : INT_MAX);
    const char *problem = parser->problem != NULL ? parser->problem : "unknown error";
    if (parser->context != NULL)
        return fail_line(loader, line, "YAML syntax error: %s (%s at line %zu)", problem,
                         parser->context, parser->context_mark.line + 1);
    return fail_line(loader, line, "YAML syntax error: %s", problem);
}

static int event_line(const yaml_event_t *event)
{
    return event->start_mark.line < INT_MAX ? (int)event->start_mark.line + 1 : INT_MAX;
}

/* Refuses the YAML features this loader does not support: a policy never needs them, and
 * with them "which line is wrong" becomes ambiguous. */
static int check_event(struct loader *loader, const yaml_event_t *event, int *documents, int *depth)
{
    const yaml_char_t *anchor = NULL;
    if (event->type == YAML_SEQUENCE_START_EVENT || event->type == YAML_MAPPING_START_EVENT) {
        /* A policy nests four deep; libyaml slows down quadratically with depth, so stop
         * a crafted file early. */
        if (++*depth > POLICY_DEPTH_MAX)
            return fail_line(loader, event_line(event),
                             "nested deeper than %d levels (a policy needs four)",
                             POLICY_DEPTH_MAX);
    } else if (event->type == YAML_SEQUENCE_END_EVENT || event->type == YAML_MAPPING_END_EVENT) {
        --*depth;
    }
    switch (event->type) {
    case YAML_ALIAS_EVENT:
        return fail_line(loader, event_line(event),
                         "YAML aliases (*" QUOTE ") are not supported: write the value out",
                         (const char *)event->data.alias.anchor);
    case YAML_SCALAR_EVENT:
        anchor = event->data.scalar.anchor;
        break;
    case YAML_SEQUENCE_START_EVENT:
        anchor = event->data.sequence_start.anchor;
        break;
    case YAML_MAPPING_START_EVENT:
        anchor = event->data.mapping_start.anchor;
        break;
    case YAML_DOCUMENT_START_EVENT:
        if (++*documents > 1)
            return fail_line(loader, event_line(event),
                             "a second YAML document: a policy file holds exactly one");
        break;
    default:
        break;
    }
    if (anchor != NULL)
        return fail_line(loader, event_line(event),
                         "YAML anchors (&" QUOTE ") are not supported: write the value out",
                         (const char *)anchor);
    return 0;
}

/* The event pass: syntax errors and refused features, before any node is built. */
int check_stream(struct loader *loader, const unsigned char *text, size_t length)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return fail_memory(loader);
    yaml_parser_set_input_string(&parser, text, length);
    int result = -1;
    int documents = 0;
    int depth = 0;
    for (;;) {
        yaml_event_t event;
        if (!yaml_parser_parse(&parser, &event)) {
            fail_syntax(loader, &parser, text, length);
            break;
        }
        int checked = check_event(loader, &event, &documents, &depth);
        bool stream_end = event.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&event);
        if (checked != 0)
            break;
        if (stream_end) {
            if (documents == 0)
                fail_line(loader, 1,
                          "the policy is empty (expected a mapping with sensor, "
                          "own_prefixes and pools)");
            else
                result = 0;
            break;
        }
    }
    yaml_parser_delete(&parser);
    return result;
}

int load_document(struct loader *loader, const unsigned char *text, size_t length)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return fail_memory(loader);
    yaml_parser_set_input_string(&parser, text, length);
    int result = 0;
    if (!yaml_parser_load(&parser, &loader->document))
        result = fail_syntax(loader, &parser, text, length);
    yaml_parser_delete(&parser);
    return result;
}

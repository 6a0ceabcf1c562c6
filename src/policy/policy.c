/* The site policy loader (keys: rules/README.md). libyaml parses the text twice: an event pass
 * that refuses what this loader does not support (anchors, aliases, several documents) and
 * reports syntax errors, then the document API, whose nodes carry the line numbers every
 * message points at. Keys are read in a fixed order (blocking points before the pools that
 * name them, pools before the MSAs and segments that name pools), so references resolve as
 * they are read. */
#include "policy/policy.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

/* A policy of 100,000 prefixes is about 3 MiB; anything past this is not a policy. */
#define POLICY_FILE_MAX ((size_t)64 << 20)
#define POLICY_DEPTH_MAX 32

#define DEFAULT_STATS_INTERVAL (60 * PACKET_TIME_SECOND)
#define DEFAULT_WINDOW (300 * PACKET_TIME_SECOND)
#define DEFAULT_FANOUT 10
#define DEFAULT_MX_DIRECT 10
#define DEFAULT_ATTEMPTS 30
#define DEFAULT_RCPT 50
#define DEFAULT_SCORE 50
#define DEFAULT_SYN_TIMEOUT (30 * PACKET_TIME_SECOND)
#define DEFAULT_SMTP_IDLE (600 * PACKET_TIME_SECOND)
#define DEFAULT_POP_BEFORE_SMTP (1800 * PACKET_TIME_SECOND)
#define DEFAULT_FLOWS 1000000
#define DEFAULT_SESSIONS 65536
#define LIMIT_MAX 100000000
/* Draft section 3.2: one subscriber gets a /48 to a /64; /32 is an ISP's whole block. */
#define DEFAULT_IPV6_SUBSCRIBER_LENGTH 64
#define IPV6_SUBSCRIBER_LENGTH_MIN 32

/* Longest piece of a user's text quoted back in a message. */
#define QUOTE "%.200s"

/* The names of one list, hashed so that checking they are unique and resolving references
 * to them stays linear however many a file declares. */
struct name_slot {
    const char *name; /* NULL for a free slot */
    int index;
    int line;
};

struct name_index {
    struct name_slot *slots;
    size_t mask; /* slot count - 1; the count is a power of two at least twice the names */
};

struct loader {
    const char *name;
    char *error;
    size_t error_size;
    yaml_document_t document;
    struct policy *policy;
    /* The line of each prefix, parallel to the policy's prefix arrays, so a duplicate can
     * say where the first one is. */
    int *own_lines;
    int *resolver_lines;
    int **pool_lines;
    int **msa_lines;
    struct name_index pool_names;
    struct name_index msa_names;
    struct name_index point_names;
    struct name_index segment_names;
};

/* One expected key of a mapping, and what read_mapping found for it. */
struct field {
    const char *key;
    bool required;
    const yaml_node_t *key_node;
    const yaml_node_t *value;
};

static const char *const pool_type_names[] = {"dynamic", "static"};
static const char *const position_names[] = {"edge-side", "core-side"};
static const char *const level_names[] = {"home-router", "terminator", "edge", "core"};
static const char *const state_names[] = {"active", "planned"};
static const char *const reject_names[] = {"drop", "icmp", "tcp-reset"};

#define COUNT_OF(array) (sizeof(array) / sizeof((array)[0]))

/* ---- Messages ---- */

static int line_of(const yaml_node_t *node)
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
static int __attribute__((format(printf, 3, 4)))
fail_line(struct loader *loader, int line, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    write_error(loader, line, format, args);
    va_end(args);
    return -1;
}

#define fail_at(loader, node, ...) fail_line((loader), line_of(node), __VA_ARGS__)

static int fail_memory(struct loader *loader)
{
    return fail_line(loader, 0, "out of memory");
}

/* "a or b", or "one of: a, b, c". */
static void format_choices(const char *const *names, size_t count, char *buffer, size_t size)
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

static const yaml_node_t *node_at(struct loader *loader, int index)
{
    return yaml_document_get_node(&loader->document, index);
}

/* YAML's spellings of "no value"; an empty value is the common one (`key:`). */
static bool is_null(const yaml_node_t *node)
{
    if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *text = (const char *)node->data.scalar.value;
    return node->data.scalar.length == 0 || strcmp(text, "~") == 0 || strcmp(text, "null") == 0 ||
           strcmp(text, "Null") == 0 || strcmp(text, "NULL") == 0;
}

static const char *kind_of(const yaml_node_t *node)
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

static size_t list_length(const yaml_node_t *node)
{
    return (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
}

static const yaml_node_t *list_item(struct loader *loader, const yaml_node_t *node, size_t index)
{
    return node_at(loader, node->data.sequence.items.start[index]);
}

static int expect_list(struct loader *loader, const yaml_node_t *node, const char *what)
{
    if (node->type == YAML_SEQUENCE_NODE)
        return 0;
    return fail_at(loader, node, "expected a list for %s, found %s%s", what, kind_of(node),
                   is_null(node) ? " (write [] for an empty list)" : "");
}

/* Text of a scalar that must hold a value. */
static int read_text(struct loader *loader, const yaml_node_t *node, const char *what,
                     const char **out)
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

static int read_name(struct loader *loader, const yaml_node_t *node, const char *what, char **out)
{
    const char *text;
    if (read_text(loader, node, what, &text) != 0)
        return -1;
    /* Names go into every event and report; control characters there only cause harm. */
    for (const unsigned char *c = (const unsigned char *)text; *c != '\0'; c++) {
        if (*c < 0x20 || *c == 0x7f)
            return fail_at(loader, node, "%s '" QUOTE "' contains a control character", what, text);
    }
    *out = strdup(text);
    return *out == NULL ? fail_memory(loader) : 0;
}

static int read_choice(struct loader *loader, const yaml_node_t *node, const char *what,
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

static int read_number(struct loader *loader, const yaml_node_t *node, const char *what,
                       uint64_t min, uint64_t max, uint64_t *out)
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

static int read_duration(struct loader *loader, const yaml_node_t *node, const char *what,
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
static int match_keys(struct loader *loader, const yaml_node_t *node, const char *what,
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

static int require_key(struct loader *loader, const yaml_node_t *node, const char *what,
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
static int read_mapping(struct loader *loader, const yaml_node_t *node, const char *what,
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

static int name_index_init(struct loader *loader, struct name_index *index, size_t count)
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

static int name_index_find(const struct name_index *index, const char *name)
{
    if (index->slots == NULL)
        return POLICY_NO_INDEX;
    const struct name_slot *slot = name_index_slot(index, name);
    return slot->name != NULL ? slot->index : POLICY_NO_INDEX;
}

/* Records the name of entry position of a list; what says which list, for the message. */
static int claim_name(struct loader *loader, struct name_index *index, const yaml_node_t *node,
                      const char *what, const char *name, size_t position)
{
    struct name_slot *slot = name_index_slot(index, name);
    if (slot->name != NULL)
        return fail_at(loader, node, "duplicate %s name '%s' (first at line %d)", what, name,
                       slot->line);
    *slot = (struct name_slot){.name = name, .index = (int)position, .line = line_of(node)};
    return 0;
}

/* ---- Prefixes ---- */

static int read_prefix_list(struct loader *loader, const yaml_node_t *node, const char *what,
                            bool allow_empty, struct prefix **prefixes, size_t *count, int **lines)
{
    if (expect_list(loader, node, what) != 0)
        return -1;
    size_t length = list_length(node);
    if (length == 0) {
        if (!allow_empty)
            return fail_at(loader, node, "%s must list at least one prefix", what);
        return 0;
    }
    *prefixes = calloc(length, sizeof(**prefixes));
    *lines = calloc(length, sizeof(**lines));
    if (*prefixes == NULL || *lines == NULL)
        return fail_memory(loader);
    for (size_t i = 0; i < length; i++) {
        const yaml_node_t *item = list_item(loader, node, i);
        const char *text;
        const char *reason;
        if (read_text(loader, item, "a prefix", &text) != 0)
            return -1;
        if (!prefix_parse(text, &(*prefixes)[i], &reason))
            return fail_at(loader, item, "bad prefix '" QUOTE "': %s", text, reason);
        (*lines)[i] = line_of(item);
    }
    *count = length;
    return 0;
}

static size_t find_prefix(const struct prefix *prefixes, size_t count, const struct prefix *prefix)
{
    for (size_t i = 0; i < count; i++) {
        if (prefixes[i].length == prefix->length &&
            address_equal(&prefixes[i].address, &prefix->address))
            return i;
    }
    return count;
}

enum prefix_owner { OWNER_OWN, OWNER_RESOLVERS, OWNER_POOL, OWNER_MSA };

/* Adds a prefix to its table; a prefix already there stops loading with where it was. */
static int insert_prefix(struct loader *loader, struct prefix_table *table, enum prefix_owner owner,
                         uint32_t value, const struct prefix *prefix, int line)
{
    uint32_t existing = 0;
    int added = prefix_table_add(table, prefix, value, &existing);
    if (added == 0)
        return 0;
    if (added != -1)
        return fail_memory(loader);

    const struct policy *policy = loader->policy;
    char text[PREFIX_TEXT_MAX];
    prefix_format(prefix, text, sizeof(text));
    switch (owner) {
    case OWNER_OWN: {
        size_t first = find_prefix(policy->own_prefixes, policy->own_prefix_count, prefix);
        return fail_line(loader, line, "prefix %s is listed twice in own_prefixes (line %d)", text,
                         loader->own_lines[first]);
    }
    case OWNER_RESOLVERS: {
        size_t first = find_prefix(policy->resolvers, policy->resolver_count, prefix);
        return fail_line(loader, line, "resolver %s is listed twice (line %d)", text,
                         loader->resolver_lines[first]);
    }
    case OWNER_POOL: {
        const struct pool *pool = &policy->pools[existing];
        size_t first = find_prefix(pool->prefixes, pool->prefix_count, prefix);
        return fail_line(loader, line, "prefix %s is already in pool '%s' (line %d)", text,
                         pool->name, loader->pool_lines[existing][first]);
    }
    case OWNER_MSA: {
        const struct msa *msa = &policy->msas[existing];
        size_t first = find_prefix(msa->prefixes, msa->prefix_count, prefix);
        return fail_line(loader, line, "prefix %s is already in MSA '%s' (line %d)", text,
                         msa->name, loader->msa_lines[existing][first]);
    }
    }
    return -1;
}

/* ---- Sections ---- */

static int read_sensor(struct loader *loader, const yaml_node_t *node)
{
    enum { NAME, POSITION, STATS_INTERVAL };
    struct field fields[] = {
        [NAME] = {"name", true},
        [POSITION] = {"position", true},
        [STATS_INTERVAL] = {"stats_interval", false},
    };
    struct policy *policy = loader->policy;
    if (read_mapping(loader, node, "sensor", fields, COUNT_OF(fields)) != 0)
        return -1;
    if (read_name(loader, fields[NAME].value, "sensor name", &policy->sensor_name) != 0)
        return -1;
    int position;
    if (read_choice(loader, fields[POSITION].value, "position", position_names,
                    COUNT_OF(position_names), &position) != 0)
        return -1;
    policy->position = (enum sensor_position)position;
    if (fields[STATS_INTERVAL].value != NULL &&
        read_duration(loader, fields[STATS_INTERVAL].value, "stats_interval",
                      &policy->stats_interval) != 0)
        return -1;
    return 0;
}

static int read_own_prefixes(struct loader *loader, const yaml_node_t *node)
{
    struct policy *policy = loader->policy;
    if (read_prefix_list(loader, node, "own_prefixes", true, &policy->own_prefixes,
                         &policy->own_prefix_count, &loader->own_lines) != 0)
        return -1;
    for (size_t i = 0; i < policy->own_prefix_count; i++) {
        if (insert_prefix(loader, policy->own_table, OWNER_OWN, 0, &policy->own_prefixes[i],
                          loader->own_lines[i]) != 0)
            return -1;
    }
    return 0;
}

static int read_resolvers(struct loader *loader, const yaml_node_t *node)
{
    struct policy *policy = loader->policy;
    if (read_prefix_list(loader, node, "resolvers", true, &policy->resolvers,
                         &policy->resolver_count, &loader->resolver_lines) != 0)
        return -1;
    for (size_t i = 0; i < policy->resolver_count; i++) {
        if (insert_prefix(loader, policy->resolver_table, OWNER_RESOLVERS, (uint32_t)i,
                          &policy->resolvers[i], loader->resolver_lines[i]) != 0)
            return -1;
    }
    return 0;
}

/* Checks a list section and allocates its array; the count is set at once so that
 * policy_free releases whatever the entries hold if loading stops half-way. */
static int start_list(struct loader *loader, const yaml_node_t *node, const char *what, size_t max,
                      size_t element_size, void **array, size_t *count)
{
    if (expect_list(loader, node, what) != 0)
        return -1;
    size_t length = list_length(node);
    if (length > max)
        return fail_at(loader, node, "too many %s (%zu; at most %zu)", what, length, max);
    if (length == 0)
        return 0;
    *array = calloc(length, element_size);
    if (*array == NULL)
        return fail_memory(loader);
    *count = length;
    return 0;
}

static int read_blocking_point(struct loader *loader, const yaml_node_t *node, size_t index)
{
    enum { NAME, LEVEL, STATE, REJECT };
    struct field fields[] = {
        [NAME] = {"name", true},
        [LEVEL] = {"level", true},
        [STATE] = {"state", false},
        [REJECT] = {"reject", false},
    };
    struct blocking_point *point = &loader->policy->blocking_points[index];
    point->state = BLOCKING_ACTIVE;
    point->reject = REJECT_DROP;
    if (read_mapping(loader, node, "blocking point", fields, COUNT_OF(fields)) != 0)
        return -1;
    point->line = line_of(node);
    if (read_name(loader, fields[NAME].value, "blocking point name", &point->name) != 0)
        return -1;
    if (claim_name(loader, &loader->point_names, fields[NAME].value, "blocking point", point->name,
                   index) != 0)
        return -1;
    int choice;
    if (read_choice(loader, fields[LEVEL].value, "level", level_names, COUNT_OF(level_names),
                    &choice) != 0)
        return -1;
    point->level = (enum blocking_level)(LEVEL_HOME_ROUTER + choice);
    if (fields[STATE].value != NULL) {
        if (read_choice(loader, fields[STATE].value, "state", state_names, COUNT_OF(state_names),
                        &choice) != 0)
            return -1;
        point->state = (enum blocking_state)choice;
    }
    if (fields[REJECT].value != NULL) {
        if (read_choice(loader, fields[REJECT].value, "reject", reject_names,
                        COUNT_OF(reject_names), &choice) != 0)
            return -1;
        point->reject = (enum blocking_reject)choice;
    }
    return 0;
}

static int read_blocking_points(struct loader *loader, const yaml_node_t *node)
{
    struct policy *policy = loader->policy;
    if (start_list(loader, node, "blocking_points", POLICY_BLOCKING_POINTS_MAX,
                   sizeof(*policy->blocking_points), (void **)&policy->blocking_points,
                   &policy->blocking_point_count) != 0)
        return -1;
    if (name_index_init(loader, &loader->point_names, policy->blocking_point_count) != 0)
        return -1;
    for (size_t i = 0; i < policy->blocking_point_count; i++) {
        if (read_blocking_point(loader, list_item(loader, node, i), i) != 0)
            return -1;
    }
    return 0;
}

static int read_pool(struct loader *loader, const yaml_node_t *node, size_t index)
{
    enum { NAME, TYPE, PREFIXES, BLOCKING_POINT, IPV6_SUBSCRIBER_LENGTH };
    struct field fields[] = {
        [NAME] = {"name", true},
        [TYPE] = {"type", true},
        [PREFIXES] = {"prefixes", true},
        [BLOCKING_POINT] = {"blocking_point", false},
        [IPV6_SUBSCRIBER_LENGTH] = {"ipv6_subscriber_length", false},
    };
    struct policy *policy = loader->policy;
    struct pool *pool = &policy->pools[index];
    pool->blocking_point = POLICY_NO_INDEX;
    pool->ipv6_subscriber_length = DEFAULT_IPV6_SUBSCRIBER_LENGTH;
    if (read_mapping(loader, node, "pool", fields, COUNT_OF(fields)) != 0)
        return -1;
    pool->line = line_of(node);
    if (read_name(loader, fields[NAME].value, "pool name", &pool->name) != 0)
        return -1;
    if (claim_name(loader, &loader->pool_names, fields[NAME].value, "pool", pool->name, index) != 0)
        return -1;
    int type;
    if (read_choice(loader, fields[TYPE].value, "type", pool_type_names, COUNT_OF(pool_type_names),
                    &type) != 0)
        return -1;
    pool->type = (enum pool_type)type;
    if (read_prefix_list(loader, fields[PREFIXES].value, "prefixes", false, &pool->prefixes,
                         &pool->prefix_count, &loader->pool_lines[index]) != 0)
        return -1;

    if (fields[BLOCKING_POINT].value != NULL) {
        const char *name;
        if (read_text(loader, fields[BLOCKING_POINT].value, "blocking_point", &name) != 0)
            return -1;
        pool->blocking_point = name_index_find(&loader->point_names, name);
        if (pool->blocking_point == POLICY_NO_INDEX)
            return fail_at(loader, fields[BLOCKING_POINT].value,
                           "pool '%s' names blocking point '" QUOTE "', which is not defined",
                           pool->name, name);
    }
    if (fields[IPV6_SUBSCRIBER_LENGTH].value != NULL) {
        uint64_t length;
        if (read_number(loader, fields[IPV6_SUBSCRIBER_LENGTH].value, "ipv6_subscriber_length",
                        IPV6_SUBSCRIBER_LENGTH_MIN, 128, &length) != 0)
            return -1;
        pool->ipv6_subscriber_length = (uint8_t)length;
    }

    for (size_t i = 0; i < pool->prefix_count; i++) {
        if (insert_prefix(loader, policy->pool_table, OWNER_POOL, (uint32_t)index,
                          &pool->prefixes[i], loader->pool_lines[index][i]) != 0)
            return -1;
    }
    return 0;
}

static int read_pools(struct loader *loader, const yaml_node_t *node)
{
    struct policy *policy = loader->policy;
    if (start_list(loader, node, "pools", POLICY_POOLS_MAX, sizeof(*policy->pools),
                   (void **)&policy->pools, &policy->pool_count) != 0)
        return -1;
    if (policy->pool_count == 0)
        return fail_at(loader, node, "pools must list at least one pool");
    loader->pool_lines = calloc(policy->pool_count, sizeof(*loader->pool_lines));
    if (loader->pool_lines == NULL)
        return fail_memory(loader);
    if (name_index_init(loader, &loader->pool_names, policy->pool_count) != 0)
        return -1;
    for (size_t i = 0; i < policy->pool_count; i++) {
        if (read_pool(loader, list_item(loader, node, i), i) != 0)
            return -1;
    }
    return 0;
}

/* Reads a list of pool names into pool indexes; owner says who names them in messages,
 * such as "MSA 'isp-msa' names" or "segment 'dynamic-vlan' expects". */
static int read_pool_names(struct loader *loader, const yaml_node_t *node, const char *what,
                           bool allow_empty, const char *owner, int **indexes, size_t *count)
{
    if (expect_list(loader, node, what) != 0)
        return -1;
    size_t length = list_length(node);
    if (length == 0) {
        if (!allow_empty)
            return fail_at(loader, node, "%s must list at least one pool", what);
        return 0;
    }
    *indexes = calloc(length, sizeof(**indexes));
    if (*indexes == NULL)
        return fail_memory(loader);
    /* One line per pool: where this list first names it, or 0. */
    int *first_lines = calloc(loader->policy->pool_count, sizeof(*first_lines));
    if (first_lines == NULL)
        return fail_memory(loader);
    int result = 0;
    for (size_t i = 0; i < length && result == 0; i++) {
        const yaml_node_t *item = list_item(loader, node, i);
        const char *name;
        int pool = POLICY_NO_INDEX;
        if (read_text(loader, item, "a pool name", &name) != 0)
            result = -1;
        else if ((pool = name_index_find(&loader->pool_names, name)) == POLICY_NO_INDEX)
            result =
                fail_at(loader, item, "%s pool '" QUOTE "', which is not defined", owner, name);
        else if (first_lines[pool] != 0)
            result = fail_at(loader, item, "pool '%s' is listed twice in %s (line %d)", name, what,
                             first_lines[pool]);
        else
            first_lines[pool] = line_of(item);
        (*indexes)[i] = pool;
    }
    free(first_lines);
    if (result == 0)
        *count = length;
    return result;
}

static int read_ports(struct loader *loader, const yaml_node_t *node, struct msa *msa)
{
    if (expect_list(loader, node, "ports") != 0)
        return -1;
    size_t length = list_length(node);
    if (length == 0)
        return fail_at(loader, node, "ports must list at least one port");
    /* Every port appears at most once, so a longer list must repeat one: refuse it before
     * allocating for it. */
    if (length > 65535)
        return fail_at(loader, node, "too many ports (%zu; at most 65535)", length);
    msa->ports = calloc(length, sizeof(*msa->ports));
    if (msa->ports == NULL)
        return fail_memory(loader);
    uint8_t seen[65536 / 8] = {0};
    for (size_t i = 0; i < length; i++) {
        const yaml_node_t *item = list_item(loader, node, i);
        uint64_t port;
        if (read_number(loader, item, "port", 1, 65535, &port) != 0)
            return -1;
        if (seen[port / 8] & (1u << (port % 8))) {
            size_t first = 0;
            while (msa->ports[first] != port)
                first++;
            return fail_at(loader, item, "port %u is listed twice in MSA '%s' (line %d)",
                           (unsigned)port, msa->name, line_of(list_item(loader, node, first)));
        }
        seen[port / 8] |= (uint8_t)(1u << (port % 8));
        msa->ports[i] = (uint16_t)port;
        msa->port_count = i + 1;
    }
    return 0;
}

static int read_msa(struct loader *loader, const yaml_node_t *node, size_t index)
{
    enum { NAME, PREFIXES, PORTS, POOLS };
    struct field fields[] = {
        [NAME] = {"name", true},
        [PREFIXES] = {"prefixes", true},
        [PORTS] = {"ports", true},
        [POOLS] = {"pools", false},
    };
    struct policy *policy = loader->policy;
    struct msa *msa = &policy->msas[index];
    if (read_mapping(loader, node, "MSA", fields, COUNT_OF(fields)) != 0)
        return -1;
    msa->line = line_of(node);
    if (read_name(loader, fields[NAME].value, "MSA name", &msa->name) != 0)
        return -1;
    if (claim_name(loader, &loader->msa_names, fields[NAME].value, "MSA", msa->name, index) != 0)
        return -1;
    if (read_prefix_list(loader, fields[PREFIXES].value, "prefixes", false, &msa->prefixes,
                         &msa->prefix_count, &loader->msa_lines[index]) != 0)
        return -1;
    if (read_ports(loader, fields[PORTS].value, msa) != 0)
        return -1;
    if (fields[POOLS].value != NULL) {
        char owner[300];
        snprintf(owner, sizeof(owner), "MSA '%s' names", msa->name);
        if (read_pool_names(loader, fields[POOLS].value, "pools", true, owner, &msa->pools,
                            &msa->pool_count) != 0)
            return -1;
    }
    for (size_t i = 0; i < msa->prefix_count; i++) {
        if (insert_prefix(loader, policy->msa_table, OWNER_MSA, (uint32_t)index, &msa->prefixes[i],
                          loader->msa_lines[index][i]) != 0)
            return -1;
    }
    return 0;
}

static int read_msas(struct loader *loader, const yaml_node_t *node)
{
    struct policy *policy = loader->policy;
    if (start_list(loader, node, "msas", POLICY_MSAS_MAX, sizeof(*policy->msas),
                   (void **)&policy->msas, &policy->msa_count) != 0)
        return -1;
    if (policy->msa_count == 0)
        return 0;
    loader->msa_lines = calloc(policy->msa_count, sizeof(*loader->msa_lines));
    if (loader->msa_lines == NULL)
        return fail_memory(loader);
    if (name_index_init(loader, &loader->msa_names, policy->msa_count) != 0)
        return -1;
    for (size_t i = 0; i < policy->msa_count; i++) {
        if (read_msa(loader, list_item(loader, node, i), i) != 0)
            return -1;
    }
    return 0;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* 02:00:00:00:00:01 or 02-00-00-00-00-01: six pairs of hex digits, one separator style. */
static bool parse_mac(const char *text, uint8_t mac[6])
{
    if (strlen(text) != 17 || (text[2] != ':' && text[2] != '-'))
        return false;
    for (size_t i = 0; i < 6; i++) {
        const char *pair = text + 3 * i;
        int high = hex_digit(pair[0]);
        int low = hex_digit(pair[1]);
        if (high < 0 || low < 0 || (i < 5 && pair[2] != text[2]))
            return false;
        mac[i] = (uint8_t)(high << 4 | low);
    }
    return true;
}

static int read_segment(struct loader *loader, const yaml_node_t *node, size_t index)
{
    enum { NAME, VLAN, INTERFACE, MAC, EXPECTS };
    struct field fields[] = {
        [NAME] = {"name", true}, [VLAN] = {"vlan", false},      [INTERFACE] = {"interface", false},
        [MAC] = {"mac", false},  [EXPECTS] = {"expects", true},
    };
    struct policy *policy = loader->policy;
    struct segment *segment = &policy->segments[index];
    if (read_mapping(loader, node, "segment", fields, COUNT_OF(fields)) != 0)
        return -1;
    segment->line = line_of(node);
    if (read_name(loader, fields[NAME].value, "segment name", &segment->name) != 0)
        return -1;
    if (claim_name(loader, &loader->segment_names, fields[NAME].value, "segment", segment->name,
                   index) != 0)
        return -1;

    const struct field *match = NULL;
    for (size_t i = VLAN; i <= MAC; i++) {
        if (fields[i].value == NULL)
            continue;
        if (match != NULL)
            return fail_at(loader, fields[i].key_node,
                           "segment '%s' has both %s and %s (expected exactly one of vlan, "
                           "interface or mac)",
                           segment->name, match->key, fields[i].key);
        match = &fields[i];
    }
    if (match == NULL)
        return fail_at(loader, node, "segment '%s' needs one of vlan, interface or mac",
                       segment->name);
    if (match == &fields[VLAN]) {
        uint64_t vlan;
        /* IEEE 802.1Q: a 12-bit VLAN id. */
        if (read_number(loader, match->value, "vlan", 0, 4095, &vlan) != 0)
            return -1;
        segment->match = SEGMENT_VLAN;
        segment->vlan = (uint16_t)vlan;
    } else if (match == &fields[INTERFACE]) {
        if (read_name(loader, match->value, "interface", &segment->interface) != 0)
            return -1;
        segment->match = SEGMENT_INTERFACE;
    } else {
        const char *text;
        if (read_text(loader, match->value, "mac", &text) != 0)
            return -1;
        if (!parse_mac(text, segment->mac))
            return fail_at(loader, match->value,
                           "bad MAC address '" QUOTE "' (expected six hex pairs such as "
                           "02:00:00:00:00:01 or 02-00-00-00-00-01)",
                           text);
        segment->match = SEGMENT_MAC;
    }
    /* Two segments on one match would leave the second one never seen. */
    for (size_t i = 0; i < index; i++) {
        const struct segment *other = &policy->segments[i];
        if (other->match != segment->match)
            continue;
        bool same = (segment->match == SEGMENT_VLAN && other->vlan == segment->vlan) ||
                    (segment->match == SEGMENT_INTERFACE &&
                     strcmp(other->interface, segment->interface) == 0) ||
                    (segment->match == SEGMENT_MAC && memcmp(other->mac, segment->mac, 6) == 0);
        if (same)
            return fail_at(loader, match->value,
                           "%s of segment '%s' is already used by segment "
                           "'%s' (line %d)",
                           match->key, segment->name, other->name, other->line);
    }

    char owner[300];
    snprintf(owner, sizeof(owner), "segment '%s' expects", segment->name);
    return read_pool_names(loader, fields[EXPECTS].value, "expects", false, owner,
                           &segment->expects, &segment->expects_count);
}

static int read_segments(struct loader *loader, const yaml_node_t *node)
{
    struct policy *policy = loader->policy;
    if (start_list(loader, node, "segments", POLICY_SEGMENTS_MAX, sizeof(*policy->segments),
                   (void **)&policy->segments, &policy->segment_count) != 0)
        return -1;
    if (name_index_init(loader, &loader->segment_names, policy->segment_count) != 0)
        return -1;
    for (size_t i = 0; i < policy->segment_count; i++) {
        if (read_segment(loader, list_item(loader, node, i), i) != 0)
            return -1;
    }
    return 0;
}

/* Only checks the database can be opened; reading it is the GeoIP module's job. */
/* The database opens here, so a missing, unreadable or wrong file is a policy error with
 * the line of its path. */
static int read_database(struct loader *loader, const yaml_node_t *node, const char *what,
                         enum geoip_kind kind, char **out)
{
    const char *path;
    if (read_text(loader, node, what, &path) != 0)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail_at(loader, node, "cannot open %s database '" QUOTE "': %s", what, path,
                       strerror(errno));
    struct stat status;
    bool regular = fstat(fd, &status) == 0 && S_ISREG(status.st_mode);
    close(fd);
    if (!regular)
        return fail_at(loader, node, "%s database '" QUOTE "' is not a regular file", what, path);
    struct policy *policy = loader->policy;
    if (policy->geoip == NULL && (policy->geoip = geoip_new()) == NULL)
        return fail_memory(loader);
    char reason[256];
    if (geoip_open(policy->geoip, kind, path, reason, sizeof(reason)) != 0)
        return fail_at(loader, node, "%s database '" QUOTE "' cannot be used: %s", what, path,
                       reason);
    *out = strdup(path);
    return *out == NULL ? fail_memory(loader) : 0;
}

static int read_geoip(struct loader *loader, const yaml_node_t *node)
{
    enum { ASN, COUNTRY };
    struct field fields[] = {[ASN] = {"asn", false}, [COUNTRY] = {"country", false}};
    struct policy *policy = loader->policy;
    if (read_mapping(loader, node, "geoip", fields, COUNT_OF(fields)) != 0)
        return -1;
    if (fields[ASN].value != NULL &&
        read_database(loader, fields[ASN].value, "geoip asn", GEOIP_ASN, &policy->geoip_asn) != 0)
        return -1;
    if (fields[COUNTRY].value != NULL &&
        read_database(loader, fields[COUNTRY].value, "geoip country", GEOIP_COUNTRY,
                      &policy->geoip_country) != 0)
        return -1;
    return 0;
}

/* A count threshold, if given: at least minimum, at most maximum. */
static int read_count(struct loader *loader, const struct field *field, uint64_t minimum,
                      uint64_t maximum, uint32_t *out)
{
    uint64_t number;
    if (field->value == NULL)
        return 0;
    if (read_number(loader, field->value, field->key, minimum, maximum, &number) != 0)
        return -1;
    *out = (uint32_t)number;
    return 0;
}

static int read_thresholds(struct loader *loader, const yaml_node_t *node)
{
    enum { WINDOW, FANOUT, MX_DIRECT, ATTEMPTS, RCPT, SCORE };
    struct field fields[] = {
        [WINDOW] = {"window", false},       [FANOUT] = {"fanout", false},
        [MX_DIRECT] = {"mx_direct", false}, [ATTEMPTS] = {"attempts", false},
        [RCPT] = {"rcpt", false},           [SCORE] = {"score", false},
    };
    struct policy *policy = loader->policy;
    if (read_mapping(loader, node, "thresholds", fields, COUNT_OF(fields)) != 0)
        return -1;
    if (fields[WINDOW].value != NULL &&
        read_duration(loader, fields[WINDOW].value, "window", &policy->thresholds.window) != 0)
        return -1;
    if (read_count(loader, &fields[FANOUT], 1, UINT32_MAX, &policy->thresholds.fanout) != 0 ||
        read_count(loader, &fields[MX_DIRECT], 1, UINT32_MAX, &policy->thresholds.mx_direct) != 0 ||
        read_count(loader, &fields[ATTEMPTS], 1, UINT32_MAX, &policy->thresholds.attempts) != 0 ||
        read_count(loader, &fields[RCPT], 1, UINT32_MAX, &policy->thresholds.rcpt) != 0 ||
        read_count(loader, &fields[SCORE], 1, 100, &policy->thresholds.score) != 0)
        return -1;
    return 0;
}

static int read_timeouts(struct loader *loader, const yaml_node_t *node)
{
    enum { SYN, SMTP_IDLE, POP_BEFORE_SMTP };
    struct field fields[] = {
        [SYN] = {"syn", false},
        [SMTP_IDLE] = {"smtp_idle", false},
        [POP_BEFORE_SMTP] = {"pop_before_smtp", false},
    };
    struct policy *policy = loader->policy;
    if (read_mapping(loader, node, "timeouts", fields, COUNT_OF(fields)) != 0)
        return -1;
    if (fields[SYN].value != NULL &&
        read_duration(loader, fields[SYN].value, "syn", &policy->timeouts.syn) != 0)
        return -1;
    if (fields[SMTP_IDLE].value != NULL &&
        read_duration(loader, fields[SMTP_IDLE].value, "smtp_idle", &policy->timeouts.smtp_idle) !=
            0)
        return -1;
    if (fields[POP_BEFORE_SMTP].value != NULL &&
        read_duration(loader, fields[POP_BEFORE_SMTP].value, "pop_before_smtp",
                      &policy->timeouts.pop_before_smtp) != 0)
        return -1;
    return 0;
}

static int read_limits(struct loader *loader, const yaml_node_t *node)
{
    enum { FLOWS, SESSIONS };
    struct field fields[] = {[FLOWS] = {"flows", false}, [SESSIONS] = {"sessions", false}};
    struct policy *policy = loader->policy;
    uint64_t number;
    if (read_mapping(loader, node, "limits", fields, COUNT_OF(fields)) != 0)
        return -1;
    if (fields[FLOWS].value != NULL) {
        if (read_number(loader, fields[FLOWS].value, "flows", 1, LIMIT_MAX, &number) != 0)
            return -1;
        policy->limits.flows = (uint32_t)number;
    }
    if (fields[SESSIONS].value != NULL) {
        if (read_number(loader, fields[SESSIONS].value, "sessions", 1, LIMIT_MAX, &number) != 0)
            return -1;
        policy->limits.sessions = (uint32_t)number;
    }
    return 0;
}

static int read_policy(struct loader *loader, const yaml_node_t *root)
{
    enum {
        SENSOR,
        OWN_PREFIXES,
        RESOLVERS,
        POOLS,
        MSAS,
        BLOCKING_POINTS,
        SEGMENTS,
        GEOIP,
        THRESHOLDS,
        TIMEOUTS,
        LIMITS,
    };
    struct field fields[] = {
        [SENSOR] = {"sensor", true},
        [OWN_PREFIXES] = {"own_prefixes", true},
        [RESOLVERS] = {"resolvers", false},
        [POOLS] = {"pools", true},
        [MSAS] = {"msas", false},
        [BLOCKING_POINTS] = {"blocking_points", false},
        [SEGMENTS] = {"segments", false},
        [GEOIP] = {"geoip", false},
        [THRESHOLDS] = {"thresholds", false},
        [TIMEOUTS] = {"timeouts", false},
        [LIMITS] = {"limits", false},
    };
    /* Sections are read in an order where every name is defined before it is used; a
     * missing required section is reported when its turn comes, after any mistake in the
     * sections before it. */
    if (match_keys(loader, root, NULL, fields, COUNT_OF(fields)) != 0)
        return -1;
    if (require_key(loader, root, NULL, &fields[SENSOR]) != 0 ||
        read_sensor(loader, fields[SENSOR].value) != 0)
        return -1;
    if (require_key(loader, root, NULL, &fields[OWN_PREFIXES]) != 0 ||
        read_own_prefixes(loader, fields[OWN_PREFIXES].value) != 0)
        return -1;
    if (fields[RESOLVERS].value != NULL && read_resolvers(loader, fields[RESOLVERS].value) != 0)
        return -1;
    if (fields[BLOCKING_POINTS].value != NULL &&
        read_blocking_points(loader, fields[BLOCKING_POINTS].value) != 0)
        return -1;
    if (require_key(loader, root, NULL, &fields[POOLS]) != 0 ||
        read_pools(loader, fields[POOLS].value) != 0)
        return -1;
    if (fields[MSAS].value != NULL && read_msas(loader, fields[MSAS].value) != 0)
        return -1;
    if (fields[SEGMENTS].value != NULL && read_segments(loader, fields[SEGMENTS].value) != 0)
        return -1;
    if (fields[GEOIP].value != NULL && read_geoip(loader, fields[GEOIP].value) != 0)
        return -1;
    if (fields[THRESHOLDS].value != NULL && read_thresholds(loader, fields[THRESHOLDS].value) != 0)
        return -1;
    if (fields[TIMEOUTS].value != NULL && read_timeouts(loader, fields[TIMEOUTS].value) != 0)
        return -1;
    if (fields[LIMITS].value != NULL && read_limits(loader, fields[LIMITS].value) != 0)
        return -1;
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
static int check_stream(struct loader *loader, const unsigned char *text, size_t length)
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

static int load_document(struct loader *loader, const unsigned char *text, size_t length)
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

/* ---- Loading ---- */

static struct policy *policy_new(const char *name)
{
    struct policy *policy = calloc(1, sizeof(*policy));
    if (policy == NULL)
        return NULL;
    policy->path = strdup(name);
    policy->pool_table = prefix_table_new();
    policy->own_table = prefix_table_new();
    policy->msa_table = prefix_table_new();
    policy->resolver_table = prefix_table_new();
    if (policy->path == NULL || policy->pool_table == NULL || policy->own_table == NULL ||
        policy->msa_table == NULL || policy->resolver_table == NULL) {
        policy_free(policy);
        return NULL;
    }
    policy->position = POSITION_EDGE_SIDE;
    policy->stats_interval = DEFAULT_STATS_INTERVAL;
    policy->thresholds.window = DEFAULT_WINDOW;
    policy->thresholds.fanout = DEFAULT_FANOUT;
    policy->thresholds.mx_direct = DEFAULT_MX_DIRECT;
    policy->thresholds.attempts = DEFAULT_ATTEMPTS;
    policy->thresholds.rcpt = DEFAULT_RCPT;
    policy->thresholds.score = DEFAULT_SCORE;
    policy->timeouts.syn = DEFAULT_SYN_TIMEOUT;
    policy->timeouts.smtp_idle = DEFAULT_SMTP_IDLE;
    policy->timeouts.pop_before_smtp = DEFAULT_POP_BEFORE_SMTP;
    policy->limits.flows = DEFAULT_FLOWS;
    policy->limits.sessions = DEFAULT_SESSIONS;
    return policy;
}

static void free_line_lists(int **lists, size_t count)
{
    if (lists == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        free(lists[i]);
    free(lists);
}

/* Frees what only loading needed; the policy's own arrays stay. */
static void loader_release(struct loader *loader)
{
    free(loader->own_lines);
    free(loader->resolver_lines);
    free_line_lists(loader->pool_lines, loader->policy->pool_count);
    free_line_lists(loader->msa_lines, loader->policy->msa_count);
    free(loader->pool_names.slots);
    free(loader->msa_names.slots);
    free(loader->point_names.slots);
    free(loader->segment_names.slots);
}

struct policy *policy_load_text(const char *name, const char *text, size_t length, char *error,
                                size_t error_size)
{
    struct loader loader = {
        .name = name != NULL ? name : "<policy>",
        .error = error,
        .error_size = error_size,
    };
    if (error != NULL && error_size > 0)
        error[0] = '\0';
    const unsigned char *bytes = (const unsigned char *)text;

    if (check_stream(&loader, bytes, length) != 0)
        goto fail;
    if (load_document(&loader, bytes, length) != 0)
        goto fail;
    loader.policy = policy_new(loader.name);
    if (loader.policy == NULL) {
        fail_memory(&loader);
        goto fail_delete_document;
    }

    const yaml_node_t *root = yaml_document_get_root_node(&loader.document);
    if (root == NULL || is_null(root)) {
        fail_line(&loader, 1,
                  "the policy is empty (expected a mapping with sensor, "
                  "own_prefixes and pools)");
        goto fail_free_policy;
    }
    if (read_policy(&loader, root) != 0)
        goto fail_free_policy;
    struct policy *policy = loader.policy;
    if (prefix_table_build(policy->pool_table) != 0 || prefix_table_build(policy->own_table) != 0 ||
        prefix_table_build(policy->msa_table) != 0 ||
        prefix_table_build(policy->resolver_table) != 0) {
        fail_memory(&loader);
        goto fail_free_policy;
    }

    loader_release(&loader);
    yaml_document_delete(&loader.document);
    return policy;

fail_free_policy:
    loader_release(&loader);
    policy_free(loader.policy);
fail_delete_document:
    yaml_document_delete(&loader.document);
fail:
    return NULL;
}

struct policy *policy_load(const char *path, char *error, size_t error_size)
{
    struct loader loader = {.name = path, .error = error, .error_size = error_size};
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        fail_line(&loader, 0, "cannot open: %s", strerror(errno));
        goto fail;
    }
    size_t capacity = 64 * 1024;
    size_t length = 0;
    char *text = malloc(capacity);
    if (text == NULL) {
        fail_memory(&loader);
        goto fail_close_file;
    }
    for (;;) {
        if (length == capacity) {
            if (capacity >= POLICY_FILE_MAX) {
                fail_line(&loader, 0, "too large (a policy is at most %zu MiB)",
                          POLICY_FILE_MAX >> 20);
                goto fail_free_text;
            }
            char *larger = realloc(text, capacity * 2);
            if (larger == NULL) {
                fail_memory(&loader);
                goto fail_free_text;
            }
            text = larger;
            capacity *= 2;
        }
        size_t got = fread(text + length, 1, capacity - length, file);
        length += got;
        if (got == 0) {
            if (ferror(file)) {
                fail_line(&loader, 0, "cannot read: %s", strerror(errno));
                goto fail_free_text;
            }
            break;
        }
    }
    fclose(file);
    struct policy *policy = policy_load_text(path, text, length, error, error_size);
    free(text);
    return policy;

fail_free_text:
    free(text);
fail_close_file:
    fclose(file);
fail:
    return NULL;
}

void policy_free(struct policy *policy)
{
    if (policy == NULL)
        return;
    free(policy->path);
    free(policy->sensor_name);
    free(policy->own_prefixes);
    free(policy->resolvers);
    for (size_t i = 0; i < policy->pool_count; i++) {
        free(policy->pools[i].name);
        free(policy->pools[i].prefixes);
    }
    free(policy->pools);
    for (size_t i = 0; i < policy->msa_count; i++) {
        free(policy->msas[i].name);
        free(policy->msas[i].prefixes);
        free(policy->msas[i].ports);
        free(policy->msas[i].pools);
    }
    free(policy->msas);
    for (size_t i = 0; i < policy->blocking_point_count; i++)
        free(policy->blocking_points[i].name);
    free(policy->blocking_points);
    for (size_t i = 0; i < policy->segment_count; i++) {
        free(policy->segments[i].name);
        free(policy->segments[i].interface);
        free(policy->segments[i].expects);
    }
    free(policy->segments);
    free(policy->geoip_asn);
    free(policy->geoip_country);
    geoip_free(policy->geoip);
    prefix_table_free(policy->pool_table);
    prefix_table_free(policy->own_table);
    prefix_table_free(policy->msa_table);
    prefix_table_free(policy->resolver_table);
    free(policy);
}

/* ---- Lookups ---- */

int policy_pool_of(const struct policy *policy, const struct address *address)
{
    uint32_t pool;
    return prefix_table_lookup(policy->pool_table, address, &pool) ? (int)pool : POLICY_NO_INDEX;
}

int policy_msa_of(const struct policy *policy, const struct address *address)
{
    uint32_t msa;
    return prefix_table_lookup(policy->msa_table, address, &msa) ? (int)msa : POLICY_NO_INDEX;
}

bool policy_is_own(const struct policy *policy, const struct address *address)
{
    uint32_t unused;
    return prefix_table_lookup(policy->own_table, address, &unused);
}

bool policy_is_resolver(const struct policy *policy, const struct address *address)
{
    uint32_t unused;
    return prefix_table_lookup(policy->resolver_table, address, &unused);
}

struct prefix policy_subscriber(const struct policy *policy, int pool,
                                const struct address *address)
{
    struct prefix prefix = {.address = *address, .length = 32};
    if (address->family != ADDRESS_V6)
        return prefix;
    prefix.length = pool >= 0 && (size_t)pool < policy->pool_count
                        ? policy->pools[pool].ipv6_subscriber_length
                        : DEFAULT_IPV6_SUBSCRIBER_LENGTH;
    for (int i = 0; i < 16; i++) {
        int keep = prefix.length - i * 8;
        if (keep < 8)
            prefix.address.bytes[i] &= keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
    }
    return prefix;
}

unsigned policy_ipv6_subscriber_bits(const struct policy *policy)
{
    unsigned bits = DEFAULT_IPV6_SUBSCRIBER_LENGTH;
    for (size_t p = 0; p < policy->pool_count; p++) {
        if (policy->pools[p].ipv6_subscriber_length < bits)
            bits = policy->pools[p].ipv6_subscriber_length;
    }
    return bits;
}

static bool msa_serves_pool(const struct msa *msa, int pool)
{
    if (msa->pool_count == 0)
        return true;
    for (size_t i = 0; i < msa->pool_count; i++) {
        if (msa->pools[i] == pool)
            return true;
    }
    return false;
}

bool policy_msa_allows(const struct policy *policy, int msa, int pool, uint16_t port)
{
    if (msa < 0 || (size_t)msa >= policy->msa_count)
        return false;
    const struct msa *entry = &policy->msas[msa];
    bool port_listed = false;
    for (size_t i = 0; i < entry->port_count && !port_listed; i++)
        port_listed = entry->ports[i] == port;
    return port_listed && msa_serves_pool(entry, pool);
}

static size_t count_family(const struct prefix *prefixes, size_t count, int family)
{
    size_t matching = 0;
    for (size_t i = 0; i < count; i++)
        matching += prefixes[i].address.family == family;
    return matching;
}

void policy_acl_rule_count(const struct policy *policy, int family, struct acl_rule_count *out)
{
    memset(out, 0, sizeof(*out));
    if (family != ADDRESS_V4 && family != ADDRESS_V6)
        return;
    for (size_t m = 0; m < policy->msa_count; m++)
        out->msa_blocks +=
            count_family(policy->msas[m].prefixes, policy->msas[m].prefix_count, family);
    /* Per dynamic block: a permit for each MSA block its pool may use, then the deny. */
    for (size_t p = 0; p < policy->pool_count; p++) {
        const struct pool *pool = &policy->pools[p];
        if (pool->type != POOL_DYNAMIC || pool->blocking_point == POLICY_NO_INDEX)
            continue;
        size_t blocks = count_family(pool->prefixes, pool->prefix_count, family);
        size_t permits = 0;
        for (size_t m = 0; m < policy->msa_count; m++) {
            const struct msa *msa = &policy->msas[m];
            if (msa_serves_pool(msa, (int)p))
                permits += count_family(msa->prefixes, msa->prefix_count, family);
        }
        out->dynamic_blocks += blocks;
        out->rules += blocks * (permits + 1);
    }
}

/* ---- Names ---- */

static const char *name_in(const char *const *names, size_t count, int index)
{
    return index >= 0 && (size_t)index < count ? names[index] : "unknown";
}

const char *pool_type_name(enum pool_type type)
{
    return name_in(pool_type_names, COUNT_OF(pool_type_names), (int)type);
}

const char *sensor_position_name(enum sensor_position position)
{
    return name_in(position_names, COUNT_OF(position_names), (int)position);
}

const char *blocking_level_name(enum blocking_level level)
{
    return name_in(level_names, COUNT_OF(level_names), (int)level - LEVEL_HOME_ROUTER);
}

const char *blocking_state_name(enum blocking_state state)
{
    return name_in(state_names, COUNT_OF(state_names), (int)state);
}

const char *blocking_reject_name(enum blocking_reject reject)
{
    return name_in(reject_names, COUNT_OF(reject_names), (int)reject);
}

/* The site policy loader (keys: rules/README.md). libyaml parses the text twice: an event pass
 * that refuses what this loader does not support (anchors, aliases, several documents) and
 * reports syntax errors, then the document API, whose nodes carry the line numbers every
 * message points at. Keys are read in a fixed order (blocking points before the pools that
 * name them, pools before the MSAs and segments that name pools), so references resolve as
 * they are read. */
#include "policy/policy_reader.h"

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

#define DEFAULT_STATS_INTERVAL (60 * PACKET_TIME_SECOND)
#define DEFAULT_WINDOW (300 * PACKET_TIME_SECOND)
#define DEFAULT_FANOUT 10
#define DEFAULT_MX_DIRECT 10
#define DEFAULT_ATTEMPTS 30
#define DEFAULT_RCPT 50
#define DEFAULT_SCORE 50
/* msa_abuse, per subscriber and window: rules/README.md ("The msa_abuse thresholds") says
 * why each is what it is. */
#define DEFAULT_MSA_CONNECTIONS 30
#define DEFAULT_MSA_CONCURRENCY 10
#define DEFAULT_MSA_AUTH_FAILURES 10
#define DEFAULT_MSA_QUOTA_REPLIES 3
#define DEFAULT_MSA_RCPT 200
#define DEFAULT_SYN_TIMEOUT (30 * PACKET_TIME_SECOND)
#define DEFAULT_SMTP_IDLE (600 * PACKET_TIME_SECOND)
#define DEFAULT_POP_BEFORE_SMTP (1800 * PACKET_TIME_SECOND)
#define DEFAULT_FLOWS 1000000
#define DEFAULT_SESSIONS 65536
#define LIMIT_MAX 100000000
/* /32 is an ISP's whole block (draft section 3.2). */
#define IPV6_SUBSCRIBER_LENGTH_MIN 32

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
    if (read_choice(loader, fields[POSITION].value, "position", policy_position_names,
                    COUNT_OF(policy_position_names), &position) != 0)
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

/* The sensor section is read before the blocking points, so its position is known here. A
 * home-router point is seen from behind by any mirror of the ISP: what reaches the mirror
 * has passed the subscriber's own router. */
static int read_point_position(struct loader *loader, const yaml_node_t *value,
                               struct blocking_point *point)
{
    point->position =
        point->level == LEVEL_HOME_ROUTER ? POSITION_CORE_SIDE : loader->policy->position;
    point->position_source =
        point->level == LEVEL_HOME_ROUTER ? POSITION_FROM_LEVEL : POSITION_FROM_SENSOR;
    if (value == NULL)
        return 0;
    int choice;
    if (read_choice(loader, value, "position", policy_position_names,
                    COUNT_OF(policy_position_names), &choice) != 0)
        return -1;
    point->position = (enum sensor_position)choice;
    point->position_source = POSITION_FROM_POINT;
    return 0;
}

static int read_blocking_point(struct loader *loader, const yaml_node_t *node, size_t index)
{
    enum { NAME, LEVEL, STATE, REJECT, POSITION };
    struct field fields[] = {
        [NAME] = {"name", true},      [LEVEL] = {"level", true},        [STATE] = {"state", false},
        [REJECT] = {"reject", false}, [POSITION] = {"position", false},
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
    if (read_choice(loader, fields[LEVEL].value, "level", policy_level_names,
                    COUNT_OF(policy_level_names), &choice) != 0)
        return -1;
    point->level = (enum blocking_level)(LEVEL_HOME_ROUTER + choice);
    if (fields[STATE].value != NULL) {
        if (read_choice(loader, fields[STATE].value, "state", policy_state_names,
                        COUNT_OF(policy_state_names), &choice) != 0)
            return -1;
        point->state = (enum blocking_state)choice;
    }
    if (fields[REJECT].value != NULL) {
        if (read_choice(loader, fields[REJECT].value, "reject", policy_reject_names,
                        COUNT_OF(policy_reject_names), &choice) != 0)
            return -1;
        point->reject = (enum blocking_reject)choice;
    }
    return read_point_position(loader, fields[POSITION].value, point);
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
    if (read_choice(loader, fields[TYPE].value, "type", policy_pool_type_names,
                    COUNT_OF(policy_pool_type_names), &type) != 0)
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
int read_pool_names(struct loader *loader, const yaml_node_t *node, const char *what,
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

/* planned_close: ports of the MSA that will stop taking submissions. Only 25: the move
 * the draft asks for is from port 25 to 587 and 465, and only port 25 is judged. */
static int read_planned_close(struct loader *loader, const yaml_node_t *node, struct msa *msa)
{
    if (expect_list(loader, node, "planned_close") != 0)
        return -1;
    for (size_t i = 0; i < list_length(node); i++) {
        const yaml_node_t *item = list_item(loader, node, i);
        uint64_t port;
        if (read_number(loader, item, "port", 1, 65535, &port) != 0)
            return -1;
        bool served = false;
        for (size_t p = 0; p < msa->port_count && !served; p++)
            served = msa->ports[p] == port;
        if (!served)
            return fail_at(loader, item,
                           "planned_close: MSA '%s' does not serve port %u (not in its ports)",
                           msa->name, (unsigned)port);
        if (port != 25)
            return fail_at(loader, item,
                           "planned_close: only port 25 can be planned to close (submission "
                           "moves from 25 to 587 and 465), not %u",
                           (unsigned)port);
        if (msa->port25_planned_close)
            return fail_at(loader, item, "port 25 is listed twice in planned_close of MSA '%s'",
                           msa->name);
        msa->port25_planned_close = true;
    }
    return 0;
}

static int read_msa(struct loader *loader, const yaml_node_t *node, size_t index)
{
    enum { NAME, PREFIXES, PORTS, POOLS, PLANNED_CLOSE };
    struct field fields[] = {
        [NAME] = {"name", true},
        [PREFIXES] = {"prefixes", true},
        [PORTS] = {"ports", true},
        [POOLS] = {"pools", false},
        [PLANNED_CLOSE] = {"planned_close", false},
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
    if (fields[PLANNED_CLOSE].value != NULL &&
        read_planned_close(loader, fields[PLANNED_CLOSE].value, msa) != 0)
        return -1;
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

static int read_msa_abuse(struct loader *loader, const yaml_node_t *node)
{
    enum { CONNECTIONS, CONCURRENCY, AUTH_FAILURES, QUOTA_REPLIES, RCPT };
    struct field fields[] = {
        [CONNECTIONS] = {"connections", false},
        [CONCURRENCY] = {"concurrency", false},
        [AUTH_FAILURES] = {"auth_failures", false},
        [QUOTA_REPLIES] = {"quota_replies", false},
        [RCPT] = {"rcpt", false},
    };
    struct msa_abuse_thresholds *msa = &loader->policy->thresholds.msa_abuse;
    if (read_mapping(loader, node, "msa_abuse", fields, COUNT_OF(fields)) != 0)
        return -1;
    if (read_count(loader, &fields[CONNECTIONS], 1, UINT32_MAX, &msa->connections) != 0 ||
        read_count(loader, &fields[CONCURRENCY], 1, UINT32_MAX, &msa->concurrency) != 0 ||
        read_count(loader, &fields[AUTH_FAILURES], 1, UINT32_MAX, &msa->auth_failures) != 0 ||
        read_count(loader, &fields[QUOTA_REPLIES], 1, UINT32_MAX, &msa->quota_replies) != 0 ||
        read_count(loader, &fields[RCPT], 1, UINT32_MAX, &msa->rcpt) != 0)
        return -1;
    return 0;
}

static int read_thresholds(struct loader *loader, const yaml_node_t *node)
{
    enum { WINDOW, FANOUT, MX_DIRECT, ATTEMPTS, RCPT, SCORE, MSA_ABUSE };
    struct field fields[] = {
        [WINDOW] = {"window", false},       [FANOUT] = {"fanout", false},
        [MX_DIRECT] = {"mx_direct", false}, [ATTEMPTS] = {"attempts", false},
        [RCPT] = {"rcpt", false},           [SCORE] = {"score", false},
        [MSA_ABUSE] = {"msa_abuse", false},
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
    if (fields[MSA_ABUSE].value != NULL && read_msa_abuse(loader, fields[MSA_ABUSE].value) != 0)
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

/* The top level's sections, in the order they are read. */
enum section {
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
    EVENTS,
    SENSORS,
    SECTION_COUNT
};

/* The sections that name nothing another section uses. */
static int read_settings(struct loader *loader, const yaml_node_t *root, struct field *fields)
{
    if (fields[GEOIP].value != NULL && read_geoip(loader, fields[GEOIP].value) != 0)
        return -1;
    if (fields[THRESHOLDS].value != NULL && read_thresholds(loader, fields[THRESHOLDS].value) != 0)
        return -1;
    if (fields[TIMEOUTS].value != NULL && read_timeouts(loader, fields[TIMEOUTS].value) != 0)
        return -1;
    if (fields[LIMITS].value != NULL && read_limits(loader, fields[LIMITS].value) != 0)
        return -1;
    if (fields[EVENTS].value != NULL && read_events(loader, fields[EVENTS].value) != 0)
        return -1;
    /* Summaries come with the periodic reports unless the section says otherwise. */
    if (loader->policy->events.summary_interval == 0)
        loader->policy->events.summary_interval = loader->policy->stats_interval;
    if (loader->fleet && require_key(loader, root, NULL, &fields[SENSORS]) != 0)
        return -1;
    if (fields[SENSORS].value != NULL && read_fleet_sensors(loader, fields[SENSORS].value) != 0)
        return -1;
    return 0;
}

static int read_policy(struct loader *loader, const yaml_node_t *root)
{
    struct field fields[SECTION_COUNT] = {
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
        [SENSORS] = {"sensors", false},
        [EVENTS] = {"events", false},
    };
    /* Sections are read in an order where every name is defined before it is used; a
     * missing required section is reported when its turn comes, after any mistake in the
     * sections before it. */
    if (match_keys(loader, root, NULL, fields, COUNT_OF(fields)) != 0)
        return -1;
    /* A fleet policy names no one sensor, but may keep a sensor's section as it is. */
    if (!loader->fleet || fields[SENSOR].value != NULL) {
        if (require_key(loader, root, NULL, &fields[SENSOR]) != 0 ||
            read_sensor(loader, fields[SENSOR].value) != 0)
            return -1;
    }
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
    return read_settings(loader, root, fields);
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
    policy->thresholds.msa_abuse.connections = DEFAULT_MSA_CONNECTIONS;
    policy->thresholds.msa_abuse.concurrency = DEFAULT_MSA_CONCURRENCY;
    policy->thresholds.msa_abuse.auth_failures = DEFAULT_MSA_AUTH_FAILURES;
    policy->thresholds.msa_abuse.quota_replies = DEFAULT_MSA_QUOTA_REPLIES;
    policy->thresholds.msa_abuse.rcpt = DEFAULT_MSA_RCPT;
    policy->timeouts.syn = DEFAULT_SYN_TIMEOUT;
    policy->timeouts.smtp_idle = DEFAULT_SMTP_IDLE;
    policy->timeouts.pop_before_smtp = DEFAULT_POP_BEFORE_SMTP;
    policy->limits.flows = DEFAULT_FLOWS;
    policy->limits.sessions = DEFAULT_SESSIONS;
    policy->events.summary_subscribers = POLICY_SUMMARY_SUBSCRIBERS_DEFAULT;
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
    free(loader->sensor_names.slots);
}

static struct policy *load_text(const char *name, const char *text, size_t length, bool fleet,
                                char *error, size_t error_size)
{
    struct loader loader = {
        .name = name != NULL ? name : "<policy>",
        .error = error,
        .error_size = error_size,
        .fleet = fleet,
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
    if (policy->sensor_name == NULL && (policy->sensor_name = strdup("fleet")) == NULL) {
        fail_memory(&loader);
        goto fail_free_policy;
    }
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

struct policy *policy_load_text(const char *name, const char *text, size_t length, char *error,
                                size_t error_size)
{
    return load_text(name, text, length, false, error, error_size);
}

struct policy *policy_load_fleet_text(const char *name, const char *text, size_t length,
                                      char *error, size_t error_size)
{
    return load_text(name, text, length, true, error, error_size);
}

static struct policy *load_file(const char *path, bool fleet, char *error, size_t error_size)
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
    struct policy *policy = load_text(path, text, length, fleet, error, error_size);
    free(text);
    return policy;

fail_free_text:
    free(text);
fail_close_file:
    fclose(file);
fail:
    return NULL;
}

struct policy *policy_load(const char *path, char *error, size_t error_size)
{
    return load_file(path, false, error, error_size);
}

struct policy *policy_load_fleet(const char *path, char *error, size_t error_size)
{
    return load_file(path, true, error, error_size);
}

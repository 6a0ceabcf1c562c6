/* The policy's `sensors:` section: the fleet of sensors op25b-correlate joins. Each sensor
 * has a name (its `sensor.name`), a position against the blocking points (a default and
 * overrides per point) and the pools whose port-25 traffic passes its mirror. The sensor
 * itself reads the section only to check it; a fleet policy must have it. Read after the
 * pools and blocking points, whose names it uses. */
#include "policy/policy_reader.h"

#include <stdlib.h>
#include <string.h>

/* positions: a mapping from blocking point name to edge-side or core-side. */
static int read_overrides(struct loader *loader, const yaml_node_t *node,
                          struct fleet_sensor *sensor)
{
    if (node->type != YAML_MAPPING_NODE)
        return fail_at(loader, node, "expected a mapping for positions, found %s", kind_of(node));
    int *seen = calloc(loader->policy->blocking_point_count + 1, sizeof(*seen));
    if (seen == NULL)
        return fail_memory(loader);
    int result = 0;
    for (const yaml_node_pair_t *pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top && result == 0; pair++) {
        const yaml_node_t *key = node_at(loader, pair->key);
        const char *name;
        int point, position;
        if (read_text(loader, key, "a blocking point name", &name) != 0)
            result = -1;
        else if ((point = name_index_find(&loader->point_names, name)) == POLICY_NO_INDEX)
            result = fail_at(loader, key,
                             "sensor '%s' positions names blocking point '" QUOTE
                             "', which is not defined",
                             sensor->name, name);
        else if (seen[point] != 0)
            result = fail_at(loader, key,
                             "blocking point '%s' is given twice in positions "
                             "(line %d)",
                             name, seen[point]);
        else if (read_choice(loader, node_at(loader, pair->value), "position",
                             policy_position_names, COUNT_OF(policy_position_names),
                             &position) != 0)
            result = -1;
        else {
            seen[point] = line_of(key);
            sensor->positions[point] = (enum sensor_position)position;
        }
    }
    free(seen);
    return result;
}

static int read_fleet_sensor(struct loader *loader, const yaml_node_t *node, size_t index)
{
    enum { NAME, POSITION, POSITIONS, POOLS };
    struct field fields[] = {
        [NAME] = {"name", true},
        [POSITION] = {"position", true},
        [POSITIONS] = {"positions", false},
        [POOLS] = {"pools", true},
    };
    struct policy *policy = loader->policy;
    struct fleet_sensor *sensor = &policy->fleet_sensors[index];
    if (read_mapping(loader, node, "sensors item", fields, COUNT_OF(fields)) != 0)
        return -1;
    sensor->line = line_of(node);
    if (read_name(loader, fields[NAME].value, "sensor name", &sensor->name) != 0)
        return -1;
    if (claim_name(loader, &loader->sensor_names, fields[NAME].value, "sensor", sensor->name,
                   index) != 0)
        return -1;
    int position;
    if (read_choice(loader, fields[POSITION].value, "position", policy_position_names,
                    COUNT_OF(policy_position_names), &position) != 0)
        return -1;
    sensor->position = (enum sensor_position)position;
    sensor->positions = calloc(policy->blocking_point_count + 1, sizeof(*sensor->positions));
    if (sensor->positions == NULL)
        return fail_memory(loader);
    for (size_t i = 0; i < policy->blocking_point_count; i++)
        sensor->positions[i] = sensor->position;
    if (fields[POSITIONS].value != NULL &&
        read_overrides(loader, fields[POSITIONS].value, sensor) != 0)
        return -1;
    char owner[300];
    snprintf(owner, sizeof(owner), "sensor '%s' carries", sensor->name);
    return read_pool_names(loader, fields[POOLS].value, "pools", false, owner, &sensor->pools,
                           &sensor->pool_count);
}

int read_fleet_sensors(struct loader *loader, const yaml_node_t *node)
{
    struct policy *policy = loader->policy;
    if (expect_list(loader, node, "sensors") != 0)
        return -1;
    size_t length = list_length(node);
    if (length == 0)
        return fail_at(loader, node, "sensors must list at least one sensor");
    if (length > POLICY_FLEET_SENSORS_MAX)
        return fail_at(loader, node, "too many sensors (%zu; at most %d)", length,
                       POLICY_FLEET_SENSORS_MAX);
    policy->fleet_sensors = calloc(length, sizeof(*policy->fleet_sensors));
    if (policy->fleet_sensors == NULL)
        return fail_memory(loader);
    /* Counted at once, so policy_free releases what the entries hold if loading stops. */
    policy->fleet_sensor_count = length;
    if (name_index_init(loader, &loader->sensor_names, length) != 0)
        return -1;
    for (size_t i = 0; i < length; i++) {
        if (read_fleet_sensor(loader, list_item(loader, node, i), i) != 0)
            return -1;
    }
    return 0;
}

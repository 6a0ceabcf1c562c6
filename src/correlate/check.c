#include "correlate/check.h"

static void print_pools(FILE *out, const struct policy *policy)
{
    fprintf(out, "pools (%zu):\n", policy->pool_count);
    for (size_t p = 0; p < policy->pool_count; p++) {
        const struct pool *pool = &policy->pools[p];
        fprintf(out, "  %-16s %-8s ", pool->name, pool_type_name(pool->type));
        if (pool->blocking_point != POLICY_NO_INDEX) {
            const struct blocking_point *point = &policy->blocking_points[pool->blocking_point];
            fprintf(out, "blocked at %s (%s)", point->name, blocking_state_name(point->state));
        } else {
            fprintf(out, "%s", pool->type == POOL_DYNAMIC ? "NO BLOCKING POINT" : "-");
        }
        fprintf(out, "  carried by");
        size_t carriers = 0;
        for (size_t s = 0; s < policy->fleet_sensor_count; s++) {
            if (!policy_fleet_carries(policy, (int)s, (int)p))
                continue;
            const struct fleet_sensor *sensor = &policy->fleet_sensors[s];
            fprintf(out, " %s", sensor->name);
            if (pool->blocking_point != POLICY_NO_INDEX)
                fprintf(out, " (%s)",
                        sensor_position_name(sensor->positions[pool->blocking_point]));
            carriers++;
        }
        fprintf(out, "%s\n", carriers == 0 ? " no sensor" : "");
    }
}

static void print_sensors(FILE *out, const struct policy *policy)
{
    fprintf(out, "sensors (%zu):\n", policy->fleet_sensor_count);
    for (size_t s = 0; s < policy->fleet_sensor_count; s++) {
        const struct fleet_sensor *sensor = &policy->fleet_sensors[s];
        fprintf(out, "  %-16s %s", sensor->name, sensor_position_name(sensor->position));
        for (size_t b = 0; b < policy->blocking_point_count; b++) {
            if (sensor->positions[b] != sensor->position)
                fprintf(out, ", %s of %s", sensor_position_name(sensor->positions[b]),
                        policy->blocking_points[b].name);
        }
        fprintf(out, "  pools ");
        for (size_t p = 0; p < sensor->pool_count; p++)
            fprintf(out, "%s%s", p == 0 ? "" : ",", policy->pools[sensor->pools[p]].name);
        fprintf(out, "\n");
    }
}

void correlate_check_print(const struct policy *policy, FILE *out)
{
    fprintf(out, "fleet policy %s: valid\n", policy->path);
    print_pools(out, policy);
    fprintf(out, "blocking points (%zu):\n", policy->blocking_point_count);
    for (size_t b = 0; b < policy->blocking_point_count; b++) {
        const struct blocking_point *point = &policy->blocking_points[b];
        fprintf(out, "  %-16s %-11s %-7s reject %s\n", point->name,
                blocking_level_name(point->level), blocking_state_name(point->state),
                blocking_reject_name(point->reject));
    }
    fprintf(out, "msas: %zu\n", policy->msa_count);
    print_sensors(out, policy);
}

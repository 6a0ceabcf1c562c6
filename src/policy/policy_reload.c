#include "policy/policy_reload.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/collateral_places.h"

/* The names of one list of the policy, whatever its entries' type. */
struct name_list {
    const char *what; /* "pool", for the message */
    const char *section;
    size_t count;
    const char *(*name)(const struct policy *policy, size_t i);
    int (*line)(const struct policy *policy, size_t i);
};

#define NAME_LIST(kind, field)                                                                     \
    static const char *reload_##kind##_name(const struct policy *policy, size_t i)                 \
    {                                                                                              \
        return policy->field[i].name;                                                              \
    }                                                                                              \
    static int reload_##kind##_line(const struct policy *policy, size_t i)                         \
    {                                                                                              \
        return policy->field[i].line;                                                              \
    }

NAME_LIST(pool, pools)
NAME_LIST(point, blocking_points)
NAME_LIST(msa, msas)
NAME_LIST(segment, segments)

/* The first difference between the two lists, said at the new file's line where there is
 * one; false when they are the same names in the same order. */
static bool names_differ(const struct policy *running, const struct policy *fresh,
                         const struct name_list *old_list, const struct name_list *new_list,
                         char *error, size_t error_size)
{
    static const char restart[] = "adding, removing, renaming or reordering %s takes a "
                                  "restart";
    char tail[160];
    snprintf(tail, sizeof(tail), restart, new_list->section);
    for (size_t i = 0; i < new_list->count; i++) {
        const char *name = new_list->name(fresh, i);
        if (i < old_list->count && strcmp(name, old_list->name(running, i)) == 0)
            continue;
        if (i < old_list->count)
            snprintf(error, error_size, "%s:%d: %s '%s' where the running policy has '%s': %s",
                     fresh->path, new_list->line(fresh, i), new_list->what, name,
                     old_list->name(running, i), tail);
        else
            snprintf(error, error_size, "%s:%d: %s '%s' is not in the running policy: %s",
                     fresh->path, new_list->line(fresh, i), new_list->what, name, tail);
        return true;
    }
    if (new_list->count < old_list->count) {
        snprintf(error, error_size, "%s: %s '%s' of the running policy is gone: %s", fresh->path,
                 old_list->what, old_list->name(running, new_list->count), tail);
        return true;
    }
    return false;
}

static bool structure_differs(const struct policy *running, const struct policy *fresh, char *error,
                              size_t error_size)
{
#define LISTS(p)                                                                                   \
    {                                                                                              \
        {"pool", "pools", (p)->pool_count, reload_pool_name, reload_pool_line},                    \
            {"blocking point", "blocking points", (p)->blocking_point_count, reload_point_name,    \
             reload_point_line},                                                                   \
            {"MSA", "MSAs", (p)->msa_count, reload_msa_name, reload_msa_line},                     \
        {                                                                                          \
            "segment", "segments", (p)->segment_count, reload_segment_name, reload_segment_line    \
        }                                                                                          \
    }
    const struct name_list old_lists[] = LISTS(running);
    const struct name_list new_lists[] = LISTS(fresh);
#undef LISTS
    for (size_t l = 0; l < sizeof(old_lists) / sizeof(old_lists[0]); l++)
        if (names_differ(running, fresh, &old_lists[l], &new_lists[l], error, error_size))
            return true;
    return false;
}

/* One key made at start: its new value is put back to the running one, and said. */
struct kept_key {
    const char *name;
    bool seconds; /* a packet_time, said in seconds */
    uint64_t running;
    uint64_t *fresh_u64;
    uint32_t *fresh_u32;
};

static void keep_key(const struct policy *fresh, const struct kept_key *key,
                     policy_reload_warning warn, void *context)
{
    uint64_t wanted = key->fresh_u64 != NULL ? *key->fresh_u64 : *key->fresh_u32;
    if (wanted == key->running)
        return;
    char message[512];
    if (key->seconds)
        snprintf(message, sizeof(message),
                 "%s: %s %.3gs waits for a restart; the running sensor keeps %.3gs", fresh->path,
                 key->name, (double)wanted / PACKET_TIME_SECOND,
                 (double)key->running / PACKET_TIME_SECOND);
    else
        snprintf(message, sizeof(message),
                 "%s: %s %" PRIu64 " waits for a restart; the running sensor keeps %" PRIu64,
                 fresh->path, key->name, wanted, key->running);
    warn(context, message);
    if (key->fresh_u64 != NULL)
        *key->fresh_u64 = key->running;
    else
        *key->fresh_u32 = (uint32_t)key->running;
}

static void keep_start_keys(const struct policy *running, struct policy *fresh,
                            policy_reload_warning warn, void *context)
{
    _Static_assert(sizeof(packet_time) == sizeof(uint64_t), "packet_time is 64 bits");
    const struct kept_key keys[] = {
        {"limits.flows", false, running->limits.flows, NULL, &fresh->limits.flows},
        {"limits.sessions", false, running->limits.sessions, NULL, &fresh->limits.sessions},
        {"timeouts.syn", true, (uint64_t)running->timeouts.syn, (uint64_t *)&fresh->timeouts.syn,
         NULL},
        {"timeouts.smtp_idle", true, (uint64_t)running->timeouts.smtp_idle,
         (uint64_t *)&fresh->timeouts.smtp_idle, NULL},
        {"timeouts.pop_before_smtp", true, (uint64_t)running->timeouts.pop_before_smtp,
         (uint64_t *)&fresh->timeouts.pop_before_smtp, NULL},
        {"thresholds.window", true, (uint64_t)running->thresholds.window,
         (uint64_t *)&fresh->thresholds.window, NULL},
        {"sensor.stats_interval", true, (uint64_t)running->stats_interval,
         (uint64_t *)&fresh->stats_interval, NULL},
        {"events.summary_interval", true, (uint64_t)running->events.summary_interval,
         (uint64_t *)&fresh->events.summary_interval, NULL},
        {"events.summary_subscribers", false, running->events.summary_subscribers, NULL,
         &fresh->events.summary_subscribers},
    };
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
        keep_key(fresh, &keys[k], warn, context);
}

/* The verdicts summarized: the summary table is made at start for them. */
static void keep_summarize(const struct policy *running, struct policy *fresh,
                           policy_reload_warning warn, void *context)
{
    if (fresh->events.summarize == running->events.summarize)
        return;
    char kept[128] = "";
    for (int v = 0; v < POLICY_VERDICTS; v++) {
        if (!(running->events.summarize & (1u << v)))
            continue;
        if (kept[0] != '\0')
            strncat(kept, ", ", sizeof(kept) - strlen(kept) - 1);
        strncat(kept, policy_verdict_names[v], sizeof(kept) - strlen(kept) - 1);
    }
    char message[512];
    snprintf(message, sizeof(message),
             "%s: events.summarize waits for a restart; the running sensor keeps [%s]", fresh->path,
             kept);
    warn(context, message);
    fresh->events.summarize = running->events.summarize;
}

/* collateral_block watches the (pool, point) places built at start (its flow table and the
 * metric series follow them): a reload that moves them is said; a restart takes them. */
static void say_collateral_places(const struct policy *running, const struct policy *fresh,
                                  policy_reload_warning warn, void *context)
{
    struct collateral_places before, after;
    if (collateral_places_build(running, &before) != 0)
        return;
    if (collateral_places_build(fresh, &after) != 0) {
        collateral_places_free(&before);
        return;
    }
    bool same = before.count == after.count && before.any_static == after.any_static &&
                (before.count == 0 ||
                 memcmp(before.items, after.items, before.count * sizeof(*before.items)) == 0);
    if (!same) {
        char message[512];
        snprintf(message, sizeof(message),
                 "%s: where collateral_block watches (active edge-side blocking points and "
                 "the pools they stand before) waits for a restart; the running sensor keeps "
                 "watching %zu place%s",
                 fresh->path, before.count, before.count == 1 ? "" : "s");
        warn(context, message);
    }
    collateral_places_free(&before);
    collateral_places_free(&after);
}

struct policy *policy_reload_read(const struct policy *running, policy_reload_warning warn,
                                  void *context, char *error, size_t error_size)
{
    struct policy *fresh = policy_load(running->path, error, error_size);
    if (fresh == NULL)
        return NULL;
    if (structure_differs(running, fresh, error, error_size)) {
        policy_free(fresh);
        return NULL;
    }
    keep_start_keys(running, fresh, warn, context);
    keep_summarize(running, fresh, warn, context);
    say_collateral_places(running, fresh, warn, context);
    return fresh;
}

void policy_reload_apply(struct policy *running, struct policy *fresh)
{
    struct policy old = *running;
    *running = *fresh;
    *fresh = old;
    policy_free(fresh);
}

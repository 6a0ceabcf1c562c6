/* SIGHUP's policy (src/policy/policy_reload.c): what a reload takes in place, what it
 * refuses with the file's line, and which keys keep their running values until a restart. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/policy.h"
#include "policy/policy_reload.h"

static const char base[] = "sensor: {name: first, position: edge-side}\n"
                           "own_prefixes: [198.51.100.0/22, 203.0.113.0/24]\n"
                           "pools:\n"
                           "  - {name: ftth, type: dynamic, prefixes: [198.51.100.0/24],\n"
                           "     blocking_point: bras}\n"
                           "  - {name: business, type: static, prefixes: [203.0.113.0/24]}\n"
                           "msas:\n"
                           "  - {name: isp-msa, prefixes: [192.0.2.25/32], ports: [25, 587]}\n"
                           "blocking_points:\n"
                           "  - {name: bras, level: terminator, state: planned}\n"
                           "limits: {flows: 4096, sessions: 256}\n";

static char path[64];
static char error[1024];
static char warnings[2048];

static void write_policy(const char *text)
{
    FILE *out = fopen(path, "w");
    cr_assert_not_null(out);
    fputs(text, out);
    fclose(out);
}

static void note(void *context, const char *message)
{
    (void)context;
    strncat(warnings, message, sizeof(warnings) - strlen(warnings) - 2);
    strcat(warnings, "\n");
}

static struct policy *running;

static void setup(void)
{
    snprintf(path, sizeof(path), "/tmp/op25b-reload-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    write_policy(base);
    running = policy_load(path, error, sizeof(error));
    cr_assert_not_null(running, "%s", error);
    warnings[0] = error[0] = '\0';
}

static void teardown(void)
{
    policy_free(running);
    unlink(path);
}

/* The base with one piece of text replaced by another. */
static void write_changed(const char *from, const char *to)
{
    char text[sizeof(base) + 256];
    const char *at = strstr(base, from);
    cr_assert_not_null(at, "%s", from);
    snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - base), base, to, at + strlen(from));
    write_policy(text);
}

TestSuite(policy_reload, .init = setup, .fini = teardown);

Test(policy_reload, a_policy_that_loads_takes_the_running_ones_place)
{
    struct policy *before = running;
    write_changed("state: planned", "state: active");
    struct policy *fresh = policy_reload_read(running, note, NULL, error, sizeof(error));
    cr_assert_not_null(fresh, "%s", error);
    policy_reload_apply(running, fresh);
    cr_expect_eq(running, before, "the running policy stays where it is");
    cr_expect_eq(running->blocking_points[0].state, BLOCKING_ACTIVE);
    /* The point went live: collateral_block's places, made at start, are the one thing
     * said to wait for a restart. */
    cr_expect(strstr(warnings, ": where collateral_block watches (active edge-side blocking "
                               "points and the pools they stand before) waits for a restart; "
                               "the running sensor keeps watching 0 places\n") != NULL,
              "%s", warnings);
    warnings[0] = '\0';
    /* The lookups are the new file's. */
    write_changed("198.51.100.0/24", "198.51.100.0/23");
    fresh = policy_reload_read(running, note, NULL, error, sizeof(error));
    cr_assert_not_null(fresh, "%s", error);
    policy_reload_apply(running, fresh);
    struct address inside = {.family = ADDRESS_V4, .bytes = {198, 51, 101, 7}};
    cr_expect_eq(policy_pool_of(running, &inside), 0);
}

Test(policy_reload, the_sensor_is_renamed)
{
    write_changed("name: first", "name: second");
    struct policy *fresh = policy_reload_read(running, note, NULL, error, sizeof(error));
    cr_assert_not_null(fresh, "%s", error);
    policy_reload_apply(running, fresh);
    cr_expect_str_eq(running->sensor_name, "second");
}

Test(policy_reload, a_broken_file_is_refused_with_its_line)
{
    write_changed("limits:", "colour: red\nlimits:");
    cr_expect_null(policy_reload_read(running, note, NULL, error, sizeof(error)));
    char expected[128];
    snprintf(expected, sizeof(expected), "%s:11: ", path);
    cr_expect(strncmp(error, expected, strlen(expected)) == 0, "%s", error);
    cr_expect_str_eq(running->sensor_name, "first");
}

Test(policy_reload, a_pool_more_or_less_or_renamed_is_refused)
{
    write_changed("msas:", "  - {name: extra, type: static, prefixes: [192.0.2.128/25]}\nmsas:");
    cr_expect_null(policy_reload_read(running, note, NULL, error, sizeof(error)));
    cr_expect(strstr(error, ":7: pool 'extra' is not in the running policy: adding, removing, "
                            "renaming or reordering pools takes a restart") != NULL,
              "%s", error);

    write_changed("  - {name: business, type: static, prefixes: [203.0.113.0/24]}\n", "");
    cr_expect_null(policy_reload_read(running, note, NULL, error, sizeof(error)));
    cr_expect(strstr(error, ": pool 'business' of the running policy is gone") != NULL, "%s",
              error);

    write_changed("name: isp-msa", "name: main-msa");
    cr_expect_null(policy_reload_read(running, note, NULL, error, sizeof(error)));
    cr_expect(strstr(error, ":8: MSA 'main-msa' where the running policy has 'isp-msa'") != NULL,
              "%s", error);
}

Test(policy_reload, keys_made_at_start_keep_their_running_values)
{
    char text[sizeof(base) + 256];
    snprintf(text, sizeof(text), "%s", base);
    memcpy(strstr(text, "name: first"), "name: other", 11);
    char *limits = strstr(text, "limits:");
    snprintf(limits, sizeof(text) - (size_t)(limits - text),
             "limits: {flows: 8192, sessions: 256}\ntimeouts: {syn: 45s}\n");
    write_policy(text);
    struct policy *fresh = policy_reload_read(running, note, NULL, error, sizeof(error));
    cr_assert_not_null(fresh, "%s", error);
    cr_expect(strstr(warnings, ": limits.flows 8192 waits for a restart; the running sensor "
                               "keeps 4096\n") != NULL,
              "%s", warnings);
    cr_expect(strstr(warnings, ": timeouts.syn 45s waits for a restart; the running sensor "
                               "keeps 30s\n") != NULL,
              "%s", warnings);
    policy_reload_apply(running, fresh);
    cr_expect_eq(running->limits.flows, 4096);
    cr_expect_eq(running->timeouts.syn, 30 * PACKET_TIME_SECOND);
    cr_expect_str_eq(running->sensor_name, "other", "the rest is taken");
}

/* The summary table is made at start for the verdicts it folds; the rate limits are read
 * at each finding and follow the file. */
Test(policy_reload, event_summaries_wait_for_a_restart)
{
    char text[sizeof(base) + 256];
    snprintf(text, sizeof(text),
             "%sevents:\n  summarize: [blocked]\n  summary_interval: 120s\n"
             "  max_per_minute: {bot_suspect: 5}\n",
             base);
    write_policy(text);
    struct policy *fresh = policy_reload_read(running, note, NULL, error, sizeof(error));
    cr_assert_not_null(fresh, "%s", error);
    cr_expect(strstr(warnings, ": events.summarize waits for a restart; the running sensor "
                               "keeps []\n") != NULL,
              "%s", warnings);
    cr_expect(strstr(warnings, ": events.summary_interval 120s waits for a restart") != NULL, "%s",
              warnings);
    policy_reload_apply(running, fresh);
    cr_expect_eq(running->events.summarize, 0);
    cr_expect_eq(running->events.max_per_minute[4], 5, "bot_suspect's limit is taken");
}

/* The events: section of the policy (rules/README.md): event volume control. Attempts of
 * the verdicts listed in `summarize` are folded into one attempt_summary event per
 * subscriber and `summary_interval`; `max_per_minute` caps the lines of each finding type.
 * A leak is never summarized: each one is what the NOC must see. */
#include <stdbool.h>
#include <stdint.h>

#include "policy/policy.h"
#include "policy/policy_reader.h"

/* record/verdict.h's enum verdict, in order. */
const char *const policy_verdict_names[POLICY_VERDICTS] = {"allowed", "blocked", "leaked",
                                                           "would_block", "unknown"};
/* record/event_type.h's finding types (those after sensor_stats and attempt_summary). */
const char *const policy_finding_names[POLICY_FINDING_TYPES] = {"asymmetric_routing",
                                                                "spoofed_source",
                                                                "triangular_spam",
                                                                "inbound_acl_violation",
                                                                "bot_suspect",
                                                                "nonstandard_port_smtp",
                                                                "open_submission",
                                                                "pop_before_smtp",
                                                                "third_party_submission",
                                                                "msa_abuse",
                                                                "cleartext_auth",
                                                                "collateral_block"};

enum { VERDICT_NAME_LEAKED = 2 };

static int read_summarize(struct loader *loader, const yaml_node_t *node)
{
    struct policy_events *events = &loader->policy->events;
    if (expect_list(loader, node, "summarize") != 0)
        return -1;
    for (size_t i = 0; i < list_length(node); i++) {
        const yaml_node_t *item = list_item(loader, node, i);
        int verdict;
        if (read_choice(loader, item, "summarize", policy_verdict_names, POLICY_VERDICTS,
                        &verdict) != 0)
            return -1;
        if (verdict == VERDICT_NAME_LEAKED)
            return fail_at(loader, item,
                           "leaked attempts cannot be summarized: every leak stays an attempt "
                           "event of its own (summarize any of allowed, blocked, would_block, "
                           "unknown)");
        if (events->summarize & (1u << verdict))
            return fail_at(loader, item, "verdict '%s' is listed twice in summarize",
                           policy_verdict_names[verdict]);
        events->summarize |= 1u << verdict;
    }
    return 0;
}

static int read_limits_per_minute(struct loader *loader, const yaml_node_t *node)
{
    struct field fields[POLICY_FINDING_TYPES];
    for (size_t t = 0; t < POLICY_FINDING_TYPES; t++)
        fields[t] = (struct field){.key = policy_finding_names[t]};
    if (read_mapping(loader, node, "max_per_minute", fields, POLICY_FINDING_TYPES) != 0)
        return -1;
    for (size_t t = 0; t < POLICY_FINDING_TYPES; t++) {
        uint64_t count;
        if (fields[t].value == NULL)
            continue;
        if (read_number(loader, fields[t].value, fields[t].key, 1, UINT32_MAX, &count) != 0)
            return -1;
        loader->policy->events.max_per_minute[t] = (uint32_t)count;
    }
    return 0;
}

int read_events(struct loader *loader, const yaml_node_t *node)
{
    enum { SUMMARIZE, SUMMARY_INTERVAL, SUMMARY_SUBSCRIBERS, MAX_PER_MINUTE };
    struct field fields[] = {
        [SUMMARIZE] = {"summarize", false},
        [SUMMARY_INTERVAL] = {"summary_interval", false},
        [SUMMARY_SUBSCRIBERS] = {"summary_subscribers", false},
        [MAX_PER_MINUTE] = {"max_per_minute", false},
    };
    struct policy_events *events = &loader->policy->events;
    if (read_mapping(loader, node, "events", fields, COUNT_OF(fields)) != 0)
        return -1;
    if (fields[SUMMARIZE].value != NULL && read_summarize(loader, fields[SUMMARIZE].value) != 0)
        return -1;
    if (fields[SUMMARY_INTERVAL].value != NULL &&
        read_duration(loader, fields[SUMMARY_INTERVAL].value, "summary_interval",
                      &events->summary_interval) != 0)
        return -1;
    if (fields[SUMMARY_SUBSCRIBERS].value != NULL) {
        uint64_t count;
        if (read_number(loader, fields[SUMMARY_SUBSCRIBERS].value, "summary_subscribers", 1,
                        POLICY_SUMMARY_SUBSCRIBERS_MAX, &count) != 0)
            return -1;
        events->summary_subscribers = (uint32_t)count;
    }
    if (fields[MAX_PER_MINUTE].value != NULL &&
        read_limits_per_minute(loader, fields[MAX_PER_MINUTE].value) != 0)
        return -1;
    return 0;
}

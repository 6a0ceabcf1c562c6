/* What to do next: concrete steps derived from the report's counts, most urgent first
 * (leaks, what the block refuses that it must not, pools filtered nowhere, infected subscribers,
 * evasion, what the block will break, what the sensor missed). Each names the place and the count
 * it comes from. */
#include <stdarg.h>
#include <stdio.h>

#include "report/report_summary.h"

/* Prefixes named in a step before "and N more". */
#define STEP_PREFIXES 3
/* Leaking pools given a step each; the rest share one. */
#define STEP_LEAKS 8

struct steps {
    report_step_fn step;
    void *context;
    size_t count;
};

__attribute__((format(printf, 2, 3))) static void say(struct steps *steps, const char *format, ...)
{
    char text[1024];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(text, sizeof(text), format, arguments);
    va_end(arguments);
    steps->step(steps->context, text);
    steps->count++;
}

static const char *plural(uint64_t count)
{
    return count == 1 ? "" : "s";
}

/* "203.0.113.0/25, 2001:db8:100::/40": the pool's prefixes of the families that leaked. */
static void leaking_prefixes(const struct report *report, int pool, char *text, size_t size)
{
    const struct pool *entry = &report->policy->pools[pool];
    size_t used = 0, named = 0, more = 0;
    text[0] = '\0';
    for (size_t i = 0; i < entry->prefix_count; i++) {
        int family = entry->prefixes[i].address.family;
        if (report_pool_counts(report, pool, family)->by_verdict[VERDICT_LEAKED] == 0)
            continue;
        if (named == STEP_PREFIXES) {
            more++;
            continue;
        }
        char prefix[PREFIX_TEXT_MAX];
        prefix_format(&entry->prefixes[i], prefix, sizeof(prefix));
        int written = snprintf(text + used, size - used, "%s%s", named++ == 0 ? "" : ", ", prefix);
        used += written > 0 && (size_t)written < size - used ? (size_t)written : 0;
    }
    if (more > 0)
        snprintf(text + used, size - used, " and %zu more", more);
}

static void leak_steps(const struct report *report, struct steps *steps)
{
    const struct policy *policy = report->policy;
    uint64_t rest = 0, rest_pools = 0;
    size_t given = 0;
    for (size_t p = 0; p < policy->pool_count; p++) {
        const struct pool *pool = &policy->pools[p];
        if (pool->type != POOL_DYNAMIC || pool->blocking_point == POLICY_NO_INDEX)
            continue;
        struct coverage_counts counts;
        report_pool_total(report, (int)p, &counts);
        uint64_t leaked = counts.by_verdict[VERDICT_LEAKED];
        if (leaked == 0)
            continue;
        if (given++ == STEP_LEAKS) {
            rest += leaked;
            rest_pools++;
            continue;
        }
        char prefixes[4 * PREFIX_TEXT_MAX + 32];
        leaking_prefixes(report, (int)p, prefixes, sizeof(prefixes));
        say(steps,
            "Blocking point %s leaked %llu attempt%s from pool %s: check that its ACL denies "
            "TCP/25 from %s (the ACL section lists the rules) and that all of the pool's "
            "traffic passes through it.",
            policy->blocking_points[pool->blocking_point].name, (unsigned long long)leaked,
            plural(leaked), pool->name, prefixes);
    }
    if (rest > 0)
        say(steps, "%llu more leak%s from %llu more pool%s: the coverage section lists them.",
            (unsigned long long)rest, plural(rest), (unsigned long long)rest_pools,
            plural(rest_pools));
}

/* One step per blocking point that refused what it must let through, with the reasons. */
static void collateral_steps(const struct report *report, struct steps *steps)
{
    const struct policy *policy = report->policy;
    const struct report_collateral *collateral = &report->collateral;
    for (size_t b = 0; b < policy->blocking_point_count; b++) {
        uint64_t by_reason[COLLATERAL_REASONS] = {0}, total = 0;
        for (size_t i = 0; i < collateral->count; i++) {
            if (collateral->rows[i].blocking_point != (int)b)
                continue;
            by_reason[collateral->rows[i].reason] += collateral->rows[i].findings;
            total += collateral->rows[i].findings;
        }
        if (total == 0)
            continue;
        say(steps,
            "Blocking point %s refused %llu connection%s it must let through (collateral_block: "
            "%llu to designated MSAs on port 25, %llu on 587 or 465, %llu from static pools on "
            "port 25): make its ACL let them through (an OP25B ACL denies TCP/25 only, after the "
            "permits the ACL section lists); \"What the block breaks\" in the coverage audit "
            "names the subscribers it cut off.",
            policy->blocking_points[b].name, (unsigned long long)total, plural(total),
            (unsigned long long)by_reason[COLLATERAL_DESIGNATED_MSA],
            (unsigned long long)by_reason[COLLATERAL_SUBMISSION_PORT],
            (unsigned long long)by_reason[COLLATERAL_STATIC_POOL]);
    }
}

static void unfiltered_steps(const struct report *report, struct steps *steps)
{
    const struct policy *policy = report->policy;
    for (size_t p = 0; p < policy->pool_count; p++) {
        const struct pool *pool = &policy->pools[p];
        if (pool->type != POOL_DYNAMIC || pool->blocking_point != POLICY_NO_INDEX)
            continue;
        struct coverage_counts counts;
        report_pool_total(report, (int)p, &counts);
        uint64_t attempts = coverage_attempts(&counts);
        uint64_t leaked = counts.by_verdict[VERDICT_LEAKED];
        if (attempts == 0)
            say(steps,
                "Pool %s has no blocking point: port 25 from it is filtered nowhere. Give it "
                "one in the policy and put the ACL section's rules for it there.",
                pool->name);
        else
            say(steps,
                "Pool %s has no blocking point: port 25 from it is filtered nowhere (%llu "
                "attempt%s seen, %llu got out). Give it one in the policy and put the ACL "
                "section's rules for it there.",
                pool->name, (unsigned long long)attempts, plural(attempts),
                (unsigned long long)leaked);
    }
}

static void suspect_steps(const struct report *report, struct steps *steps)
{
    size_t order[1];
    if (report_top_suspects(report, order, 1) == 0)
        return;
    const struct finding *top = &report->suspects[order[0]];
    char name[PREFIX_TEXT_MAX];
    report_suspect_name(top, name, sizeof(name));
    size_t count = report->suspect_count;
    say(steps,
        "%zu subscriber%s look%s infected (bot_suspect; the highest score, %.2f, is %s): hand "
        "%s to the abuse desk; the bot suspects section shows the signs behind each score.",
        count, plural(count), count == 1 ? "s" : "", top->as.bot.score, name,
        count == 1 ? "it" : "them");
}

static void evasion_steps(const struct report *report, struct steps *steps)
{
    static const struct {
        enum event_type type;
        const char *one;
        const char *many;
        const char *action;
    } advice[] = {
        {EVENT_TRIANGULAR_SPAM, "triangular spamming attempt", "triangular spamming attempts",
         "drop TCP from source port 25 to the dynamic pools (the inbound ACL) and validate "
         "source addresses (BCP 38) at the access"},
        {EVENT_SPOOFED_SOURCE, "burst of spoofed sources on an access segment",
         "bursts of spoofed sources on access segments",
         "turn on source address validation (BCP 38, uRPF) on those segments"},
        {EVENT_INBOUND_ACL_VIOLATION, "reply from port 25 reached a dynamic pool",
         "replies from port 25 reached dynamic pools",
         "add the inbound ACL (deny TCP from source port 25 to the pools) at the blocking "
         "point"},
        {EVENT_ASYMMETRIC_ROUTING,
         "burst of port-25 traffic on a segment that does not expect "
         "its pool",
         "bursts of port-25 traffic on segments that do not expect their pools",
         "check the routing so that each pool's traffic passes its blocking point"},
        {EVENT_NONSTANDARD_PORT_SMTP, "SMTP dialogue on a port other than 25",
         "SMTP dialogues on ports other than 25",
         "the block is being gone around: look at the subscribers the evasion section names"},
    };
    for (size_t i = 0; i < sizeof(advice) / sizeof(advice[0]); i++) {
        uint64_t count = report->findings_total[advice[i].type];
        if (count > 0)
            say(steps, "%llu %s (%s): %s.", (unsigned long long)count,
                count == 1 ? advice[i].one : advice[i].many, event_type_name(advice[i].type),
                advice[i].action);
    }
}

/* The MSAs' own abuse: what the draft's pattern I (a spammer submitting through the ISP's
 * MSA) and passwords on the wire call for at the MSA, not at a blocking point. */
static void abuse_steps(const struct report *report, struct steps *steps)
{
    uint64_t abuse = report->findings_total[EVENT_MSA_ABUSE];
    if (abuse > 0)
        say(steps,
            "%llu subscriber window%s went past the MSA limits (msa_abuse): check those "
            "accounts for stolen passwords, and limit connections and recipients per "
            "subscriber at the MSA; the MSAs' own abuse section names them.",
            (unsigned long long)abuse, plural(abuse));
    uint64_t clear = report->findings_total[EVENT_CLEARTEXT_AUTH];
    if (clear > 0)
        say(steps,
            "%llu login%s sent a password before any TLS (cleartext_auth): make those "
            "servers refuse AUTH until STARTTLS (or use 465), and have the users change "
            "their passwords.",
            (unsigned long long)clear, plural(clear));
}

static size_t servers_without_submission(const struct report_servers *servers, bool seen)
{
    size_t count = 0;
    for (size_t i = 0; i < servers->count; i++)
        count += servers->items[i].submission_port_seen == seen;
    return count;
}

static void impact_steps(const struct report *report, struct steps *steps)
{
    size_t lost = servers_without_submission(&report->third_party, false);
    size_t moved = servers_without_submission(&report->third_party, true);
    if (lost > 0)
        say(steps,
            "%zu third-party mail server%s reached on port 25 %s not seen on 587 or 465: tell "
            "%s users before the block goes on, or they lose mail until their provider "
            "offers submission (the pre-rollout impact section lists %s).",
            lost, plural(lost), lost == 1 ? "is" : "are", lost == 1 ? "its" : "their",
            lost == 1 ? "it" : "them");
    if (moved > 0)
        say(steps,
            "%zu third-party mail server%s reached on port 25 also serve%s 587 or 465: %s "
            "users only need their mail client set to port 587 before the block goes on.",
            moved, plural(moved), moved == 1 ? "s" : "", moved == 1 ? "its" : "their");
    size_t open = report->open_submission.count;
    if (open > 0)
        say(steps,
            "%zu submission server%s accept%s MAIL and RCPT without AUTH: require AUTH on "
            "the ones that are yours.",
            open, plural(open), open == 1 ? "s" : "");
    size_t pop = report->pop_before_smtp.count;
    if (pop > 0)
        say(steps,
            "%zu provider%s still rel%s on POP-before-SMTP: their users need SMTP AUTH on "
            "587 before the block goes on.",
            pop, plural(pop), pop == 1 ? "ies" : "y");
}

static void planned_steps(const struct report *report, struct steps *steps)
{
    const struct policy *policy = report->policy;
    for (size_t b = 0; b < policy->blocking_point_count; b++) {
        struct point_summary point;
        report_point_summary(report, (int)b, &point);
        uint64_t stopped = point.counts.by_verdict[VERDICT_WOULD_BLOCK];
        if (point.state == POINT_PLANNED && stopped > 0)
            say(steps,
                "Planned blocking point %s would stop %llu attempt%s once on: read the "
                "pre-rollout impact section before turning it on.",
                policy->blocking_points[b].name, (unsigned long long)stopped, plural(stopped));
    }
}

/* The subscribers who still submit on a port 25 planned to close (draft 4.3.2 step 5 comes
 * after step 4: everyone moved). */
static void closing_steps(const struct report *report, struct steps *steps)
{
    const struct report_migration *migration = report->migration;
    uint64_t subscribers = migration->closing_count + migration->closing_beyond_subscribers;
    uint64_t connections = migration->closing_beyond_connections, without = 0;
    for (size_t i = 0; i < migration->closing_count; i++) {
        const uint64_t *by = migration->closing[i].connections;
        connections += by[MIGRATION_AUTH_YES] + by[MIGRATION_AUTH_NO] + by[MIGRATION_AUTH_UNKNOWN];
        without += by[MIGRATION_AUTH_NO] > 0;
    }
    if (subscribers == 0)
        return;
    say(steps,
        "%llu subscriber%s still submit%s on a port 25 planned to close (%llu connection%s): "
        "move %s mail clients to 587 before it closes; %llu of the listed send without AUTH "
        "and need credentials set up too (section 7 lists them).",
        (unsigned long long)subscribers, plural(subscribers), subscribers == 1 ? "s" : "",
        (unsigned long long)connections, plural(connections), subscribers == 1 ? "its" : "their",
        (unsigned long long)without);
}

static void sensor_steps(const struct report *report, struct steps *steps)
{
    const struct sensor_counters *c = &report->counters;
    char missed[96] = "";
    if (c->capture_drops > 0 && c->flow_evictions > 0)
        snprintf(missed, sizeof(missed), "%llu capture drop%s, %llu flow eviction%s",
                 (unsigned long long)c->capture_drops, plural(c->capture_drops),
                 (unsigned long long)c->flow_evictions, plural(c->flow_evictions));
    else if (c->capture_drops > 0)
        snprintf(missed, sizeof(missed), "%llu capture drop%s",
                 (unsigned long long)c->capture_drops, plural(c->capture_drops));
    else if (c->flow_evictions > 0)
        snprintf(missed, sizeof(missed), "%llu flow eviction%s",
                 (unsigned long long)c->flow_evictions, plural(c->flow_evictions));
    if (missed[0] != '\0')
        say(steps,
            "The sensor missed traffic (%s): verdicts lack evidence; give the capture more "
            "buffer or CPU, or raise limits.flows.",
            missed);
    struct coverage_counts totals;
    report_totals(report, &totals);
    uint64_t unknown = totals.by_verdict[VERDICT_UNKNOWN];
    if (unknown > 0)
        say(steps,
            "%llu attempt%s stayed unknown: the sensor saw neither a block nor a leak; check "
            "that it sees both directions of its pools' traffic.",
            (unsigned long long)unknown, plural(unknown));
}

size_t report_next_steps(const struct report *report, report_step_fn step, void *context)
{
    struct steps steps = {.step = step, .context = context};
    leak_steps(report, &steps);
    collateral_steps(report, &steps);
    unfiltered_steps(report, &steps);
    suspect_steps(report, &steps);
    evasion_steps(report, &steps);
    abuse_steps(report, &steps);
    impact_steps(report, &steps);
    planned_steps(report, &steps);
    closing_steps(report, &steps);
    sensor_steps(report, &steps);
    if (steps.count == 0)
        say(&steps, "Nothing to do: every active blocking point held and no finding needs "
                    "action.");
    return steps.count;
}

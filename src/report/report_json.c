/* The report as one JSON document (schema: dashboards/report-schema.md), indented so a
 * person can read it too. Same input, same bytes: no wall-clock time goes in. */
#include <stdlib.h>
#include <string.h>

#include "util/community_id.h"
#include "util/json.h"
#include "report/report.h"

#define JSON_DEPTH_MAX 16

struct writer {
    FILE *out;
    int depth;
    bool comma[JSON_DEPTH_MAX];
};

/* Starts a member (key may be NULL inside an array) on its own indented line. */
static void member(struct writer *w, const char *key)
{
    if (w->comma[w->depth])
        fputc(',', w->out);
    w->comma[w->depth] = true;
    fputc('\n', w->out);
    for (int i = 0; i < w->depth; i++)
        fputs("  ", w->out);
    if (key != NULL) {
        json_fput_string(w->out, key);
        fputs(": ", w->out);
    }
}

static void open_with(struct writer *w, const char *key, char bracket)
{
    member(w, key);
    fputc(bracket, w->out);
    if (w->depth + 1 < JSON_DEPTH_MAX)
        w->depth++;
    w->comma[w->depth] = false;
}

static void object(struct writer *w, const char *key)
{
    open_with(w, key, '{');
}

static void array(struct writer *w, const char *key)
{
    open_with(w, key, '[');
}

static void close_with(struct writer *w, char bracket)
{
    bool had_members = w->comma[w->depth];
    w->depth--;
    if (had_members) {
        fputc('\n', w->out);
        for (int i = 0; i < w->depth; i++)
            fputs("  ", w->out);
    }
    fputc(bracket, w->out);
}

static void end_object(struct writer *w)
{
    close_with(w, '}');
}

static void end_array(struct writer *w)
{
    close_with(w, ']');
}

static void string(struct writer *w, const char *key, const char *value)
{
    member(w, key);
    if (value == NULL)
        fputs("null", w->out);
    else
        json_fput_string(w->out, value);
}

static void u64(struct writer *w, const char *key, uint64_t value)
{
    member(w, key);
    fprintf(w->out, "%llu", (unsigned long long)value);
}

static void boolean(struct writer *w, const char *key, bool value)
{
    member(w, key);
    fputs(value ? "true" : "false", w->out);
}

static void raw(struct writer *w, const char *key, const char *json)
{
    member(w, key);
    fputs(json, w->out);
}

static void time_value(struct writer *w, const char *key, packet_time ts)
{
    char text[PACKET_TIME_TEXT_MAX];
    if (ts == 0) {
        string(w, key, NULL);
        return;
    }
    packet_time_format(ts, text, sizeof(text));
    string(w, key, text);
}

static void address_value(struct writer *w, const char *key, const struct address *address)
{
    char text[ADDRESS_TEXT_MAX];
    address_format(address, text, sizeof(text));
    string(w, key, text);
}

static const char *pool_name(const struct policy *policy, int pool)
{
    return pool >= 0 && (size_t)pool < policy->pool_count ? policy->pools[pool].name : NULL;
}

static const char *point_name(const struct policy *policy, int pool)
{
    if (pool < 0 || (size_t)pool >= policy->pool_count ||
        policy->pools[pool].blocking_point == POLICY_NO_INDEX)
        return NULL;
    return policy->blocking_points[policy->pools[pool].blocking_point].name;
}

static const char *segment_name(const struct policy *policy, int segment)
{
    return segment >= 0 && (size_t)segment < policy->segment_count ? policy->segments[segment].name
                                                                   : NULL;
}

/* attempts, one count per verdict, and the coverage ratio (null when not known). */
static void tally(struct writer *w, const char *key, const struct coverage_counts *counts)
{
    object(w, key);
    u64(w, "attempts", coverage_attempts(counts));
    for (int v = 0; v < VERDICT_COUNT; v++)
        u64(w, verdict_name((enum verdict)v), counts->by_verdict[v]);
    double ratio;
    member(w, "coverage");
    if (coverage_ratio(counts, &ratio))
        fprintf(w->out, "%.4f", ratio);
    else
        fputs("null", w->out);
    end_object(w);
}

static void family_tallies(struct writer *w, const struct coverage_counts counts[2],
                           const bool present[2])
{
    static const char *const keys[2] = {"ipv4", "ipv6"};
    struct coverage_counts total = {0};
    for (int f = 0; f < 2; f++) {
        if (!present[f])
            continue;
        tally(w, keys[f], &counts[f]);
        for (int v = 0; v < VERDICT_COUNT; v++)
            total.by_verdict[v] += counts[f].by_verdict[v];
    }
    tally(w, "total", &total);
}

static void write_heading(struct writer *w, const struct report *report)
{
    const struct policy *policy = report->policy;
    string(w, "report", "op25b-watch audit");
    u64(w, "v", REPORT_SCHEMA_VERSION);
    string(w, "generator", "op25b-watch " OP25B_VERSION);
    object(w, "sensor");
    string(w, "name", policy->sensor_name);
    string(w, "position", sensor_position_name(policy->position));
    end_object(w);
    string(w, "policy", policy->path);
    array(w, "inputs");
    for (size_t i = 0; i < report->input_count; i++)
        string(w, NULL, report->inputs[i]);
    end_array(w);
    string(w, "end_reason", report->end_reason);
    time_value(w, "first_ts", report->first_ts);
    time_value(w, "last_ts", report->end > report->last_ts ? report->end : report->last_ts);

    const struct sensor_counters *counters = &report->counters;
    struct coverage_counts totals;
    report_totals(report, &totals);
    object(w, "totals");
    u64(w, "packets", counters->packets);
    u64(w, "bytes", counters->bytes);
    u64(w, "capture_drops", counters->capture_drops);
    u64(w, "capture_errors", counters->capture_errors);
    u64(w, "flows_created", counters->flows_created);
    u64(w, "evictions", counters->flow_evictions);
    u64(w, "attempts", coverage_attempts(&totals));
    for (int v = 0; v < VERDICT_COUNT; v++)
        u64(w, verdict_name((enum verdict)v), totals.by_verdict[v]);
    object(w, "events");
    for (int t = 0; t < EVENT_TYPE_COUNT; t++)
        u64(w, event_type_name((enum event_type)t), report->events[t]);
    end_object(w);
    u64(w, "sink_errors", report->sink_errors);
    end_object(w);
}

static void write_leak(struct writer *w, const struct report *report,
                       const struct report_leak *leak)
{
    const struct policy *policy = report->policy;
    char community[COMMUNITY_ID_TEXT_MAX];
    object(w, NULL);
    time_value(w, "ts", leak->ts);
    address_value(w, "src_ip", &leak->src);
    u64(w, "src_port", leak->src_port);
    address_value(w, "dst_ip", &leak->dst);
    u64(w, "dst_port", leak->dst_port);
    u64(w, "ip_version", leak->src.family);
    if (community_id_v1(0, &leak->src, &leak->dst, 6, leak->src_port, leak->dst_port, community,
                        sizeof(community)) > 0)
        string(w, "community_id", community);
    string(w, "pool", pool_name(policy, leak->pool));
    string(w, "blocking_point", point_name(policy, leak->pool));
    string(w, "segment", segment_name(policy, leak->segment));
    array(w, "evidence");
    for (int e = 0; e < EVIDENCE_COUNT; e++) {
        if (leak->evidence & EVIDENCE_BIT(e))
            string(w, NULL, evidence_name((enum evidence)e));
    }
    end_array(w);
    enum evidence stage = evidence_highest_leak(leak->evidence);
    string(w, "stage", stage < EVIDENCE_COUNT ? evidence_name(stage) : NULL);
    u64(w, "syn_count", leak->syn_count);
    string(w, "close_reason", leak->close_reason);
    if (leak->has_smtp) {
        object(w, "smtp");
        string(w, "helo", leak->helo);
        string(w, "mail_from_domain", leak->mail_from_domain);
        u64(w, "rcpt_count", leak->rcpt_count);
        u64(w, "messages_accepted", leak->messages_accepted);
        boolean(w, "auth", leak->auth);
        boolean(w, "starttls", leak->starttls);
        end_object(w);
    }
    end_object(w);
}

static void write_coverage(struct writer *w, const struct report *report)
{
    const struct policy *policy = report->policy;
    object(w, "coverage");
    array(w, "blocking_points");
    for (size_t b = 0; b < policy->blocking_point_count; b++) {
        const struct blocking_point *point = &policy->blocking_points[b];
        object(w, NULL);
        string(w, "name", point->name);
        u64(w, "level", (uint64_t)point->level);
        string(w, "level_name", blocking_level_name(point->level));
        string(w, "state", blocking_state_name(point->state));
        string(w, "reject", blocking_reject_name(point->reject));
        array(w, "pools");
        for (size_t p = 0; p < policy->pool_count; p++) {
            if (policy->pools[p].type == POOL_DYNAMIC && policy->pools[p].blocking_point == (int)b)
                string(w, NULL, policy->pools[p].name);
        }
        end_array(w);
        struct coverage_counts counts[2];
        bool present[2];
        for (int f = 0; f < 2; f++) {
            int family = f == 0 ? ADDRESS_V4 : ADDRESS_V6;
            report_point_counts(report, (int)b, family, &counts[f]);
            present[f] = report_point_has_family(policy, (int)b, family);
        }
        family_tallies(w, counts, present);
        end_object(w);
    }
    end_array(w);

    for (int assigned = 1; assigned >= 0; assigned--) {
        array(w, assigned ? "pools" : "pools_without_blocking_point");
        for (size_t p = 0; p < policy->pool_count; p++) {
            const struct pool *pool = &policy->pools[p];
            if (pool->type != POOL_DYNAMIC ||
                (pool->blocking_point != POLICY_NO_INDEX) != (assigned == 1))
                continue;
            object(w, NULL);
            string(w, "name", pool->name);
            string(w, "blocking_point", point_name(policy, (int)p));
            array(w, "prefixes");
            for (size_t i = 0; i < pool->prefix_count; i++) {
                char text[PREFIX_TEXT_MAX];
                prefix_format(&pool->prefixes[i], text, sizeof(text));
                string(w, NULL, text);
            }
            end_array(w);
            struct coverage_counts counts[2];
            bool present[2];
            for (int f = 0; f < 2; f++) {
                int family = f == 0 ? ADDRESS_V4 : ADDRESS_V6;
                counts[f] = *report_pool_counts(report, (int)p, family);
                present[f] = report_pool_has_family(policy, (int)p, family);
            }
            family_tallies(w, counts, present);
            end_object(w);
        }
        end_array(w);
    }

    object(w, "leaks");
    u64(w, "total", report->leaks_total);
    u64(w, "listed", report->leak_count);
    object(w, "by_stage");
    for (int e = 0; e < EVIDENCE_COUNT; e++) {
        if (EVIDENCE_BIT(e) & EVIDENCE_LEAK_MASK)
            u64(w, evidence_name((enum evidence)e), report->leak_stages[e]);
    }
    end_object(w);
    array(w, "items");
    for (size_t i = 0; i < report->leak_count; i++)
        write_leak(w, report, &report->leaks[i]);
    end_array(w);
    end_object(w);
    end_object(w);
}

static void write_timeline(struct writer *w, const struct report *report)
{
    const struct report_timeline *timeline = &report->timeline;
    object(w, "timeline");
    u64(w, "bucket_seconds", (uint64_t)(timeline->width / PACKET_TIME_SECOND));
    array(w, "buckets");
    for (size_t i = 0; timeline->started && i < timeline->used; i++) {
        object(w, NULL);
        time_value(w, "start", timeline->origin + (packet_time)i * timeline->width);
        for (int v = 0; v < VERDICT_COUNT; v++)
            u64(w, verdict_name((enum verdict)v), timeline->counts[i][v]);
        end_object(w);
    }
    end_array(w);
    end_object(w);
}

static void write_servers(struct writer *w, const char *key, const struct report_servers *servers,
                          bool with_port, bool with_submission)
{
    object(w, key);
    u64(w, "not_kept", servers->not_kept);
    array(w, "servers");
    for (size_t i = 0; i < servers->count; i++) {
        const struct report_server *server = &servers->items[i];
        object(w, NULL);
        address_value(w, "address", &server->address);
        if (with_port)
            u64(w, "port", server->port);
        u64(w, "sessions", server->sessions);
        u64(w, "subscribers", server->subscriber_count);
        boolean(w, "subscribers_capped", server->subscribers_capped);
        if (with_submission)
            boolean(w, "submission_port_seen", server->submission_port_seen);
        time_value(w, "first_seen", server->first_seen);
        time_value(w, "last_seen", server->last_seen);
        if (server->as_org[0] != '\0')
            string(w, "as_org", server->as_org);
        if (server->country[0] != '\0')
            string(w, "country", server->country);
        end_object(w);
    }
    end_array(w);
    end_object(w);
}

static void write_acl(struct writer *w, const struct report *report)
{
    const struct policy *policy = report->policy;
    const struct acl *acl = &report->acl;
    static const char *const keys[2] = {"ipv4", "ipv6"};
    object(w, "acl");
    object(w, "formula");
    for (int f = 0; f < 2; f++) {
        struct acl_rule_count count;
        policy_acl_rule_count(policy, f == 0 ? ADDRESS_V4 : ADDRESS_V6, &count);
        object(w, keys[f]);
        u64(w, "dynamic_blocks", count.dynamic_blocks);
        u64(w, "msa_blocks", count.msa_blocks);
        u64(w, "rules", count.dynamic_blocks * (count.msa_blocks + 1));
        u64(w, "rules_with_pool_limits", count.rules);
        end_object(w);
    }
    end_object(w);
    object(w, "listed");
    u64(w, "ipv4", acl->assigned[0]);
    u64(w, "ipv6", acl->assigned[1]);
    u64(w, "without_blocking_point", acl->unassigned);
    end_object(w);
    array(w, "rules");
    for (size_t i = 0; i < acl->count; i++) {
        const struct acl_rule *rule = &acl->rules[i];
        char text[PREFIX_TEXT_MAX];
        object(w, NULL);
        u64(w, "n", i + 1);
        string(w, "action", rule->action == ACL_PERMIT ? "permit" : "deny");
        u64(w, "ip_version", (uint64_t)rule->family);
        string(w, "proto", "tcp");
        prefix_format(&rule->source, text, sizeof(text));
        string(w, "source", text);
        if (rule->action == ACL_PERMIT)
            prefix_format(&rule->destination, text, sizeof(text));
        string(w, "destination", rule->action == ACL_PERMIT ? text : NULL);
        u64(w, "dport", 25);
        string(w, "pool", policy->pools[rule->pool].name);
        string(w, "msa", rule->action == ACL_PERMIT ? policy->msas[rule->msa].name : NULL);
        string(w, "blocking_point",
               rule->blocking_point == POLICY_NO_INDEX
                   ? NULL
                   : policy->blocking_points[rule->blocking_point].name);
        end_object(w);
    }
    end_array(w);
    char *nft = NULL;
    size_t length = 0;
    FILE *memory = open_memstream(&nft, &length);
    if (memory != NULL) {
        acl_write_nftables(acl, policy, memory);
        if (fclose(memory) == 0)
            string(w, "nftables", nft);
    }
    free(nft);
    end_object(w);
}

static void write_finding(struct writer *w, const struct report *report,
                          const struct finding *finding)
{
    const struct policy *policy = report->policy;
    const struct flow_tuple *flow = &finding->flow;
    struct address subscriber = finding_subscriber(finding);
    object(w, NULL);
    string(w, "type", event_type_name(finding->type));
    time_value(w, "ts", finding->ts);
    if (finding->has_flow) {
        address_value(w, "src_ip", &flow->src);
        u64(w, "src_port", flow->src_port);
        address_value(w, "dst_ip", &flow->dst);
        u64(w, "dst_port", flow->dst_port);
        string(w, "proto", flow->proto == 17 ? "udp" : "tcp");
    }
    if (subscriber.family != 0)
        address_value(w, "subscriber", &subscriber);
    if (finding->pool >= 0) {
        string(w, "pool", pool_name(policy, finding->pool));
        string(w, "blocking_point", point_name(policy, finding->pool));
    }
    if (finding->segment >= 0)
        string(w, "segment", segment_name(policy, finding->segment));
    if (finding->type == EVENT_BOT_SUSPECT) {
        member(w, "score");
        fprintf(w->out, "%.2f", finding->as.bot.score);
    }
    char *fields = report_finding_fields(report, finding, true);
    raw(w, "fields", fields != NULL ? fields : "{}");
    free(fields);
    end_object(w);
}

static void write_suspects(struct writer *w, const struct report *report)
{
    size_t order[REPORT_TOP_SUSPECTS];
    size_t listed = report_top_suspects(report, order, REPORT_TOP_SUSPECTS);
    object(w, "bot_suspects");
    u64(w, "findings", report->findings_total[EVENT_BOT_SUSPECT]);
    u64(w, "subscribers", report->suspect_count);
    u64(w, "not_kept", report->suspects_not_kept);
    array(w, "top");
    for (size_t i = 0; i < listed; i++)
        write_finding(w, report, &report->suspects[order[i]]);
    end_array(w);
    end_object(w);
}

static void write_findings(struct writer *w, const struct report *report)
{
    object(w, "findings");
    for (int t = EVENT_SENSOR_STATS + 1; t < EVENT_TYPE_COUNT; t++) {
        object(w, event_type_name((enum event_type)t));
        boolean(w, "evasion", report_is_evasion((enum event_type)t));
        u64(w, "total", report->findings_total[t]);
        array(w, "listed");
        for (size_t i = 0; i < report->finding_count[t]; i++)
            write_finding(w, report, &report->findings[t][i]);
        end_array(w);
        end_object(w);
    }
    end_object(w);
}

int report_write_json(const struct report *report, FILE *out)
{
    struct writer w = {.out = out};
    fputc('{', out);
    write_heading(&w, report);
    write_coverage(&w, report);
    write_timeline(&w, report);
    object(&w, "impact");
    write_servers(&w, "third_party_msas", &report->third_party, false, true);
    write_servers(&w, "open_submission", &report->open_submission, true, false);
    write_servers(&w, "pop_before_smtp", &report->pop_before_smtp, false, false);
    end_object(&w);
    write_acl(&w, report);
    write_suspects(&w, report);
    write_findings(&w, report);
    fputs("\n}\n", out);
    return 0;
}

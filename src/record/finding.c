#include "record/finding.h"

#include <string.h>

#include "decode/decode.h"

void finding_init(struct finding *finding, enum event_type type, packet_time ts)
{
    memset(finding, 0, sizeof(*finding));
    finding->type = type;
    finding->ts = ts;
    finding->pool = -1;
    finding->segment = -1;
    finding->blocking_point = -1;
}

void finding_set_flow(struct finding *finding, const struct flow_tuple *flow)
{
    finding->has_flow = true;
    finding->flow = *flow;
}

void finding_set_key(struct finding *finding, const struct address *subscriber)
{
    finding->has_key = true;
    finding->key = *subscriber;
}

struct address finding_subscriber(const struct finding *finding)
{
    struct address none = {0};
    if (finding->has_key)
        return finding->key;
    return finding->has_flow ? finding->flow.src : none;
}

const char *finding_tunnel_name(const struct triangular_finding *triangle)
{
    return triangle->tunnelled ? tunnel_kind_name((enum tunnel_kind)triangle->tunnel) : NULL;
}

int finding_blocking_point(const struct finding *finding, const struct policy *policy)
{
    if (finding->blocking_point >= 0 &&
        (size_t)finding->blocking_point < policy->blocking_point_count)
        return finding->blocking_point;
    if (finding->pool < 0 || (size_t)finding->pool >= policy->pool_count)
        return POLICY_NO_INDEX;
    return policy->pools[finding->pool].blocking_point;
}

const char *collateral_reason_name(enum collateral_reason reason)
{
    static const char *const names[COLLATERAL_REASONS] = {"designated_msa", "submission_port",
                                                          "static_pool"};
    return (unsigned)reason < COLLATERAL_REASONS ? names[reason] : "unknown";
}

const char *collateral_evidence_name(enum collateral_evidence evidence)
{
    static const char *const names[COLLATERAL_EVIDENCES] = {"icmp_prohibited", "rst_blocking_point",
                                                            "no_reply"};
    return (unsigned)evidence < COLLATERAL_EVIDENCES ? names[evidence] : "unknown";
}

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

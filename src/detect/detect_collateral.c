#include "detect/detect_collateral.h"

#include <stdlib.h>
#include <string.h>

#include "policy/collateral_places.h"
#include "record/finding.h"
#include "track/refusals.h"
#include "util/window_set.h"

/* Connections followed at once: a sixteenth of the attempt table, within these bounds
 * (submission is a small share of a subscriber's connections). */
#define TABLE_MIN 256
#define TABLE_MAX 262144
/* Silence counts once the SYN was sent again (track/refusals.c says why), for the attempts
 * to a designated MSA as for the tracker's own connections. */
#define NO_REPLY_SYNS 2

struct collateral_detector {
    struct detector base;
    const struct policy *policy;
    struct bus *bus;
    struct sensor_counters *counters;
    struct coverage *coverage;
    struct collateral_places places;
    struct refusal_tracker *tracker;
    struct window_set *once;
    packet_time window_end;
};

static struct collateral_detector *of(struct detector *detector)
{
    return (struct collateral_detector *)detector;
}

/* True the first time in the window for this subscriber, server, port and reason. */
static bool first_in_window(struct collateral_detector *detector, const struct prefix *subscriber,
                            const struct flow_tuple *flow, enum collateral_reason reason,
                            packet_time ts)
{
    packet_time window = detector->policy->thresholds.window;
    if (detector->window_end == 0 || ts >= detector->window_end) {
        if (detector->window_end != 0)
            window_set_clear(detector->once);
        detector->window_end = (ts / window + 1) * window;
    }
    struct {
        struct prefix subscriber;
        struct address server;
        uint16_t port;
        uint8_t reason;
    } key;
    memset(&key, 0, sizeof(key));
    key.subscriber = *subscriber;
    key.server = flow->dst;
    key.port = flow->dst_port;
    key.reason = (uint8_t)reason;
    enum window_set_result result =
        window_set_add(detector->once, window_set_hash(EVENT_COLLATERAL_BLOCK, &key, sizeof(key)));
    if (result == WINDOW_SET_FULL) {
        /* Better a repeated finding than a lost one. */
        detector->counters->detector_exhausted++;
        return true;
    }
    return result == WINDOW_SET_ADDED;
}

/* What both sources know of a refused connection. */
struct refused {
    struct flow_tuple flow;
    int pool;
    int place;
    int segment;
    enum collateral_reason reason;
    enum collateral_evidence evidence;
    packet_time first_syn;
    packet_time last_syn;
    uint16_t syn_count;
    bool icmp_seen;
    uint8_t icmp_type;
    uint8_t icmp_code;
    struct address icmp_from;
};

static void publish(struct collateral_detector *detector, const struct refused *refused)
{
    const struct policy *policy = detector->policy;
    struct prefix subscriber = policy_subscriber(policy, refused->pool, &refused->flow.src);
    if (!first_in_window(detector, &subscriber, &refused->flow, refused->reason,
                         refused->first_syn))
        return;
    struct finding finding;
    finding_init(&finding, EVENT_COLLATERAL_BLOCK, refused->first_syn);
    finding_set_flow(&finding, &refused->flow);
    finding.pool = refused->pool;
    finding.segment = refused->segment;
    finding.blocking_point = detector->places.items[refused->place].blocking_point;
    struct collateral_finding *out = &finding.as.collateral;
    out->reason = (uint8_t)refused->reason;
    out->evidence = (uint8_t)refused->evidence;
    out->subscriber = subscriber;
    int msa = policy_msa_of(policy, &refused->flow.dst);
    out->msa = msa != POLICY_NO_INDEX ? msa : -1;
    out->syn_count = refused->syn_count;
    out->last_syn = refused->last_syn;
    out->icmp_seen = refused->icmp_seen && refused->evidence == COLLATERAL_ICMP_PROHIBITED;
    out->icmp_type = refused->icmp_type;
    out->icmp_code = refused->icmp_code;
    out->icmp_from = refused->icmp_from;
    coverage_add_collateral(detector->coverage, refused->pool, refused->flow.src.family);
    bus_finding(detector->bus, &finding);
}

static void on_refusal(void *context, const struct refusal_report *report)
{
    struct refused refused = {
        .flow = report->flow,
        .pool = report->pool,
        .place = report->place,
        .segment = report->segment,
        .reason = report->reason,
        .evidence = report->evidence,
        .first_syn = report->first_syn,
        .last_syn = report->last_syn,
        .syn_count = report->syn_count,
        .icmp_seen = report->icmp_seen,
        .icmp_type = report->icmp_type,
        .icmp_code = report->icmp_code,
        .icmp_from = report->icmp_from,
    };
    publish(context, &refused);
}

/* The block evidence of an attempt the verdict calls allowed, as a refusal: the strongest
 * first. None when anything shows the SYN got through (then the MSA itself answered). */
static bool refusal_evidence(const struct attempt_record *attempt,
                             enum collateral_evidence *evidence)
{
    evidence_set set = attempt->evidence;
    if (set & EVIDENCE_LEAK_MASK)
        return false;
    if (set & EVIDENCE_BIT(EVIDENCE_ICMP_ADMIN_PROHIBITED))
        *evidence = COLLATERAL_ICMP_PROHIBITED;
    else if (set & EVIDENCE_BIT(EVIDENCE_RST_FILTER))
        *evidence = COLLATERAL_RST_BLOCKING_POINT;
    else if ((set & EVIDENCE_BIT(EVIDENCE_NO_REPLY)) && attempt->syn_count >= NO_REPLY_SYNS)
        *evidence = COLLATERAL_NO_REPLY;
    else
        return false;
    return true;
}

/* Port 25 to a designated MSA the pool may use: the attempt stays `allowed` (the policy
 * allows it), its evidence says the block stopped it, and this is the finding. */
static void on_attempt(void *context, const struct attempt_record *attempt)
{
    struct collateral_detector *detector = context;
    enum collateral_evidence evidence;
    if (!attempt->to_designated_msa || !refusal_evidence(attempt, &evidence))
        return;
    int place =
        collateral_place_of(&detector->places, detector->policy, attempt->pool, &attempt->flow.src);
    if (place < 0)
        return;
    struct refused refused = {
        .flow = attempt->flow,
        .pool = attempt->pool,
        .place = place,
        .segment = attempt->segment,
        .reason = COLLATERAL_DESIGNATED_MSA,
        .evidence = evidence,
        .first_syn = attempt->first_seen,
        .last_syn = attempt->last_syn,
        .syn_count = attempt->syn_count,
        .icmp_seen = attempt->icmp_seen,
        .icmp_type = attempt->icmp_type,
        .icmp_code = attempt->icmp_code,
        .icmp_from = attempt->icmp_from,
    };
    publish(detector, &refused);
}

/* ---- Detector ---- */

static void collateral_packet(struct detector *base, const struct packet *packet, int segment)
{
    refusal_packet(of(base)->tracker, packet, segment);
}

static void collateral_advance(struct detector *base, packet_time now)
{
    struct collateral_detector *detector = of(base);
    refusal_advance(detector->tracker, now);
    base->due = refusal_next_deadline(detector->tracker);
}

static void collateral_finish(struct detector *base, packet_time now, const char *reason)
{
    (void)now;
    (void)reason;
    refusal_finish(of(base)->tracker);
}

static void collateral_free(struct detector *base)
{
    struct collateral_detector *detector = of(base);
    if (detector == NULL)
        return;
    refusal_tracker_free(detector->tracker);
    window_set_free(detector->once);
    collateral_places_free(&detector->places);
    free(detector);
}

static const struct detector_ops collateral_ops = {
    .name = "collateral",
    .packet = collateral_packet,
    .advance = collateral_advance,
    .finish = collateral_finish,
    .free = collateral_free,
};

struct detector *detect_collateral_new(const struct detector_context *context, bool *disabled)
{
    const struct policy *policy = context->policy;
    *disabled = false;
    struct collateral_detector *detector = calloc(1, sizeof(*detector));
    if (detector == NULL)
        return NULL;
    detector->base.ops = &collateral_ops;
    detector->policy = policy;
    detector->bus = context->bus;
    detector->counters = context->counters;
    detector->coverage = context->coverage;
    if (collateral_places_build(policy, &detector->places) != 0)
        goto fail;
    if (detector->places.count == 0) {
        /* No active point the sensor sees from its subscriber side: nothing to watch. */
        *disabled = true;
        goto fail;
    }
    uint32_t capacity = policy->limits.flows / 16;
    capacity = capacity < TABLE_MIN ? TABLE_MIN : capacity > TABLE_MAX ? TABLE_MAX : capacity;
    detector->tracker =
        refusal_tracker_new(policy, &detector->places, capacity, context->counters,
                            context->return_seen, &detector->base.due, on_refusal, detector);
    detector->once = window_set_new(TABLE_MIN, capacity);
    if (detector->tracker == NULL || detector->once == NULL)
        goto fail;
    struct bus_subscriber subscriber = {.attempt = on_attempt, .context = detector};
    if (bus_subscribe(context->bus, subscriber) != 0)
        goto fail;
    detector->base.due = refusal_next_deadline(detector->tracker);
    return &detector->base;

fail:
    collateral_free(&detector->base);
    return NULL;
}

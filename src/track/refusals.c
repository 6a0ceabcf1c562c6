#include "track/refusals.h"

#include <stdlib.h>

#include "policy/segment.h"
#include "track/flow.h"

/* Silence after a SYN is judged timeouts.syn after the last one; when the stack is backing
 * off (the last wait longer than timeouts.syn / 2.5), BACKOFF_HOLD after it, as the attempt
 * tracker does (track/attempt.c, SYN_BACKOFF_HOLD: the longest wait of the common stacks'
 * defaults, 32 s, with room for timer slack). */
#define BACKOFF_HOLD (40 * PACKET_TIME_SECOND)
/* Silence counts only once the client has sent its SYN again: a stack that gets no answer
 * retransmits within seconds, while a scanner that sends one SYN per address and moves on
 * (and finds most of them dead) never does. */
#define NO_REPLY_SYNS 2

enum { LIST_PENDING = 0, LIST_BACKOFF = 1 };
enum { REFUSAL_ICMP_SEEN = 0x01 };

/* What the tracker keeps of a connection beside its flow entry (whose mark is the last SYN). */
struct refusal {
    uint32_t client_isn;
    int32_t place;
    int16_t pool;
    int8_t segment;
    uint8_t reason; /* enum collateral_reason */
    uint8_t flags;
    uint8_t icmp_type;
    uint8_t icmp_code;
    uint16_t syn_count;
    struct address icmp_from;
};

struct refusal_tracker {
    const struct policy *policy;
    const struct collateral_places *places;
    struct sensor_counters *counters;
    const bool *return_seen;
    struct flow_table *flows;
    packet_time backoff_hold;
    refusal_handler handler;
    void *context;
};

static struct refusal *refusal_of(const struct flow *flow)
{
    return flow_record(flow);
}

struct refusal_tracker *refusal_tracker_new(const struct policy *policy,
                                            const struct collateral_places *places,
                                            uint32_t capacity, struct sensor_counters *counters,
                                            const bool *return_seen, packet_time *due,
                                            refusal_handler handler, void *context)
{
    struct refusal_tracker *tracker = calloc(1, sizeof(*tracker));
    if (tracker == NULL)
        return NULL;
    *tracker = (struct refusal_tracker){
        .policy = policy,
        .places = places,
        .counters = counters,
        .return_seen = return_seen,
        .handler = handler,
        .context = context,
    };
    tracker->flows = flow_table_new(capacity, sizeof(struct refusal));
    if (tracker->flows == NULL) {
        free(tracker);
        return NULL;
    }
    tracker->backoff_hold =
        policy->timeouts.syn > BACKOFF_HOLD ? policy->timeouts.syn : BACKOFF_HOLD;
    flow_table_set_timer(tracker->flows, LIST_PENDING, FLOW_TIME_MARK, policy->timeouts.syn, due);
    flow_table_set_timer(tracker->flows, LIST_BACKOFF, FLOW_TIME_MARK, tracker->backoff_hold, due);
    return tracker;
}

void refusal_tracker_free(struct refusal_tracker *tracker)
{
    if (tracker == NULL)
        return;
    flow_table_free(tracker->flows);
    free(tracker);
}

uint32_t refusal_count(const struct refusal_tracker *tracker)
{
    return flow_table_count(tracker->flows);
}

bool refusal_icmp_prohibited(const struct packet *packet)
{
    if (packet->ip_version == 4)
        return packet->icmp_type == 3 &&
               (packet->icmp_code == 9 || packet->icmp_code == 10 || packet->icmp_code == 13);
    return packet->icmp_type == 1 && packet->icmp_code == 1;
}

/* 587 and 465 from any pool; 25 only when some static source is watched (from dynamic
 * pools it is the attempt tracker's). */
static bool watched_port(const struct refusal_tracker *tracker, uint16_t port)
{
    return port == REFUSAL_PORT_SUBMISSION || port == REFUSAL_PORT_SMTPS ||
           (port == REFUSAL_PORT_SMTP && tracker->places->any_static);
}

/* A refusal, told to the owner; the connection is then done with. */
static void refuse(struct refusal_tracker *tracker, struct flow *flow,
                   enum collateral_evidence evidence, packet_time now)
{
    const struct refusal *refusal = refusal_of(flow);
    struct refusal_report report = {
        .now = now,
        .pool = refusal->pool,
        .place = refusal->place,
        .segment = refusal->segment,
        .reason = (enum collateral_reason)refusal->reason,
        .evidence = evidence,
        .first_syn = flow->first_seen,
        .last_syn = flow->mark,
        .syn_count = refusal->syn_count,
        .icmp_seen = (refusal->flags & REFUSAL_ICMP_SEEN) != 0,
        .icmp_type = refusal->icmp_type,
        .icmp_code = refusal->icmp_code,
        .icmp_from = refusal->icmp_from,
    };
    flow_key_tuple(&flow->key, &report.flow);
    flow_remove(tracker->flows, flow);
    tracker->handler(tracker->context, &report);
}

/* What a connection from this source to this port is, if the sensor can see it refused. */
static int place_of(const struct refusal_tracker *tracker, const struct packet *packet, int *pool,
                    enum collateral_reason *reason)
{
    const struct policy *policy = tracker->policy;
    *pool = policy_pool_of(policy, &packet->src);
    if (*pool == POLICY_NO_INDEX)
        return -1;
    if (packet->dst_port == REFUSAL_PORT_SMTP) {
        if (policy->pools[*pool].type != POOL_STATIC)
            return -1;
        *reason = COLLATERAL_STATIC_POOL;
    } else {
        *reason = COLLATERAL_SUBMISSION_PORT;
    }
    return collateral_place_of(tracker->places, policy, *pool, &packet->src);
}

static void open_connection(struct refusal_tracker *tracker, const struct packet *packet,
                            int segment)
{
    int pool;
    enum collateral_reason reason;
    int place = place_of(tracker, packet, &pool, &reason);
    if (place < 0)
        return;
    struct flow_key key;
    flow_key_make(&key, IPPROTO_NUMBER_TCP, &packet->src, &packet->dst, packet->src_port,
                  packet->dst_port);
    uint32_t hash = flow_key_hash(&key);
    struct flow *flow = flow_insert(tracker->flows, &key, hash);
    if (flow == NULL) {
        /* Full: the connection waiting longest gives way, undecided. */
        struct flow *oldest = flow_list_head(tracker->flows, LIST_PENDING);
        if (oldest == NULL)
            oldest = flow_list_head(tracker->flows, LIST_BACKOFF);
        if (oldest == NULL)
            return;
        tracker->counters->detector_evictions++;
        flow_remove(tracker->flows, oldest);
        flow = flow_insert(tracker->flows, &key, hash);
        if (flow == NULL)
            return;
    }
    struct refusal *refusal = refusal_of(flow);
    refusal->client_isn = packet->seq;
    refusal->place = place;
    refusal->pool = (int16_t)pool;
    refusal->segment = (int8_t)segment;
    refusal->reason = (uint8_t)reason;
    refusal->syn_count = 1;
    flow->first_seen = flow->last_seen = flow->mark = packet->ts;
    flow_list_append(tracker->flows, flow, LIST_PENDING);
}

/* The client's SYN again (the same connection, its timer restarted), a new connect() on the
 * same ports, its reset (it gave up), or the ACK of a handshake: answered. */
static void client_packet(struct refusal_tracker *tracker, struct flow *flow,
                          const struct packet *packet, int segment)
{
    struct refusal *refusal = refusal_of(flow);
    uint8_t flags = packet->tcp_flags;
    if ((flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN) {
        if (packet->seq != refusal->client_isn) {
            flow_remove(tracker->flows, flow);
            open_connection(tracker, packet, segment);
            return;
        }
        if (refusal->syn_count < UINT16_MAX)
            refusal->syn_count++;
        packet_time interval = packet->ts - flow->mark;
        flow->mark = flow->last_seen = packet->ts;
        bool backing_off = interval * 5 / 2 > tracker->policy->timeouts.syn;
        flow_list_append(tracker->flows, flow, backing_off ? LIST_BACKOFF : LIST_PENDING);
        return;
    }
    if ((flags & TCP_RST) ||
        ((flags & TCP_ACK) && (int32_t)(packet->seq - refusal->client_isn) > 0))
        flow_remove(tracker->flows, flow);
}

/* A SYN-ACK for the SYN: answered. A reset in its place: the blocking point's where it is
 * declared to answer so (and the sensor is on its subscriber side, as every watched point
 * is), otherwise the server's own, which means the SYN got there. */
static void server_packet(struct refusal_tracker *tracker, struct flow *flow,
                          const struct packet *packet)
{
    const struct refusal *refusal = refusal_of(flow);
    uint8_t flags = packet->tcp_flags;
    bool answers_syn = !(flags & TCP_ACK) || packet->ack == refusal->client_isn + 1;
    if (!answers_syn)
        return;
    if ((flags & TCP_RST) && !(flags & TCP_SYN)) {
        int point = tracker->places->items[refusal->place].blocking_point;
        if (tracker->policy->blocking_points[point].reject == REJECT_TCP_RESET) {
            refuse(tracker, flow, COLLATERAL_RST_BLOCKING_POINT, packet->ts);
            return;
        }
    }
    flow_remove(tracker->flows, flow);
}

__attribute__((noinline)) static void icmp_packet(struct refusal_tracker *tracker,
                                                  const struct packet *packet)
{
    const struct quoted_header *quote = &packet->quote;
    if (quote->proto != IPPROTO_NUMBER_TCP || !quote->has_ports ||
        !watched_port(tracker, quote->dst_port) || flow_table_count(tracker->flows) == 0)
        return;
    struct flow_key key;
    flow_key_make(&key, IPPROTO_NUMBER_TCP, &quote->src, &quote->dst, quote->src_port,
                  quote->dst_port);
    struct flow *flow = flow_lookup(tracker->flows, &key, flow_key_hash(&key));
    if (flow == NULL)
        return;
    struct refusal *refusal = refusal_of(flow);
    /* The quoted sequence number ties the error to this connection, not an earlier one. */
    if (quote->has_seq && (int32_t)(quote->seq - refusal->client_isn) < 0)
        return;
    refusal->flags |= REFUSAL_ICMP_SEEN;
    refusal->icmp_type = packet->icmp_type;
    refusal->icmp_code = packet->icmp_code;
    refusal->icmp_from = packet->src;
    /* Another error (host unreachable, say) is an answer, though no ACL's: never silence. */
    if (refusal_icmp_prohibited(packet))
        refuse(tracker, flow, COLLATERAL_ICMP_PROHIBITED, packet->ts);
}

/* A TCP packet on a watched port; kept apart from refusal_packet so that the test every
 * packet goes through stays a few instructions, without this one's stack frame. */
__attribute__((noinline)) static void tcp_packet(struct refusal_tracker *tracker,
                                                 const struct packet *packet, int segment,
                                                 bool to_port, bool from_port)
{
    bool syn = (packet->tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN;
    struct flow_key key;
    if (flow_table_count(tracker->flows) > 0) {
        if (to_port) {
            flow_key_make(&key, IPPROTO_NUMBER_TCP, &packet->src, &packet->dst, packet->src_port,
                          packet->dst_port);
            struct flow *flow = flow_lookup(tracker->flows, &key, flow_key_hash(&key));
            if (flow != NULL) {
                client_packet(tracker, flow, packet, segment);
                return;
            }
        }
        if (from_port) {
            flow_key_make(&key, IPPROTO_NUMBER_TCP, &packet->dst, &packet->src, packet->dst_port,
                          packet->src_port);
            struct flow *flow = flow_lookup(tracker->flows, &key, flow_key_hash(&key));
            if (flow != NULL) {
                server_packet(tracker, flow, packet);
                return;
            }
        }
    }
    if (to_port && syn)
        open_connection(tracker, packet, segment);
}

void refusal_packet(struct refusal_tracker *tracker, const struct packet *packet, int segment)
{
    if (packet->proto != IPPROTO_NUMBER_TCP) {
        if (packet->is_icmp_error)
            icmp_packet(tracker, packet);
        return;
    }
    bool to_port = watched_port(tracker, packet->dst_port);
    bool from_port = watched_port(tracker, packet->src_port);
    if (to_port || from_port)
        tcp_packet(tracker, packet, segment, to_port, from_port);
}

/* Silence is a refusal only where an answer could have been seen: the watched points are
 * all seen from their subscriber side, and the segment must have shown traffic towards the
 * ISP (a one-way capture shows no silence); any ICMP error was an answer. */
static void expire(struct refusal_tracker *tracker, struct flow *flow, packet_time now)
{
    const struct refusal *refusal = refusal_of(flow);
    if (!(refusal->flags & REFUSAL_ICMP_SEEN) && refusal->syn_count >= NO_REPLY_SYNS &&
        segment_flag(tracker->return_seen, refusal->segment)) {
        refuse(tracker, flow, COLLATERAL_NO_REPLY, now);
        return;
    }
    flow_remove(tracker->flows, flow);
}

void refusal_advance(struct refusal_tracker *tracker, packet_time now)
{
    struct flow *flow;
    while ((flow = flow_list_head(tracker->flows, LIST_PENDING)) != NULL &&
           flow->mark + tracker->policy->timeouts.syn <= now)
        expire(tracker, flow, flow->mark + tracker->policy->timeouts.syn);
    while ((flow = flow_list_head(tracker->flows, LIST_BACKOFF)) != NULL &&
           flow->mark + tracker->backoff_hold <= now)
        expire(tracker, flow, flow->mark + tracker->backoff_hold);
}

packet_time refusal_next_deadline(const struct refusal_tracker *tracker)
{
    return flow_table_next_deadline(tracker->flows);
}

void refusal_finish(struct refusal_tracker *tracker)
{
    flow_table_clear(tracker->flows);
}

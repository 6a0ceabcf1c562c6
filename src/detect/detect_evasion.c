/* The paths around OP25B (draft section 4.4.1; docs/concepts.md has them in short).
 *
 * - asymmetric_routing: a dynamic source towards port 25 on a segment that does not expect its
 *   pool (draft figure 16: sent out of the static line, answered on the dynamic one).
 * - spoofed_source: towards port 25, leaving the ISP, from a source that is neither the ISP's
 *   nor any pool's, seen on a subscriber segment: source address validation (BCP 38, BCP 84)
 *   is missing there.
 * - triangular_spam (draft figure 17, Qian et al. 2010): a spoofed SYN R -> M:25 with ISN x,
 *   and then a packet from M:25 carrying ack x+1 on the same ports that reaches a dynamic
 *   address S, which never opened that connection itself: rewritten to S by the relay, or
 *   tunnelled to S (IP-in-IP, GRE) with the inner packet still addressed to R.
 * - inbound_acl_violation: from port 25 of a host that is not a designated MSA of the
 *   subscriber's pool to a dynamic address, with no outbound connection it answers: the
 *   inbound ACL of the draft's countermeasure 1 is missing. Backscatter (SYN-ACK and RST
 *   only, never payload) is marked as such.
 *
 * Everything is held in bounded tables timed in packet time. The windowed findings are one
 * event per key and window (thresholds.window, from the first packet), with counts. */
#include "detect/detect_evasion.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record/finding.h"
#include "track/flow.h"
#include "util/log.h"
#include "policy/segment.h"

#define SMTP_PORT 25
/* Each table holds at most limits.flows entries, and never more than this: the evasion
 * tables hold a small share of what the attempt table does. */
#define EVASION_TABLE_MAX (1u << 18)
/* --workers: how long an answer waits for its spoofed SYN from another worker, and how
 * many wait at once. Workers take their packets a capture block at a time (TPACKET_V3
 * hands a block over after 100 ms at most), so one may run that far behind another. */
#define ANSWER_WAIT (2 * PACKET_TIME_SECOND)
#define ANSWERS_WAITING_MAX 4096u
#define ANSWER_POLL (PACKET_TIME_SECOND / 10)

/* Every table keeps one timer list: entries share one timeout, so the tail is always the
 * latest deadline (see flow.h). */
/* Each table keeps its entries on one list, in order of the time its timer runs from. */
#define TIMER_LIST 0

enum window_kind {
    WINDOW_ASYMMETRIC = 1, /* key: subscriber, segment */
    WINDOW_SPOOFED,        /* key: spoofed source, segment */
    WINDOW_INBOUND,        /* key: sender, subscriber */
};

/* One window of one windowed finding. The first packet is kept as the sample the event
 * shows (its flow and where it was seen); the rest is counted. */
struct window {
    uint8_t kind; /* enum window_kind */
    int8_t segment;
    int16_t pool; /* the subscriber's pool; -1 for spoofed sources */
    int16_t msa;  /* inbound: the sender is this MSA, but not one for this pool */
    struct address src;
    struct address dst;
    uint16_t src_port;
    uint16_t dst_port;
    bool ports_varied;    /* packets on more than one subscriber port */
    bool not_backscatter; /* a packet that was neither a SYN-ACK nor a reset */
    struct layer2_place layer2;
    packet_time last_seen;
    uint64_t packets;
    uint64_t syns;
    uint64_t syn_acks;
    uint64_t resets;
    uint64_t payload_packets;
    uint64_t payload_bytes;
};

/* A spoofed SYN waiting for its answer to turn up at a subscriber. */
struct spoofed_syn {
    struct address relay;
    uint32_t isn;
    uint16_t syn_count;
    int8_t segment;
    bool joined; /* already reported: the banner carries the same ack again */
};

/* An answer from M:25 that may belong to a spoofed SYN: what the finding tells of it. */
struct answer {
    struct address spammer;   /* S, a dynamic address */
    struct address target;    /* M */
    struct address addressed; /* where the packet itself goes: R inside a tunnel */
    struct address tunnel_src;
    packet_time seen;
    uint32_t ack;
    uint16_t client_port;
    uint16_t server_port;
    int16_t pool;
    int8_t reply_segment;
    uint8_t tunnel; /* enum tunnel_kind; TUNNEL_NONE when the relay rewrote it to S */
};

struct evasion {
    struct detector base;
    const struct policy *policy;
    struct bus *bus;
    /* Per segment (index + 1; 0 is "no segment"): traffic leaving the ISP was seen there. */
    bool *outbound_traffic; /* the workers' shared one with --workers */
    bool owns_outbound_traffic;
    /* Windowed findings of all three kinds, in order of their first packet. */
    struct flow_table *windows; /* records: struct window */
    /* Recent connections from dynamic addresses to port 25, refreshed by every packet:
     * what an answer from port 25 may belong to. */
    struct flow_table *outbound;
    /* Spoofed SYNs to port 25, by target and client port, for timeouts.syn. */
    struct flow_table *syns; /* records: struct spoofed_syn */
    /* --workers: the other workers' spoofed SYNs come in here, ours go out (worker_share.h). */
    struct inbox_set *share;
    struct sensor_counters *counters;
    uint64_t share_lost; /* ours that another worker's full inbox refused */
    /* --workers: answers waiting for their SYN to come from another worker, briefly. */
    struct flow_table *answers; /* records: struct answer */
    uint64_t answer_evictions;
    uint64_t window_evictions;
    uint64_t outbound_evictions;
    uint64_t syn_evictions;
};

/* own_prefixes is not empty, so "not ours" means something. Read from the policy each time,
 * since a reload (SIGHUP) may give the first prefixes. */
static bool check_sources(const struct evasion *evasion)
{
    return evasion->policy->own_prefix_count > 0;
}

/* Keys reuse the flow table's: proto carries the kind, so keys of different findings never
 * meet in the shared windows table; an address left NULL stays zero. */
static bool is_dynamic(const struct policy *policy, int pool)
{
    return pool != POLICY_NO_INDEX && policy->pools[pool].type == POOL_DYNAMIC;
}

static bool segment_expects(const struct policy *policy, int segment, int pool)
{
    const struct segment *seen = &policy->segments[segment];
    for (size_t i = 0; i < seen->expects_count; i++) {
        if (seen->expects[i] == pool)
            return true;
    }
    return false;
}

/* The segments that expect the pool, as the asymmetric finding lists them. */
static void list_expected_segments(struct window_finding *out, const struct policy *policy,
                                   int pool)
{
    for (size_t s = 0; s < policy->segment_count && out->expected_count < FINDING_SEGMENTS_LISTED;
         s++) {
        if (segment_expects(policy, (int)s, pool))
            out->expected[out->expected_count++] = (int16_t)s;
    }
}

static void set_subscriber_prefix(struct window_finding *out, const struct policy *policy, int pool,
                                  const struct address *subscriber)
{
    if (subscriber->family != ADDRESS_V6)
        return;
    out->has_subscriber_prefix = true;
    out->subscriber_prefix = policy_subscriber(policy, pool, subscriber);
}

static void window_close(struct evasion *evasion, struct flow *flow, const char *reason)
{
    const struct policy *policy = evasion->policy;
    const struct window *window = flow_record(flow);
    static const enum event_type types[] = {
        [WINDOW_ASYMMETRIC] = EVENT_ASYMMETRIC_ROUTING,
        [WINDOW_SPOOFED] = EVENT_SPOOFED_SOURCE,
        [WINDOW_INBOUND] = EVENT_INBOUND_ACL_VIOLATION,
    };
    struct finding finding;
    finding_init(&finding, types[window->kind], flow->first_seen);
    struct flow_tuple tuple = {.src = window->src,
                               .dst = window->dst,
                               .src_port = window->src_port,
                               .dst_port = window->dst_port,
                               .proto = IPPROTO_NUMBER_TCP};
    finding_set_flow(&finding, &tuple);
    finding.pool = window->pool;
    finding.segment = window->segment;
    struct window_finding *out = &finding.as.window;
    out->msa = -1;
    if (window->kind == WINDOW_ASYMMETRIC) {
        finding_set_key(&finding, &window->src);
        set_subscriber_prefix(out, policy, window->pool, &window->src);
        list_expected_segments(out, policy, window->pool);
    } else if (window->kind == WINDOW_INBOUND) {
        finding_set_key(&finding, &window->dst);
        set_subscriber_prefix(out, policy, window->pool, &window->dst);
        out->msa = window->msa;
    }
    out->count = window->packets;
    out->syn_count = window->syns;
    out->syn_ack_count = window->syn_acks;
    out->rst_count = window->resets;
    out->payload_packets = window->payload_packets;
    out->payload_bytes = window->payload_bytes;
    out->backscatter = window->payload_packets == 0 && !window->not_backscatter;
    out->ports_varied = window->ports_varied;
    out->first_seen = flow->first_seen;
    out->last_seen = window->last_seen;
    out->layer2 = window->layer2;
    out->close_reason = reason;
    bus_finding(evasion->bus, &finding);
    flow_remove(evasion->windows, flow);
}

/* Finds or opens the window of key and counts the packet in it. NULL only when the table
 * has no room at all (capacity 0 cannot happen: flow_table_new makes at least one). */
static struct window *window_count(struct evasion *evasion, const struct flow_key *key,
                                   const struct packet *packet, int segment, int pool)
{
    uint32_t hash = flow_key_hash(key);
    struct flow *flow = flow_lookup(evasion->windows, key, hash);
    struct window *window;
    if (flow != NULL) {
        window = flow_record(flow);
        if (packet->src_port != window->src_port || packet->dst_port != window->dst_port)
            window->ports_varied = true;
    } else {
        flow = flow_insert(evasion->windows, key, hash);
        if (flow == NULL) {
            /* Full: the oldest window is written now, cut short, so no count is lost. */
            struct flow *oldest = flow_list_head(evasion->windows, TIMER_LIST);
            if (oldest == NULL)
                return NULL;
            evasion->window_evictions++;
            window_close(evasion, oldest, "evicted");
            flow = flow_insert(evasion->windows, key, hash);
            if (flow == NULL)
                return NULL;
        }
        flow->first_seen = packet->ts;
        flow_list_append(evasion->windows, flow, TIMER_LIST);
        window = flow_record(flow);
        memset(window, 0, sizeof(*window));
        window->kind = key->proto;
        window->segment = (int8_t)segment;
        window->pool = (int16_t)pool;
        window->msa = -1;
        window->src = packet->src;
        window->dst = packet->dst;
        window->src_port = packet->src_port;
        window->dst_port = packet->dst_port;
        struct layer2_place *layer2 = &window->layer2;
        layer2->has_mac = packet->has_mac;
        memcpy(layer2->src_mac, packet->src_mac, 6);
        memcpy(layer2->dst_mac, packet->dst_mac, 6);
        layer2->vlan_count = packet->vlan_count < 2 ? packet->vlan_count : 2;
        memcpy(layer2->vlan, packet->vlan, sizeof(layer2->vlan));
        layer2->has_pppoe = packet->has_pppoe;
        layer2->pppoe_session = packet->pppoe_session;
    }
    uint8_t flags = packet->tcp_flags;
    window->packets++;
    window->last_seen = packet->ts > window->last_seen ? packet->ts : window->last_seen;
    if ((flags & (TCP_SYN | TCP_ACK)) == TCP_SYN)
        window->syns++;
    if ((flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK))
        window->syn_acks++;
    if (flags & TCP_RST)
        window->resets++;
    /* Backscatter is what a server answers to a SYN it never got from us: SYN-ACK or RST. */
    if (!(flags & TCP_RST) && (flags & (TCP_SYN | TCP_ACK)) != (TCP_SYN | TCP_ACK))
        window->not_backscatter = true;
    if (packet->payload_length > 0) {
        window->payload_packets++;
        window->payload_bytes += packet->payload_length;
    }
    return window;
}

static bool outbound_seen(const struct evasion *evasion, const struct address *client,
                          uint16_t client_port, const struct address *server)
{
    struct flow_key key;
    flow_key_make(&key, IPPROTO_NUMBER_TCP, client, server, client_port, SMTP_PORT);
    return flow_lookup(evasion->outbound, &key, flow_key_hash(&key)) != NULL;
}

/* A subscriber's packet to port 25. When the capture began in the middle of the connection,
 * the server's segments may have come first and opened an inbound window on this very
 * port: they were answers after all. */
static void outbound_note(struct evasion *evasion, const struct packet *packet, int pool)
{
    struct flow_key key;
    flow_key_make(&key, IPPROTO_NUMBER_TCP, &packet->src, &packet->dst, packet->src_port,
                  packet->dst_port);
    uint32_t hash = flow_key_hash(&key);
    struct flow *flow = flow_lookup(evasion->outbound, &key, hash);
    if (flow == NULL) {
        flow = flow_insert(evasion->outbound, &key, hash);
        if (flow == NULL) {
            struct flow *oldest = flow_list_head(evasion->outbound, TIMER_LIST);
            if (oldest == NULL)
                return;
            evasion->outbound_evictions++;
            flow_remove(evasion->outbound, oldest);
            flow_list_prefetch(evasion->outbound, TIMER_LIST);
            flow = flow_insert(evasion->outbound, &key, hash);
            if (flow == NULL)
                return;
        }
        flow->first_seen = packet->ts;
    }
    flow->last_seen = packet->ts;
    flow_list_append(evasion->outbound, flow, TIMER_LIST);

    if ((packet->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN)
        return; /* a new connection answers nothing that came before it */
    struct prefix subscriber = policy_subscriber(evasion->policy, pool, &packet->src);
    flow_key_make(&key, WINDOW_INBOUND, &packet->dst, &subscriber.address, 0, 0);
    struct flow *inbound = flow_lookup(evasion->windows, &key, flow_key_hash(&key));
    if (inbound == NULL)
        return;
    const struct window *window = flow_record(inbound);
    if (!window->ports_varied && window->dst_port == packet->src_port)
        flow_remove(evasion->windows, inbound);
}

/* A spoofed SYN seen here or, with --workers, by another worker; its entry, or NULL when
 * there was no room. Keyed by target and client port, not by relay: an answer the relay
 * rewrote no longer names the relay. */
static struct flow *syn_note(struct evasion *evasion, const struct shared_syn *seen)
{
    struct flow_key key;
    flow_key_make(&key, IPPROTO_NUMBER_TCP, NULL, &seen->target, seen->client_port,
                  seen->server_port);
    uint32_t hash = flow_key_hash(&key);
    struct flow *flow = flow_lookup(evasion->syns, &key, hash);
    struct spoofed_syn *syn;
    if (flow != NULL) {
        syn = flow_record(flow);
        if (syn->isn == seen->isn && address_equal(&syn->relay, &seen->relay)) {
            if (syn->syn_count < UINT16_MAX)
                syn->syn_count++;
            flow->last_seen = seen->ts;
            flow_list_append(evasion->syns, flow, TIMER_LIST);
            return flow;
        }
    } else {
        flow = flow_insert(evasion->syns, &key, hash);
        if (flow == NULL) {
            struct flow *oldest = flow_list_head(evasion->syns, TIMER_LIST);
            if (oldest == NULL)
                return NULL;
            evasion->syn_evictions++;
            flow_remove(evasion->syns, oldest);
            flow_list_prefetch(evasion->syns, TIMER_LIST);
            flow = flow_insert(evasion->syns, &key, hash);
            if (flow == NULL)
                return NULL;
        }
        syn = flow_record(flow);
    }
    /* A new connection on these ports (or a first one) replaces whatever was there. */
    flow->first_seen = flow->last_seen = seen->ts;
    flow_list_append(evasion->syns, flow, TIMER_LIST);
    syn->relay = seen->relay;
    syn->isn = seen->isn;
    syn->syn_count = 1;
    syn->segment = seen->segment;
    syn->joined = false;
    return flow;
}

static void spoofed_syn_note(struct evasion *evasion, const struct packet *packet, int segment)
{
    struct shared_syn seen = {
        .target = packet->dst,
        .relay = packet->src,
        .ts = packet->ts,
        .isn = packet->seq,
        .client_port = packet->src_port,
        .server_port = packet->dst_port,
        .segment = (int8_t)segment,
    };
    syn_note(evasion, &seen);
    if (evasion->share != NULL) {
        unsigned lost = inbox_post(evasion->share, &seen);
        evasion->share_lost += lost;
        evasion->counters->detector_exhausted += lost;
    }
}

/* To port 25: a subscriber's attempt (maybe on the wrong segment), or a spoofed source. */
static void towards_smtp(struct evasion *evasion, const struct packet *packet, int segment)
{
    const struct policy *policy = evasion->policy;
    struct flow_key key;
    int pool = policy_pool_of(policy, &packet->src);
    if (is_dynamic(policy, pool)) {
        outbound_note(evasion, packet, pool);
        /* Seen on no segment at all says nothing about where it should have been. */
        if (segment < 0 || segment_expects(policy, segment, pool))
            return;
        struct prefix subscriber = policy_subscriber(policy, pool, &packet->src);
        flow_key_make(&key, WINDOW_ASYMMETRIC, &subscriber.address, NULL, 0, (uint16_t)segment);
        window_count(evasion, &key, packet, segment, pool);
        return;
    }
    /* Pools outside own_prefixes (a model-B ISP's subscribers carried for it) are not
     * spoofed: the policy names them. */
    if (pool != POLICY_NO_INDEX || !check_sources(evasion) || policy_is_own(policy, &packet->src))
        return;
    /* Only a subscriber segment can show missing source validation; without segments the
     * whole capture is taken to be one. */
    if (segment < 0 && policy->segment_count > 0)
        return;
    /* Towards the ISP (the Internet reaching a subscriber's own MTA) is not leaving it. */
    if (policy_is_own(policy, &packet->dst) ||
        policy_pool_of(policy, &packet->dst) != POLICY_NO_INDEX)
        return;
    flow_key_make(&key, WINDOW_SPOOFED, &packet->src, NULL, 0, (uint16_t)(segment + 1));
    window_count(evasion, &key, packet, segment, POLICY_NO_INDEX);
    if ((packet->tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN)
        spoofed_syn_note(evasion, packet, segment);
}

/* Tunnels a relay can wrap the answer in, with one address family inside and out so that
 * spammer and target make one flow. */
static bool is_relay_tunnel(const struct packet *packet)
{
    switch ((enum tunnel_kind)packet->tunnel) {
    case TUNNEL_IPIP:
    case TUNNEL_6IN6:
    case TUNNEL_GRE:
        return packet->outer_dst.family == packet->dst.family;
    default:
        return false;
    }
}

/* The answer joins the SYN: ack x+1, through the relay the SYN named, and S never opened
 * that connection itself. */
static void join(struct evasion *evasion, struct flow *flow, const struct answer *answer)
{
    struct spoofed_syn *syn = flow_record(flow);
    bool tunnelled = answer->tunnel != TUNNEL_NONE;
    if (syn->joined || answer->ack != syn->isn + 1)
        return;
    if (tunnelled && !address_equal(&syn->relay, &answer->addressed))
        return;
    if (outbound_seen(evasion, &answer->spammer, answer->client_port, &answer->target))
        return;
    syn->joined = true;

    struct finding finding;
    finding_init(&finding, EVENT_TRIANGULAR_SPAM, flow->first_seen);
    struct flow_tuple tuple = {.src = answer->spammer,
                               .dst = answer->target,
                               .src_port = answer->client_port,
                               .dst_port = answer->server_port,
                               .proto = IPPROTO_NUMBER_TCP};
    finding_set_flow(&finding, &tuple);
    finding.pool = answer->pool;
    finding.segment = syn->segment;
    finding_set_key(&finding, &answer->spammer);
    struct triangular_finding *out = &finding.as.triangular;
    out->relay = syn->relay;
    out->tunnelled = tunnelled;
    out->tunnel = answer->tunnel;
    out->tunnel_src = answer->tunnel_src;
    out->reply_segment = answer->reply_segment;
    out->isn = syn->isn;
    out->syn_count = syn->syn_count;
    out->reply_seen = answer->seen;
    bus_finding(evasion->bus, &finding);
}

/* --workers: an answer whose SYN no worker has told this one of yet. The other worker may
 * be a capture block behind, so the answer waits a little for the SYN (syn_note). Answers
 * to S's own connections never wait: S's packets come to this worker too. */
static void answer_wait(struct evasion *evasion, const struct answer *answer,
                        const struct flow_key *key, uint32_t hash)
{
    if (outbound_seen(evasion, &answer->spammer, answer->client_port, &answer->target))
        return;
    if (flow_lookup(evasion->answers, key, hash) != NULL)
        return; /* the first answer is the one a single sensor would have joined */
    struct flow *flow = flow_insert(evasion->answers, key, hash);
    if (flow == NULL) {
        evasion->answer_evictions++;
        evasion->counters->detector_evictions++;
        flow_remove(evasion->answers, flow_list_head(evasion->answers, TIMER_LIST));
        flow = flow_insert(evasion->answers, key, hash);
        if (flow == NULL)
            return;
    }
    flow->first_seen = flow->last_seen = answer->seen;
    flow_list_append(evasion->answers, flow, TIMER_LIST);
    *(struct answer *)flow_record(flow) = *answer;
    /* Its SYN may come while no packet does: look into the inbox again soon (advance). */
    if (evasion->base.due > answer->seen + ANSWER_POLL)
        evasion->base.due = answer->seen + ANSWER_POLL;
}

/* A SYN just noted (flow in the syns table) that an answer already waits for. */
static void answer_arrived(struct evasion *evasion, struct flow *syn_flow)
{
    struct flow *waiting = flow_lookup(evasion->answers, &syn_flow->key, syn_flow->hash);
    if (waiting == NULL)
        return;
    struct answer answer = *(struct answer *)flow_record(waiting);
    flow_remove(evasion->answers, waiting);
    join(evasion, syn_flow, &answer);
}

/* The other workers' spoofed SYNs, before the packet that may answer one of them. */
static void take_shared_syns(struct evasion *evasion)
{
    struct shared_syn seen;
    while (inbox_take(evasion->share, &seen)) {
        struct flow *flow = syn_note(evasion, &seen);
        if (flow != NULL)
            answer_arrived(evasion, flow);
    }
}

/* The answer of M:25 to a spoofed SYN reaching subscriber S, by its ports. Every packet from
 * port 25 to a subscriber comes here: the SYN is looked up first, and the answer is only
 * written down when there is one, or (--workers) one may still come. */
static void triangular_join(struct evasion *evasion, const struct packet *packet, int segment,
                            const struct address *spammer, int pool, bool tunnelled)
{
    struct flow_key key;
    flow_key_make(&key, IPPROTO_NUMBER_TCP, NULL, &packet->src, packet->dst_port, packet->src_port);
    uint32_t hash = flow_key_hash(&key);
    struct flow *flow = flow_lookup(evasion->syns, &key, hash);
    if (flow == NULL && evasion->answers == NULL)
        return;
    struct answer answer = {
        .spammer = *spammer,
        .target = packet->src,
        .addressed = packet->dst,
        .seen = packet->ts,
        .ack = packet->ack,
        .client_port = packet->dst_port,
        .server_port = packet->src_port,
        .pool = (int16_t)pool,
        .reply_segment = (int8_t)segment,
        .tunnel = tunnelled ? packet->tunnel : TUNNEL_NONE,
    };
    if (tunnelled)
        answer.tunnel_src = packet->outer_src;
    if (flow != NULL)
        join(evasion, flow, &answer);
    else
        answer_wait(evasion, &answer, &key, hash);
}

/* From port 25 to a subscriber: the answer to one of its connections, a designated MSA,
 * or what the inbound ACL of countermeasure 1 should have stopped. */
static void inbound_check(struct evasion *evasion, const struct packet *packet, int segment,
                          int pool)
{
    const struct policy *policy = evasion->policy;
    /* A mirror that shows only what comes in cannot show the connection an answer belongs
     * to: a missing one means nothing there, as silence proves nothing where no answer
     * could have been seen. */
    if (!segment_flag(evasion->outbound_traffic, segment))
        return;
    int msa = policy_msa_of(policy, &packet->src);
    if (msa != POLICY_NO_INDEX && policy_msa_allows(policy, msa, pool, SMTP_PORT))
        return;
    if (outbound_seen(evasion, &packet->dst, packet->dst_port, &packet->src))
        return;
    struct prefix subscriber = policy_subscriber(policy, pool, &packet->dst);
    struct flow_key key;
    flow_key_make(&key, WINDOW_INBOUND, &packet->src, &subscriber.address, 0, 0);
    struct window *window = window_count(evasion, &key, packet, segment, pool);
    if (window != NULL && msa != POLICY_NO_INDEX)
        window->msa = (int16_t)msa;
}

static void from_smtp(struct evasion *evasion, const struct packet *packet, int segment)
{
    const struct policy *policy = evasion->policy;
    bool acks = (packet->tcp_flags & TCP_ACK) != 0;
    if (acks && check_sources(evasion) && packet->tunnel != TUNNEL_NONE &&
        is_relay_tunnel(packet)) {
        int outer_pool = policy_pool_of(policy, &packet->outer_dst);
        if (is_dynamic(policy, outer_pool))
            triangular_join(evasion, packet, segment, &packet->outer_dst, outer_pool, true);
    }
    int pool = policy_pool_of(policy, &packet->dst);
    if (!is_dynamic(policy, pool))
        return;
    if (acks && check_sources(evasion))
        triangular_join(evasion, packet, segment, &packet->dst, pool, false);
    inbound_check(evasion, packet, segment, pool);
}

static void note_outbound_traffic(struct evasion *evasion, const struct packet *packet, int segment)
{
    const struct policy *policy = evasion->policy;
    bool from_isp = policy_is_own(policy, &packet->src) ||
                    policy_pool_of(policy, &packet->src) != POLICY_NO_INDEX;
    bool to_isp = policy_is_own(policy, &packet->dst) ||
                  policy_pool_of(policy, &packet->dst) != POLICY_NO_INDEX;
    if (from_isp && !to_isp)
        segment_flag_set(evasion->outbound_traffic, segment);
}

static void evasion_packet(struct detector *detector, const struct packet *packet, int segment)
{
    struct evasion *evasion = (struct evasion *)detector;
    if (evasion->share != NULL)
        take_shared_syns(evasion);
    if (!segment_flag(evasion->outbound_traffic, segment))
        note_outbound_traffic(evasion, packet, segment);
    if (packet->proto != IPPROTO_NUMBER_TCP)
        return;
    if (packet->dst_port == SMTP_PORT)
        towards_smtp(evasion, packet, segment);
    /* Both ports 25 is one MTA calling another's server port: towards a subscriber that is
     * its own MTA receiving (draft 4.4.6), no answer to anything. */
    else if (packet->src_port == SMTP_PORT)
        from_smtp(evasion, packet, segment);
}

/* outbound_note's lookup, for a subscriber's packet to port 25 (any source is fetched:
 * which pool it is in is only known after a lookup of its own). */
static void evasion_prefetch(const struct detector *detector, const struct packet *packet)
{
    const struct evasion *evasion = (const struct evasion *)detector;
    if (packet->proto != IPPROTO_NUMBER_TCP || packet->dst_port != SMTP_PORT)
        return;
    struct flow_key key;
    flow_key_make(&key, IPPROTO_NUMBER_TCP, &packet->src, &packet->dst, packet->src_port,
                  packet->dst_port);
    flow_prefetch(evasion->outbound, flow_key_hash(&key));
}

static void evasion_advance(struct detector *detector, packet_time now)
{
    struct evasion *evasion = (struct evasion *)detector;
    const struct policy *policy = evasion->policy;
    struct flow *flow;
    /* Before an answer gives up waiting, and on a worker that has no packets to take. */
    if (evasion->share != NULL)
        take_shared_syns(evasion);
    while ((flow = flow_list_head(evasion->windows, TIMER_LIST)) != NULL &&
           flow->first_seen + policy->thresholds.window <= now)
        window_close(evasion, flow, "window");
    while ((flow = flow_list_head(evasion->outbound, TIMER_LIST)) != NULL &&
           flow->last_seen + policy->timeouts.smtp_idle <= now)
        flow_remove(evasion->outbound, flow);
    while ((flow = flow_list_head(evasion->syns, TIMER_LIST)) != NULL &&
           flow->last_seen + policy->timeouts.syn <= now)
        flow_remove(evasion->syns, flow);
    if (evasion->answers != NULL)
        while ((flow = flow_list_head(evasion->answers, TIMER_LIST)) != NULL &&
               flow->first_seen + ANSWER_WAIT <= now)
            flow_remove(evasion->answers, flow);
    packet_time due = flow_table_next_deadline(evasion->windows);
    packet_time outbound = flow_table_next_deadline(evasion->outbound);
    packet_time syns = flow_table_next_deadline(evasion->syns);
    due = outbound < due ? outbound : due;
    due = syns < due ? syns : due;
    if (evasion->answers != NULL && flow_table_count(evasion->answers) > 0) {
        /* Answers still wait: look into the inbox again soon. */
        packet_time again = now + ANSWER_POLL;
        due = again < due ? again : due;
    }
    evasion->base.due = due;
}

static void evasion_finish(struct detector *detector, packet_time now, const char *reason)
{
    (void)reason; /* windows cut short say "end" either way */
    struct evasion *evasion = (struct evasion *)detector;
    struct flow *flow;
    (void)now; /* every window is written as it stands, whatever the time */
    if (evasion->share != NULL)
        take_shared_syns(evasion);
    while ((flow = flow_list_head(evasion->windows, TIMER_LIST)) != NULL)
        window_close(evasion, flow, "end");
    if (evasion->window_evictions + evasion->outbound_evictions + evasion->syn_evictions > 0)
        log_message(LOG_WARNING,
                    "evasion tables full (%u entries each): %llu windows written early, %llu "
                    "connections and %llu spoofed SYNs forgotten early",
                    flow_table_capacity(evasion->windows),
                    (unsigned long long)evasion->window_evictions,
                    (unsigned long long)evasion->outbound_evictions,
                    (unsigned long long)evasion->syn_evictions);
    if (evasion->answer_evictions > 0)
        log_message(LOG_WARNING,
                    "%llu answers from port 25 could not wait for their spoofed SYN from "
                    "another worker: %u waited already",
                    (unsigned long long)evasion->answer_evictions, ANSWERS_WAITING_MAX);
    if (evasion->share_lost > 0)
        log_message(LOG_WARNING,
                    "%llu spoofed SYNs not told to another worker: its inbox was full (a "
                    "triangular-spam answer reaching that worker cannot be joined to them)",
                    (unsigned long long)evasion->share_lost);
}

static void evasion_free(struct detector *detector)
{
    struct evasion *evasion = (struct evasion *)detector;
    if (evasion == NULL)
        return;
    flow_table_free(evasion->windows);
    flow_table_free(evasion->outbound);
    flow_table_free(evasion->syns);
    flow_table_free(evasion->answers);
    if (evasion->owns_outbound_traffic)
        free(evasion->outbound_traffic);
    free(evasion);
}

static const struct detector_ops evasion_ops = {
    .name = "evasion",
    .packet = evasion_packet,
    .prefetch = evasion_prefetch,
    .advance = evasion_advance,
    .finish = evasion_finish,
    .free = evasion_free,
};

struct detector *detect_evasion_new(const struct detector_context *context, bool *disabled)
{
    const struct policy *policy = context->policy;
    *disabled = false;
    struct evasion *evasion = calloc(1, sizeof(*evasion));
    if (evasion == NULL)
        return NULL;
    evasion->base.ops = &evasion_ops;
    evasion->policy = policy;
    evasion->bus = context->bus;
    evasion->share = context->share != NULL ? context->share->syns : NULL;
    evasion->counters = context->counters;
    /* With own_prefixes: [] every source outside the pools would look spoofed. */
    evasion->base.due = INT64_MAX; /* nothing held yet; the tables lower it (set_timer) */
    uint32_t capacity = policy->limits.flows;
    if (capacity == 0)
        capacity = 1;
    if (capacity > EVASION_TABLE_MAX)
        capacity = EVASION_TABLE_MAX;
    evasion->windows = flow_table_new(capacity, sizeof(struct window));
    evasion->outbound = flow_table_new(capacity, 0);
    evasion->syns = flow_table_new(capacity, sizeof(struct spoofed_syn));
    evasion->owns_outbound_traffic =
        context->share == NULL || context->share->outbound_seen == NULL;
    evasion->outbound_traffic = evasion->owns_outbound_traffic
                                    ? calloc(policy->segment_count + 1, sizeof(bool))
                                    : context->share->outbound_seen;
    if (evasion->windows == NULL || evasion->outbound == NULL || evasion->syns == NULL ||
        evasion->outbound_traffic == NULL) {
        evasion_free(&evasion->base);
        return NULL;
    }
    flow_table_set_timer(evasion->windows, TIMER_LIST, FLOW_TIME_FIRST_SEEN,
                         policy->thresholds.window, &evasion->base.due);
    flow_table_set_timer(evasion->outbound, TIMER_LIST, FLOW_TIME_LAST_SEEN,
                         policy->timeouts.smtp_idle, &evasion->base.due);
    flow_table_set_timer(evasion->syns, TIMER_LIST, FLOW_TIME_LAST_SEEN, policy->timeouts.syn,
                         &evasion->base.due);
    if (evasion->share != NULL) {
        evasion->answers = flow_table_new(ANSWERS_WAITING_MAX, sizeof(struct answer));
        if (evasion->answers == NULL) {
            evasion_free(&evasion->base);
            return NULL;
        }
        flow_table_set_timer(evasion->answers, TIMER_LIST, FLOW_TIME_FIRST_SEEN, ANSWER_WAIT,
                             &evasion->base.due);
    }
    return &evasion->base;
}

/* --workers without a kernel: a scenario capture split over two sensors the way the fanout
 * splits it (the real BPF program of src/capture/fanout.c, run by tests/unit/cbpf_run.h), the
 * sensors sharing what the workers share (worker_share.h). Findings that need packets from both
 * halves must come out as one sensor writes them; without the sharing they would not,
 * which the tests show too, so a split that happened to keep everything together cannot
 * pass for a working share. (live_test.py does the same on a veth pair.) */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <malloc.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cbpf_run.h"
#include "output/event.h"
#include "capture/fanout.h"
#include "policy/policy.h"
#include "sensor.h"
#include "output/sink.h"
#include "workers/worker_share.h"

#define LINES_MAX 4096
#define WORKERS_MAX 8

struct memory_sink {
    struct sink base;
    char *lines[LINES_MAX];
    size_t count;
};

static int memory_write(struct sink *sink, const struct event_line *line)
{
    struct memory_sink *memory = (struct memory_sink *)sink;
    cr_assert_lt(memory->count, LINES_MAX);
    memory->lines[memory->count] = strndup(line->text, line->length);
    cr_assert_not_null(memory->lines[memory->count]);
    memory->count++;
    return 0;
}

static int memory_flush(struct sink *sink)
{
    (void)sink;
    return 0;
}

static uint64_t memory_close(struct sink *sink)
{
    (void)sink;
    return 0;
}

static const struct sink_ops memory_ops = {
    .write = memory_write, .flush = memory_flush, .close = memory_close};

/* The lines of one event type from every sink, sorted: which worker wrote a finding, and
 * when, is not the point. */
struct lines {
    char *text[LINES_MAX];
    size_t count;
};

static int by_text(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Which parts of the worker share a replay has (worker_share.h). */
enum {
    SHARE_SYNS = 1,
    SHARE_SERVERS = 2,
    SHARE_FINDINGS = 4,
    SHARE_ALL = SHARE_SYNS | SHARE_SERVERS | SHARE_FINDINGS,
};

/* Moves one client's connections to a server port over to another address of its pool:
 * what another subscriber of the same ISP doing the same would look like. */
struct move {
    const char *server;
    uint16_t port;
    const char *from, *to;
};

static void move_client(const struct move *move, uint8_t *ip, uint32_t size)
{
    if (move == NULL || size < 24 || ip[0] >> 4 != 4 || ip[9] != 6)
        return;
    uint8_t server[4], from[4], to[4];
    cr_assert(inet_pton(AF_INET, move->server, server) == 1 &&
              inet_pton(AF_INET, move->from, from) == 1 && inet_pton(AF_INET, move->to, to) == 1);
    uint32_t l4 = 4u * (ip[0] & 0x0f);
    if (size < l4 + 4)
        return;
    uint16_t source_port = (uint16_t)(ip[l4] << 8 | ip[l4 + 1]);
    uint16_t destination_port = (uint16_t)(ip[l4 + 2] << 8 | ip[l4 + 3]);
    /* The decoder checks no IP checksum, so the addresses alone are changed. */
    if (memcmp(ip + 12, from, 4) == 0 && memcmp(ip + 16, server, 4) == 0 &&
        destination_port == move->port)
        memcpy(ip + 12, to, 4);
    else if (memcmp(ip + 12, server, 4) == 0 && memcmp(ip + 16, from, 4) == 0 &&
             source_port == move->port)
        memcpy(ip + 16, to, 4);
}

/* Replays the capture under the policy into `sensors` sensors (1, or up to WORKERS_MAX, each
 * packet to the one the fanout program picks) sharing `parts`, and returns the lines of
 * `type`. */
static void replay(const char *capture, const char *policy_path, int sensors, unsigned parts,
                   const char *type, const struct move *move, struct lines *out)
{
    char error[1024];
    struct policy *policy = policy_load(policy_path, error, sizeof(error));
    cr_assert_not_null(policy, "%s", error);
    cr_assert(sensors >= 1 && sensors <= WORKERS_MAX);
    /* glibc raises its mmap threshold after a large block is freed, and then zeroes every
     * later table by hand: tens of sensors made and freed here would take seconds. */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    struct worker_share share = {0};
    if (parts & SHARE_SYNS)
        share.syns = inbox_set_new((unsigned)sensors, 64, sizeof(struct shared_syn));
    if (parts & SHARE_SERVERS)
        share.servers = inbox_set_new((unsigned)sensors, 64, sizeof(struct shared_server_note));
    if (parts & SHARE_FINDINGS)
        share.findings = once_share_new(64);
    /* Where replies were seen is shared between workers whenever anything is (it is in
     * shared memory with --workers): silence is evidence where any worker saw replies. */
    static bool return_seen[256];
    memset(return_seen, 0, sizeof(return_seen));
    cr_assert_lt(policy->segment_count + 1, sizeof(return_seen));
    if (parts != 0)
        share.return_seen = return_seen;
    struct sock_filter program[FANOUT_PROGRAM_MAX];
    int program_length =
        fanout_program(program, FANOUT_PROGRAM_MAX, policy_ipv6_subscriber_bits(policy));
    cr_assert_gt(program_length, 0);

    static struct events events[WORKERS_MAX];
    static struct bus buses[WORKERS_MAX];
    static struct memory_sink sinks[WORKERS_MAX];
    struct sensor *sensor[WORKERS_MAX];
    static const char *const names[1] = {"replay0"};
    for (int w = 0; w < sensors; w++) {
        memset(&sinks[w], 0, sizeof(sinks[w]));
        sinks[w].base.ops = &memory_ops;
        sinks[w].base.name = "memory";
        events_init(&events[w], policy);
        /* As in the program: a worker leaves coverage and sensor_stats to the parent. */
        events[w].skip_periodic = sensors > 1;
        cr_assert_eq(events_add_sink(&events[w], &sinks[w].base), 0);
        bus_init(&buses[w]);
        cr_assert_eq(bus_subscribe(&buses[w], events_subscriber(&events[w])), 0);
        worker_share_set_worker(&share, (unsigned)w);
        sensor[w] = sensor_new(policy, &buses[w], names, 1, sensors > 1 ? &share : NULL);
        cr_assert_not_null(sensor[w]);
    }

    char pcap_error[PCAP_ERRBUF_SIZE];
    pcap_t *pcap = pcap_open_offline(capture, pcap_error);
    cr_assert_not_null(pcap, "%s", pcap_error);
    cr_assert_eq(pcap_datalink(pcap), DLT_EN10MB);
    struct pcap_pkthdr *header;
    const u_char *data;
    static uint8_t frame[65536];
    packet_time ticked = 0;
    while (pcap_next_ex(pcap, &header, &data) == 1) {
        cr_assert_leq(header->caplen, sizeof(frame));
        memcpy(frame, data, header->caplen);
        int w = 0;
        if (header->caplen >= 14) {
            /* As the kernel hands it to the program: the outer 802.1Q tag taken off into
             * metadata, protocol and network header after it. */
            uint32_t offset = 12;
            uint16_t protocol = (uint16_t)(frame[offset] << 8 | frame[offset + 1]);
            if (protocol == 0x8100 && header->caplen >= 18) {
                offset += 4;
                protocol = (uint16_t)(frame[offset] << 8 | frame[offset + 1]);
            }
            offset += 2;
            if (protocol == 0x0800)
                move_client(move, frame + offset, header->caplen - offset);
            if (sensors > 1)
                w = (int)(cbpf_run(program, program_length, protocol, frame + offset,
                                   header->caplen - offset) %
                          (uint32_t)sensors);
        }
        worker_share_set_worker(&share, (unsigned)w);
        packet_time ts = (packet_time)header->ts.tv_sec * PACKET_TIME_SECOND + header->ts.tv_usec;
        sensor_packet(sensor[w], DLT_EN10MB, 0, ts, frame, header->caplen, header->len);
        /* Live, every worker's clock runs on its idle ticks too (the wall clock): the others
         * are ticked to this packet's time, each second. */
        if (sensors > 1 && ts / PACKET_TIME_SECOND != ticked / PACKET_TIME_SECOND) {
            ticked = ts;
            for (int other = 0; other < sensors; other++) {
                if (other == w)
                    continue;
                worker_share_set_worker(&share, (unsigned)other);
                sensor_tick(sensor[other], ts);
            }
        }
    }
    pcap_close(pcap);

    out->count = 0;
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "{\"type\":\"%s\",", type);
    for (int w = 0; w < sensors; w++) {
        worker_share_set_worker(&share, (unsigned)w);
        sensor_finish(sensor[w], "end_of_input");
        for (size_t i = 0; i < sinks[w].count; i++) {
            if (strncmp(sinks[w].lines[i], prefix, strlen(prefix)) == 0)
                out->text[out->count++] = sinks[w].lines[i];
            else
                free(sinks[w].lines[i]);
        }
        sensor_free(sensor[w]);
        events_close(&events[w]);
    }
    qsort(out->text, out->count, sizeof(out->text[0]), by_text);
    worker_share_free(&share);
    policy_free(policy);
}

static void lines_free(struct lines *lines)
{
    for (size_t i = 0; i < lines->count; i++)
        free(lines->text[i]);
    lines->count = 0;
}

static bool same(const struct lines *a, const struct lines *b)
{
    if (a->count != b->count)
        return false;
    for (size_t i = 0; i < a->count; i++) {
        if (strcmp(a->text[i], b->text[i]) != 0)
            return false;
    }
    return true;
}

static void same_lines(const struct lines *expected, const struct lines *got, const char *what)
{
    cr_assert_eq(got->count, expected->count, "%s: %zu lines, one sensor wrote %zu", what,
                 got->count, expected->count);
    for (size_t i = 0; i < got->count; i++)
        cr_assert_str_eq(got->text[i], expected->text[i], "%s", what);
}

#define CAPTURE(name) OP25B_SOURCE_DIR "/pcaps/" name
#define POLICY(name) OP25B_SOURCE_DIR "/tests/scenarios/" name

/* For 2 to 8 workers: sharing gives one sensor's lines; and for some count the fanout
 * does split what the finding needs, shown by the lines a run without the sharing writes. */
static void across_worker_counts(const char *capture, const char *policy, const char *type,
                                 unsigned without, const struct move *move, size_t at_least)
{
    static struct lines one, shared, apart;
    replay(capture, policy, 1, 0, type, move, &one);
    cr_assert_geq(one.count, at_least, "one sensor wrote %zu %s", one.count, type);
    int split = 0;
    for (int workers = 2; workers <= WORKERS_MAX; workers++) {
        char what[64];
        snprintf(what, sizeof(what), "%d workers sharing", workers);
        replay(capture, policy, workers, SHARE_ALL, type, move, &shared);
        same_lines(&one, &shared, what);
        lines_free(&shared);
        replay(capture, policy, workers, without, type, move, &apart);
        if (!same(&one, &apart))
            split = workers;
        lines_free(&apart);
    }
    cr_assert_neq(split, 0, "the fanout never split what a %s needs", type);
    lines_free(&one);
}

Test(workers, triangular_spam_is_joined_across_workers_as_one_sensor_joins_it)
{
    /* Without the inboxes a split triangle is lost. */
    across_worker_counts(CAPTURE("scenario-evasion-triangular.pcap"), POLICY("evasion.yaml"),
                         "triangular_spam", SHARE_ALL & ~SHARE_SYNS, NULL, 5);
}

Test(workers, an_open_msa_is_reported_once_a_window_over_all_workers)
{
    /* Without the table a server whose subscribers reach two workers is reported twice. */
    across_worker_counts(CAPTURE("scenario-submission-open.pcap"), POLICY("submission.yaml"),
                         "open_submission", SHARE_ALL & ~SHARE_FINDINGS, NULL, 3);
}

Test(workers, a_third_party_server_is_told_with_every_workers_587_and_465)
{
    /* In the scenario each user reached the server's 587 or 465 itself; here another
     * subscriber of the pool does, whose packets may go to another worker. Without the
     * notes a worker counts only its own subscribers' connections. */
    static const struct move another = {"203.0.113.90", 587, "198.51.100.120", "198.51.100.130"};
    across_worker_counts(CAPTURE("scenario-submission-third-party.pcap"), POLICY("submission.yaml"),
                         "third_party_submission", SHARE_ALL & ~SHARE_SERVERS, &another, 5);
}

/* An Ethernet frame on VLAN 100 (the example's FTTH segment): TCP over IPv4. */
static size_t tcp_frame(uint8_t *frame, const char *src, uint16_t sport, const char *dst,
                        uint16_t dport, uint8_t flags)
{
    static const uint8_t macs[12] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1};
    memset(frame, 0, 58);
    memcpy(frame, macs, sizeof(macs));
    frame[12] = 0x81, frame[14] = 0, frame[15] = 100;
    frame[16] = 0x08;
    uint8_t *ip = frame + 18;
    ip[0] = 0x45, ip[3] = 40, ip[8] = 64, ip[9] = 6;
    cr_assert(inet_pton(AF_INET, src, ip + 12) == 1 && inet_pton(AF_INET, dst, ip + 16) == 1);
    uint8_t *tcp = ip + 20;
    tcp[0] = (uint8_t)(sport >> 8), tcp[1] = (uint8_t)sport;
    tcp[2] = (uint8_t)(dport >> 8), tcp[3] = (uint8_t)dport;
    tcp[7] = 1;
    tcp[12] = 5 << 4;
    tcp[13] = flags;
    return 58;
}

/* One worker sees replies from outside on the FTTH segment (a web answer), the other only a
 * subscriber's SYN to port 25 that nothing answers: the silence is evidence when the two
 * share their segment flags, as with --workers, and not when each keeps its own. */
static const char *silence_with_flags_shared(bool shared)
{
    char error[1024];
    struct policy *policy =
        policy_load(OP25B_SOURCE_DIR "/rules/example.yaml", error, sizeof(error));
    cr_assert_not_null(policy, "%s", error);
    static bool flags[2][64];
    memset(flags, 0, sizeof(flags));
    cr_assert_lt(policy->segment_count, 63);
    struct worker_share share = {0};
    if (shared) {
        share.return_seen = flags[0];
        share.outbound_seen = flags[1];
    }
    static struct events events[2];
    static struct bus buses[2];
    static struct memory_sink sinks[2];
    struct sensor *sensor[2];
    static const char *const names[1] = {"live0"};
    for (int w = 0; w < 2; w++) {
        memset(&sinks[w], 0, sizeof(sinks[w]));
        sinks[w].base.ops = &memory_ops;
        sinks[w].base.name = "memory";
        events_init(&events[w], policy);
        cr_assert_eq(events_add_sink(&events[w], &sinks[w].base), 0);
        bus_init(&buses[w]);
        cr_assert_eq(bus_subscribe(&buses[w], events_subscriber(&events[w])), 0);
        sensor[w] = sensor_new(policy, &buses[w], names, 1, &share);
        cr_assert_not_null(sensor[w]);
    }
    packet_time t0 = (packet_time)1768467600 * PACKET_TIME_SECOND;
    uint8_t frame[64];
    size_t size = tcp_frame(frame, "192.0.2.80", 443, "203.0.113.10", 50000, 0x12);
    sensor_packet(sensor[0], DLT_EN10MB, 0, t0, frame, (uint32_t)size, (uint32_t)size);
    /* A first packet waits for the next packet or a tick to vouch for its time (the packet
     * clock, util/packet_clock.h): live, the idle wall clock ticks each worker. */
    sensor_tick(sensor[0], t0 + 500);
    size = tcp_frame(frame, "203.0.113.20", 40000, "192.0.2.99", 25, 0x02);
    sensor_packet(sensor[1], DLT_EN10MB, 0, t0 + 1000, frame, (uint32_t)size, (uint32_t)size);
    sensor_tick(sensor[1], t0 + 40 * PACKET_TIME_SECOND); /* past timeouts.syn */
    static char attempt[EVENT_LINE_MAX];
    attempt[0] = '\0';
    for (size_t i = 0; i < sinks[1].count; i++) {
        if (strncmp(sinks[1].lines[i], "{\"type\":\"attempt\"", 17) == 0)
            snprintf(attempt, sizeof(attempt), "%s", sinks[1].lines[i]);
    }
    for (int w = 0; w < 2; w++) {
        sensor_finish(sensor[w], "end_of_input");
        for (size_t i = 0; i < sinks[w].count; i++)
            free(sinks[w].lines[i]);
        sensor_free(sensor[w]);
        events_close(&events[w]);
    }
    policy_free(policy);
    cr_assert_neq(attempt[0], '\0', "no attempt was decided");
    return attempt;
}

Test(workers, silence_is_evidence_where_any_worker_saw_replies)
{
    const char *shared = silence_with_flags_shared(true);
    cr_assert_not_null(strstr(shared, "\"evidence\":[\"no_reply\"]"), "%s", shared);
    cr_assert_not_null(strstr(shared, "\"close_reason\":\"syn_timeout\""), "%s", shared);
    const char *apart = silence_with_flags_shared(false);
    cr_assert_not_null(strstr(apart, "\"evidence\":[]"), "%s", apart);
}

/* ---- submission_migration: the workers' counts add up to one sensor's ---- */

#define TOTALS_MAX 256

struct total {
    char key[160]; /* msa|pool|field */
    uint64_t value;
};

/* The text of a string field, or "" when the line has none. */
static void string_field(const char *line, const char *name, char *out, size_t size)
{
    char pattern[64];
    snprintf(pattern, sizeof(pattern), "\"%s\":\"", name);
    const char *at = strstr(line, pattern);
    out[0] = '\0';
    if (at == NULL)
        return;
    at += strlen(pattern);
    size_t length = strcspn(at, "\"");
    snprintf(out, size, "%.*s", (int)(length < size ? length : size - 1), at);
}

static void add_total(struct total *totals, size_t *count, const char *key, uint64_t value)
{
    for (size_t i = 0; i < *count; i++) {
        if (strcmp(totals[i].key, key) == 0) {
            totals[i].value += value;
            return;
        }
    }
    cr_assert_lt(*count, TOTALS_MAX);
    snprintf(totals[*count].key, sizeof(totals[*count].key), "%s", key);
    totals[(*count)++].value = value;
}

/* Every connections_* and subscribers* count of the lines, summed per MSA and pool. */
static size_t migration_totals(const struct lines *lines, struct total *totals)
{
    size_t count = 0;
    for (size_t i = 0; i < lines->count; i++) {
        const char *line = lines->text[i];
        char msa[64], pool[64];
        string_field(line, "msa", msa, sizeof(msa));
        string_field(line, "pool", pool, sizeof(pool));
        for (const char *at = strchr(line, '"'); at != NULL; at = strchr(at + 1, '"')) {
            size_t length = strcspn(at + 1, "\"");
            bool counted =
                strncmp(at + 1, "connections", 11) == 0 || strncmp(at + 1, "subscribers", 11) == 0;
            if (!counted || at[1 + length] != '"' || at[2 + length] != ':')
                continue;
            char key[160];
            snprintf(key, sizeof(key), "%s|%s|%.*s", msa, pool, (int)length, at + 1);
            add_total(totals, &count, key, strtoull(at + length + 3, NULL, 10));
        }
    }
    return count;
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const struct total *)a)->key, ((const struct total *)b)->key);
}

Test(workers, submission_migration_counts_add_up_to_one_sensors)
{
    /* Each worker writes its own events for the subscribers the fanout gives it (one home's
     * /64s of a /56 stay together): over all events, every count sums to one sensor's. (A
     * fanout that hashed the /64 would split that home over 5 workers: 10 FTTH subscribers
     * instead of 9.) */
    const char *capture = CAPTURE("scenario-migration-mix.pcap");
    const char *policy = POLICY("migration-close.yaml");
    static struct lines one, split;
    static struct total expected[TOTALS_MAX], got[TOTALS_MAX];
    replay(capture, policy, 1, 0, "submission_migration", NULL, &one);
    size_t expected_count = migration_totals(&one, expected);
    qsort(expected, expected_count, sizeof(expected[0]), by_key);
    cr_assert_gt(expected_count, 0);
    bool spread = false;
    for (int workers = 2; workers <= WORKERS_MAX; workers++) {
        replay(capture, policy, workers, SHARE_ALL, "submission_migration", NULL, &split);
        /* More lines than one sensor's: some MSA and pool's subscribers went to two workers. */
        spread |= split.count > one.count;
        size_t got_count = migration_totals(&split, got);
        qsort(got, got_count, sizeof(got[0]), by_key);
        cr_assert_eq(got_count, expected_count, "%d workers: %zu counts, one sensor %zu", workers,
                     got_count, expected_count);
        for (size_t i = 0; i < got_count; i++) {
            cr_assert_str_eq(got[i].key, expected[i].key);
            cr_assert_eq(got[i].value, expected[i].value, "%d workers: %s is %llu, one sensor %llu",
                         workers, got[i].key, (unsigned long long)got[i].value,
                         (unsigned long long)expected[i].value);
        }
        lines_free(&split);
    }
    cr_assert(spread, "the fanout never spread one MSA and pool's subscribers over workers");
    lines_free(&one);
}

/* ---- attempt_summary: each subscriber's summary is written by the one worker that has it ---- */

/* The line without its "ts", which is when the summary was written: a worker's clock, ticked
 * between its packets, writes it at another instant than one sensor's. */
static void blank_ts(struct lines *lines)
{
    for (size_t i = 0; i < lines->count; i++) {
        char *ts = strstr(lines->text[i], "\"ts\":\"");
        cr_assert_not_null(ts);
        for (char *c = ts + 6; *c != '\0' && *c != '"'; c++)
            *c = '-';
    }
    qsort(lines->text, lines->count, sizeof(lines->text[0]), by_text);
}

Test(workers, attempt_summaries_are_one_sensors_over_the_workers)
{
    /* The fanout keeps a subscriber in one worker, so its blocked attempts fold into one
     * summary there, the same line one sensor writes. */
    const char *capture = CAPTURE("scenario-subscribers-bots.pcap");
    const char *policy = POLICY("subscribers-summary.yaml");
    static struct lines one, split;
    replay(capture, policy, 1, 0, "attempt_summary", NULL, &one);
    cr_assert_gt(one.count, 0, "the policy summarizes none of the capture's attempts");
    blank_ts(&one);
    for (int workers = 2; workers <= WORKERS_MAX; workers += 3) {
        replay(capture, policy, workers, SHARE_ALL, "attempt_summary", NULL, &split);
        blank_ts(&split);
        same_lines(&one, &split, "attempt_summary");
        lines_free(&split);
    }
    lines_free(&one);
}

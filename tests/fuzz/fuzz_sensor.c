/* libFuzzer target for the whole pipeline (src/sensor.c): decode, segments, flow table,
 * SMTP, verdicts and event lines, under the scenario policy tests/scenarios/edge.yaml (or
 * the file named by OP25B_FUZZ_POLICY in the environment). Input:
 *   byte 0    the link type (fuzz_common.h)
 *   then packets, each a 2-byte big-endian header and the frame:
 *     bits 12-15  how far packet time moves before this packet (time_steps_ms)
 *     bits 0-11   the frame length (cut short where the input ends)
 * The steps straddle the policy's timers (syn 30 s, smtp_idle 600 s, stats 60 s) and the
 * packet clock's jump (60 s, util/packet_clock.h) so the fuzzer reaches expiry and held
 * packets as easily as new packets. make_seeds.py writes captures this way, also with frames
 * cut at snap lengths (the IP length then says more than was captured) and with neighbouring
 * frames swapped (the streams' reordering window). Invariants: every attempt tracked is
 * reported once, counters add up, nothing is left open at the end.
 * Byte 0: bits 0-4 pick the link type; with bit 7 set, two sensors take the packets in turn,
 * as two workers (--workers) sharing what they saw (worker_share.h); with bit 6 set, steps 14
 * and 15 damage the timestamp instead: the packet is stamped 2^28 s (8.5 years) behind or
 * ahead of the time, which goes on unchanged for the next packet, as a flipped bit does.
 * With bit 5 set, the rest of the input is a capture file (pcap or pcapng) read through
 * src/capture/ as a file given with -r: libpcap's readers with every pcapng option
 * (if_tsoffset, if_tsresol...), and capture's checks of the times they give. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "capture/capture.h"
#include "output/event.h"
#include "fuzz_common.h"
#include "util/log.h"
#include "policy/policy.h"
#include "sensor.h"
#include "output/sink.h"
#include "workers/worker_share.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Milliseconds; the large steps sit just either side of the timers. */
static const uint32_t time_steps_ms[16] = {
    0,     1,     10,    100,   500,    1000,   2000,    5000,
    10000, 29000, 31000, 60000, 301000, 601000, 1801000, 3601000,
};

/* 2023-11-14T22:13:20Z: any fixed start; only differences matter to the sensor. */
#define START_TIME ((packet_time)1700000000 * PACKET_TIME_SECOND)
#define LINK_SELECTOR_MASK 0x1f
#define TWO_WORKERS 0x80
#define DAMAGED_TIMES 0x40
#define CAPTURE_FILE 0x20
#define DAMAGE (((packet_time)1 << 28) * PACKET_TIME_SECOND)

static struct policy *policy;

/* Keeps nothing, but checks each line is one JSON object on one line (dashboards/events.md). */
struct check_sink {
    struct sink base;
    uint64_t attempts;
    uint64_t lines;
};

FUZZ_CHECKER static int check_write(struct sink *sink, const struct event_line *line)
{
    struct check_sink *check = (struct check_sink *)sink;
    if (line->text == NULL || line->length < 3 || line->type == NULL)
        FUZZ_FAIL("an empty event line");
    if (line->text[0] != '{' || line->text[line->length - 1] != '\n' ||
        line->text[line->length - 2] != '}')
        FUZZ_FAIL("an event line is not one JSON object ending in a newline");
    for (size_t i = 0; i + 1 < line->length; i++) {
        /* JSON escapes every control character inside strings (RFC 8259 section 7). */
        if ((unsigned char)line->text[i] < 0x20)
            FUZZ_FAIL("a raw control character inside an event line");
    }
    if (strncmp(line->text, "{\"type\":\"", 9) != 0 ||
        strncmp(line->text + 9, line->type, strlen(line->type)) != 0)
        FUZZ_FAIL("an event line does not start with its type");
    if (line->key != NULL && strnlen(line->key, line->key_length + 1) != line->key_length)
        FUZZ_FAIL("an event key is not a string of key_length bytes");
    check->lines++;
    if (strcmp(line->type, "attempt") == 0)
        check->attempts++;
    return 0;
}

static int check_flush(struct sink *sink)
{
    (void)sink;
    return 0;
}

static uint64_t check_close(struct sink *sink)
{
    (void)sink;
    return 0;
}

static const struct sink_ops check_ops = {
    .write = check_write, .flush = check_flush, .close = check_close};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_check_link_types();
    log_set_level(LOG_ERROR);
    const char *path = getenv("OP25B_FUZZ_POLICY");
    if (path == NULL || path[0] == '\0')
        path = OP25B_FUZZ_POLICY;
    char error[1024];
    policy = policy_load(path, error, sizeof(error));
    if (policy == NULL) {
        fprintf(stderr, "fuzz_sensor: %s\n", error);
        exit(2);
    }
    /* Small tables, so a short input can fill them and reach eviction and the dialogues
     * left unparsed; a sensor is built for each input, and these keep that cheap. */
    policy->limits.flows = 64;
    policy->limits.sessions = 8;
    return 0;
}

/* "An outlier timestamp does not move the clock; timers never run backwards": the clock only
 * goes forward and stays within the years RFC 3339 can write. Without damage, time only
 * goes forward in the input, so a packet is never judged later than it is stamped. */
FUZZ_CHECKER static void check_clock(const struct sensor *sensor, packet_time before,
                                     packet_time stamped, bool damaged)
{
    packet_time now = sensor_now(sensor);
    /* before is 0 until the first packet is judged: the clock then starts, at any time. */
    if (before != 0 && now < before)
        FUZZ_FAIL("the packet clock went back");
    if (now != 0 && (now < PACKET_TIME_MIN || now > PACKET_TIME_MAX))
        FUZZ_FAIL("the packet clock left the four-digit years");
    if (!damaged && now > stamped)
        FUZZ_FAIL("the clock ran ahead of the packets");
}

FUZZ_CHECKER static void check_counters(const struct sensor *sensor, const struct check_sink *sink,
                                        const struct events *events, uint64_t packets, bool damaged)
{
    const struct sensor_counters *counters = sensor_counters(sensor);
    if (counters->packets != packets)
        FUZZ_FAIL("packets were lost on the way in");
    uint64_t decoded = 0;
    for (int r = 0; r < DECODE_RESULT_COUNT; r++)
        decoded += counters->decode[r];
    if (decoded != packets)
        FUZZ_FAIL("decode results do not add up to the packets");
    /* With time only going forward, every jump is vouched for by the packet after it: only
     * the last can be left an outlier, and none is a regression. */
    if (!damaged && (counters->time_outliers > 1 || counters->time_regressions > 0))
        FUZZ_FAIL("undamaged forward time judged %llu outliers and %llu regressions",
                  (unsigned long long)counters->time_outliers,
                  (unsigned long long)counters->time_regressions);
    if (counters->time_outliers + counters->time_regressions > packets)
        FUZZ_FAIL("more packets judged off their time than packets");
    /* sensor_finish decides every open attempt: nothing is left behind. */
    if (counters->flows_active != 0 || counters->sessions_active != 0)
        FUZZ_FAIL("flows or dialogue parsers left open after sensor_finish");
    /* Each attempt tracked is reported exactly once, whether it timed out, closed, was
     * evicted or was open at the end. */
    if (sink->attempts != counters->flows_created)
        FUZZ_FAIL("attempt events differ from attempts tracked");
    if (counters->flow_evictions > counters->flows_created)
        FUZZ_FAIL("more evictions than flows");
    /* A copy is a packet that decoded; a packet reordered back is one that was held. */
    if (counters->duplicates > counters->decode[DECODE_OK])
        FUZZ_FAIL("more duplicates than packets decoded");
    if (counters->stream_reordered > counters->decode[DECODE_OK])
        FUZZ_FAIL("more segments put in order than packets decoded");
    if (counters->syn_after_close + counters->flows_created > counters->decode[DECODE_OK])
        FUZZ_FAIL("more SYNs and attempts than packets decoded");
    if (events->oversize != 0)
        FUZZ_FAIL("an event did not fit EVENT_LINE_MAX");
    if (events->sink_errors != 0)
        FUZZ_FAIL("sink errors counted for a sink that never fails");

    uint64_t judged = 0;
    const struct coverage *coverage = sensor_coverage(sensor);
    for (size_t p = 0; p < policy->pool_count; p++) {
        judged += coverage_attempts(coverage_get(coverage, (int)p, ADDRESS_V4));
        judged += coverage_attempts(coverage_get(coverage, (int)p, ADDRESS_V6));
    }
    if (judged != counters->flows_created)
        FUZZ_FAIL("coverage counts differ from attempts tracked");
}

/* A capture file as -r reads it: every time capture hands over lies within the four-digit
 * years whatever the file's offsets and resolutions say, and every packet read reaches the
 * sensor and is judged once. */
FUZZ_CHECKER static void check_capture_packet(const struct capture_packet *packet)
{
    if (packet->ts < PACKET_TIME_MIN || packet->ts > PACKET_TIME_MAX)
        FUZZ_FAIL("capture handed over a time outside the years 0000-9999");
    if (packet->captured_length > 0 && packet->data == NULL)
        FUZZ_FAIL("captured bytes without data");
}

static int capture_file_input(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz-capture", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    if (size > 0 && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    const char *files[1] = {path};
    struct capture_options options = {.files = files, .file_count = 1};
    enum capture_error kind;
    char error[512];
    struct capture *capture = capture_open(&options, &kind, error, sizeof(error));
    if (capture == NULL) {
        close(fd);
        return 0;
    }
    static struct events events;
    static struct bus bus;
    struct check_sink sink = {.base = {.ops = &check_ops, .name = "fuzz"}};
    events_init(&events, policy);
    events_add_sink(&events, &sink.base);
    bus_init(&bus);
    if (bus_subscribe(&bus, events_subscriber(&events)) != 0)
        FUZZ_FAIL("bus_subscribe failed");
    const char *names[1] = {path};
    struct sensor *sensor = sensor_new(policy, &bus, names, 1, NULL);
    if (sensor == NULL)
        FUZZ_FAIL("sensor_new failed");
    sensor_set_snaplen(sensor, capture_snaplen(capture));
    uint64_t packets = 0;
    struct capture_packet packet;
    while (capture_next(capture, &packet) == CAPTURE_PACKET) {
        check_capture_packet(&packet);
        packet_time before = sensor_now(sensor);
        sensor_packet(sensor, packet.linktype, packet.source, packet.ts, packet.data,
                      packet.captured_length, packet.wire_length);
        packets++;
        check_clock(sensor, before, packet.ts, true);
    }
    sensor_finish(sensor, "end_of_input");
    check_counters(sensor, &sink, &events, packets, true);
    sensor_free(sensor);
    events_close(&events);
    capture_close(capture);
    close(fd);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & CAPTURE_FILE)
        return capture_file_input(data + 1, size - 1);
    unsigned workers = (data[0] & TWO_WORKERS) ? 2 : 1;
    bool damaged = data[0] & DAMAGED_TIMES;
    /* Made for each input: posts left over from one input must not reach the next. */
    struct worker_share shared = {0};
    struct worker_share *share = NULL;
    if (workers > 1) {
        /* Small, so that a short input fills them too. */
        static const struct worker_share_sizes small = {.syns = 16, .servers = 16, .findings = 16};
        if (!worker_share_init(&shared, workers, policy->segment_count, &small))
            FUZZ_FAIL("worker_share_init failed");
        share = &shared;
    }
    static struct events events[2]; /* each holds an 8 KiB line buffer */
    static struct bus buses[2];
    struct check_sink sinks[2];
    struct sensor *sensors[2];
    static const char *const source_names[1] = {"fuzz0"};
    for (unsigned w = 0; w < workers; w++) {
        sinks[w] = (struct check_sink){.base = {.ops = &check_ops, .name = "fuzz"}};
        events_init(&events[w], policy);
        events_add_sink(&events[w], &sinks[w].base);
        bus_init(&buses[w]);
        if (bus_subscribe(&buses[w], events_subscriber(&events[w])) != 0)
            FUZZ_FAIL("bus_subscribe failed");
        if (share != NULL)
            worker_share_set_worker(share, w);
        sensors[w] = sensor_new(policy, &buses[w], source_names, 1, share);
        if (sensors[w] == NULL)
            FUZZ_FAIL("sensor_new failed");
    }

    int linktype = fuzz_link_type(data[0] & LINK_SELECTOR_MASK);
    size_t offset = 1;
    packet_time now = START_TIME;
    uint64_t packets[2] = {0, 0};
    unsigned turn = 0;
    while (size - offset >= 2) {
        uint16_t header = (uint16_t)(data[offset] << 8 | data[offset + 1]);
        offset += 2;
        size_t length = header & 0x0fff;
        if (length > size - offset)
            length = size - offset;
        unsigned step = header >> 12;
        packet_time stamped;
        if (damaged && step >= 14) {
            stamped = step == 15 ? now + DAMAGE : now - DAMAGE;
        } else {
            now += (packet_time)time_steps_ms[step] * 1000;
            stamped = now;
        }
        /* A copy of exactly the frame, so a read past it is caught by ASan. */
        uint8_t *frame = malloc(length);
        if (frame == NULL && length > 0)
            break;
        if (length > 0)
            memcpy(frame, data + offset, length);
        unsigned w = turn++ % workers;
        if (share != NULL)
            worker_share_set_worker(share, w);
        packet_time before = sensor_now(sensors[w]);
        sensor_packet(sensors[w], linktype, 0, stamped, frame, (uint32_t)length, (uint32_t)length);
        free(frame);
        packets[w]++;
        offset += length;
        check_clock(sensors[w], before, stamped, damaged);
    }
    for (unsigned w = 0; w < workers; w++) {
        if (share != NULL)
            worker_share_set_worker(share, w);
        sensor_finish(sensors[w], "end_of_input");
        check_counters(sensors[w], &sinks[w], &events[w], packets[w], damaged);
        sensor_free(sensors[w]);
        events_close(&events[w]);
    }
    if (share != NULL)
        worker_share_free(share);
    return 0;
}

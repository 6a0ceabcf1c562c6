/* The sensor's packet time (src/sensor.c with util/packet_clock.c): a damaged timestamp does
 * not move the clock, a real jump does with one periodic report whatever its size, any int64
 * timestamp is safe, and the counters of the snap length and of time add up. The bus is
 * listened to directly: periodic records and attempts, no JSON. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "decode/decode.h"
#include "policy/policy.h"
#include "record/bus.h"
#include "sensor.h"

#define S PACKET_TIME_SECOND
#define BASE ((packet_time)1768467600 * S) /* 2026-01-15T09:00:00Z */
#define LINK_ETHERNET 1

static const char POLICY[] = "sensor: {name: t, position: edge-side, stats_interval: 300s}\n"
                             "own_prefixes: [198.51.100.0/24]\n"
                             "pools:\n"
                             "  - {name: p, type: dynamic, prefixes: [198.51.100.0/24]}\n";

struct heard {
    unsigned periodic;
    unsigned attempts;
    packet_time last_report;
    packet_time attempt_first_seen;
    unsigned attempt_syns;
    uint32_t snaplen;
};

static void on_attempt(void *context, const struct attempt_record *attempt)
{
    struct heard *heard = context;
    heard->attempts++;
    heard->attempt_first_seen = attempt->first_seen;
    heard->attempt_syns = attempt->syn_count;
}

static void on_periodic(void *context, const struct periodic_record *periodic)
{
    struct heard *heard = context;
    if (!periodic->final)
        heard->periodic++;
    heard->last_report = periodic->now;
    heard->snaplen = periodic->snaplen;
}

static struct policy *policy;
static struct bus bus;
static struct heard heard;
static struct sensor *sensor;

static void setup(void)
{
    char error[512];
    policy = policy_load_text("t.yaml", POLICY, strlen(POLICY), error, sizeof(error));
    cr_assert_not_null(policy, "%s", error);
    bus_init(&bus);
    memset(&heard, 0, sizeof(heard));
    cr_assert_eq(bus_subscribe(&bus, (struct bus_subscriber){.attempt = on_attempt,
                                                             .periodic = on_periodic,
                                                             .context = &heard}),
                 0);
    static const char *const names[1] = {"test"};
    sensor = sensor_new(policy, &bus, names, 1, NULL);
    cr_assert_not_null(sensor);
}

static void teardown(void)
{
    sensor_free(sensor);
    policy_free(policy);
}

TestSuite(sensor_time, .init = setup, .fini = teardown);

/* An untagged IPv4 TCP segment from a subscriber to port 25 (a SYN unless flags say). */
static size_t segment(uint8_t *frame, uint16_t client_port, uint8_t flags)
{
    memset(frame, 0, 54);
    frame[12] = 0x08;
    uint8_t *ip = frame + 14;
    ip[0] = 0x45;
    ip[3] = 40;
    ip[8] = 64;
    ip[9] = 6;
    inet_pton(AF_INET, "198.51.100.7", ip + 12);
    inet_pton(AF_INET, "203.0.113.25", ip + 16);
    uint8_t *tcp = ip + 20;
    tcp[0] = (uint8_t)(client_port >> 8);
    tcp[1] = (uint8_t)client_port;
    tcp[3] = 25;
    tcp[7] = 1; /* sequence number 1 */
    tcp[12] = 0x50;
    tcp[13] = flags;
    return 54;
}

static void send_at(packet_time ts, uint16_t client_port)
{
    uint8_t frame[64];
    size_t length = segment(frame, client_port, TCP_SYN);
    sensor_packet(sensor, LINK_ETHERNET, 0, ts, frame, (uint32_t)length, (uint32_t)length);
}

/* A day of silence between two packets, vouched for by the one after: one periodic report,
 * not one for every 300-second interval crossed (288). */
Test(sensor_time, a_day_long_jump_writes_one_report)
{
    send_at(BASE, 40000);
    send_at(BASE + S, 40001);
    send_at(BASE + 86400 * S, 40002);
    send_at(BASE + 86400 * S + S, 40003);
    cr_assert_eq(heard.periodic, 1);
    cr_assert_eq(heard.last_report, BASE + 86400 * S);
    cr_assert_eq(sensor_now(sensor), BASE + 86400 * S + S);
    cr_assert_eq(sensor_counters(sensor)->time_outliers, 0);
    sensor_finish(sensor, "end_of_input");
    cr_assert_eq(sensor_counters(sensor)->packets, 4);
}

/* A flipped bit in the middle of an attempt's SYN retransmissions: the attempt stays one, the
 * clock stays in 2026, the outlier is counted, and no timer ran in 2028. */
Test(sensor_time, a_flipped_bit_is_an_outlier)
{
    send_at(BASE, 40000);
    send_at(BASE + S, 40000);
    send_at(BASE + 3 * S + ((packet_time)1 << 26) * S, 40000);
    send_at(BASE + 7 * S, 40000);
    cr_assert_eq(sensor_now(sensor), BASE + 7 * S);
    cr_assert_eq(heard.periodic, 0);
    cr_assert_eq(heard.attempts, 0, "the attempt is still open");
    sensor_finish(sensor, "end_of_input");
    const struct sensor_counters *counters = sensor_counters(sensor);
    cr_assert_eq(counters->time_outliers, 1);
    cr_assert_eq(counters->time_regressions, 0);
    cr_assert_eq(counters->packets, 4);
    cr_assert_eq(heard.attempts, 1);
    cr_assert_eq(heard.attempt_syns, 4);
    cr_assert_eq(heard.attempt_first_seen, BASE);
}

/* What a garbled pcapng offset once produced: every packet's time at either end of int64. The
 * clock stays within the four-digit years and the reports come at most once per jump. */
Test(sensor_time, extreme_timestamps_stay_in_range)
{
    static const packet_time stamps[] = {INT64_MAX,     INT64_MIN, INT64_MAX - 7, 0,
                                         INT64_MIN + 1, INT64_MAX, INT64_MAX};
    for (size_t i = 0; i < sizeof(stamps) / sizeof(stamps[0]); i++) {
        send_at(stamps[i], (uint16_t)(40000 + i));
        cr_assert(sensor_now(sensor) == 0 ||
                  (sensor_now(sensor) >= PACKET_TIME_MIN && sensor_now(sensor) <= PACKET_TIME_MAX));
    }
    sensor_finish(sensor, "end_of_input");
    cr_assert_leq(heard.periodic, 3);
    cr_assert(heard.last_report >= PACKET_TIME_MIN && heard.last_report <= PACKET_TIME_MAX);
    cr_assert_eq(sensor_counters(sensor)->packets, 7);
}

/* Cut packets are counted, and the snap length reaches the reports. */
Test(sensor_time, cut_packets_and_the_snap_length_are_reported)
{
    sensor_set_snaplen(sensor, 96);
    uint8_t frame[64];
    size_t length = segment(frame, 40000, TCP_SYN);
    sensor_packet(sensor, LINK_ETHERNET, 0, BASE, frame, (uint32_t)length, 74);
    sensor_packet(sensor, LINK_ETHERNET, 0, BASE + S, frame, (uint32_t)length, (uint32_t)length);
    sensor_finish(sensor, "end_of_input");
    cr_assert_eq(sensor_counters(sensor)->packets_cut, 1);
    cr_assert_eq(sensor_counters(sensor)->bytes, 74 + length);
    cr_assert_eq(heard.snaplen, 96);
}

/* Events as Kafka messages (issue #3). The value is the JSON line without its '\n', so a
 * consumer that prints each value followed by a newline (kcat -C) writes the NDJSON file
 * again; the key is the subscriber, so one subscriber's events stay in one partition and
 * in order; headers `type`, `sensor` and `v` (the event's type, the sensor's name and the
 * schema version) let consumers route and join without parsing JSON.
 *
 * The producer is idempotent with acks=all: retries after a broken connection neither lose
 * nor duplicate a message. Packet processing never waits: write() only queues. Messages
 * have no time limit in the producer; its memory bound (queue.buffering.max.kbytes) and,
 * beyond it, the on-disk spool decide where an event waits while the brokers are away. */
#include <librdkafka/rdkafka.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"
#include "output/sink.h"
#include "output/spool.h"

/* Each message carries its produce sequence number as the opaque, with the top bit set
 * when it came out of the spool (its sequence is then its spool ticket). */
#define TAG_FROM_SPOOL ((uintptr_t)1 << (sizeof(uintptr_t) * CHAR_BIT - 1))
#define TAG_SEQUENCE_MASK (TAG_FROM_SPOOL - 1)
#define CLOSE_SLICE_MS 100
#define PURGE_WAIT_SLICES 50

/* A message the producer still held when the close timeout ran out, kept for the spool. */
struct unsent {
    uint64_t sequence;
    bool from_spool;
    char *bytes; /* key, type, value */
    size_t key_length;
    size_t type_length;
    size_t value_length;
};

struct kafka_sink {
    struct sink base;
    rd_kafka_t *producer;
    rd_kafka_topic_t *topic;
    struct spool *spool;
    uint64_t timeout_milliseconds;
    const volatile sig_atomic_t *stop_waiting; /* see sink_kafka_options */
    char *sensor;                              /* the `sensor` header */
    char version[24];                          /* the `v` header */
    bool wait_cut;                             /* close() stopped waiting for it */
    uint64_t queue_kilobytes;
    uint64_t next_sequence;
    uint64_t in_producer;     /* produced, delivery report not yet served */
    uint64_t spooled;         /* appended to the spool */
    uint64_t dropped;         /* could not be queued or spooled */
    uint64_t delivery_errors; /* delivery reports with an error: lost */
    uint64_t delivered;       /* delivery reports without an error */
    bool brokers_down;
    bool fatal;   /* nothing more can be produced in this run */
    bool closing; /* purged messages are collected in unsent[] */
    struct unsent *unsent;
    size_t unsent_count;
    size_t unsent_capacity;
};

static void *message_tag(uint64_t sequence, bool from_spool)
{
    return (void *)(((uintptr_t)sequence & TAG_SEQUENCE_MASK) | (from_spool ? TAG_FROM_SPOOL : 0));
}

/* The tag holds the low bits of the sequence; the full number is the latest one ending in
 * them, right while fewer than 2^63 (2^31 on 32-bit machines) messages are outstanding. */
static uint64_t tag_sequence(const struct kafka_sink *kafka, uintptr_t tag)
{
    uint64_t newest = kafka->next_sequence - 1;
    return newest - ((newest - (tag & TAG_SEQUENCE_MASK)) & TAG_SEQUENCE_MASK);
}

/* Logs the 1st, 10th, 100th... occurrence, so a long outage says how bad it is without
 * writing one line per event. */
static bool worth_logging(uint64_t count)
{
    while (count >= 10 && count % 10 == 0)
        count /= 10;
    return count == 1;
}

static void note_dropped(struct kafka_sink *kafka, const char *why)
{
    kafka->dropped++;
    if (worth_logging(kafka->dropped))
        log_message(LOG_ERROR, "kafka: %" PRIu64 " event%s dropped so far (latest: %s)%s",
                    kafka->dropped, kafka->dropped == 1 ? "" : "s", why,
                    kafka->spool == NULL ? "; --spool DIR keeps what does not fit in memory" : "");
}

static rd_kafka_resp_err_t produce(struct kafka_sink *kafka, const struct spool_record *record,
                                   bool from_spool)
{
    uint64_t sequence = kafka->next_sequence;
    rd_kafka_resp_err_t error = rd_kafka_producev(
        kafka->producer, RD_KAFKA_V_RKT(kafka->topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE((void *)record->value, record->value_length),
        RD_KAFKA_V_KEY(record->key, record->key_length),
        RD_KAFKA_V_HEADER("type", record->type, (ssize_t)record->type_length),
        RD_KAFKA_V_HEADER("sensor", kafka->sensor, (ssize_t)-1),
        RD_KAFKA_V_HEADER("v", kafka->version, (ssize_t)-1),
        RD_KAFKA_V_OPAQUE(message_tag(sequence, from_spool)), RD_KAFKA_V_END);
    if (error == RD_KAFKA_RESP_ERR_NO_ERROR) {
        kafka->next_sequence++;
        kafka->in_producer++;
    }
    return error;
}

/* Whether an event refused by the producer may wait (in the spool) for room: yes when the
 * queue is full of other events, or when the producer failed for good (a later run sends
 * the spool); no when it can never be sent, such as a message larger than the bound. */
static bool may_wait(const struct kafka_sink *kafka, rd_kafka_resp_err_t error)
{
    if (error == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        return kafka->in_producer > 0;
    return error == RD_KAFKA_RESP_ERR__FATAL;
}

static void note_refused(struct kafka_sink *kafka, rd_kafka_resp_err_t error)
{
    char why[128];
    if (error == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        snprintf(why, sizeof(why), "%s the producer queue (%" PRIu64 " KiB)",
                 kafka->in_producer > 0 ? "no room in" : "an event larger than",
                 kafka->queue_kilobytes);
    else
        snprintf(why, sizeof(why), "%s", rd_kafka_err2str(error));
    note_dropped(kafka, why);
}

/* Moves spooled events into the producer, oldest first, while it has room. */
static void refill(struct kafka_sink *kafka)
{
    struct spool_record record;
    while (kafka->spool != NULL && spool_peek(kafka->spool, &record) == 1) {
        uint64_t ticket = kafka->next_sequence;
        rd_kafka_resp_err_t error = produce(kafka, &record, true);
        if (error == RD_KAFKA_RESP_ERR_NO_ERROR) {
            spool_take(kafka->spool, ticket);
            continue;
        }
        if (may_wait(kafka, error))
            return;
        ticket = kafka->next_sequence++;
        spool_take(kafka->spool, ticket);
        spool_settle(kafka->spool, ticket);
        note_refused(kafka, error);
    }
}

/* An event is counted as spooled only once it is written whole; one the spool refuses is
 * lost, and counted as dropped. */
static int to_spool(struct kafka_sink *kafka, const struct spool_record *record)
{
    if (spool_append(kafka->spool, record) != 0) {
        char why[160];
        snprintf(why, sizeof(why), "the spool cannot take it: %s", strerror(errno));
        note_dropped(kafka, why);
        return -1;
    }
    kafka->spooled++;
    return 0;
}

static int kafka_write(struct sink *sink, const struct event_line *line)
{
    struct kafka_sink *kafka = (struct kafka_sink *)sink;
    rd_kafka_poll(kafka->producer, 0);
    size_t length = line->length;
    if (length > 0 && line->text[length - 1] == '\n')
        length--;
    struct spool_record record = {
        .key = line->key,
        .key_length = line->key != NULL ? line->key_length : 0,
        .type = line->type,
        .type_length = strlen(line->type),
        .value = line->text,
        .value_length = length,
    };
    if (kafka->spool != NULL) {
        refill(kafka);
        /* Older events are still on disk: this one queues behind them. */
        if (spool_pending(kafka->spool) > 0)
            return to_spool(kafka, &record);
    }
    rd_kafka_resp_err_t error = produce(kafka, &record, false);
    if (error == RD_KAFKA_RESP_ERR_NO_ERROR)
        return 0;
    if (kafka->spool != NULL && may_wait(kafka, error))
        return to_spool(kafka, &record);
    note_refused(kafka, error);
    return -1;
}

static int kafka_flush(struct sink *sink)
{
    struct kafka_sink *kafka = (struct kafka_sink *)sink;
    rd_kafka_poll(kafka->producer, 0);
    refill(kafka);
    if (kafka->spool != NULL)
        spool_idle(kafka->spool);
    return 0;
}

static void keep_unsent(struct kafka_sink *kafka, const rd_kafka_message_t *message,
                        uint64_t sequence, bool from_spool)
{
    const void *type = NULL;
    size_t type_length = 0;
    rd_kafka_headers_t *headers = NULL;
    if (rd_kafka_message_headers(message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR)
        rd_kafka_header_get_last(headers, "type", &type, &type_length);
    size_t size = message->key_len + type_length + message->len;
    if (kafka->unsent_count == kafka->unsent_capacity) {
        size_t capacity = kafka->unsent_capacity ? kafka->unsent_capacity * 2 : 256;
        struct unsent *grown = realloc(kafka->unsent, capacity * sizeof(*grown));
        if (grown == NULL)
            goto err_lost;
        kafka->unsent = grown;
        kafka->unsent_capacity = capacity;
    }
    char *bytes = malloc(size + 1);
    if (bytes == NULL)
        goto err_lost;
    if (message->key_len > 0)
        memcpy(bytes, message->key, message->key_len);
    if (type_length > 0)
        memcpy(bytes + message->key_len, type, type_length);
    if (message->len > 0)
        memcpy(bytes + message->key_len + type_length, message->payload, message->len);
    kafka->unsent[kafka->unsent_count++] = (struct unsent){
        .sequence = sequence,
        .from_spool = from_spool,
        .bytes = bytes,
        .key_length = message->key_len,
        .type_length = type_length,
        .value_length = message->len,
    };
    return;

err_lost:
    log_message(LOG_ERROR, "kafka: out of memory keeping an unsent event");
}

static void on_delivery(rd_kafka_t *producer, const rd_kafka_message_t *message, void *opaque)
{
    (void)producer;
    struct kafka_sink *kafka = opaque;
    uintptr_t tag = (uintptr_t)message->_private;
    bool from_spool = (tag & TAG_FROM_SPOOL) != 0;
    uint64_t sequence = tag_sequence(kafka, tag);
    kafka->in_producer--;
    if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        kafka->delivered++;
        if (kafka->brokers_down) {
            log_message(LOG_WARNING, "kafka: delivering again");
            kafka->brokers_down = false;
        }
        if (from_spool)
            spool_settle(kafka->spool, sequence);
        return;
    }
    if (kafka->closing && (message->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE ||
                           message->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)) {
        if (kafka->spool != NULL)
            keep_unsent(kafka, message, sequence, from_spool);
        return;
    }
    kafka->delivery_errors++;
    if (from_spool)
        spool_settle(kafka->spool, sequence);
    if (worth_logging(kafka->delivery_errors))
        log_message(LOG_ERROR, "kafka: %" PRIu64 " event%s not delivered so far (latest: %s)",
                    kafka->delivery_errors, kafka->delivery_errors == 1 ? "" : "s",
                    rd_kafka_err2str(message->err));
}

static void on_error(rd_kafka_t *producer, int error, const char *reason, void *opaque)
{
    struct kafka_sink *kafka = opaque;
    if (error == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_fatal_error(producer, why, sizeof(why));
        kafka->fatal = true;
        log_message(LOG_ERROR, "kafka: the producer failed for good: %s; %s", why,
                    kafka->spool != NULL ? "events go to the spool for the next start"
                                         : "events are dropped");
        return;
    }
    if (error == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        if (!kafka->brokers_down)
            log_message(LOG_WARNING,
                        "kafka: no broker reachable; events wait in memory (up to %" PRIu64
                        " KiB)%s",
                        kafka->queue_kilobytes,
                        kafka->spool != NULL ? ", then in the spool" : ", then are dropped");
        kafka->brokers_down = true;
        return;
    }
    /* A broken connection is retried by librdkafka and summed up by ALL_BROKERS_DOWN. */
    log_message(error == RD_KAFKA_RESP_ERR__TRANSPORT ? LOG_INFO : LOG_WARNING, "kafka: %s",
                reason);
}

/* librdkafka's own log lines, served by rd_kafka_poll on our thread (log.queue). Its
 * connection errors (syslog level 3) repeat what on_error reports, so they are debug. */
static void on_log(const rd_kafka_t *producer, int level, const char *facility, const char *message)
{
    (void)producer;
    enum log_level ours = level <= 2   ? LOG_ERROR
                          : level == 4 ? LOG_WARNING
                          : level == 3 ? LOG_DEBUG
                          : level <= 6 ? LOG_INFO
                                       : LOG_DEBUG;
    log_message(ours, "kafka: %s: %s", facility, message);
}

static double monotonic_milliseconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec * 1e3 + (double)now.tv_nsec / 1e6;
}

static int by_sequence(const void *a, const void *b)
{
    uint64_t left = ((const struct unsent *)a)->sequence;
    uint64_t right = ((const struct unsent *)b)->sequence;
    return left < right ? -1 : left > right;
}

/* Puts the purged messages, in the order they were produced, in front of the spool; every
 * record not yet taken from it is younger than each of them. Returns how many the next
 * start sends: those written in front (as many as the disk took, from the oldest), and
 * those from the spool that could not be, whose segment, left unsettled, is read again. */
static uint64_t save_unsent(struct kafka_sink *kafka)
{
    if (kafka->unsent_count == 0)
        return 0;
    qsort(kafka->unsent, kafka->unsent_count, sizeof(*kafka->unsent), by_sequence);
    struct spool_record *records = calloc(kafka->unsent_count, sizeof(*records));
    size_t written = 0;
    if (records != NULL) {
        for (size_t i = 0; i < kafka->unsent_count; i++) {
            const struct unsent *unsent = &kafka->unsent[i];
            records[i] = (struct spool_record){
                .key = unsent->bytes,
                .key_length = unsent->key_length,
                .type = unsent->bytes + unsent->key_length,
                .type_length = unsent->type_length,
                .value = unsent->bytes + unsent->key_length + unsent->type_length,
                .value_length = unsent->value_length,
            };
        }
        written = spool_prepend(kafka->spool, records, kafka->unsent_count);
        free(records);
    }
    uint64_t kept = 0;
    for (size_t i = 0; i < kafka->unsent_count; i++) {
        const struct unsent *unsent = &kafka->unsent[i];
        if (i < written && unsent->from_spool)
            spool_settle(kafka->spool, unsent->sequence);
        if (i < written || unsent->from_spool)
            kept++;
    }
    return kept;
}

static void free_unsent(struct kafka_sink *kafka)
{
    for (size_t i = 0; i < kafka->unsent_count; i++)
        free(kafka->unsent[i].bytes);
    free(kafka->unsent);
    kafka->unsent = NULL;
    kafka->unsent_count = kafka->unsent_capacity = 0;
}

/* Waits for every delivery report, and for the spool to empty, until the timeout. */
static void drain(struct kafka_sink *kafka)
{
    double deadline = monotonic_milliseconds() + (double)kafka->timeout_milliseconds;
    for (;;) {
        rd_kafka_poll(kafka->producer, 0);
        refill(kafka);
        if (kafka->in_producer == 0 &&
            (kafka->spool == NULL || spool_pending(kafka->spool) == 0 || kafka->fatal))
            break;
        /* Checked every slice: the operator's second signal ends the wait within one. */
        if (kafka->stop_waiting != NULL && *kafka->stop_waiting) {
            kafka->wait_cut = true;
            break;
        }
        double left = deadline - monotonic_milliseconds();
        if (left <= 0)
            break;
        rd_kafka_flush(kafka->producer, left < CLOSE_SLICE_MS ? (int)left + 1 : CLOSE_SLICE_MS);
    }
}

/* What the producer still holds is purged; with a spool, the purged messages are collected
 * (keep_unsent) for save_unsent. */
static void purge(struct kafka_sink *kafka)
{
    if (kafka->in_producer == 0)
        return;
    kafka->closing = true;
    rd_kafka_purge(kafka->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    for (int i = 0; i < PURGE_WAIT_SLICES && kafka->in_producer > 0; i++)
        rd_kafka_poll(kafka->producer, CLOSE_SLICE_MS);
}

/* The events the spool keeps for the next start, synced: those it held, and the purged
 * ones written in front of them, less any a failed sync lost. */
static uint64_t keep_for_next_start(struct kafka_sink *kafka, uint64_t in_spool)
{
    if (kafka->spool == NULL)
        return 0;
    uint64_t lost_before = spool_lost(kafka->spool);
    uint64_t kept = in_spool + save_unsent(kafka);
    spool_sync(kafka->spool);
    return kept - (spool_lost(kafka->spool) - lost_before);
}

/* Waits for every delivery report (and empties the spool) until the timeout; what is still
 * unsent then is purged from the producer and, with a spool, kept there for the next
 * start in its original order. Every event is accounted for exactly: delivered, kept in the
 * spool, or lost (and said so). */
static uint64_t kafka_close(struct sink *sink)
{
    struct kafka_sink *kafka = (struct kafka_sink *)sink;
    drain(kafka);
    uint64_t waiting = kafka->in_producer;
    uint64_t in_spool = kafka->spool != NULL ? spool_pending(kafka->spool) : 0;
    uint64_t lost = kafka->dropped + kafka->delivery_errors +
                    (kafka->spool != NULL ? spool_lost(kafka->spool) : 0);
    uint64_t delivered = kafka->delivered;
    purge(kafka);
    /* A report may still come in during the purge: those delivered then are not unsent. */
    uint64_t unsent = waiting + in_spool - (kafka->delivered - delivered);
    uint64_t kept = keep_for_next_start(kafka, in_spool);
    if (unsent > 0) {
        char kept_text[320] = "; lost (no --spool to keep them)", lost_text[96] = "", why[96];
        if (kept < unsent)
            snprintf(lost_text, sizeof(lost_text),
                     ", %" PRIu64 " lost: the spool could not keep them", unsent - kept);
        if (kafka->spool != NULL)
            snprintf(kept_text, sizeof(kept_text),
                     "; %" PRIu64 " kept in spool %s for the next start%s", kept,
                     spool_directory(kafka->spool), lost_text);
        if (kafka->wait_cut)
            snprintf(why, sizeof(why), ": the wait for delivery was cut short by a signal");
        else
            snprintf(why, sizeof(why), " within the %.3g s timeout",
                     (double)kafka->timeout_milliseconds / 1000);
        log_message(LOG_ERROR, "kafka: %" PRIu64 " events not delivered%s%s", unsent, why,
                    kept_text);
    }
    lost += unsent - kept;
    if (lost > 0)
        log_message(LOG_ERROR, "kafka: %" PRIu64 " events lost for good in this run", lost);
    rd_kafka_topic_destroy(kafka->topic);
    rd_kafka_destroy(kafka->producer);
    spool_close(kafka->spool);
    free_unsent(kafka);
    free((char *)sink->name);
    free(kafka->sensor);
    free(kafka);
    return lost + kept;
}

static void kafka_stats(const struct sink *sink, struct sink_stats *stats)
{
    const struct kafka_sink *kafka = (const struct kafka_sink *)sink;
    stats->queued += kafka->in_producer;
    stats->spooled += kafka->spooled;
    stats->dropped += kafka->dropped + kafka->delivery_errors;
    stats->delivery_errors += kafka->delivery_errors;
    if (kafka->spool != NULL) {
        stats->dropped += spool_lost(kafka->spool);
        stats->damaged += spool_damaged(kafka->spool);
    }
}

/* The `sensor` header of what is produced from now on, spooled events included: their lines
 * still carry the name they were written with. */
static int kafka_rename(struct sink *sink, const char *sensor)
{
    struct kafka_sink *kafka = (struct kafka_sink *)sink;
    char *name = strdup(sensor);
    if (name == NULL)
        return -1;
    free(kafka->sensor);
    kafka->sensor = name;
    return 0;
}

static const struct sink_ops kafka_ops = {kafka_write, kafka_flush, kafka_close,
                                          kafka_stats, NULL,        kafka_rename};

/* The value stays out of the message: it may be a password. kcat's "topic." prefix for
 * topic properties is accepted, though librdkafka takes them by their plain names. */
static int set_property(rd_kafka_conf_t *conf, const char *key, const char *value, char *error,
                        size_t error_size)
{
    char why[512];
    rd_kafka_conf_res_t result = rd_kafka_conf_set(conf, key, value, why, sizeof(why));
    if (result == RD_KAFKA_CONF_UNKNOWN && strncmp(key, "topic.", 6) == 0)
        result = rd_kafka_conf_set(conf, key + 6, value, why, sizeof(why));
    if (result == RD_KAFKA_CONF_OK)
        return 0;
    snprintf(error, error_size, "kafka property %s: %s", key, why);
    return -1;
}

/* How the producer batches, as -X left it: said once at start (-v). */
static void log_batching(rd_kafka_conf_t *conf)
{
    static const char *const keys[] = {"linger.ms", "batch.size", "batch.num.messages",
                                       "compression.type"};
    char text[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]) && used < sizeof(text); i++) {
        char value[64];
        size_t size = sizeof(value);
        if (rd_kafka_conf_get(conf, keys[i], value, &size) == RD_KAFKA_CONF_OK)
            used += (size_t)snprintf(text + used, sizeof(text) - used, "%s%s %s",
                                     used > 0 ? ", " : "", keys[i], value);
    }
    log_message(LOG_INFO, "kafka: producer batches with %s", text);
}

/* Our defaults first, the user's -X last, so any of them can be overridden as in kcat. */
static rd_kafka_conf_t *configure(struct kafka_sink *kafka,
                                  const struct sink_kafka_options *options, char *error,
                                  size_t error_size)
{
    char kilobytes[32];
    snprintf(kilobytes, sizeof(kilobytes), "%" PRIu64, kafka->queue_kilobytes);
    const char *const defaults[][2] = {
        {"bootstrap.servers", options->brokers},
        {"client.id", "op25b-watch"},
        /* No loss and no duplicates across retries (KIP-98); implies acks=all. */
        {"enable.idempotence", "true"},
        {"acks", "all"},
        /* An event waits as long as it must: memory, then the spool, bound the waiting. */
        {"message.timeout.ms", "0"},
        {"queue.buffering.max.kbytes", kilobytes},
        {"queue.buffering.max.messages", "2147483647"},
        /* The Java client's partitioner: a key lands where Kafka Streams expects it. */
        {"partitioner", "murmur2_random"},
        {"log.queue", "true"},
        /* An event stream, not requests waiting for answers: a batch fills for up to 50 ms
         * (librdkafka's 5 ms sends a flood in many small requests; the batch.size of 1 MB,
         * a broker's default message.max.bytes, stays the other bound), and goes lz4-
         * compressed (JSON lines shrink several times; of the codecs built into Debian's
         * librdkafka, lz4 costs the producer the least CPU). */
        {"linger.ms", "50"},
        {"compression.type", "lz4"},
    };
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
        if (set_property(conf, defaults[i][0], defaults[i][1], error, error_size) != 0)
            goto err_destroy;
    }
    for (size_t i = 0; i < options->property_count; i++) {
        const char *property = options->properties[i];
        const char *equals = strchr(property, '=');
        char key[256];
        if (equals == NULL || equals == property || (size_t)(equals - property) >= sizeof(key)) {
            snprintf(error, error_size, "kafka property '%s': expected KEY=VALUE", property);
            goto err_destroy;
        }
        memcpy(key, property, (size_t)(equals - property));
        key[equals - property] = '\0';
        if (set_property(conf, key, equals + 1, error, error_size) != 0)
            goto err_destroy;
    }
    log_batching(conf);
    /* -X may have changed the bound: messages should name the one in force. */
    char effective[32];
    size_t effective_size = sizeof(effective);
    if (rd_kafka_conf_get(conf, "queue.buffering.max.kbytes", effective, &effective_size) ==
        RD_KAFKA_CONF_OK)
        kafka->queue_kilobytes = strtoull(effective, NULL, 10);
    rd_kafka_conf_set_opaque(conf, kafka);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_log_cb(conf, on_log);
    return conf;

err_destroy:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

struct sink *sink_kafka_open(const struct sink_kafka_options *options, bool *bad_option,
                             char *error, size_t error_size)
{
    *bad_option = false;
    const char *topic = options->topic != NULL ? options->topic : SINK_KAFKA_DEFAULT_TOPIC;
    struct kafka_sink *kafka = calloc(1, sizeof(*kafka));
    if (kafka == NULL) {
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    kafka->timeout_milliseconds = options->timeout_milliseconds;
    kafka->stop_waiting = options->stop_waiting;
    /* A spooled event of an earlier run goes out with this run's headers: a spool serves
     * one sensor, whose name and schema version the events it holds normally share. */
    snprintf(kafka->version, sizeof(kafka->version), "%u", options->schema_version);
    kafka->sensor = strdup(options->sensor != NULL ? options->sensor : "");
    if (kafka->sensor == NULL) {
        snprintf(error, error_size, "out of memory");
        goto err_free;
    }
    kafka->queue_kilobytes = (uint64_t)(options->queue_megabytes ? options->queue_megabytes
                                                                 : SINK_KAFKA_DEFAULT_QUEUE_MB) *
                             1024;
    kafka->next_sequence = 1;
    rd_kafka_conf_t *conf = configure(kafka, options, error, error_size);
    if (conf == NULL) {
        *bad_option = true;
        goto err_free;
    }
    char why[512];
    kafka->producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
    if (kafka->producer == NULL) {
        /* Left to the caller's -X: inconsistent properties such as acks=1 with idempotence. */
        snprintf(error, error_size, "kafka: %s", why);
        rd_kafka_conf_destroy(conf);
        *bad_option = true;
        goto err_free;
    }
    rd_kafka_set_log_queue(kafka->producer, NULL);
    kafka->topic = rd_kafka_topic_new(kafka->producer, topic, NULL);
    if (kafka->topic == NULL) {
        snprintf(error, error_size, "kafka topic '%s': %s", topic,
                 rd_kafka_err2str(rd_kafka_last_error()));
        *bad_option = true;
        goto err_destroy_producer;
    }
    if (options->spool_directory != NULL) {
        kafka->spool = spool_open(options->spool_directory, 0, error, error_size);
        if (kafka->spool == NULL)
            goto err_destroy_topic;
    }
    size_t name_size = strlen(topic) + strlen(options->brokers) + 32;
    char *name = malloc(name_size);
    if (name == NULL) {
        snprintf(error, error_size, "out of memory");
        goto err_close_spool;
    }
    snprintf(name, name_size, "Kafka topic %s at %s", topic, options->brokers);
    kafka->base.ops = &kafka_ops;
    kafka->base.name = name;
    /* Events of an earlier run go out before any new one. */
    refill(kafka);
    log_message(LOG_INFO, "kafka: sending events to %s", name);
    return &kafka->base;

err_close_spool:
    spool_close(kafka->spool);
err_destroy_topic:
    rd_kafka_topic_destroy(kafka->topic);
err_destroy_producer:
    rd_kafka_destroy(kafka->producer);
err_free:
    free(kafka->sensor);
    free(kafka);
    return NULL;
}

#include "correlate/kafka_config.h"

#include <stdio.h>
#include <string.h>

static int set_property(rd_kafka_conf_t *conf, const char *text, char *error, size_t error_size)
{
    char key[256];
    const char *equals = strchr(text, '=');
    size_t length = (size_t)(equals - text);
    if (equals == NULL || length >= sizeof(key)) {
        snprintf(error, error_size, "-X '%s': expected KEY=VALUE", text);
        return -1;
    }
    memcpy(key, text, length);
    key[length] = '\0';
    char reason[512];
    if (rd_kafka_conf_set(conf, key, equals + 1, reason, sizeof(reason)) != RD_KAFKA_CONF_OK) {
        snprintf(error, error_size, "-X %s: %s", text, reason);
        return -1;
    }
    return 0;
}

rd_kafka_conf_t *kafka_config(const struct correlate_options *options, const char *const *defaults,
                              size_t default_count, char *error, size_t error_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char reason[512];
    if (rd_kafka_conf_set(conf, "bootstrap.servers", options->brokers, reason, sizeof(reason)) !=
        RD_KAFKA_CONF_OK) {
        snprintf(error, error_size, "-k %s: %s", options->brokers, reason);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    for (size_t i = 0; i < default_count; i++) {
        if (set_property(conf, defaults[i], error, error_size) != 0) {
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    for (size_t i = 0; i < options->property_count; i++) {
        if (set_property(conf, options->properties[i], error, error_size) != 0) {
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    return conf;
}

rd_kafka_t *kafka_reader(const struct correlate_options *options, const char *client_id,
                         char *error, size_t error_size)
{
    char id[128];
    snprintf(id, sizeof(id), "client.id=%s", client_id);
    /* Its own group id, never joined: only partitions assigned by hand, nothing committed. */
    const char *defaults[] = {id,
                              "group.id=op25b-correlate-reader",
                              "enable.auto.commit=false",
                              "enable.partition.eof=true",
                              "fetch.wait.max.ms=100",
                              "fetch.error.backoff.ms=100",
                              "log_level=3"};
    rd_kafka_conf_t *conf =
        kafka_config(options, defaults, sizeof(defaults) / sizeof(defaults[0]), error, error_size);
    if (conf == NULL)
        return NULL;
    char reason[512];
    rd_kafka_t *reader = rd_kafka_new(RD_KAFKA_CONSUMER, conf, reason, sizeof(reason));
    if (reader == NULL) {
        snprintf(error, error_size, "kafka: %s", reason);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_poll_set_consumer(reader);
    return reader;
}

int32_t kafka_partition_count(rd_kafka_t *handle, const char *topic, char *error, size_t error_size)
{
    rd_kafka_topic_t *topic_handle = rd_kafka_topic_new(handle, topic, NULL);
    const struct rd_kafka_metadata *metadata = NULL;
    rd_kafka_resp_err_t failed = rd_kafka_metadata(handle, 0, topic_handle, &metadata, 10000);
    int32_t count = -1;
    if (failed == RD_KAFKA_RESP_ERR_NO_ERROR && metadata->topic_cnt == 1 &&
        metadata->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR)
        failed = metadata->topics[0].err;
    if (failed != RD_KAFKA_RESP_ERR_NO_ERROR)
        snprintf(error, error_size, "kafka: topic %s: %s", topic, rd_kafka_err2str(failed));
    else if (metadata->topic_cnt == 1)
        count = metadata->topics[0].partition_cnt;
    else
        snprintf(error, error_size, "kafka: topic %s: no metadata", topic);
    if (metadata != NULL)
        rd_kafka_metadata_destroy(metadata);
    rd_kafka_topic_destroy(topic_handle);
    return count;
}

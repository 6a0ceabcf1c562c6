/* The librdkafka configuration every handle of the correlator starts from: the brokers
 * (-k), then each -X property in the order given, so -X can override any default. */
#ifndef OP25B_CORRELATE_KAFKA_CONFIG_H
#define OP25B_CORRELATE_KAFKA_CONFIG_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

#include "correlate/options.h"

/* A configuration with defaults (each "KEY=VALUE", applied before -X), or NULL with a
 * message when a property is refused. */
rd_kafka_conf_t *kafka_config(const struct correlate_options *options, const char *const *defaults,
                              size_t default_count, char *error, size_t error_size);
/* A consumer that reads partitions it is given (never a group member), or NULL. */
rd_kafka_t *kafka_reader(const struct correlate_options *options, const char *client_id,
                         char *error, size_t error_size);

/* The topic's partition count, or -1 with a message. */
int32_t kafka_partition_count(rd_kafka_t *handle, const char *topic, char *error,
                              size_t error_size);

#endif

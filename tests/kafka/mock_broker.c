/* A Kafka cluster for the tests, built on librdkafka's mock cluster (rdkafka_mock.h). The
 * cluster lives only in the process that made it, so this program holds it and takes
 * orders on standard input, one a line:
 *   down / up           take every broker down or bring it back (connections are cut,
 *                       new ones refused), as a broker crash or a network outage would
 *   create TOPIC N      create a topic with N partitions
 *   count TOPIC         the messages the topic holds: its partitions' end offsets added up,
 *                       asked of the cluster as a client would (answers "count TOPIC N")
 *   quit                (or end of input) stop
 * It prints the bootstrap address first, then "ok <order>" after each order is done.
 *
 * The mock keeps only the newest few megabytes of each partition and checks idempotent
 * sequence numbers only for transactional producers: enough for the scenario captures,
 * not a stand-in for a broker under load.
 *
 * usage: mock_broker [--topic NAME] [--partitions N] [--brokers N] [--down] */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The sum of the topic's high watermarks, or -1. The mock trims old log segments but keeps
 * counting offsets, so this is every message it ever took. */
static long long count_messages(const char *bootstraps, const char *topic)
{
    char error[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, error, sizeof(error)) !=
            RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "log_level", "3", error, sizeof(error)) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_t *client = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof(error));
    if (client == NULL)
        return -1;
    long long total = -1;
    rd_kafka_topic_t *handle = rd_kafka_topic_new(client, topic, NULL);
    const struct rd_kafka_metadata *metadata = NULL;
    if (handle != NULL &&
        rd_kafka_metadata(client, 0, handle, &metadata, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        metadata->topic_cnt == 1) {
        total = 0;
        for (int p = 0; p < metadata->topics[0].partition_cnt && total >= 0; p++) {
            int64_t low, high;
            if (rd_kafka_query_watermark_offsets(client, topic, p, &low, &high, 10000) !=
                RD_KAFKA_RESP_ERR_NO_ERROR)
                total = -1;
            else
                total += high;
        }
    }
    if (metadata != NULL)
        rd_kafka_metadata_destroy(metadata);
    if (handle != NULL)
        rd_kafka_topic_destroy(handle);
    rd_kafka_destroy(client);
    return total;
}

static int set_all_brokers(rd_kafka_mock_cluster_t *cluster, int brokers, bool up)
{
    for (int id = 1; id <= brokers; id++) {
        rd_kafka_resp_err_t error = up ? rd_kafka_mock_broker_set_up(cluster, id)
                                       : rd_kafka_mock_broker_set_down(cluster, id);
        if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "mock_broker: broker %d: %s\n", id, rd_kafka_err2str(error));
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *topic = "op25b.events";
    int partitions = 3, brokers = 1;
    bool down = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--topic") == 0 && i + 1 < argc) {
            topic = argv[++i];
        } else if (strcmp(argv[i], "--partitions") == 0 && i + 1 < argc) {
            partitions = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--brokers") == 0 && i + 1 < argc) {
            brokers = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--down") == 0) {
            down = true;
        } else {
            fprintf(stderr, "usage: mock_broker [--topic NAME] [--partitions N] [--brokers N] "
                            "[--down]\n");
            return 2;
        }
    }
    if (partitions < 1 || brokers < 1) {
        fprintf(stderr, "mock_broker: --partitions and --brokers need a number above 0\n");
        return 2;
    }

    /* The mock cluster runs on the threads of a client handle; any handle will do. */
    char error[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", NULL, 0);
    rd_kafka_t *host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
    if (host == NULL) {
        fprintf(stderr, "mock_broker: %s\n", error);
        return 1;
    }
    rd_kafka_mock_cluster_t *cluster = rd_kafka_mock_cluster_new(host, brokers);
    if (cluster == NULL) {
        fprintf(stderr, "mock_broker: cannot create the mock cluster\n");
        rd_kafka_destroy(host);
        return 1;
    }
    int status = 0;
    rd_kafka_resp_err_t created = rd_kafka_mock_topic_create(cluster, topic, partitions, 1);
    if (created != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "mock_broker: topic %s: %s\n", topic, rd_kafka_err2str(created));
        status = 1;
    }
    if (status == 0 && down && set_all_brokers(cluster, brokers, false) != 0)
        status = 1;
    if (status == 0) {
        printf("%s\n", rd_kafka_mock_cluster_bootstraps(cluster));
        fflush(stdout);
    }

    char line[256];
    while (status == 0 && fgets(line, sizeof(line), stdin) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strcmp(line, "quit") == 0)
            break;
        char name[200];
        int count;
        if (strcmp(line, "down") == 0 || strcmp(line, "up") == 0) {
            if (set_all_brokers(cluster, brokers, strcmp(line, "up") == 0) != 0)
                status = 1;
        } else if (sscanf(line, "create %199s %d", name, &count) == 2 && count > 0) {
            rd_kafka_resp_err_t failed = rd_kafka_mock_topic_create(cluster, name, count, 1);
            if (failed != RD_KAFKA_RESP_ERR_NO_ERROR) {
                fprintf(stderr, "mock_broker: topic %s: %s\n", name, rd_kafka_err2str(failed));
                status = 1;
            }
        } else if (sscanf(line, "count %199s", name) == 1) {
            long long messages = count_messages(rd_kafka_mock_cluster_bootstraps(cluster), name);
            if (messages < 0) {
                fprintf(stderr, "mock_broker: cannot count the messages of %s\n", name);
                status = 1;
                continue;
            }
            printf("count %s %lld\n", name, messages);
            fflush(stdout);
            continue;
        } else if (line[0] != '\0') {
            fprintf(stderr, "mock_broker: unknown order '%s' (down, up, create, count, quit)\n",
                    line);
            continue;
        }
        printf("ok %s\n", line);
        fflush(stdout);
    }
    rd_kafka_mock_cluster_destroy(cluster);
    rd_kafka_destroy(host);
    return status;
}

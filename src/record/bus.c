#include "record/bus.h"

#include <string.h>

void bus_init(struct bus *bus)
{
    memset(bus, 0, sizeof(*bus));
}

int bus_subscribe(struct bus *bus, struct bus_subscriber subscriber)
{
    if (bus->subscriber_count == BUS_SUBSCRIBERS_MAX)
        return -1;
    bus->subscribers[bus->subscriber_count++] = subscriber;
    return 0;
}

static void hand_finding(struct bus *bus, const struct finding *finding)
{
    for (size_t i = 0; i < bus->subscriber_count; i++) {
        const struct bus_subscriber *subscriber = &bus->subscribers[i];
        if (subscriber->finding != NULL)
            subscriber->finding(subscriber->context, finding);
    }
}

/* After the outermost record: the findings it caused, in the order they came (and those
 * they caused in turn, after them). */
static void drain(struct bus *bus)
{
    while (bus->queue_count > 0) {
        struct finding finding = bus->queue[bus->queue_head];
        bus->queue_head = (bus->queue_head + 1) % BUS_QUEUE_MAX;
        bus->queue_count--;
        bus->depth++;
        hand_finding(bus, &finding);
        bus->depth--;
    }
}

void bus_attempt(struct bus *bus, const struct attempt_record *attempt)
{
    bus->depth++;
    for (size_t i = 0; i < bus->subscriber_count; i++) {
        const struct bus_subscriber *subscriber = &bus->subscribers[i];
        if (subscriber->attempt != NULL)
            subscriber->attempt(subscriber->context, attempt);
    }
    bus->depth--;
    if (bus->depth == 0)
        drain(bus);
}

void bus_finding(struct bus *bus, const struct finding *finding)
{
    if (bus->depth == 0) {
        bus->depth++;
        hand_finding(bus, finding);
        bus->depth--;
        drain(bus);
        return;
    }
    if (bus->queue_count < BUS_QUEUE_MAX) {
        bus->queue[(bus->queue_head + bus->queue_count) % BUS_QUEUE_MAX] = *finding;
        bus->queue_count++;
        return;
    }
    /* More consequences of one record than the queue holds (no detector makes that many):
     * handed out at once rather than lost. */
    bus->depth++;
    hand_finding(bus, finding);
    bus->depth--;
}

void bus_periodic(struct bus *bus, const struct periodic_record *periodic)
{
    bus->depth++;
    for (size_t i = 0; i < bus->subscriber_count; i++) {
        const struct bus_subscriber *subscriber = &bus->subscribers[i];
        if (subscriber->periodic != NULL)
            subscriber->periodic(subscriber->context, periodic);
    }
    for (size_t i = 0; i < bus->subscriber_count; i++) {
        const struct bus_subscriber *subscriber = &bus->subscribers[i];
        if (subscriber->flush != NULL)
            subscriber->flush(subscriber->context);
    }
    bus->depth--;
    if (bus->depth == 0)
        drain(bus);
}

void bus_connection(struct bus *bus, const struct connection_record *connection)
{
    bus->depth++;
    for (size_t i = 0; i < bus->subscriber_count; i++) {
        const struct bus_subscriber *subscriber = &bus->subscribers[i];
        if (subscriber->connection != NULL)
            subscriber->connection(subscriber->context, connection);
    }
    bus->depth--;
    if (bus->depth == 0)
        drain(bus);
}

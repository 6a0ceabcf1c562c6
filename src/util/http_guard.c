#include "util/http_guard.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "util/log.h"

/* How often the guard looks: a connection outlives its deadline by at most this much. */
#define CHECK_MILLISECONDS 200

struct watched {
    struct watched *previous;
    struct watched *next;
    MHD_socket fd;
    double deadline; /* monotonic seconds */
    bool waiting;    /* for a whole request: the deadline runs */
    bool cut;
};

struct http_guard {
    /* Held while the guard shuts a socket down. libmicrohttpd forgets a connection here
     * (MHD_CONNECTION_NOTIFY_CLOSED) before it closes the socket, so the guard never shuts
     * down a descriptor number that was closed and given to another file meanwhile. */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    bool stop;
    struct watched *head;
    uint64_t cut;
};

static double monotonic_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

/* The 1st, 10th, 100th... cut is logged: a flood says how bad it is in a few lines. */
static void note_cut(struct http_guard *guard)
{
    uint64_t count = ++guard->cut;
    while (count >= 10 && count % 10 == 0)
        count /= 10;
    if (count == 1)
        log_message(LOG_WARNING,
                    "metrics: %" PRIu64 " connection%s cut for not sending a whole request "
                    "within %d s",
                    guard->cut, guard->cut == 1 ? "" : "s", HTTP_REQUEST_DEADLINE_SECONDS);
}

static void *watch(void *context)
{
    struct http_guard *guard = context;
    pthread_mutex_lock(&guard->lock);
    while (!guard->stop) {
        double now = monotonic_seconds();
        for (struct watched *watched = guard->head; watched != NULL; watched = watched->next) {
            if (!watched->waiting || watched->cut || now < watched->deadline)
                continue;
            /* The server sees the end of the stream and closes the connection itself. */
            shutdown(watched->fd, SHUT_RDWR);
            watched->cut = true;
            note_cut(guard);
        }
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += CHECK_MILLISECONDS * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&guard->wake, &guard->lock, &until);
    }
    pthread_mutex_unlock(&guard->lock);
    return NULL;
}

struct http_guard *http_guard_start(void)
{
    struct http_guard *guard = calloc(1, sizeof(*guard));
    if (guard == NULL)
        return NULL;
    pthread_condattr_t attributes;
    pthread_condattr_init(&attributes);
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    pthread_cond_init(&guard->wake, &attributes);
    pthread_condattr_destroy(&attributes);
    pthread_mutex_init(&guard->lock, NULL);
    if (pthread_create(&guard->thread, NULL, watch, guard) != 0) {
        pthread_cond_destroy(&guard->wake);
        pthread_mutex_destroy(&guard->lock);
        free(guard);
        return NULL;
    }
    return guard;
}

void http_guard_stop(struct http_guard *guard)
{
    if (guard == NULL)
        return;
    pthread_mutex_lock(&guard->lock);
    guard->stop = true;
    pthread_cond_signal(&guard->wake);
    pthread_mutex_unlock(&guard->lock);
    pthread_join(guard->thread, NULL);
    while (guard->head != NULL) {
        struct watched *next = guard->head->next;
        free(guard->head);
        guard->head = next;
    }
    pthread_cond_destroy(&guard->wake);
    pthread_mutex_destroy(&guard->lock);
    free(guard);
}

void http_guard_on_connection(void *context, struct MHD_Connection *connection,
                              void **socket_context, enum MHD_ConnectionNotificationCode code)
{
    struct http_guard *guard = context;
    struct watched *watched = *socket_context;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
        watched = info != NULL ? calloc(1, sizeof(*watched)) : NULL;
        if (watched == NULL) {
            /* Unwatched, it could be held for ever: turned away instead. */
            if (info != NULL)
                shutdown(info->connect_fd, SHUT_RDWR);
            return;
        }
        watched->fd = info->connect_fd;
        watched->deadline = monotonic_seconds() + HTTP_REQUEST_DEADLINE_SECONDS;
        watched->waiting = true;
        pthread_mutex_lock(&guard->lock);
        watched->next = guard->head;
        if (guard->head != NULL)
            guard->head->previous = watched;
        guard->head = watched;
        pthread_mutex_unlock(&guard->lock);
        *socket_context = watched;
        return;
    }
    if (watched == NULL)
        return;
    pthread_mutex_lock(&guard->lock);
    if (watched->previous != NULL)
        watched->previous->next = watched->next;
    else
        guard->head = watched->next;
    if (watched->next != NULL)
        watched->next->previous = watched->previous;
    pthread_mutex_unlock(&guard->lock);
    free(watched);
    *socket_context = NULL;
}

static struct watched *watched_of(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info != NULL ? info->socket_context : NULL;
}

void http_guard_on_completed(void *context, struct MHD_Connection *connection, void **request_state,
                             enum MHD_RequestTerminationCode code)
{
    (void)request_state;
    (void)code;
    struct http_guard *guard = context;
    struct watched *watched = watched_of(connection);
    if (watched == NULL)
        return;
    pthread_mutex_lock(&guard->lock);
    watched->waiting = true;
    watched->deadline = monotonic_seconds() + HTTP_REQUEST_DEADLINE_SECONDS;
    pthread_mutex_unlock(&guard->lock);
}

void http_guard_answered(struct http_guard *guard, struct MHD_Connection *connection)
{
    struct watched *watched = watched_of(connection);
    if (watched == NULL)
        return;
    pthread_mutex_lock(&guard->lock);
    watched->waiting = false;
    pthread_mutex_unlock(&guard->lock);
}

#include "util/http_metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/http_guard.h"
#include "util/log.h"

/* Connections served at once, and per client address: Prometheus uses one per server, so
 * a client that opens more cannot take the others' (the guard bounds how long each may
 * take to ask). */
#define CONNECTION_LIMIT 128
#define CLIENT_CONNECTION_LIMIT 8
/* Seconds a connection may sit idle, between requests or while an answer goes out. */
#define IDLE_SECONDS 10

struct http_metrics {
    struct MHD_Daemon *daemon;
    struct http_guard *guard;
    http_metrics_render render;
    void *context;
    char *index;
};

/* ---- Listening address ---- */

/* Splits "[V6]:PORT", "HOST:PORT", ":PORT" or "PORT" into host (default loopback) and port. */
static int split_address(const char *text, char host[64], const char **port_text, char *error,
                         size_t error_size)
{
    snprintf(host, 64, "%s", HTTP_METRICS_DEFAULT_HOST);
    *port_text = text;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':' || (size_t)(close - text - 1) >= 64) {
            snprintf(error, error_size, "--metrics '%s': expected [IPV6]:PORT", text);
            return -1;
        }
        memcpy(host, text + 1, (size_t)(close - text - 1));
        host[close - text - 1] = '\0';
        *port_text = close + 2;
        return 0;
    }
    const char *colon = strrchr(text, ':');
    if (colon == NULL)
        return 0;
    if ((size_t)(colon - text) >= 64) {
        snprintf(error, error_size, "--metrics '%s': host too long", text);
        return -1;
    }
    if (colon > text) {
        memcpy(host, text, (size_t)(colon - text));
        host[colon - text] = '\0';
    }
    *port_text = colon + 1;
    return 0;
}

int http_metrics_parse_address(const char *text, struct sockaddr_storage *address, char *error,
                               size_t error_size)
{
    char host[64];
    const char *port_text;
    if (split_address(text, host, &port_text, error, error_size) != 0)
        return -1;
    char *end;
    errno = 0;
    unsigned long port = strtoul(port_text, &end, 10);
    if (errno != 0 || end == port_text || *end != '\0' || port == 0 || port > 65535 ||
        port_text[0] == '-' || port_text[0] == '+') {
        snprintf(error, error_size, "--metrics '%s': the port must be a number from 1 to 65535",
                 text);
        return -1;
    }
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof(host), "%s", HTTP_METRICS_DEFAULT_HOST);
    memset(address, 0, sizeof(*address));
    struct sockaddr_in *v4 = (struct sockaddr_in *)address;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)address;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
    } else {
        snprintf(error, error_size, "--metrics '%s': the host must be an IP address or localhost",
                 text);
        return -1;
    }
    return 0;
}

/* ---- HTTP ---- */

static enum MHD_Result reply(struct MHD_Connection *connection, unsigned status, char *body,
                             size_t length, enum MHD_ResponseMemoryMode mode,
                             const char *content_type)
{
    struct MHD_Response *response = MHD_create_response_from_buffer(length, body, mode);
    if (response == NULL)
        return MHD_NO;
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    enum MHD_Result result = MHD_queue_response(connection, status, response);
    MHD_destroy_response(response);
    return result;
}

static enum MHD_Result answer(void *context, struct MHD_Connection *connection, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **request_state)
{
    (void)version;
    (void)upload_data;
    (void)request_state;
    struct http_metrics *server = context;
    static char not_found[] = "not found: the metrics are at /metrics\n";
    static char not_allowed[] = "only GET and HEAD\n";
    const char *text_type = "text/plain; charset=utf-8";
    /* Answered at once, before any body: the connection closes after the answer. */
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        http_guard_answered(server->guard, connection);
        return reply(connection, MHD_HTTP_METHOD_NOT_ALLOWED, not_allowed, sizeof(not_allowed) - 1,
                     MHD_RESPMEM_PERSISTENT, text_type);
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0; /* a body is never wanted: read (within the deadline), ignored */
        return MHD_YES;
    }
    http_guard_answered(server->guard, connection);
    if (strcmp(url, "/") == 0)
        return reply(connection, MHD_HTTP_OK, server->index, strlen(server->index),
                     MHD_RESPMEM_PERSISTENT, text_type);
    if (strcmp(url, "/metrics") != 0)
        return reply(connection, MHD_HTTP_NOT_FOUND, not_found, sizeof(not_found) - 1,
                     MHD_RESPMEM_PERSISTENT, text_type);
    size_t length = 0;
    char *body = server->render(server->context, &length);
    if (body == NULL)
        return MHD_NO;
    /* Version 0.0.4 of the text exposition format. */
    return reply(connection, MHD_HTTP_OK, body, length, MHD_RESPMEM_MUST_FREE,
                 "text/plain; version=0.0.4; charset=utf-8");
}

/* libmicrohttpd's messages are about clients (a refused connection, a bad request): one
 * line each at -vv, never a flood on the default output. */
static void log_server(void *context, const char *format, va_list arguments)
{
    (void)context;
    char text[256];
    vsnprintf(text, sizeof(text), format, arguments);
    size_t length = strlen(text);
    while (length > 0 && text[length - 1] == '\n')
        text[--length] = '\0';
    log_message(LOG_DEBUG, "metrics: %s", text);
}

/* The daemon, with the guard and the limits; NULL (errno set) when it cannot start. */
static struct MHD_Daemon *start_daemon(struct http_metrics *server,
                                       const struct sockaddr_storage *bind_address)
{
    /* epoll (poll elsewhere): no limit on descriptor numbers, unlike select. */
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    uint16_t port = ntohs(((const struct sockaddr_in *)bind_address)->sin_port);
    if (bind_address->ss_family == AF_INET6) {
        flags |= MHD_USE_IPv6;
        port = ntohs(((const struct sockaddr_in6 *)bind_address)->sin6_port);
    }
    server->guard = http_guard_start();
    if (server->guard == NULL)
        return NULL;
    return MHD_start_daemon(
        flags, port, NULL, NULL, answer, server, MHD_OPTION_EXTERNAL_LOGGER, log_server, NULL,
        MHD_OPTION_SOCK_ADDR, bind_address, MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)CLIENT_CONNECTION_LIMIT,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_SECONDS, MHD_OPTION_NOTIFY_CONNECTION,
        http_guard_on_connection, server->guard, MHD_OPTION_NOTIFY_COMPLETED,
        http_guard_on_completed, server->guard, MHD_OPTION_END);
}

struct http_metrics *http_metrics_start(const char *address, http_metrics_render render,
                                        void *context, const char *index, char *error,
                                        size_t error_size)
{
    struct sockaddr_storage bind_address;
    if (http_metrics_parse_address(address, &bind_address, error, error_size) != 0)
        return NULL;
    struct http_metrics *server = calloc(1, sizeof(*server));
    if (server == NULL || (server->index = strdup(index)) == NULL) {
        free(server);
        snprintf(error, error_size, "out of memory for the metrics");
        return NULL;
    }
    server->render = render;
    server->context = context;
    /* The operator's signals must reach the thread that acts on them (the program's main
     * loop): the server's thread inherits a mask that blocks them. */
    sigset_t blocked, previous;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGINT);
    sigaddset(&blocked, SIGTERM);
    sigaddset(&blocked, SIGHUP);
    sigaddset(&blocked, SIGUSR1);
    sigaddset(&blocked, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &blocked, &previous);
    server->daemon = start_daemon(server, &bind_address);
    int saved = errno;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    if (server->daemon == NULL) {
        snprintf(error, error_size, "--metrics %s: cannot listen there (%s)", address,
                 saved != 0 ? strerror(saved) : "libmicrohttpd refused");
        http_metrics_stop(server);
        return NULL;
    }
    return server;
}

void http_metrics_stop(struct http_metrics *server)
{
    if (server == NULL)
        return;
    if (server->daemon != NULL)
        MHD_stop_daemon(server->daemon);
    http_guard_stop(server->guard);
    free(server->index);
    free(server);
}

/* ---- The exposition format ---- */

void http_metrics_label_value(FILE *out, const char *text)
{
    for (const char *c = text; *c != '\0'; c++) {
        if (*c == '\\' || *c == '"')
            fputc('\\', out);
        if (*c == '\n') {
            fputs("\\n", out);
            continue;
        }
        fputc(*c, out);
    }
}

void http_metrics_family(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

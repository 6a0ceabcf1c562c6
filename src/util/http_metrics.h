/* A Prometheus endpoint: a libmicrohttpd thread that answers GET /metrics with the text a
 * render callback makes at each scrape. Shared by op25b-watch (output/metrics.c) and
 * op25b-correlate (correlate/fleet_metrics.c); what is rendered is theirs. */
#ifndef OP25B_HTTP_METRICS_H
#define OP25B_HTTP_METRICS_H

#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

#define HTTP_METRICS_DEFAULT_HOST "127.0.0.1"

/* The exposition text for one scrape, malloc'ed (the server frees it), or NULL. Called on
 * the server's thread. */
typedef char *(*http_metrics_render)(void *context, size_t *length);

struct http_metrics;

/* "PORT", "HOST:PORT" or "[IPV6]:PORT", HOST an address literal or "localhost". Without a
 * host (or with ":PORT") the endpoint is bound to loopback only. 0, or -1 with a reason
 * naming --metrics. */
int http_metrics_parse_address(const char *text, struct sockaddr_storage *address, char *error,
                               size_t error_size);
/* Serves at address; the server's thread blocks the operator's signals (INT, TERM, HUP,
 * USR1, PIPE) so they reach the program's own thread. index is the text of "/". NULL with
 * a message when the address cannot be bound. */
struct http_metrics *http_metrics_start(const char *address, http_metrics_render render,
                                        void *context, const char *index, char *error,
                                        size_t error_size);
/* Stops serving; NULL is fine. */
void http_metrics_stop(struct http_metrics *server);

/* The exposition format's pieces: a label value escaped (backslash, quote, line feed),
 * and the HELP and TYPE lines of a family. */
void http_metrics_label_value(FILE *out, const char *text);
void http_metrics_family(FILE *out, const char *name, const char *type, const char *help);

#endif

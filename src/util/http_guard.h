/* What keeps slow clients from holding a metrics endpoint (util/http_metrics.c, the one of
 * op25b-watch and of op25b-correlate). The server's own limits (connections in all and per
 * client address, an idle timeout) leave one hole: a client that trickles a byte now and
 * then is never idle, and a few dozen of them take every connection. The guard gives each
 * connection a deadline: a whole request within HTTP_REQUEST_DEADLINE_SECONDS of opening, or of the
 * previous answer on a kept-alive connection, however its bytes trickle in. A thread of its own
 * cuts (shuts down) the connections past their deadline; libmicrohttpd then closes them. */
#ifndef OP25B_HTTP_GUARD_H
#define OP25B_HTTP_GUARD_H

#include <microhttpd.h>

#define HTTP_REQUEST_DEADLINE_SECONDS 5

struct http_guard;

/* Starts the guard's thread (with the caller's signal mask). NULL on failure. */
struct http_guard *http_guard_start(void);
/* Stops the thread and frees; call after the server stopped. NULL is fine. */
void http_guard_stop(struct http_guard *guard);

/* For MHD_OPTION_NOTIFY_CONNECTION (guard as its closure): follows each connection. */
void http_guard_on_connection(void *guard, struct MHD_Connection *connection, void **socket_context,
                              enum MHD_ConnectionNotificationCode code);
/* For MHD_OPTION_NOTIFY_COMPLETED: a request was answered, the next one's deadline starts. */
void http_guard_on_completed(void *guard, struct MHD_Connection *connection, void **request_state,
                             enum MHD_RequestTerminationCode code);
/* From the request handler, when the request is whole and answered: no deadline until the
 * answer is sent. */
void http_guard_answered(struct http_guard *guard, struct MHD_Connection *connection);

#endif

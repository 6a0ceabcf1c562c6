/* What every scenario writer shares: the base time, deterministic ISNs, framing and the
 * usual conversations. The ISN sequence runs through the first three families in the order
 * main() calls them; every family added since starts its own sequence with isn_reseed()
 * and a seed of its own, so families can be added in any order without changing the
 * captures of another. */
#ifndef OP25B_SCENARIO_H
#define OP25B_SCENARIO_H

#include <stdint.h>

#include "pcapgen.h"

#define LINKTYPE_ETHERNET 1
#define LINKTYPE_LINUX_SLL2 276
#define BASE_SECONDS 1768467600LL /* 2026-01-15T09:00:00Z */

enum { VLAN_ACCESS = 100, VLAN_BUSINESS = 200, VLAN_MOBILE = 300 };

extern const char *scenario_output_dir;

/* How far an SMTP session gets before it is closed politely. */
enum depth {
    DEPTH_HANDSHAKE,
    DEPTH_BANNER,
    DEPTH_EHLO,
    DEPTH_MAIL,
    DEPTH_RCPT,
    DEPTH_DATA,
    DEPTH_STARTTLS,
};

/* Microseconds since the epoch, `seconds` after the base time. */
int64_t at(double seconds);
uint32_t next_isn(void);
/* Starts the ISN sequence anew: a family's own, independent of the families before it. */
void isn_reseed(uint32_t seed);
/* A capture in the output directory, written in time order when closed. */
struct pcapgen *open_capture(const char *name, int linktype);
/* The same, every frame cut at snaplen bytes as a mirror port's capture would be. */
struct pcapgen *open_capture_snaplen(const char *name, int linktype, uint32_t snaplen);
void close_capture(struct pcapgen *out, const char *name);
struct gen_link vlan_link(uint16_t vlan);
void conn_open(struct gen_conn *conn, struct pcapgen *out, int linktype,
               const struct gen_link *link, const char *client, uint16_t client_port,
               const char *server, uint16_t server_port);
void handshake(struct gen_conn *conn, double t);
void close_both(struct gen_conn *conn, double t);
/* A session to an MTA on port 25 that goes to `depth`, then QUIT (or TLS), then FINs. */
void session(struct pcapgen *out, const struct gen_link *link, const char *client,
             uint16_t client_port, const char *server, double t, enum depth depth,
             const char *helo);
/* Ordinary web traffic both ways: shows the sensor that replies travel on this segment. */
void web_exchange(struct pcapgen *out, const struct gen_link *link, const char *client,
                  const char *server, double t);

/* The families of scenarios, each in its own file. */
void scenarios_core(void);
void scenarios_evasion(void);
void scenarios_submission(void);
void scenarios_bots(void);
void scenarios_capture(void);
void scenarios_stacks(void);
void scenarios_fleet(void);
void scenarios_abuse(void);
void scenarios_collateral(void);
void scenarios_migration(void);

#endif

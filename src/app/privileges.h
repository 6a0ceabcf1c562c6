/* -u USER: live capture needs root (or CAP_NET_RAW) only to open the socket; after that
 * the sensor, which parses whatever an attacker sends, runs as an ordinary user. */
#ifndef OP25B_APP_PRIVILEGES_H
#define OP25B_APP_PRIVILEGES_H

#include <stddef.h>
#include <sys/types.h>

/* Becomes USER for good (real, effective and saved ids, groups). Files written at the end
 * (reports, the spool) must be writable by that user. -1 with a message on error. */
int drop_privileges(const char *user, char *error, size_t error_size);

/* Runs job(context) as USER, so that the kernel's own checks (modes, supplementary
 * groups, ACLs, read-only mounts) answer for what USER will be able to do once root is
 * dropped: in a child process that becomes USER when this one is root and USER another
 * user, in this process otherwise. job writes its reason into error and returns -1 on
 * failure. 0, or -1 with the job's (or the switch's) message in error. Call it while the
 * process has one thread. */
int run_as_user(const char *user, int (*job)(void *context, char *error, size_t error_size),
                void *context, char *error, size_t error_size);

/* A worker whose parent is gone (killed with SIGKILL, say) would capture on unseen: it is
 * told SIGTERM instead, and stops as on any SIGTERM. The kernel forgets this setting when
 * the process changes user, so a worker sets it again after drop_privileges. */
void stop_with_parent(pid_t parent);

#endif

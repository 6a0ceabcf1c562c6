#include "app/privileges.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int drop_privileges(const char *user, char *error, size_t error_size)
{
    errno = 0;
    struct passwd *account = getpwnam(user);
    if (account == NULL) {
        snprintf(error, error_size, "-u %s: no such user", user);
        return -1;
    }
    if (getuid() != 0 && geteuid() != 0) {
        if (account->pw_uid == getuid())
            return 0;
        snprintf(error, error_size, "-u %s: only root can change user", user);
        return -1;
    }
    if (initgroups(account->pw_name, account->pw_gid) != 0 || setgid(account->pw_gid) != 0 ||
        setuid(account->pw_uid) != 0) {
        snprintf(error, error_size, "-u %s: cannot change user: %s", user, strerror(errno));
        return -1;
    }
    /* A process that could get root back has not dropped it (CERT POS37-C). */
    if (account->pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
        snprintf(error, error_size, "-u %s: root could be regained; stopping", user);
        return -1;
    }
    return 0;
}

void stop_with_parent(pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) /* it went before the setting took */
        raise(SIGTERM);
}

#include "app/privileges.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
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

/* The child's side: becomes the user, runs the job, sends its message back whole. */
static _Noreturn void job_as_user(const char *user,
                                  int (*job)(void *context, char *error, size_t error_size),
                                  void *context, int channel)
{
    char message[1024] = "";
    int status = drop_privileges(user, message, sizeof(message));
    if (status == 0)
        status = job(context, message, sizeof(message));
    if (status != 0) {
        ssize_t said = write(channel, message, strlen(message));
        (void)said; /* a silent failure still shows in the exit status */
    }
    _exit(status == 0 ? 0 : 1);
}

/* What the child said, up to its end of the pipe closing. */
static size_t read_message(int fd, char *text, size_t size)
{
    size_t got = 0;
    while (got + 1 < size) {
        ssize_t part = read(fd, text + got, size - got - 1);
        if (part < 0 && errno == EINTR)
            continue;
        if (part <= 0)
            break;
        got += (size_t)part;
    }
    if (size > 0)
        text[got] = '\0';
    return got;
}

static bool ended_well(pid_t child)
{
    int status;
    while (waitpid(child, &status, 0) < 0) {
        if (errno != EINTR)
            return false;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int run_as_user(const char *user, int (*job)(void *context, char *error, size_t error_size),
                void *context, char *error, size_t error_size)
{
    struct passwd *account = user != NULL && geteuid() == 0 ? getpwnam(user) : NULL;
    if (account == NULL || account->pw_uid == geteuid())
        return job(context, error, error_size);
    int channel[2];
    if (pipe2(channel, O_CLOEXEC) != 0) {
        snprintf(error, error_size, "pipe: %s", strerror(errno));
        return -1;
    }
    fflush(NULL); /* nothing buffered is written twice */
    pid_t child = fork();
    if (child == 0) {
        close(channel[0]);
        job_as_user(user, job, context, channel[1]);
    }
    close(channel[1]);
    if (child < 0) {
        snprintf(error, error_size, "-u %s: fork: %s", user, strerror(errno));
        close(channel[0]);
        return -1;
    }
    size_t said = read_message(channel[0], error, error_size);
    close(channel[0]);
    if (ended_well(child))
        return 0;
    if (said == 0)
        snprintf(error, error_size, "-u %s: the check as that user failed", user);
    return -1;
}

#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <sys/socket.h>
#include <unistd.h>
#include "cspawn.h"

/* pipe2(2) and accept4(2): glibc (under _GNU_SOURCE) and FreeBSD since 10.0 (pipe(2), accept(2)
   in freebsd-src lib/libc/sys). */
int jp_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int jp_accept_cloexec(int fd) { return accept4(fd, NULL, NULL, SOCK_CLOEXEC); }

int jp_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path) {
    return posix_spawn_file_actions_addchdir_np(actions, path);
}

int jp_thread_detach(void *(*start)(void *), void *arg) {
    pthread_attr_t attr;
    pthread_t thread;
    int rc = pthread_attr_init(&attr);
    if (rc != 0) return rc;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&thread, &attr, start, arg);
    pthread_attr_destroy(&attr);
    return rc;
}

#ifdef __GLIBC__
#include <malloc.h>
#endif

void jp_limit_malloc_arenas(int arenas) {
#ifdef __GLIBC__
    mallopt(M_ARENA_MAX, arenas);
#else
    (void)arenas;  /* FreeBSD's jemalloc sizes its arenas by CPU count; nothing to do */
#endif
}

void jp_trim_malloc(void) {
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

/* Builds name their commit with -Xcc -DJAILPILOT_COMMIT=<hex> (scripts/quickstart, the port's
   Makefile); a bare token, made a string here, so no quoting has to survive the build tools. */
#define JP_STRING2(x) #x
#define JP_STRING(x) JP_STRING2(x)
const char *jp_build_commit(void) {
#ifdef JAILPILOT_COMMIT
    return JP_STRING(JAILPILOT_COMMIT);
#else
    return "";
#endif
}

#ifndef JAILPILOT_CSPAWN_H
#define JAILPILOT_CSPAWN_H
#include <spawn.h>
#include <sys/socket.h>

/// posix_spawn_file_actions_addchdir_np, which glibc only declares under _GNU_SOURCE.
int jp_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path);

/// Starts a detached thread running start(arg); returns 0 or the pthread_create error.
int jp_thread_detach(void *(*start)(void *), void *arg);
/// Caps glibc malloc's arenas (one per thread by default, up to 8 per core); no-op elsewhere.
void jp_limit_malloc_arenas(int arenas);
/// Gives the pages glibc malloc holds free back to the system (malloc_trim(3)); no-op elsewhere
/// (FreeBSD's jemalloc purges on its own).
void jp_trim_malloc(void);
/// pipe2(fds, O_CLOEXEC): both ends close-on-exec from the start, so a process spawned by
/// another thread between pipe(2) and fcntl(2) cannot inherit them (and hold the pipe open).
int jp_pipe_cloexec(int fds[2]);
/// accept4(fd, NULL, NULL, SOCK_CLOEXEC), for the same reason; -1 and errno on failure.
int jp_accept_cloexec(int fd);
/// shutdown(2)'s `how` as the int it takes. Each C library declares SHUT_WR and SHUT_RDWR its
/// own way and Swift imports each differently: glibc as members of an anonymous enum (Int),
/// FreeBSD 14 as #defines (Int32), FreeBSD 15 as members of `enum shutdown_how`
/// (sys/sys/socket.h), a struct; these are the same values, typed as shutdown(2) takes them.
static const int JP_SHUT_WR = SHUT_WR;
static const int JP_SHUT_RDWR = SHUT_RDWR;
/// The commit the binary was built from (`-Xcc -DJAILPILOT_COMMIT=<hex>`), or "" when not given.
const char *jp_build_commit(void);

#endif

#ifndef JAILPILOT_CSPAWN_H
#define JAILPILOT_CSPAWN_H
#include <spawn.h>

/// posix_spawn_file_actions_addchdir_np, which glibc only declares under _GNU_SOURCE.
int jp_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path);

/// Starts a detached thread running start(arg); returns 0 or the pthread_create error.
int jp_thread_detach(void *(*start)(void *), void *arg);
/// Caps glibc malloc's arenas (one per thread by default, up to 8 per core); no-op elsewhere.
void jp_limit_malloc_arenas(int arenas);
/// Gives the pages glibc malloc holds free back to the system (malloc_trim(3)); no-op elsewhere
/// (FreeBSD's jemalloc purges on its own).
void jp_trim_malloc(void);
/// The commit the binary was built from (`-Xcc -DJAILPILOT_COMMIT=<hex>`), or "" when not given.
const char *jp_build_commit(void);

#endif

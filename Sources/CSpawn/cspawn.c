#define _GNU_SOURCE
#include <spawn.h>
#include "cspawn.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

int jp_malloc_trim(void) {
#ifdef __GLIBC__
    return malloc_trim(0);
#else
    return 0;
#endif
}

int jp_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path) {
    return posix_spawn_file_actions_addchdir_np(actions, path);
}

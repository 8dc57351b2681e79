#ifndef JAILPILOT_CGIT2_SHIM_H
#define JAILPILOT_CGIT2_SHIM_H
#include <git2.h>
#endif

#ifndef JAILPILOT_CSQLITE_SHIM_H
#define JAILPILOT_CSQLITE_SHIM_H
#include <sqlite3.h>
#endif

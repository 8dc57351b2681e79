#!/usr/bin/env python3
"""Retargets the toolchain's Linux .swiftinterface files to FreeBSD and replaces what in them is
Linux's with FreeBSD's form. Used by scripts/check-freebsd.

Usage: stdlib.py LINUX_DIR FREEBSD_DIR TARGET CLANG SYSROOT MODULE...

LINUX_DIR is the toolchain's usr/lib/swift/linux; for each MODULE, its
MODULE.swiftmodule/x86_64-unknown-linux-gnu.swiftinterface is written to
FREEBSD_DIR/MODULE.swiftmodule/x86_64-unknown-freebsd.swiftinterface with `-target TARGET` in its
module flags, which the compiler then rebuilds for FreeBSD. Each FreeBSD patch below is small,
says where its FreeBSD form comes from, and fails the run if the Linux text it replaces is not
there (a new toolchain changed it: look again, do not guess).
"""
import os
import re
import subprocess
import sys
import tempfile

AVAILABLE = "@available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)"


def fail(msg):
    sys.stderr.write("stdlib.py: %s\n" % msg)
    sys.exit(1)


def replace_once(text, old, new, what):
    if text.count(old) != 1:
        fail("%s: expected the Linux text once, found it %d times:\n%s" % (what, text.count(old), old))
    return text.replace(old, new)


# --- Glibc ---------------------------------------------------------------------------------

# Linux: glibc's `typedef void (*__sighandler_t)(int)`, so the overlay has a `sighandler_t`
# alias of it and types SIG_DFL & co. by it.
LINUX_SIGNALS = """public typealias sighandler_t = SwiftGlibc.__sighandler_t
public var SIG_DFL: Glibc.sighandler_t? {
  get
}
public var SIG_IGN: Glibc.sighandler_t {
  get
}
public var SIG_ERR: Glibc.sighandler_t {
  get
}
public var SIG_HOLD: Glibc.sighandler_t {
  get
}
"""
# FreeBSD: `typedef void __sighandler_t(int)` (a function type, sys/signal.h) and
# `typedef __sighandler_t *sig_t`, and no sighandler_t (glibc's, a GNU extension); Swift's
# stdlib/public/Platform/Platform.swift, os(FreeBSD) branch (as in FreeBSD's lang/swift6 port),
# types SIG_* as sig_t, so the Linux alias goes too.
FREEBSD_SIGNALS = """public var SIG_DFL: SwiftGlibc.sig_t? {
  get
}
public var SIG_IGN: SwiftGlibc.sig_t {
  get
}
public var SIG_ERR: SwiftGlibc.sig_t {
  get
}
public var SIG_HOLD: SwiftGlibc.sig_t {
  get
}
"""

# FreeBSD's stdio.h: `extern FILE *__stdinp;` and `#define stdin __stdinp` (likewise stdout,
# stderr); a macro naming a variable does not import, so Swift's Platform.swift (the branch for
# os(FreeBSD), which shares Darwin's form) defines them over __stdinp & co. glibc declares
# `extern FILE *stdin;`, which imports as is: the Linux overlay has nothing to replace.
FREEBSD_STDIO = """public var stdin: Swift.UnsafeMutablePointer<SwiftGlibc.FILE> {
  get
  set
}
public var stdout: Swift.UnsafeMutablePointer<SwiftGlibc.FILE> {
  get
  set
}
public var stderr: Swift.UnsafeMutablePointer<SwiftGlibc.FILE> {
  get
  set
}
"""


def tioc_constants(clang, target, sysroot):
    """FreeBSD's sys/sys/ttycom.h defines its ioctl requests as _IO/_IOR/_IOW(...) expressions
    (e.g. TIOCGWINSZ = _IOR('t', 104, struct winsize)), which do not import into Swift (casts,
    sizeof); FreeBSD's overlay defines them as literals of ioctl's request type, UInt. The
    values are computed here by clang from the sysroot's own headers (for TIOCGWINSZ:
    IOC_OUT 0x40000000 | sizeof(struct winsize) 8 << 16 | 't' 0x74 << 8 | 104 = 0x40087468)."""
    header = os.path.join(sysroot, "usr/include/sys/ttycom.h")
    names = []
    with open(header) as f:
        for line in f:
            m = re.match(r"#define\s+(TIOC\w+)\s+_IO(?:R|W|WR|WINT)?\s*\(", line)
            if m:
                names.append(m.group(1))
    if "TIOCGWINSZ" not in names:
        fail("no TIOCGWINSZ in %s" % header)
    # sys/ioctl.h brings ttycom.h; termios.h and sys/time.h the structs it takes the size of.
    src = "#include <sys/types.h>\n#include <sys/time.h>\n#include <termios.h>\n#include <sys/ioctl.h>\n" + "".join(
        "const unsigned long jp_%s = %s;\n" % (n, n) for n in names
    )
    with tempfile.TemporaryDirectory() as tmp:
        c = os.path.join(tmp, "tioc.c")
        with open(c, "w") as f:
            f.write(src)
        run = subprocess.run(
            [clang, "-target", target, "--sysroot", sysroot, "-S", "-emit-llvm", "-o", "-", c],
            capture_output=True, text=True,
        )
        if run.returncode != 0:
            fail("clang could not evaluate the TIOC constants:\n" + run.stderr)
        ir = run.stdout
    values = dict(re.findall(r"@jp_(\w+) = (?:dso_local )?constant i64 (\d+)", ir))
    if set(values) != set(names):
        fail("clang did not evaluate %s" % sorted(set(names) - set(values)))
    if int(values["TIOCGWINSZ"]) != 0x40087468:
        fail("TIOCGWINSZ is 0x%x, not _IOR('t', 104, struct winsize)" % int(values["TIOCGWINSZ"]))
    return "".join(
        "@inlinable public var %s: Swift.UInt {\n  get { return 0x%08x }\n}\n" % (n, int(values[n]))
        for n in names
    )


def patch_glibc(text, tioc):
    text = replace_once(text, LINUX_SIGNALS, FREEBSD_SIGNALS, "Glibc SIG_*")
    if re.search(r"public var std(in|out|err)\b", text):
        fail("Glibc: the Linux overlay now declares stdin/stdout/stderr")
    return text + FREEBSD_STDIO + tioc


# --- Synchronization -----------------------------------------------------------------------

# Linux's Mutex (stdlib/public/Synchronization/Mutex/LinuxImpl.swift) is a futex word holding
# the owner's thread id, from _swift_stdlib_gettid(), which _SynchronizationShims.h declares
# only under __linux__. FreeBSD's (modelled on Mutex/FreeBSDImpl.swift; the toolchain's
# _SynchronizationShims.h includes <sys/umtx.h> under __FreeBSD__ for it) is a struct umutex
# driven by _umtx_op(2) (sys/sys/umtx.h). Only _MutexHandle's storage and its _lock/_tryLock/
# _unlock change; Mutex's API is the same.
LINUX_MUTEX = re.compile(
    re.escape(AVAILABLE) + r"\n@frozen @_staticExclusiveOnly public struct _MutexHandle : ~Swift.Copyable \{\n"
    r".*?internal borrowing func _unlockSlow\(\)\n\}\n",
    re.S,
)
FREEBSD_MUTEX = """{a}
@frozen @_staticExclusiveOnly public struct _MutexHandle : ~Swift.Copyable {{
  @usableFromInline
  internal let value: Synchronization._Cell<SwiftGlibc.umutex>
  {a}
  @_alwaysEmitIntoClient @_transparent public init() {{
    value = _Cell(umutex())
  }}
}}
{a}
extension Synchronization._MutexHandle {{
  {a}
  @_alwaysEmitIntoClient @_transparent internal borrowing func _lock() {{
    _ = _umtx_op(value._address, UMTX_OP_MUTEX_LOCK, 0, nil, nil)
  }}
  {a}
  @_alwaysEmitIntoClient @_transparent internal borrowing func _tryLock() -> Swift.Bool {{
    _umtx_op(value._address, UMTX_OP_MUTEX_TRYLOCK, 0, nil, nil) != -1
  }}
  {a}
  @_alwaysEmitIntoClient @_transparent internal borrowing func _unlock() {{
    _ = _umtx_op(value._address, UMTX_OP_MUTEX_UNLOCK, 0, nil, nil)
  }}
}}
""".format(a=AVAILABLE)


def patch_synchronization(text):
    found = LINUX_MUTEX.findall(text)
    if len(found) != 1 or "_swift_stdlib_gettid" not in found[0]:
        fail("Synchronization: Linux's _MutexHandle not found once")
    text = LINUX_MUTEX.sub(lambda _: FREEBSD_MUTEX, text)
    if "_swift_stdlib_gettid" in text or "futex" in text:
        fail("Synchronization: Linux-only shims left after the patch")
    return text


def main():
    if len(sys.argv) < 6:
        fail("usage: stdlib.py LINUX_DIR FREEBSD_DIR TARGET CLANG SYSROOT MODULE...")
    linux, freebsd, target, clang, sysroot = sys.argv[1:6]
    for module in sys.argv[6:]:
        src = os.path.join(linux, module + ".swiftmodule", "x86_64-unknown-linux-gnu.swiftinterface")
        with open(src) as f:
            text = f.read()
        flags = re.compile(r"^(// swift-module-flags:.*?)-target x86_64-unknown-linux-gnu\b", re.M)
        if len(flags.findall(text)) != 1:
            fail("%s: no `-target x86_64-unknown-linux-gnu` in its module flags" % module)
        text = flags.sub(lambda m: m.group(1) + "-target " + target, text)
        if module == "Glibc":
            text = patch_glibc(text, tioc_constants(clang, target, sysroot))
        elif module == "Synchronization":
            text = patch_synchronization(text)
        out = os.path.join(freebsd, module + ".swiftmodule")
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "x86_64-unknown-freebsd.swiftinterface"), "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()

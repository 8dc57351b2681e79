#!/usr/bin/env python3
"""Turns swift-synthesize-interface's listing of a module without a .swiftinterface
(FoundationEssentials, FoundationInternationalization, Foundation, Dispatch) into a
.swiftinterface the compiler rebuilds for FreeBSD. Used by scripts/check-freebsd.

Usage: synthesized.py [--linux-swiftc SWIFTC] MODULE TARGET LISTING INTERFACE [--build COMMAND...]

The listing is Linux's API surface (the toolchain's binary modules are Linux's); FreeBSD's
Foundation may lack some of it, so a check against it is an over-approximation: code it accepts
can still fail to build on FreeBSD where Foundation differs. What is dropped here to make it
build (Span members, the Predicate family, what the compiler rejects; each listed in
INTERFACE.dropped) is missing from it the other way: code that uses it fails the check.

The listing is a view for reading, not an interface: the fixes here are mechanical, each for one
way the listing departs from what an interface may say. The listing keeps one declaration per
line, a body's `{` at the end of its line and its `}` on a line of its own (checked below).
"""
import os
import re
import subprocess
import sys
import tempfile

# The re-exports of the real modules, which the listing drops (`import X` where the module says
# `@_exported import X`): what `import Foundation` makes visible on Linux (checked with this
# toolchain: DispatchQueue, getpid(), Data and Locale are in scope after `import Foundation`
# alone; after `import FoundationEssentials` or `import Dispatch` alone, getpid() is not).
REEXPORTS = {
    "Foundation": {"Dispatch", "FoundationEssentials", "FoundationInternationalization", "Glibc"},
}

# Types whose members need lifetime-dependence features that the listing does not print the
# annotations for (`@_lifetime`, `~Escapable`): members that mention them are dropped.
SPAN_TYPES = re.compile(r"\b(Span|RawSpan|MutableSpan|MutableRawSpan|OutputSpan|OutputRawSpan)\b")

# The Predicate family (#Predicate, #Expression and the PredicateExpressions it builds on):
# variadic generics and macros that the listing does not print buildably. jailpilot uses none.
PREDICATE = re.compile(
    r"\b(Predicate|PredicateExpression|PredicateExpressions|StandardPredicateExpression|"
    r"PredicateCodableConfiguration|PredicateCodableKeyPathProviding|PredicateError|"
    r"PredicateBindings|PredicateRegex|Expression|ExpressionEvaluate)\b"
)


def fail(msg):
    sys.stderr.write("synthesized.py: %s\n" % msg)
    sys.exit(1)


def parse(lines):
    """Lines -> tree: a list of [head_lines, body_or_None] where head_lines are the
    declaration's attribute and declaration lines, body a nested list (or None)."""
    items = []
    stack = [items]
    pending = []  # comment/attribute lines waiting for their declaration
    for number, line in enumerate(lines, 1):
        s = line.strip()
        if s.startswith("//") or s == "":
            continue  # doc comments are not needed to build
        opens, closes = s.count("{"), s.count("}")
        if s == "}":
            if pending:
                fail("line %d: attributes before a closing brace" % number)
            stack.pop()
            if not stack:
                fail("line %d: unbalanced braces" % number)
            continue
        if opens != closes and not (opens == 1 and closes == 0 and s.endswith("{")):
            fail("line %d: unexpected brace layout: %s" % (number, s))
        if re.fullmatch(r"@[A-Za-z_]+(\(.*\))?", s) and not s.startswith("@freestanding"):
            pending.append(line.rstrip("\n"))  # an attribute on its own line
            continue
        item = [pending + [line.rstrip("\n")], None]
        pending = []
        stack[-1].append(item)
        if opens > closes:
            item[1] = []
            stack.append(item[1])
    if len(stack) != 1:
        fail("unbalanced braces at end of listing")
    return items


def mentions(head, pattern):
    """Whether the declaration itself (not its attributes' messages) names pattern."""
    return pattern.search(head[-1]) is not None


def in_protocol(head):
    return re.search(r"\bprotocol\b", head[-1]) is not None


# A declaration's leading attributes and modifiers: `@preconcurrency`, `@available(macOS 12, *)`,
# `public`, `static`, `nonisolated`, `private(set)`...
PREFIX = r"(?P<pre>\s*(?:(?:@\w+(?:\([^)]*\))?|[a-z]+(?:\([a-z]+\))?)\s+)*)"
PROPERTY = re.compile(PREFIX + r"(?P<kw>let|var)(?P<rest>\s+`?\w+`?\s*:.*)$")
SUBSCRIPT = re.compile(PREFIX + r"subscript\b.*$")
READONLY = re.compile(r"\b(private|fileprivate|internal|package)\(set\)")


def fix_decl(line, container):
    """Gives a bare property or subscript its accessors. The listing prints `{ get }` for
    read-only ones and nothing for read-write ones (as for stored properties); a bare `let` is
    a read-only property (an extension cannot hold stored ones, an interface needs none)."""
    code = line.rstrip()
    m = PROPERTY.match(code)
    if m and m.group("kw") == "let" and code.endswith("{ get }"):  # `public let X: Int { get }`
        return "%svar%s" % (m.group("pre"), m.group("rest"))
    if code.endswith("{ get }") and READONLY.search(code):
        return READONLY.sub("", code).replace("  ", " ")
    if code.endswith("}") or code.endswith("{") or container == "protocol":
        return line
    if m:
        if m.group("kw") == "let":
            return "%svar%s { get }" % (m.group("pre"), m.group("rest"))
        if READONLY.search(m.group("pre")):  # `public private(set) var`: read-only outside
            return READONLY.sub("", m.group("pre")).replace("  ", " ") + "var" + m.group("rest") + " { get }"
        return code + " { get set }"
    if SUBSCRIPT.match(code):
        return code + " { get set }"
    return line


DECL = re.compile(PREFIX + r"(?:struct|class|enum|protocol|actor|typealias|associatedtype)\s+(?P<name>\w+)")
EXTENSION = re.compile(PREFIX + r"extension\s+(?P<name>[\w.]+)")


MODULE = None  # the module being fixed: its own name qualifies its types in the listing


def own(name):
    """A type name without this module's qualification (the listing is printed fully qualified)."""
    return name[len(MODULE) + 1 :] if name.startswith(MODULE + ".") else name


def declared_types(items, prefix, names):
    """The qualified names of the types the listing declares (extensions' members included)."""
    for head, body in items:
        m = DECL.match(head[-1])
        e = EXTENSION.match(head[-1])
        if m:
            name = prefix + m.group("name")
            names.add(name)
        elif e:
            name = own(e.group("name"))
        else:
            continue
        if body is not None:
            declared_types(body, name + ".", names)
    return names


def transform(items, container, names, dropped):
    out = []
    for head, body in items:
        decl = head[-1].strip()
        if container != "file" and mentions(head, SPAN_TYPES):
            dropped.append(decl)
            continue
        if mentions(head, PREDICATE):
            dropped.append(decl)
            continue
        # An extension of a type the module does not make public (the listing keeps empty
        # conformance extensions of internal nested types, e.g. URL.Template.Element).
        e = EXTENSION.match(head[-1])
        if container == "file" and e:
            name = own(e.group("name"))
            if name.split(".")[0] in names and name not in names:
                dropped.append(decl)
                continue
        # `public typealias NSRange` with no `= _NSRange`: the listing hides underscored types.
        # Stand in an empty struct of that name (its members are unknown here: none are
        # assumed, so code that uses them fails this check, an under-approximation).
        m = re.fullmatch(r"(\s*)public typealias (\w+)", head[-1])
        if m and body is None:
            head = head[:-1] + ["%spublic struct %s {" % (m.group(1), m.group(2))]
            body = []
        kind = "protocol" if in_protocol(head) else ("type" if body is not None else None)
        head = head[:-1] + [fix_decl(head[-1], container)]
        if body is not None:
            body = transform(body, kind, names, dropped)
        out.append([head, body])
    return out


# Bridging conversions (`path as NSString`, `data as NSData`): swift-corelibs-foundation
# declares them as conformances to the stdlib's underscored _ObjectiveCBridgeable, which the
# listing hides. (Swift type, its Foundation class, a concrete type for the Linux probe.) Each is
# checked against Linux's Foundation before it is declared (probe_bridges), and every
# `typealias ReferenceType` of the listing must be here, so the table cannot drift from it.
BRIDGES = [
    ("Swift.String", "Foundation.NSString", "String"),
    ("Swift.Substring", "Foundation.NSString", "Substring"),
    ("Swift.Array", "Foundation.NSArray", "[Int]"),
    ("Swift.Dictionary", "Foundation.NSDictionary", "[String: Int]"),
    ("Swift.Set", "Foundation.NSSet", "Set<Int>"),
] + [
    ("Swift." + t, "Foundation.NSNumber", t)
    for t in "Int Int8 Int16 Int32 Int64 UInt UInt8 UInt16 UInt32 UInt64 Float Double Bool".split()
] + [
    ("FoundationEssentials." + t, "Foundation." + ns, p)
    for t, ns, p in [
        ("Data", "NSData", "Data"),
        ("Date", "NSDate", "Date"),
        ("UUID", "NSUUID", "UUID"),
        ("Locale", "NSLocale", "Locale"),
        ("Decimal", "NSDecimalNumber", "Decimal"),
        ("DateInterval", "NSDateInterval", "DateInterval"),
        ("URLQueryItem", "NSURLQueryItem", "URLQueryItem"),
        ("DateComponents", "NSDateComponents", "DateComponents"),
        ("IndexPath", "NSIndexPath", "IndexPath"),
        ("Calendar", "NSCalendar", "Calendar"),
        ("TimeZone", "NSTimeZone", "TimeZone"),
        ("URL", "NSURL", "URL"),
        ("URLComponents", "NSURLComponents", "URLComponents"),
    ]
] + [
    ("Foundation." + t, "Foundation." + ns, p)
    for t, ns, p in [
        ("IndexSet", "NSIndexSet", "IndexSet"),
        ("CharacterSet", "NSCharacterSet", "CharacterSet"),
        ("AffineTransform", "NSAffineTransform", "AffineTransform"),
        ("Measurement", "NSMeasurement", "Measurement<UnitLength>"),
        ("Notification", "NSNotification", "Notification"),
        ("PersonNameComponents", "NSPersonNameComponents", "PersonNameComponents"),
    ]
]


def probe_bridges(swiftc):
    """Fails unless every BRIDGES conversion type-checks against Linux's real Foundation."""
    src = "import Foundation\n" + "".join(
        "func probe%d(_ x: %s) -> %s { x as %s }\n" % (n, p, ns, ns) for n, (_, ns, p) in enumerate(BRIDGES)
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bridges.swift")
        with open(path, "w") as f:
            f.write(src)
        run = subprocess.run([swiftc, "-typecheck", path], capture_output=True, text=True)
    if run.returncode != 0:
        fail("a bridging conversion of BRIDGES does not type-check on Linux:\n" + run.stderr[-3000:])


def add_bridges(tree, text):
    listed = set(re.findall(r"typealias ReferenceType = (Foundation\.\w+)", text))
    missing = listed - {ns for _, ns, _ in BRIDGES}
    if missing:
        fail("Foundation: ReferenceConvertible types not in BRIDGES: %s" % sorted(missing))
    for swift, ns, _ in BRIDGES:
        tree.append([
            ["extension %s : Swift._ObjectiveCBridgeable {" % swift],
            [
                [["    public typealias _ObjectiveCType = %s" % ns], None],
                [["    public func _bridgeToObjectiveC() -> %s" % ns], None],
                [["    public static func _forceBridgeFromObjectiveC(_ source: %s, result: inout Self?)" % ns], None],
                [["    @discardableResult public static func _conditionallyBridgeFromObjectiveC(_ source: %s, result: inout Self?) -> Swift.Bool" % ns], None],
                [["    public static func _unconditionallyBridgeFromObjectiveC(_ source: %s?) -> Self" % ns], None],
            ],
        ])


def dedupe_globals(tree, dropped):
    """The listing prints some of Foundation's global constants twice (NSFileNoSuchFileError,
    NSZeroSize...), once read-only and once read-write: one declaration is kept, the
    read-write one where they differ (the larger API)."""
    chosen = {}
    for item in tree:
        m = PROPERTY.match(item[0][-1])
        if m and item[1] is None:
            name = m.group("rest").split(":")[0].strip()
            if name not in chosen or item[0][-1].endswith("{ get set }"):
                chosen[name] = item
    kept = []
    for item in tree:
        m = PROPERTY.match(item[0][-1])
        if m and item[1] is None and chosen[m.group("rest").split(":")[0].strip()] is not item:
            dropped.append("(twice) " + item[0][-1].strip())
            continue
        kept.append(item)
    return kept


def emit(items, depth, out, spans):
    """Writes the tree as lines into out; spans gets (first, last, item) for each item, 1-based
    line numbers counted from out's start."""
    for item in items:
        head, body = item
        first = len(out) + 1
        out.extend(head)
        if body is not None:
            emit(body, depth + 1, out, spans)
            out.append("    " * depth + "}")
        spans.append((first, len(out), item))


def render(module, target, tree):
    lines = []
    spans = []
    reexports = REEXPORTS.get(module, set())
    header = [
        "// swift-interface-format-version: 1.0",
        "// swift-module-flags: -target %s -enable-library-evolution -swift-version 5 "
        "-module-name %s" % (target, module),
        "// Synthesized from Linux's %s by scripts/check-freebsd.d/synthesized.py." % module,
        # What a source file imports implicitly, and the listing does not print.
        "import Swift",
        "import _Concurrency",
        "import _StringProcessing",
    ]
    emit(tree, 0, lines, spans)
    for n, line in enumerate(lines):
        m = re.fullmatch(r"import (\w+)", line)
        if m and m.group(1) in reexports:
            lines[n] = "@_exported import " + m.group(1)
    spans = [(a + len(header), b + len(header), item) for a, b, item in spans]
    return "\n".join(header + lines) + "\n", spans


def remove(items, doomed):
    items[:] = [item for item in items if id(item) not in doomed]
    for _, body in items:
        if body is not None:
            remove(body, doomed)


def main():
    global MODULE
    args = sys.argv[1:]
    build = []
    linux_swiftc = None
    if "--build" in args:
        build = args[args.index("--build") + 1 :]
        args = args[: args.index("--build")]
    if len(args) > 1 and args[0] == "--linux-swiftc":
        linux_swiftc, args = args[1], args[2:]
    if len(args) != 4:
        fail("usage: synthesized.py [--linux-swiftc SWIFTC] MODULE TARGET LISTING INTERFACE [--build COMMAND...]")
    module, target, listing, interface = args
    MODULE = module
    with open(listing) as f:
        text = f.read()
    tree = parse(text.splitlines())
    dropped = []
    tree = transform(tree, "file", declared_types(tree, "", set()), dropped)
    tree = dedupe_globals(tree, dropped)
    if module == "Foundation":
        if not linux_swiftc:
            fail("Foundation needs --linux-swiftc SWIFTC (to probe its bridging conversions)")
        probe_bridges(linux_swiftc)
        add_bridges(tree, text)
    # What the listing leaves out can make what it keeps unbuildable: it omits extensions of the
    # module's types nested in another module's (FoundationInternationalization's
    # Date.FormatStyle.DateStyle, its Date.FormatStyle : FormatStyle conformance...). With
    # --build, the declarations the compiler rejects are dropped until the interface builds, and
    # listed in INTERFACE.dropped: APIs this check then lacks (an under-approximation there).
    for _ in range(10):
        rendered, spans = render(module, target, tree)
        with open(interface, "w") as f:
            f.write(rendered)
        if not build:
            break
        run = subprocess.run(build, capture_output=True, text=True)
        fixed = False
        if run.returncode == 0:
            break
        errors = re.findall(re.escape(interface) + r":(\d+):\d+: error: (.*)", run.stderr)
        doomed = {}
        for line, message in sorted(errors, key=lambda e: int(e[0])):
            inner = [(b - a, item) for a, b, item in spans if a <= int(line) <= b]
            if not inner:
                continue
            item = min(inner, key=lambda x: x[0])[1]
            # `override public init()` where the superclass's init() is not public (Dispatch's
            # DispatchObject, NSKeyedArchiver's NSCoder): the listing prints the `override`.
            if message.startswith("initializer does not override") and item[1] is None:
                item[0][-1] = re.sub(r"\boverride ", "", item[0][-1], count=1)
                fixed = True
                continue
            doomed[id(item)] = item
        if not doomed and not fixed:
            fail("%s does not build, and not for its own declarations:\n%s" % (module, run.stderr[-4000:]))
        dropped += ["(unbuildable) " + item[0][-1].strip() for item in doomed.values()]
        remove(tree, set(doomed))
    else:
        fail("%s still does not build after 10 rounds of dropping" % module)
    with open(interface + ".dropped", "w") as f:
        f.write("".join(d + "\n" for d in dropped))
    unbuildable = sum(d.startswith("(unbuildable)") for d in dropped)
    sys.stderr.write(
        "synthesized.py: %s: %d declarations of the listing dropped, %d of them unbuildable (%s.dropped)\n"
        % (module, len(dropped), unbuildable, interface)
    )


if __name__ == "__main__":
    main()

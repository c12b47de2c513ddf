#!/usr/bin/env python3
"""Fails when an import crosses the module boundaries of docs/architecture.md.

`--write-table` rewrites the table's "depends on" column from Package.swift instead.

Three checks, from the one table in docs/architecture.md ("depends on"), Package.swift
(`swift package dump-package`) and the sources:

1. Each module's `depends on` in the table names exactly the package's own modules that
   Package.swift declares for that target (external packages are not listed in the table).
2. Every `import` of one of the package's modules in Sources/<T>/ and Tests/<T>/ is a declared
   dependency of T (SwiftPM lets a module import what another target built; this does not).
3. Rules that hold whatever the table says: only the drivers touch the C modules; only `Drivers`,
   `CaseSources` (the CSWeb-shaped SQLite databases it writes), the bench and the tests name a
   concrete driver; the product modules never import the CLI's layers (Reconcile, Runner, Dashboard)
   from below; the generated-data modules (Generators, Verification) are not in the product binary.
"""
import json, os, re, subprocess, sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.chdir(root)
package = json.loads(subprocess.run(["swift", "package", "dump-package"], check=True, capture_output=True, text=True).stdout)
targets = {t["name"]: t for t in package["targets"]}
ours = set(targets)

def deps(t):
    out = set()
    for d in t["dependencies"]:
        kind = next(iter(d))
        out.add(d[kind][0])
    return out

problems = []

if sys.argv[1:] == ["--write-table"]:
    # Rewrites the "depends on" column from Package.swift (our modules first, then external products).
    lines = open("docs/architecture.md", encoding="utf-8").read().split("\n")
    for i, line in enumerate(lines):
        if not line.startswith("| `"):
            continue
        cells = line.strip().strip("|").split("|")
        names = re.findall(r"`([^`]+)`", cells[0])
        if len(names) != 1 or names[0] not in targets or cells[-1].strip() == "everything above":
            continue
        declared = [d[next(iter(d))][0] for d in targets[names[0]]["dependencies"]]
        mine = [f"`{d}`" for d in declared if d in ours]
        external = [d for d in declared if d not in ours]
        cells[-1] = " " + (", ".join(mine + external) or "—") + " "
        lines[i] = "|" + "|".join(cells) + "|"
    open("docs/architecture.md", "w", encoding="utf-8").write("\n".join(lines))
    sys.exit(0)

# 1. The table.
table = {}
for line in open("docs/architecture.md", encoding="utf-8"):
    if not line.startswith("| `"):
        continue
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    names = re.findall(r"`([^`]+)`", cells[0])
    listed = set(re.findall(r"`([^`]+)`", cells[-1])) & ours
    free = cells[-1].strip() == "everything above"
    for name in names:
        table[name] = None if free else listed
for name, t in targets.items():
    if t["type"] == "test":
        continue
    if name not in table:
        problems.append(f"docs/architecture.md: module {name} has no row in the table; add one (what it owns, what it depends on)")
        continue
    if table[name] is None:
        continue
    declared = deps(t) & ours
    if declared != table[name]:
        missing = sorted(declared - table[name]); extra = sorted(table[name] - declared)
        problems.append(f"docs/architecture.md: the row of {name} says it depends on {sorted(table[name]) or 'nothing'}, "
                        f"Package.swift says {sorted(declared) or 'nothing'}"
                        + (f" (not in the table: {', '.join(missing)})" if missing else "")
                        + (f" (not in Package.swift: {', '.join(extra)})" if extra else "")
                        + "; change whichever is wrong")
for name in table:
    if name not in ours:
        problems.append(f"docs/architecture.md: the table has a row for {name}, which is not a target in Package.swift")

# 2. Imports against declared dependencies.
pattern = re.compile(r"^\s*(?:@testable\s+)?(?:@_implementationOnly\s+)?import\s+(?:(?:struct|class|enum|protocol|func|typealias|var|let)\s+)?(\w+)", re.M)
imports = {}
for name, t in targets.items():
    base = "Tests" if t["type"] == "test" else "Sources"
    folder = t.get("path") or os.path.join(base, name)
    if not os.path.isdir(folder):
        continue
    for dirpath, _, files in os.walk(folder):
        for f in files:
            if not f.endswith(".swift"):
                continue
            path = os.path.join(dirpath, f)
            text = open(path, encoding="utf-8").read()
            for m in pattern.finditer(text):
                module = m.group(1)
                imports.setdefault(name, set()).add(module)
                if module in ours and module != name and module not in deps(t):
                    line = text.count("\n", 0, m.start()) + 1
                    problems.append(f"{path}:{line}: {name} imports {module}, which Package.swift does not list among {name}'s "
                                    f"dependencies; add it there and to docs/architecture.md, or do not import it")

# 3. Rules that hold whatever the table says.
c_modules = {n for n, t in targets.items() if t["type"] == "system"}
concrete = {"PostgresDriver", "MySQLDriver", "SQLServerDriver", "SQLiteDriver"}
owners = {"CLibPQ": {"PostgresDriver"}, "CMariaDB": {"MySQLDriver"}, "CFreeTDS": {"SQLServerDriver"},
          "CSQLite3": {"SQLiteDriver"}, "CLibdeflate": {"CSPro"}, "COpenSSL": {"Secrets"}}
upper = {"Reconcile", "Runner", "Dashboard", "breakout"}
lower = {"Diagnostics", "SQL", "Cron", "Secrets", "CSPro", "DatabaseDriver", "Config", "State", "CaseSources", "Breakout", "Verification",
         "Generators"} | concrete | {"Drivers"}
test_only = {"Generators", "Verification"}

def closure(name, seen=None):
    seen = set() if seen is None else seen
    for d in deps(targets[name]) & ours:
        if d not in seen:
            seen.add(d)
            closure(d, seen)
    return seen

for name in test_only & closure("breakout"):
    problems.append(f"Package.swift: the breakout executable links {name}, which is for tests and the bench only")
for name, t in targets.items():
    declared = deps(t)
    if t["type"] == "test":
        continue
    for c in declared & c_modules:
        if name not in owners.get(c, set()):
            problems.append(f"Package.swift: {name} depends on the C module {c}; only {', '.join(sorted(owners.get(c, set())))} may (raw pointers stay in one module)")
    if name not in {"Drivers", "CaseSources", "breakout-bench"} and declared & concrete:
        problems.append(f"Package.swift: {name} depends on {', '.join(sorted(declared & concrete))}; connect through Drivers (Databases.connect) instead")
    if name in lower and declared & upper:
        problems.append(f"Package.swift: {name} depends on {', '.join(sorted(declared & upper))}, a layer above it")

if problems:
    for p in problems:
        print(p, file=sys.stderr)
    print(f"check-architecture: {len(problems)} problem(s)", file=sys.stderr)
    sys.exit(1)
print(f"check-architecture: {len([t for t in targets.values() if t['type'] != 'test'])} modules, imports within their declared dependencies")

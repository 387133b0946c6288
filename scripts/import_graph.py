#!/usr/bin/env python3
"""Draw the import graph of src/: each `use crate::...` (or `crate::` path, `super::`) is an arrow
from one file to another. Prints rooms, arrows, circles, floors and the largest files.

    python3 scripts/import_graph.py [--dot] [src]
"""
import os
import signal
import re
import sys


def module_files(src):
    """Map a module path ('output::table') to its file, for every .rs file under src."""
    mods = {}
    for root, _, files in os.walk(src):
        for name in files:
            if not name.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(root, name), src)[:-3].split(os.sep)
            if rel in (["lib"], ["main"]):
                path = [] if rel == ["lib"] else ["<main>"]
            elif rel[-1] == "mod":
                path = rel[:-1]
            else:
                path = rel
            mods["::".join(path)] = os.path.join(src, *rel) + ".rs"
    return mods


def strip_tests(text):
    """Drop `#[cfg(test)] mod tests { ... }` bodies and comments: test-only arrows are not the design."""
    text = re.sub(r"//[^\n]*", "", text)
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\([^\]]*\btest\b[^\]]*\)\]\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*\{", text):
        if m.start() < i:
            continue
        out.append(text[i:m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    return "".join(out)


def uses(text):
    """Every crate path named in the text, expanded through `use a::{b, c::d}` groups."""
    paths = []
    for m in re.finditer(r"\buse\s+([^;]+);", text):
        paths.extend(expand(m.group(1).replace("\n", " ")))
    for m in re.finditer(r"(?<![\w:])((?:crate|super|self)(?:::\w+)+)", text):
        paths.append(m.group(1))
    # A child module named without a prefix (`linux::snapshot()`, `use sock_diag::Request`).
    for m in re.finditer(r"(?<![\w:])(\w+)::", text):
        paths.append("self::" + m.group(1))
    return paths


def expand(tree):
    tree = tree.strip()
    brace = tree.find("{")
    if brace < 0:
        return [tree.split(" as ")[0].strip()]
    prefix = tree[:brace]
    inner = tree[brace + 1: tree.rfind("}")]
    parts, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += {"{": 1, "}": -1}.get(ch, 0)
        cur += ch
    parts.append(cur)
    return [p for part in parts if part.strip() for p in expand(prefix + part.strip())]


def resolve(path, here, mods):
    parts = path.split("::")
    if parts[0] not in ("crate", "super", "self"):
        parts = ["self"] + parts
    if parts[0] == "crate":
        parts = parts[1:]
    elif parts[0] in ("super", "self"):
        base = here.split("::") if here else []
        if parts[0] == "self" and len(parts) > 1:
            # `self::x` and a bare `x::` name a child of this module, never the module itself.
            for n in range(len(parts), 1, -1):
                child = "::".join(base + parts[1:n])
                if child in mods:
                    return child
            return None
        while parts and parts[0] in ("super", "self"):
            if parts[0] == "super":
                base = base[:-1]
            parts = parts[1:]
        parts = base + parts
    else:
        return None
    for n in range(len(parts), -1, -1):
        key = "::".join(parts[:n])
        if key in mods:
            return key
    return None


def sccs(nodes, edges):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(comp)

    sys.setrecursionlimit(10000)
    for v in nodes:
        if v not in index:
            visit(v)
    return out


def logic_lines(path):
    text = open(path).read()
    return len([l for l in strip_tests(text).splitlines() if l.strip()])


def main():
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    src = args[0] if args else "src"
    mods = module_files(src)
    # Files that are test modules (`#[cfg(test)] mod tests;`) are not rooms of the design.
    for mod, path in list(mods.items()):
        for m in re.finditer(r"#\[cfg\([^\]]*\btest\b[^\]]*\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", open(path).read()):
            test_mod = "::".join(filter(None, [mod, m.group(1)]))
            for key in [k for k in mods if k == test_mod or k.startswith(test_mod + "::")]:
                mods.pop(key)
    edges = {}
    for mod, path in mods.items():
        text = strip_tests(open(path).read())
        for p in uses(text):
            target = resolve(p, mod, mods)
            if target is None or target == mod:
                continue
            edges.setdefault(mod, set()).add(target)
    # A module's declaration of its children (`mod x;`) is not an import arrow.
    nodes = sorted(mods)
    name = lambda m: m or "lib.rs"
    comps = [sorted(c) for c in sccs(nodes, edges) if len(c) > 1]
    # Floors: the longest chain of arrows down from a room, a circle counted as one room.
    comps_all = sccs(nodes, edges)
    comp_of = {v: i for i, c in enumerate(comps_all) for v in c}
    comp_edges = {}
    for v, ts in edges.items():
        for w in ts:
            if comp_of[w] != comp_of[v]:
                comp_edges.setdefault(comp_of[v], set()).add(comp_of[w])
    comp_depth = {}

    def floor(c):
        if c not in comp_depth:
            comp_depth[c] = 1 + max((floor(d) for d in comp_edges.get(c, ())), default=0)
        return comp_depth[c]

    depth = {v: floor(comp_of[v]) - 1 for v in nodes}
    into_lib = sorted(name(m) for m, ts in edges.items() if "" in ts)
    arrows = sum(len(t) for t in edges.values())
    if "--dot" in sys.argv:
        print("digraph rnetstat {")
        for m in nodes:
            for t in sorted(edges.get(m, ())):
                print(f'  "{name(m)}" -> "{name(t)}";')
        print("}")
        return
    print(f"rooms: {len(nodes)}  arrows: {arrows}  floors: {max(depth.values()) + 1}  circles: {len(comps)}")
    for c in comps:
        print("  circle: " + " <-> ".join(name(m) for m in c))
    pairs = sorted((a, b) for a, ts in edges.items() for b in ts if a < b and a in edges.get(b, ()))
    print(f"rooms importing each other: {len(pairs)}")
    for a, b in pairs:
        print(f"  {name(a)} <-> {name(b)}")
    print(f"arrows into lib.rs: {len(into_lib)} ({', '.join(into_lib)})")
    sizes = sorted(((logic_lines(p), name(m)) for m, p in mods.items()), reverse=True)
    print("largest files (lines of logic, tests and blank lines aside):")
    for n, m in sizes[:8]:
        print(f"  {n:5} {m}")
    if "--edges" in sys.argv:
        for m in nodes:
            print(f"{name(m)} -> {', '.join(name(t) for t in sorted(edges.get(m, ())))}")


main()

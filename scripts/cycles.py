#!/usr/bin/env python3
"""scripts/cycles.py [SRC_DIR [x]]: the file-level import graph of a crate's src (test modules left out): `crate::`, `super::`,
`self::` and child-module paths, following `pub use` re-exports to the defining file.
Prints each cycle (strongly connected component); with a second argument, every edge."""
import os, re, sys
root = sys.argv[1] if len(sys.argv) > 1 else 'crates/core/src'
files = {}
for d, _, fs in os.walk(root):
    for f in fs:
        if f.endswith('.rs'):
            rel = os.path.relpath(os.path.join(d, f), root)
            if rel.endswith('tests.rs') or '/tests/' in rel:
                continue
            src = open(os.path.join(d, f)).read()
            m = re.search(r'#\[cfg\(test\)\]\s*mod \w+\s*\{', src)
            src = src[:m.start()] if m else src
            files[rel] = re.sub(r'//[^\n]*', '', src)
def modpath(rel):
    parts = rel[:-3].split('/')
    return tuple(parts[:-1] if parts[-1] in ('mod', 'lib') else parts)
mods = {modpath(r): r for r in files}
def children(mp):
    return {k[-1] for k in mods if len(k) == len(mp) + 1 and k[:len(mp)] == mp}
# re-exports: (module path, name) -> absolute item path
reexp = {}
def absolutize(mp, parts):
    if parts[0] == 'crate': return list(parts[1:])
    out = list(mp)
    while parts and parts[0] in ('super', 'self'):
        if parts[0] == 'super': out = out[:-1]
        parts = parts[1:]
    if parts and parts[0] in children(tuple(out)) or True:
        return out + list(parts)
for rel, src in files.items():
    mp = modpath(rel)
    for m in re.finditer(r'pub(?:\([^)]*\))?\s+use\s+([\w:]+?)(?:::\{([^;]*)\}|::(\w+)(?:\s+as\s+(\w+))?)\s*;', src):
        base = [b for b in m.group(1).split('::') if b]
        items = [m.group(3)] if m.group(3) else [i.strip() for i in m.group(2).split(',') if i.strip()]
        for it in items:
            name = it.split(' as ')[-1].strip()
            src_name = it.split(' as ')[0].strip()
            if m.group(4): name = m.group(4)
            reexp[(mp, name)] = absolutize(mp, base + src_name.split('::'))
def resolve(parts, depth=0):
    for n in range(len(parts), 0, -1):
        mp = tuple(parts[:n])
        if mp in mods:
            if n < len(parts) and (mp, parts[n]) in reexp and depth < 10:
                return resolve(reexp[(mp, parts[n])] + parts[n+1:], depth + 1)
            return mods[mp]
    return None
edges = {r: set() for r in files}
for rel, src in files.items():
    mp = modpath(rel)
    kids = children(mp)
    pat = r'\b(crate|super|self|' + '|'.join(sorted(kids) or ['_none_']) + r')((?:::\w+)*)(::\{([^;]*?)\})?'
    for m in re.finditer(pat, src):
        if not m.group(2) and not m.group(3):
            continue
        head = m.group(1)
        tail = [t for t in m.group(2).strip(':').split('::') if t]
        parts = absolutize(mp, [head] + tail) if head in ('crate', 'super', 'self') else list(mp) + [head] + tail
        targets = [] if m.group(4) else [parts]
        if m.group(4):
            for item in re.split(r',\s*', m.group(4)):
                item = item.strip().split(' as ')[0].replace('{', '').replace('}', '')
                if item and item != 'self':
                    targets.append(parts + item.split('::'))
        for t in targets:
            f = resolve(t)
            if f and f != rel:
                edges[rel].add(f)
index, low, stack, on, sccs, i = {}, {}, [], set(), [], [0]
sys.setrecursionlimit(10000)
def strong(v):
    index[v] = low[v] = i[0]; i[0] += 1; stack.append(v); on.add(v)
    for w in edges[v]:
        if w not in index:
            strong(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        c = []
        while True:
            w = stack.pop(); on.discard(w); c.append(w)
            if w == v: break
        if len(c) > 1: sccs.append(sorted(c))
for v in sorted(files):
    if v not in index: strong(v)
for c in sccs:
    print(f'{len(c)} files: ' + ' '.join(c))
if not sccs: print('no cycles')
if len(sys.argv) > 2:
    for v in sorted(edges):
        print(v, '->', ' '.join(sorted(edges[v])))
# Top-level modules: collapse each file to its first path component.
top = lambda r: r.split('/')[0].removesuffix('.rs')
tedges = {}
for v, ws in edges.items():
    for w in ws:
        if top(v) != top(w):
            tedges.setdefault(top(v), set()).add(top(w))
nodes = sorted({top(v) for v in files})
idx, lo, st, on2, out, k = {}, {}, [], set(), [], [0]
def strong2(v):
    idx[v] = lo[v] = k[0]; k[0] += 1; st.append(v); on2.add(v)
    for w in tedges.get(v, ()):
        if w not in idx:
            strong2(w); lo[v] = min(lo[v], lo[w])
        elif w in on2:
            lo[v] = min(lo[v], idx[w])
    if lo[v] == idx[v]:
        c = []
        while True:
            w = st.pop(); on2.discard(w); c.append(w)
            if w == v: break
        if len(c) > 1: out.append(sorted(c))
for v in nodes:
    if v not in idx: strong2(v)
print('module-level cycles:', out or 'none')
print('modules importing stack/:', sorted(v for v in tedges if 'stack' in tedges[v]))
if len(sys.argv) > 2:
    for v in sorted(tedges):
        print('MOD', v, '->', ' '.join(sorted(tedges[v])))

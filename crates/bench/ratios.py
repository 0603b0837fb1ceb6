#!/usr/bin/env python3
"""Prints criterion's last mean estimates per group as throughput ratios against a
reference implementation: ratios.py GROUP REFERENCE [TARGET_DIR].
Example: crates/bench/ratios.py checksum smoltcp"""
import json, pathlib, sys

group, ref = sys.argv[1], sys.argv[2]
root = pathlib.Path(sys.argv[3] if len(sys.argv) > 3 else "target") / "criterion" / group
means = {}
for est in root.glob("*/*/new/estimates.json"):
    impl, param = est.parts[-4], est.parts[-3]
    means[(impl, param)] = json.loads(est.read_text())["mean"]["point_estimate"]
params = sorted({p for _, p in means}, key=lambda p: (len(p), p))
impls = sorted({i for i, _ in means})
print(f"{group}: mean time per iteration; ratio = {ref} time / impl time (>1 means faster than {ref})")
for p in params:
    base = means.get((ref, p))
    for i in impls:
        t = means.get((i, p))
        if t is None:
            continue
        ratio = f"{base / t:6.2f}x" if base else "   n/a"
        print(f"  {p:>10} {i:<18} {t:14.1f} ns  {ratio}")

#!/usr/bin/env python3
"""Draws docs/performance-growth.png from the JSON lines of `make bench` (.build/bench/breakout.json):
cases per second against N, per destination and source, for breakout's default setting, its fastest
setting and the raw single-stream load of the same rows. Needs matplotlib (pip install matplotlib);
it is not part of the tests.

    scripts/plot-bench.py [.build/bench/breakout.json] [docs/performance-growth.png]
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    source = sys.argv[1] if len(sys.argv) > 1 else ".build/bench/breakout.json"
    target = sys.argv[2] if len(sys.argv) > 2 else "docs/performance-growth.png"
    with open(source) as f:
        lines = json.load(f)
    labels = sorted({(l["destination"], l["source"]) for l in lines})
    fig, axes = plt.subplots(1, len(labels), figsize=(5.2 * len(labels), 4.2), squeeze=False)
    for axis, (destination, source_name) in zip(axes[0], labels):
        mine = [l for l in lines if l["destination"] == destination and l["source"] == source_name]
        sizes = sorted({l["n"] for l in mine})

        def series(pick):
            xs, ys = [], []
            for n in sizes:
                here = [l for l in mine if l["n"] == n and pick(l)]
                if here:
                    xs.append(n)
                    ys.append(max(l["cases"] / l["seconds"] for l in here))
            return xs, ys

        for name, pick, style in [
            ("raw load, 1 stream", lambda l: l["kind"] == "raw", "k--"),
            ("raw, indexes after the rows", lambda l: l["kind"] == "rawDeferred", "k:"),
            ("breakout, default (3×1000)", lambda l: l["kind"] == "breakout" and l["isDefault"], "o-"),
            ("breakout, fastest setting", lambda l: l["kind"] == "breakout", "s-"),
        ]:
            xs, ys = series(pick)
            if xs:
                axis.plot(xs, ys, style, label=name)
        axis.set_xscale("log")
        axis.set_xticks(sizes)
        axis.set_xticklabels([f"{n:,}" for n in sizes])
        axis.minorticks_off()
        axis.set_ylim(bottom=0)
        axis.set_xlabel("cases (N)")
        axis.set_ylabel("cases per second")
        axis.set_title(f"{destination} ← {source_name}", fontsize=10)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8, loc="lower left")
    fig.suptitle("breakout rate against N (one make bench run; flat is the target)", fontsize=11)
    fig.tight_layout()
    fig.savefig(target, dpi=110)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()

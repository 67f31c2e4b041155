#!/usr/bin/env python3
"""The baseline faqbot is measured against: the regex bot people write
instead, a plain Python `re` loop over the same patterns (from `faqbot
topics --json`), crisis first, then advice, then the first FAQ match, on the
same messages lower-cased. Prints the same figures line as bench_classify."""
import json, re, subprocess, sys, time

faqbot, tsv, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
entries = [json.loads(l) for l in subprocess.run(
    faqbot.split() + ["topics", "--json"], capture_output=True, text=True, check=True).stdout.splitlines()]
order = {"crisis": 0, "advice": 1, "faq": 2}
compiled, skipped = [], 0
for e in sorted(entries, key=lambda e: order[e["class"]]):
    for p in e["patterns"]:
        try:
            compiled.append((e["class"], e["id"], re.compile(p, re.IGNORECASE)))
        except re.error:
            skipped += 1
msgs = [l.split("\t")[0] for l in open(tsv, encoding="utf-8")
        if l.strip() and not l.startswith("#") and "\t" in l]

def classify(text):
    t = " ".join(text.lower().replace("\u2019", "'").split())
    for cls, eid, rx in compiled:
        if rx.search(t):
            return cls, eid
    return "none", None

lat = []
t0 = time.perf_counter()
for _ in range(reps):
    for m in msgs:
        a = time.perf_counter()
        classify(m)
        lat.append(time.perf_counter() - a)
total = time.perf_counter() - t0
lat.sort()
n = len(lat)
print("messages=%d seconds=%.3f per_sec=%.0f p50_us=%.2f p99_us=%.2f skipped_patterns=%d"
      % (n, total, n / total, lat[n // 2] * 1e6, lat[n * 99 // 100] * 1e6, skipped))

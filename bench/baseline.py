#!/usr/bin/env python3
"""The baseline faqbot is measured against: the regex bot people write
instead, a plain Python `re` loop over the same patterns (from `faqbot topics
--json --compiled`, word lists written out) and the same algorithm: lower-case and fold white space, blank the
negations, crisis first, then advice, then, for question-shaped messages,
the FAQ entry of highest priority. Prints the same figures line as
bench_classify."""
import json, re, subprocess, sys, time

faqbot, tsv, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
entries = [json.loads(l) for l in subprocess.run(
    faqbot.split() + ["topics", "--json", "--compiled"], capture_output=True, text=True,
    check=True).stdout.splitlines()]
skipped = 0

def comp(p):
    global skipped
    try:
        return re.compile(p, re.IGNORECASE)
    except re.error:
        skipped += 1
        return None

def group(cls):
    out = []
    for e in entries:
        if e["class"] == cls:
            rx = [r for r in map(comp, e["compiled_patterns"]) if r]
            out.append((e, rx))
    # highest priority first: the first match is the answer
    out.sort(key=lambda x: -x[0].get("priority", 0))
    return out

negations = [r for e in entries for r in map(comp, e.get("compiled_negations", [])) if r]
crisis, advice, faq = group("crisis"), group("advice"), group("faq")
question = [r for e, rx in group("question") for r in rx]
msgs = [l.split("\t")[0] for l in open(tsv, encoding="utf-8")
        if l.strip() and not l.startswith("#") and "\t" in l]

def first(groups, t, is_q=True):
    for e, rx in groups:
        if e.get("only_questions") and not is_q:
            continue
        for r in rx:
            if r.search(t):
                return e["id"]
    return None

def classify(text):
    t = " ".join(text.lower().replace("\u2019", "'").split())
    masked = t
    for r in negations:
        masked = r.sub(lambda m: " " * len(m.group(0)), masked)
    if first(crisis, masked):
        return "crisis"
    if first(advice, t):
        return "advice"
    is_q = any(r.search(t) for r in question)
    return first(faq, t, is_q) or "none"

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

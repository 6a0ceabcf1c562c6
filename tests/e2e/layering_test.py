#!/usr/bin/env python3
"""The architecture cannot silently decay: each folder of src/ may include only the folders
below it on a packet's path (and its own), so data flows one way.

    capture -> decode -> track -> judge (detect) -> records -> output / report

  util      nothing of the project: address, time, JSON, logging, generic containers
  decode    util
  policy    util, decode (a packet's segment)
  capture   util, decode, policy (the prefilter is derived from the policy)
  proto     util, decode (what a payload says)
  workers   util (what fanout workers share in memory)
  record    util, decode, policy, proto (the typed values the bus carries, and the bus)
  track     util, decode, policy, proto, record, workers
  detect    util, decode, policy, proto, record, workers, track
  output    util, decode, policy, record: never track or detect (JSON is made from records)
  report    util, policy, record: never output, track or detect
  app       anything (the program around the pipeline)
  correlate util, decode, policy, record, output (op25b-correlate, the second program: it
            reads events, never packets, so never capture, proto, track, detect, workers,
            report or app)
  main.c, sensor.c: anything

A detector never includes output/ (it publishes typed findings on the bus); a sink never
judges. Exits 1 naming every include that breaks a rule, or a folder the rules do not know.
"""
import argparse
import os
import re
import sys

ALLOWED = {
    "util": set(),
    "decode": {"util"},
    "policy": {"util", "decode"},
    "capture": {"util", "decode", "policy"},
    "proto": {"util", "decode"},
    "workers": {"util"},
    "record": {"util", "decode", "policy", "proto"},
    "track": {"util", "decode", "policy", "proto", "record", "workers"},
    "detect": {"util", "decode", "policy", "proto", "record", "workers", "track"},
    "output": {"util", "decode", "policy", "record"},
    "report": {"util", "policy", "record"},
    "app": None,  # anything
    "correlate": {"util", "decode", "policy", "record", "output"},
}
TOP_LEVEL = {"main.c", "sensor.c", "sensor.h"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)


def check(source_dir):
    src = os.path.join(source_dir, "src")
    problems = []
    checked = 0
    for entry in sorted(os.listdir(src)):
        path = os.path.join(src, entry)
        if os.path.isfile(path):
            if entry not in TOP_LEVEL:
                problems.append("src/%s: a file at the top of src/ other than %s" %
                                (entry, ", ".join(sorted(TOP_LEVEL))))
            continue
        if entry not in ALLOWED:
            problems.append("src/%s/: a folder the layering rules do not know (add it to "
                            "tests/e2e/layering_test.py with what it may include)" % entry)
            continue
        for folder, _, names in os.walk(path):
            for name in sorted(names):
                if not name.endswith((".c", ".h")):
                    continue
                file_path = os.path.join(folder, name)
                relative = os.path.relpath(file_path, src)
                with open(file_path, encoding="utf-8") as source:
                    text = source.read()
                for included in INCLUDE.findall(text):
                    checked += 1
                    problem = judge(entry, relative, included, src)
                    if problem:
                        problems.append(problem)
    return problems, checked


def judge(layer, relative, included, src):
    if "/" not in included:
        # Same-folder includes name the folder too, so a bare name is a test header or a
        # file of the top.
        if included in TOP_LEVEL:
            return "src/%s includes \"%s\": only main.c and the app may use the pipeline" % (
                relative, included) if layer != "app" else None
        return "src/%s includes \"%s\" without its folder" % (relative, included)
    target = included.split("/")[0]
    if not os.path.exists(os.path.join(src, included)):
        return "src/%s includes \"%s\", which does not exist" % (relative, included)
    if target == layer:
        return None
    allowed = ALLOWED[layer]
    if allowed is None or target in allowed:
        return None
    return "src/%s includes %s: %s/ may include only %s" % (
        relative, included, layer, ", ".join(sorted(allowed)) or "nothing of the project")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source-dir", required=True)
    args = parser.parse_args()
    problems, checked = check(args.source_dir)
    for problem in problems:
        print("FAIL: " + problem)
    if problems:
        print("%d layering problem(s)" % len(problems))
        return 1
    if checked == 0:
        print("FAIL: no include was checked")
        return 1
    print("PASS: %d includes follow the layering rules" % checked)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The policy's prefilter never changes what is detected (src/capture/prefilter.h).

Every scenario of tests/scenarios/manifest.txt under its policy, and every capture of the
third-party corpus (tests/corpus) under tests/corpus/corpus.yaml, is read twice: as is, and with --prefilter
(libpcap applies the expression --check prints, as the kernel does for live capture). The
events must be the same, but for what only counts packets: sensor_stats, and the packet
time of the coverage events, which is the last packet's. The prefilter must also have
dropped packets somewhere, or the comparison would prove nothing; and the scenarios whose
port-25 attempts travel inside a UDP tunnel the decoder opens (VXLAN, GTP-U) must keep those
attempts with the prefilter, since the tunnels' outer addresses are not the ISP's and their
UDP is not DNS.

Fails when the corpus is missing, so the test never passes unseen.
"""
import argparse
import json
import os
import subprocess
import sys

# Scenarios whose attempts all travel in a UDP tunnel, with how many attempts each has.
TUNNELLED = {"capture-vxlan": 3, "capture-gtp": 3}


def events(binary, policy, captures, cwd, prefilter):
    command = [binary, "-q", "-c", policy]
    for capture in captures:
        command += ["-r", capture]
    if prefilter:
        command.append("--prefilter")
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)
    if done.returncode not in (0, 1):  # 1: a damaged corpus capture, judged as far as read
        raise SystemExit("FAIL: %s exited %d: %s" % (" ".join(command), done.returncode,
                                                     done.stderr))
    kept, packets, attempts = [], 0, 0
    for line in done.stdout.splitlines():
        event = json.loads(line)
        if event["type"] == "sensor_stats":
            packets = event["packets"]
            continue
        if event["type"] == "coverage":
            del event["ts"]
        attempts += event["type"] == "attempt"
        kept.append(json.dumps(event, sort_keys=True))
    # Timers may fire at a later packet when earlier ones were dropped: same events, but
    # not always in the same order.
    return sorted(kept), packets, done.returncode, attempts


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--corpus-dir", required=True)
    args = parser.parse_args()
    corpus = os.path.join(args.corpus_dir, "pcaps")
    if not os.path.isdir(corpus):
        print("corpus not found at %s" % corpus)
        sys.exit(1)
    runs = []
    scenarios = os.path.join(args.source_dir, "tests", "scenarios")
    with open(os.path.join(scenarios, "manifest.txt")) as manifest:
        for line in manifest:
            fields = line.split()
            if not fields or fields[0].startswith("#"):
                continue
            runs.append((fields[0], os.path.join(scenarios, fields[1]), fields[2:],
                         os.path.join(args.source_dir, "pcaps")))
    corpus_policy = os.path.join(args.source_dir, "tests", "corpus", "corpus.yaml")
    for root, _, files in sorted(os.walk(corpus)):
        for name in sorted(files):
            path = os.path.join(root, name)
            runs.append((os.path.relpath(path, corpus), corpus_policy, [path], root))
    failures, dropped_in = [], []
    for name, policy, captures, cwd in runs:
        plain, plain_packets, plain_status, _ = events(args.binary, policy, captures, cwd, False)
        filtered, filtered_packets, filtered_status, attempts = events(args.binary, policy,
                                                                       captures, cwd, True)
        if name in TUNNELLED and attempts != TUNNELLED[name]:
            failures.append("%s: %d tunnelled attempts with the prefilter, %d expected" %
                            (name, attempts, TUNNELLED[name]))
        if filtered_packets < plain_packets:
            dropped_in.append(name)
        if plain != filtered or plain_status != filtered_status:
            only_plain = [e for e in plain if e not in filtered][:2]
            only_filtered = [e for e in filtered if e not in plain][:2]
            failures.append("%s: events differ; without the prefilter only %s; with it only %s"
                            % (name, only_plain, only_filtered))
    for failure in failures:
        print("FAIL: " + failure)
    print("%d captures read with and without the prefilter; it dropped packets in %d of them"
          % (len(runs), len(dropped_in)))
    missing = sorted(set(TUNNELLED) - {name for name, _, _, _ in runs})
    if missing:
        failures.append("tunnel scenarios missing from the manifest: %s" % ", ".join(missing))
        print("FAIL: " + failures[-1])
    untouched = sorted(set(TUNNELLED) - set(dropped_in))
    if untouched:
        print("FAIL: the prefilter dropped nothing around the tunnels of %s" % ", ".join(untouched))
        sys.exit(1)
    if not dropped_in:
        print("FAIL: the prefilter dropped nothing anywhere: the comparison proves nothing")
        sys.exit(1)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

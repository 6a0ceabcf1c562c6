#!/usr/bin/env python3
"""Replays one scenario capture through op25b-watch and checks the events.

Checks, in order:
  1. two runs give the same bytes (packet time drives every timer);
  2. every line is a JSON object with the common fields of dashboards/events.md;
  3. each attempt event matches one line of the hand-written <name>.expect, and there
     are no attempts the expectation does not list; the same for findings (the events of
     the detectors, docs/concepts.md: every type but attempt, coverage and sensor_stats):
     a line that starts with a finding type lists fields one event of that type must have
     (each line takes the first such event it matches), and no finding may appear that is
     not listed;
     An attempt's evidence that ends in ",..." must begin with the evidence listed (for
     what the design fixes while the rest may still change, e.g. the SMTP evidence of a
     dialogue whose payloads the snap length cut);
     a line that starts with submission_migration (a periodic event, docs/concepts.md)
     lists fields one such event must have; once a file lists one, every one must be
     listed (a file that lists none leaves them to the golden file, as coverage events);
  4. the final coverage events agree with a tally of the attempt verdicts (those of the
     attempt_summary events of a policy that summarizes included, which never count a leak),
     and the final sensor_stats counts the attempt events, the summaries and the findings;
     a line "sensor_stats k=v ..." lists values the final sensor_stats must have
     (time_outliers=2); attempt_summary lines of the expectation are matched as findings;
  5. the output equals the reviewed golden file <name>.golden.ndjson byte for byte
     (regenerate with --regen after a deliberate change, then review the diff).
"""
import argparse
import json
import os
import re
import shlex
import subprocess
import sys
from collections import Counter

VERDICTS = ["allowed", "blocked", "leaked", "would_block", "unknown"]
# Every other event type is a finding of some detector; docs/concepts.md names these.
NOT_FINDINGS = ("attempt", "coverage", "sensor_stats", "submission_migration")
# Periodic events a .expect file may list, as findings are listed.
LISTED_PERIODIC = ("submission_migration",)
GUIDE_FINDINGS = ("asymmetric_routing", "spoofed_source", "triangular_spam",
                  "inbound_acl_violation", "bot_suspect", "nonstandard_port_smtp",
                  "open_submission", "pop_before_smtp", "third_party_submission",
                  "msa_abuse", "cleartext_auth",
                  "collateral_block")


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def run_sensor(binary, policy, captures, capture_dir):
    """Runs in the capture directory with the manifest's file names, so a capture's source
    name is what an `interface:` segment of the policy names."""
    command = [os.path.abspath(binary), "-q", "-c", os.path.abspath(policy)]
    for capture in captures:
        command += ["-r", capture]
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=capture_dir)
    if result.returncode != 0:
        fail("%s exited %d: %s" % (" ".join(command), result.returncode,
                                   result.stderr.decode(errors="replace")))
    return result.stdout


def load_manifest(directory, name):
    with open(os.path.join(directory, "manifest.txt")) as manifest:
        for line in manifest:
            fields = line.split()
            if fields and not fields[0].startswith("#") and fields[0] == name:
                return fields[1], fields[2:]
    fail("no scenario %s in manifest.txt" % name)


def parse_fields(words):
    fields = {}
    for word in words:
        key, _, value = word.partition("=")
        fields[key] = value
    return fields


def parse_expectations(path):
    expected, absent, findings, stats = [], [], [], []
    with open(path) as source:
        for number, line in enumerate(source, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            words = shlex.split(line)
            if words[0] == "none":
                absent.append(words[1])
                continue
            if words[0] == "sensor_stats":
                stats.append({"line": number, "fields": parse_fields(words[1:])})
                continue
            if re.fullmatch(r"[a-z_]+", words[0]):
                findings.append({"line": number, "type": words[0],
                                 "fields": parse_fields(words[1:])})
                continue
            if len(words) < 4:
                fail("%s:%d: need src_ip src_port verdict evidence" % (path, number))
            fields = parse_fields(words[4:])
            evidence = [] if words[3] == "-" else words[3].split(",")
            expected.append({"line": number, "src_ip": words[0], "src_port": int(words[1]),
                             "verdict": words[2], "evidence": evidence, "fields": fields})
    return expected, absent, findings, stats


def as_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(as_text(item) for item in value)
    return str(value)


def field_of(event, key):
    """A field, or one of a nested object as "object.field" (smtp.helo, features.fanout)."""
    head, dot, rest = key.partition(".")
    if dot and isinstance(event.get(head), dict):
        return event[head].get(rest)
    return event.get(key)


def mismatches(fields, event):
    """The listed fields the event does not have as listed ("key=" means absent)."""
    wrong = []
    for key, value in fields.items():
        actual = field_of(event, key)
        if value == "":
            if actual is not None:
                wrong.append("%s should be absent, is %r" % (key, actual))
        elif actual is None or as_text(actual) != value:
            wrong.append("%s is %r, expected %r" % (key, actual, value))
    return wrong


def check_findings(expectations, events, path):
    """Each expectation matches one finding of its type; no finding is left over, nor an
    event of a periodic type that the expectations list (LISTED_PERIODIC)."""
    listed = {e["type"] for e in expectations} & set(LISTED_PERIODIC)
    remaining = [e for e in events if e["type"] not in NOT_FINDINGS or e["type"] in listed]
    for expectation in expectations:
        candidates = [e for e in remaining if e["type"] == expectation["type"]]
        matches = [e for e in candidates if not mismatches(expectation["fields"], e)]
        if not matches:
            where = "%s:%d" % (path, expectation["line"])
            if not candidates:
                fail("%s: no %s event left to match" % (where, expectation["type"]))
            closest = min(candidates, key=lambda e: len(mismatches(expectation["fields"], e)))
            fail("%s: no %s event matches; the closest: %s\n  %s" %
                 (where, expectation["type"],
                  "; ".join(mismatches(expectation["fields"], closest)), json.dumps(closest)))
        remaining.remove(matches[0])
    if remaining:
        fail("findings the expectation does not list:\n  " +
             "\n  ".join(json.dumps(e) for e in remaining))


def check_attempt(expectation, event, path):
    where = "%s:%d" % (path, expectation["line"])
    if event["verdict"] != expectation["verdict"]:
        fail("%s: verdict %s, expected %s\n  %s" % (where, event["verdict"],
                                                   expectation["verdict"], json.dumps(event)))
    listed = expectation["evidence"]
    if listed and listed[-1] == "...":
        if event["evidence"][:len(listed) - 1] != listed[:-1]:
            fail("%s: evidence %s, expected it to begin with %s\n  %s" %
                 (where, event["evidence"], listed[:-1], json.dumps(event)))
    elif event["evidence"] != listed:
        fail("%s: evidence %s, expected %s\n  %s" % (where, event["evidence"],
                                                    expectation["evidence"], json.dumps(event)))
    wrong = mismatches(expectation["fields"], event)
    if wrong:
        fail("%s: %s\n  %s" % (where, "; ".join(wrong), json.dumps(event)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--regen", action="store_true")
    args = parser.parse_args()

    directory = os.path.join(args.source_dir, "tests", "scenarios")
    policy, captures = load_manifest(directory, args.name)
    policy = os.path.join(directory, policy)
    capture_dir = os.path.join(args.source_dir, "pcaps")
    golden_path = os.path.join(directory, args.name + ".golden.ndjson")

    first = run_sensor(args.binary, policy, captures, capture_dir)
    second = run_sensor(args.binary, policy, captures, capture_dir)
    if first != second:
        fail("two replays of the same input gave different events")

    events = []
    for number, line in enumerate(first.decode().splitlines(), 1):
        try:
            event = json.loads(line)
        except ValueError as error:
            fail("line %d is not JSON (%s): %s" % (number, error, line))
        for key in ("type", "v", "ts", "sensor"):
            if key not in event:
                fail("line %d lacks %s: %s" % (number, key, line))
        if event["v"] != 1:
            fail("line %d: schema version %r" % (number, event["v"]))
        events.append(event)

    expect_path = os.path.join(directory, args.name + ".expect")
    expected, absent, finding_expectations, stats_expectations = parse_expectations(expect_path)
    attempts = [e for e in events if e["type"] == "attempt"]
    remaining = list(attempts)
    for expectation in expected:
        matches = [e for e in remaining if e["src_ip"] == expectation["src_ip"]
                   and e["src_port"] == expectation["src_port"]]
        if not matches:
            fail("%s:%d: no attempt from %s port %d" % (expect_path, expectation["line"],
                                                        expectation["src_ip"],
                                                        expectation["src_port"]))
        check_attempt(expectation, matches[0], expect_path)
        remaining.remove(matches[0])
    if remaining:
        fail("attempts the expectation does not list:\n  " +
             "\n  ".join(json.dumps(e) for e in remaining))
    for address in absent:
        if any(e.get("src_ip") == address for e in events):
            fail("%s must not produce an attempt" % address)
    check_findings(finding_expectations, events, expect_path)

    tally = Counter()
    for event in attempts:
        version = 6 if ":" in event["src_ip"] else 4
        tally[(event["pool"], version, event["verdict"])] += 1
    summaries = [e for e in events if e["type"] == "attempt_summary"]
    for event in summaries:
        version = 6 if ":" in event["subscriber"] else 4
        if "leaked" in event:
            fail("a summary counts leaks: %s" % json.dumps(event))
        for verdict in VERDICTS:
            tally[(event["pool"], version, verdict)] += event.get(verdict, 0)
        if sum(event.get(verdict, 0) for verdict in VERDICTS) != event["attempts"]:
            fail("a summary's verdicts do not add up to its attempts: %s" % json.dumps(event))
    finals = [e for e in events if e["type"] == "coverage" and e["final"]]
    for event in finals:
        for verdict in VERDICTS:
            want = tally[(event["pool"], event["ip_version"], verdict)]
            if event[verdict] != want:
                fail("final coverage of %s IPv%d says %s=%d, attempts say %d" %
                     (event["pool"], event["ip_version"], verdict, event[verdict], want))
        blocked, leaked = event["blocked"], event["leaked"]
        if blocked + leaked > 0:
            if abs(event["coverage"] - blocked / (blocked + leaked)) > 0.00005:
                fail("coverage ratio of %s is wrong: %s" % (event["pool"], json.dumps(event)))
        elif "coverage" in event:
            fail("coverage ratio without blocked or leaked attempts: %s" % json.dumps(event))
    # Each pool's collateral count is its collateral_block findings, by the client's family.
    for event in finals:
        refused = sum(1 for e in events if e["type"] == "collateral_block" and
                      e["pool"] == event["pool"] and
                      (6 if ":" in e["src_ip"] else 4) == event["ip_version"])
        if event.get("collateral") != refused:
            fail("final coverage of %s IPv%d counts %s collateral, the output has %d "
                 "collateral_block findings" % (event["pool"], event["ip_version"],
                                                event.get("collateral"), refused))
    covered = {(e["pool"], e["ip_version"]) for e in finals}
    for (pool, version, _verdict) in tally:
        if (pool, version) not in covered:
            fail("no final coverage event for pool %s IPv%d" % (pool, version))
    stats = [e for e in events if e["type"] == "sensor_stats" and e["final"]]
    if len(stats) != 1:
        fail("expected one final sensor_stats, found %d" % len(stats))
    if stats[0]["events_attempt"] != len(attempts):
        fail("sensor_stats counts %d attempts, the output has %d" %
             (stats[0]["events_attempt"], len(attempts)))
    folded = sum(e["attempts"] for e in summaries)
    if stats[0].get("attempts_summarized", 0) != folded:
        fail("sensor_stats counts %s attempts summarized, the summaries hold %d" %
             (stats[0].get("attempts_summarized"), folded))
    kinds = {e["type"] for e in events if e["type"] not in NOT_FINDINGS} | set(GUIDE_FINDINGS)
    for kind in sorted(kinds):
        written = sum(1 for e in events if e["type"] == kind)
        if stats[0].get("events_" + kind, 0) != written:
            fail("sensor_stats counts %s %s events, the output has %d" %
                 (stats[0].get("events_" + kind), kind, written))
    if events[-1] is not stats[0]:
        fail("the final sensor_stats must be the last event")
    for expectation in stats_expectations:
        wrong = mismatches(expectation["fields"], stats[0])
        if wrong:
            fail("%s:%d: final sensor_stats: %s" % (expect_path, expectation["line"],
                                                   "; ".join(wrong)))

    if args.regen:
        with open(golden_path, "wb") as golden:
            golden.write(first)
        print("wrote %s (%d events); review it before committing" % (golden_path, len(events)))
        return
    if not os.path.exists(golden_path):
        fail("no golden file %s: run with --regen and review it" % golden_path)
    with open(golden_path, "rb") as golden:
        want = golden.read()
    if want != first:
        old, new = want.decode().splitlines(), first.decode().splitlines()
        for number, (a, b) in enumerate(zip(old, new), 1):
            if a != b:
                fail("output differs from %s at line %d:\n  golden: %s\n  now:    %s" %
                     (golden_path, number, a, b))
        fail("output differs from %s: %d lines now, %d in the golden file" %
             (golden_path, len(new), len(old)))
    print("ok: %s: %d events, %d attempts and %d findings as expected" %
          (args.name, len(events), len(attempts), len(finding_expectations)))


if __name__ == "__main__":
    main()

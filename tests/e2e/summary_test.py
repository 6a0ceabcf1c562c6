#!/usr/bin/env python3
"""Event volume control (the policy's events: section) changes the lines, nothing else.

Each capture is replayed three times: under its own policy, under the same policy with every
verdict but leaked summarized (events.summarize), and under it with a rate limit of one line
a minute for every finding type (events.max_per_minute). Checked:

  scenarios  the bot scenarios and the example: the coverage events (periodic and final),
             the findings (bot_suspect among them) and the JSON report are the same with
             summaries as without, but for the report's count of lines written; every leak
             is the same attempt line; every other attempt is in exactly one summary (counts
             per pool, family, verdict and subscriber add up); at most one summary per
             subscriber per interval; the final sensor_stats counts what it folded. With
             rate limits the report is the same too (every finding counted), each type writes
             at most one line a minute, and the suppressed counts add up to what is missing.
  metrics    the Prometheus exposition of a streamed replay is the same with summaries and
             rate limits as without, but for the event line counts.

usage: summary_test.py --binary BIN --source-dir DIR --work-dir DIR [--only PART]
"""
import argparse
import ipaddress
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter, defaultdict

VERDICTS = ["allowed", "blocked", "leaked", "would_block", "unknown"]
SUMMARIZED = ["allowed", "blocked", "would_block", "unknown"]
FINDINGS = ["asymmetric_routing", "spoofed_source", "triangular_spam", "inbound_acl_violation",
            "bot_suspect", "nonstandard_port_smtp", "open_submission", "pop_before_smtp",
            "third_party_submission"]
LINES = ("attempt", "attempt_summary", "coverage", "sensor_stats")
# (name, policy, captures): the bot scenarios of tests/scenarios and the example.
CASES = [
    ("subscribers-bots", "tests/scenarios/subscribers.yaml", ["scenario-subscribers-bots.pcap"]),
    ("subscribers-traps", "tests/scenarios/subscribers.yaml",
     ["scenario-subscribers-traps.pcap"]),
    ("subscribers-traps-scored", "tests/scenarios/subscribers-scored.yaml",
     ["scenario-subscribers-traps.pcap"]),
    ("bots-quiet", "tests/scenarios/subscribers.yaml", ["scenario-bots-quiet.pcap"]),
    ("bots-quiet-scored", "tests/scenarios/subscribers-scored.yaml", ["scenario-bots-quiet.pcap"]),
    ("bots-edge", "tests/scenarios/subscribers.yaml", ["scenario-bots-edge.pcap"]),
    ("example", "rules/example.yaml", ["example.pcap"]),
    ("submission-third-party", "tests/scenarios/submission.yaml",
     ["scenario-submission-third-party.pcap"]),
    ("evasion-triangular", "tests/scenarios/evasion.yaml", ["scenario-evasion-triangular.pcap"]),
]

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL: " + message)
    return condition


def with_events(policy_path, work, name, section):
    """The policy with an events: section of its own (one it had is replaced)."""
    with open(policy_path) as source:
        text = source.read()
    text = re.sub(r"(?ms)^events:\n(  .*\n)*", "", text)
    path = os.path.join(work, "%s.yaml" % name)
    with open(path, "w") as out:
        out.write(text.rstrip("\n") + "\n" + section)
    return path


def replay(policy, captures, work, name):
    """Events and the JSON report of one replay, run in pcaps/ as the scenarios are."""
    report_path = os.path.join(work, name + ".json")
    command = [BINARY, "-q", "-c", policy, "--report", report_path]
    for capture in captures:
        command += ["-r", capture]
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=os.path.join(SOURCE, "pcaps"))
    check(result.returncode == 0, "%s: exit %d: %s" % (name, result.returncode,
                                                      result.stderr.decode(errors="replace")))
    lines = result.stdout.decode().splitlines()
    with open(report_path) as source:
        report = json.load(source)
    return lines, [json.loads(line) for line in lines], report


def family(address):
    return 6 if ":" in address else 4


def without_line_counts(report):
    """The report but for what it says of the lines written and the policy file's name."""
    copy = json.loads(json.dumps(report))
    del copy["totals"]["events"]
    del copy["policy"]
    return copy


def contains(subscriber, address):
    return ipaddress.ip_address(address) in ipaddress.ip_network(subscriber)


def check_summaries(name, plain, lines_summarized, summarized):
    """Every attempt of plain is a line of summarized or in exactly one of its summaries."""
    plain_attempts = [e for e in plain if e["type"] == "attempt"]
    leaks = [e for e in plain_attempts if e["verdict"] == "leaked"]
    kept = [e for e in summarized if e["type"] == "attempt"]
    check(kept == leaks, "%s: with summaries the attempt lines are not exactly the leaks" % name)
    summaries = [e for e in summarized if e["type"] == "attempt_summary"]
    folded, wanted = Counter(), Counter()
    for event in summaries:
        check("leaked" not in event, "%s: a summary counts leaks: %s" % (name, event))
        check(sum(event.get(v, 0) for v in SUMMARIZED) == event["attempts"],
              "%s: a summary's verdicts do not add up: %s" % (name, event))
        for verdict in SUMMARIZED:
            folded[(event["pool"], family(event["subscriber"]), verdict)] += event.get(verdict, 0)
    for event in plain_attempts:
        if event["verdict"] == "leaked":
            continue
        wanted[(event["pool"], family(event["src_ip"]), event["verdict"])] += 1
        check(any(s["pool"] == event["pool"] and contains(s["subscriber"], event["src_ip"])
                  for s in summaries),
              "%s: no summary of the subscriber of %s" % (name, event["src_ip"]))
    check(+folded == +wanted, "%s: the summaries fold %s, the attempts were %s" %
          (name, dict(+folded), dict(+wanted)))
    per_window = Counter((e["subscriber"], e["pool"], e["window_start"]) for e in summaries)
    check(all(count == 1 for count in per_window.values()),
          "%s: a subscriber has two summaries in one interval: %s" % (name, per_window))
    for event in summaries:
        check(event["window_start"] <= event["ts"], "%s: a summary written before its "
              "interval began: %s" % (name, event))
    stats = [e for e in summarized if e["type"] == "sensor_stats" and e["final"]][0]
    check(stats["attempts_summarized"] == sum(e["attempts"] for e in summaries),
          "%s: sensor_stats attempts_summarized %d" % (name, stats["attempts_summarized"]))
    check(stats["events_attempt_summary"] == len(summaries) and
          stats["events_attempt"] == len(kept), "%s: sensor_stats line counts" % name)
    check(lines_summarized[-1].startswith('{"type":"sensor_stats"'),
          "%s: the final sensor_stats is not the last line" % name)


def check_limits(name, plain, limited):
    """What a limit held back is counted, and what it wrote is the findings as they were.
    (Which minute a line falls in is the writer's clock's: scenario ratelimit-third-party
    shows it.)"""
    stats = [e for e in limited if e["type"] == "sensor_stats" and e["final"]][0]
    for kind in FINDINGS:
        wrote = [e for e in limited if e["type"] == kind]
        found = [e for e in plain if e["type"] == kind]
        check(len(wrote) <= len(found), "%s: more %s lines than findings" % (name, kind))
        check(stats["events_suppressed_" + kind] == len(found) - len(wrote),
              "%s: %d %s suppressed, %d found and %d written" %
              (name, stats["events_suppressed_" + kind], kind, len(found), len(wrote)))
        before = sum(e.get("suppressed_before", 0) for e in wrote)
        check(before <= len(found) - len(wrote), "%s: %s suppressed_before adds up to %d" %
              (name, kind, before))
        # Each written line is one of the findings, unchanged but for suppressed_before.
        for event in wrote:
            event = dict(event)
            event.pop("suppressed_before", None)
            check(event in found, "%s: a %s line that is no finding: %s" % (name, kind, event))


def test_scenarios():
    for name, policy, captures in CASES:
        work = os.path.join(WORK, name)
        os.makedirs(work, exist_ok=True)
        policy = os.path.join(SOURCE, policy)
        summarize = with_events(policy, work, "summarize", "events:\n  summarize: [%s]\n" %
                                ", ".join(SUMMARIZED))
        limit = with_events(policy, work, "limit", "events:\n  max_per_minute: {%s}\n" %
                            ", ".join("%s: 1" % kind for kind in FINDINGS))
        _, plain, plain_report = replay(policy, captures, work, "plain")
        lines, summarized, summarized_report = replay(summarize, captures, work, "summarized")
        _, limited, limited_report = replay(limit, captures, work, "limited")

        coverage = [e for e in plain if e["type"] == "coverage"]
        check(coverage == [e for e in summarized if e["type"] == "coverage"],
              "%s: the coverage events differ with summaries" % name)
        check(coverage == [e for e in limited if e["type"] == "coverage"],
              "%s: the coverage events differ with rate limits" % name)
        findings = [e for e in plain if e["type"] not in LINES]
        check(findings == [e for e in summarized if e["type"] not in LINES],
              "%s: the findings (bot_suspect...) differ with summaries" % name)
        check(without_line_counts(plain_report) == without_line_counts(summarized_report),
              "%s: the report differs with summaries" % name)
        check(without_line_counts(plain_report) == without_line_counts(limited_report),
              "%s: the report differs with rate limits" % name)
        check(summarized_report["totals"]["events"]["attempt_summary"] ==
              len([e for e in summarized if e["type"] == "attempt_summary"]),
              "%s: the report's attempt_summary line count" % name)
        check_summaries(name, plain, lines, summarized)
        check_limits(name, plain, limited)
        print("ok: %s: %d attempts, %d summaries, %d findings" % (
            name, len([e for e in plain if e["type"] == "attempt"]),
            len([e for e in summarized if e["type"] == "attempt_summary"]), len(findings)))


# ---- metrics ----

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def scrape(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as answer:
            return answer.read().decode()
    except OSError:
        return None


def comparable(text):
    """The samples, but for the event line counts and the wall-clock publish time."""
    samples = {}
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if line.startswith("#") or match is None:
            continue
        name, labels = match.group(1), match.group(3) or ""
        if name == "op25b_last_publish_timestamp_seconds" or (
                name == "op25b_events_total" and re.search(r'type="attempt(_summary)?"',
                                                            labels)):
            continue
        if name == "op25b_events_total" and any('type="%s"' % k in labels for k in FINDINGS):
            continue  # lines written: rate limits change them
        samples[(name, labels)] = match.group(4)
    return samples


def streamed(policy, capture, work, name):
    """Streams the capture to the sensor on standard input and scrapes it once every packet
    was taken: the same packets again (a retransmission of the last) after a pause make the
    sensor publish what it holds."""
    with open(os.path.join(SOURCE, "pcaps", capture), "rb") as source:
        data = source.read()
    port = free_port()
    sensor = subprocess.Popen([BINARY, "-q", "-c", policy, "-r", "-", "-o",
                               os.path.join(work, name + ".ndjson"), "--metrics",
                               "127.0.0.1:%d" % port], stdin=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    # The last record again: 16 bytes of header, then its captured length.
    offset, last = 24, 24
    while offset < len(data):
        last = offset
        offset += 16 + int.from_bytes(data[offset + 8:offset + 12], "little")
    sensor.stdin.write(data)
    sensor.stdin.flush()
    time.sleep(1.0)
    sensor.stdin.write(data[last:])
    sensor.stdin.flush()
    text = None
    deadline = time.time() + 10
    while time.time() < deadline:
        time.sleep(0.5)
        text = scrape(port)
        if text and "op25b_packets_total" in text:
            break
    sensor.stdin.close()
    sensor.wait(timeout=30)
    check(sensor.returncode == 0, "%s: the sensor exits %d: %s" % (
        name, sensor.returncode, sensor.stderr.read().decode(errors="replace")))
    check(text is not None, "%s: no metrics scraped" % name)
    return comparable(text or "")


def test_metrics():
    work = os.path.join(WORK, "metrics")
    os.makedirs(work, exist_ok=True)
    policy = os.path.join(SOURCE, "tests/scenarios/subscribers.yaml")
    capture = "scenario-subscribers-bots.pcap"
    both = with_events(policy, work, "both", "events:\n  summarize: [%s]\n  max_per_minute: {%s}\n"
                       % (", ".join(SUMMARIZED), ", ".join("%s: 1" % k for k in FINDINGS)))
    plain = streamed(policy, capture, work, "plain")
    volume = streamed(both, capture, work, "volume")
    check(len(plain) > 50, "only %d samples scraped" % len(plain))
    differ = sorted(key for key in set(plain) | set(volume) if plain.get(key) != volume.get(key))
    check(not differ, "the metrics differ with summaries and rate limits: %s" % differ[:10])
    findings = [k for k in plain if k[0] == "op25b_findings_total"]
    check(any(plain[k] != "0" for k in findings), "no finding in the metrics to compare")
    print("ok: metrics: %d samples the same" % len(plain))


def main():
    global BINARY, SOURCE, WORK
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--only", choices=["scenarios", "metrics"])
    args = parser.parse_args()
    BINARY, SOURCE = os.path.abspath(args.binary), os.path.abspath(args.source_dir)
    WORK = os.path.abspath(args.work_dir)
    os.makedirs(WORK, exist_ok=True)
    if args.only in (None, "scenarios"):
        test_scenarios()
    if args.only in (None, "metrics"):
        test_metrics()
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    return 0


BINARY = SOURCE = WORK = None

if __name__ == "__main__":
    sys.exit(main())

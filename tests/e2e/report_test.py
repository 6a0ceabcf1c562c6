#!/usr/bin/env python3
"""The audit report (--report) as a user gets it, and the progress line.

Parts (--only NAME):
  scenario   replays one scenario of tests/scenarios/manifest.txt (--scenario NAME) with a
             JSON, an HTML and a text report; the JSON must follow dashboards/report.schema.json
             and hold the numbers the hand-written .expect file and the run's own events give
             (verdicts, per pool and blocking point, leaks with their evidence, findings,
             the move to 587 against the submission_migration events), its ACL must match
             --check's count and, where nft is installed, load in nft -c;
             the HTML's summary must give the JSON's figures (coverage, leaks, infected
             subscribers, evasion findings, each blocking point and its mark, the top
             suspects) and the steps they call for; its findings tables must have named
             headers, no column without a value, as many rows as the JSON lists, and no cell
             that begins or ends with a separator
  html       the example's HTML report opened in headless Chromium: a screenshot that is not
             blank and shows the chart colours, the summary's LEAKING mark in the first
             screenful, a PDF print whose findings pages are landscape, and nothing fetched
             from outside
  signal     SIGINT during a streamed replay still writes the report, ended by "shutdown"
  cli        report file names and write errors
  progress   the progress line: drawn on a terminal (a pty), erased before the summary;
             silent on a pipe and with -q

usage: report_test.py --binary BIN --source-dir DIR --work-dir DIR --only PART [--scenario NAME]
"""
import argparse
import ipaddress
import json
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib
from collections import Counter, defaultdict
from html.parser import HTMLParser

VERDICTS = ["allowed", "blocked", "leaked", "would_block", "unknown"]
FINDING_TYPES = ["asymmetric_routing", "spoofed_source", "triangular_spam",
                 "inbound_acl_violation", "bot_suspect", "nonstandard_port_smtp",
                 "open_submission", "pop_before_smtp", "third_party_submission",
                 "collateral_block"]
# The HTML report's verdict colours (src/report/report_html.c), as they must show in a screenshot.
CHART_COLOURS = {"allowed": (0x4e, 0x79, 0xa7), "blocked": (0x59, 0xa1, 0x4f),
                 "leaked": (0xe1, 0x57, 0x59), "would_block": (0xf2, 0x8e, 0x2b)}

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL: " + message)
    return condition


def run(command, cwd=None, stdin=None, timeout=120):
    result = subprocess.run(command, cwd=cwd, input=stdin, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, timeout=timeout)
    return result.returncode, result.stdout, result.stderr.decode(errors="replace")


def load_manifest(name):
    with open(os.path.join(SOURCE, "tests", "scenarios", "manifest.txt")) as manifest:
        for line in manifest:
            fields = line.split()
            if fields and not fields[0].startswith("#") and fields[0] == name:
                return os.path.join(SOURCE, "tests", "scenarios", fields[1]), fields[2:]
    raise SystemExit("no scenario %s in manifest.txt" % name)


def expected_verdicts(name):
    """Verdict counts from the hand-written expectation: written from the scenario's
    design, not from the sensor's output."""
    counts = Counter()
    path = os.path.join(SOURCE, "tests", "scenarios", name + ".expect")
    with open(path) as expect:
        for line in expect:
            words = line.split()
            if not words or words[0].startswith("#"):
                continue
            if len(words) >= 3 and words[2] in VERDICTS:
                counts[words[2]] += 1
            elif words and words[0] == "attempt_summary":
                fields = dict(word.partition("=")[::2] for word in words[1:])
                for verdict in VERDICTS:
                    counts[verdict] += int(fields.get(verdict) or 0)
    return counts


def attempt_rows(events):
    """The attempt events, and one row per attempt an attempt_summary folded (a policy's
    events.summarize): what the report counts, whichever way the lines were written."""
    rows = [e for e in events if e["type"] == "attempt"]
    for summary in (e for e in events if e["type"] == "attempt_summary"):
        for verdict in VERDICTS:
            rows += [{"src_ip": summary["subscriber"], "pool": summary["pool"],
                      "blocking_point": summary.get("blocking_point"),
                      "verdict": verdict}] * summary.get(verdict, 0)
    return rows


def run_with_reports(name, work):
    policy, captures = load_manifest(name)
    os.makedirs(work, exist_ok=True)
    paths = {ext: os.path.join(work, "%s.%s" % (name, ext)) for ext in ("json", "html", "txt")}
    command = [BINARY, "-q", "-c", policy]
    for capture in captures:
        command += ["-r", capture]
    for path in paths.values():
        command += ["--report", path]
    status, out, err = run(command, cwd=os.path.join(SOURCE, "pcaps"))
    check(status == 0, "%s: exit %d: %s" % (name, status, err))
    events = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
    with open(paths["json"]) as handle:
        report = json.load(handle)
    return policy, events, report, paths


def validate_schema(report, name):
    import jsonschema
    with open(os.path.join(SOURCE, "dashboards", "report.schema.json")) as handle:
        schema = json.load(handle)
    try:
        jsonschema.validate(report, schema)
    except jsonschema.ValidationError as error:
        check(False, "%s: the JSON report breaks its schema: %s at %s" %
              (name, error.message, "/".join(str(p) for p in error.absolute_path)))


def tally(items):
    counts = Counter()
    for item in items:
        counts[item] += 1
    return {v: counts[v] for v in VERDICTS}


def test_scenario(name):
    policy, events, report, paths = run_with_reports(name, os.path.join(WORK, name))
    validate_schema(report, name)
    attempts = attempt_rows(events)

    # 1. Totals: the hand-written expectation, and the run's own attempt events.
    expected = expected_verdicts(name)
    totals = report["totals"]
    for verdict in VERDICTS:
        check(totals[verdict] == expected[verdict],
              "%s: %d %s in the report, the .expect file says %d" %
              (name, totals[verdict], verdict, expected[verdict]))
    check(totals["attempts"] == len(attempts),
          "%s: %d attempts in the report, %d attempt events" %
          (name, totals["attempts"], len(attempts)))
    stats = [e for e in events if e["type"] == "sensor_stats" and e.get("final")]
    if stats:
        check(totals["packets"] == stats[-1]["packets"], "%s: packets differ" % name)
        for event_type, count in report["totals"]["events"].items():
            check(count == stats[-1]["events_" + event_type],
                  "%s: %s events: report %d, sensor_stats %d" %
                  (name, event_type, count, stats[-1]["events_" + event_type]))

    # 2. Per pool and family, per blocking point: the attempt events, grouped.
    by_pool = defaultdict(list)
    by_point = defaultdict(list)
    for event in attempts:
        family = "ipv6" if ":" in event["src_ip"] else "ipv4"
        by_pool[(event["pool"], family)].append(event["verdict"])
        by_point[(event.get("blocking_point"), family)].append(event["verdict"])
    pools = report["coverage"]["pools"] + report["coverage"]["pools_without_blocking_point"]
    seen_pools = set()
    for pool in pools:
        for family in ("ipv4", "ipv6"):
            if family not in pool:
                check(not by_pool.get((pool["name"], family)),
                      "%s: pool %s has %s attempts but no %s row" %
                      (name, pool["name"], family, family))
                continue
            seen_pools.add((pool["name"], family))
            want = tally(by_pool.get((pool["name"], family), []))
            got = {v: pool[family][v] for v in VERDICTS}
            check(got == want, "%s: pool %s %s: report %s, events %s" %
                  (name, pool["name"], family, got, want))
            if want["blocked"] + want["leaked"] > 0:
                ratio = want["blocked"] / (want["blocked"] + want["leaked"])
                check(abs(pool[family]["coverage"] - ratio) < 1e-4,
                      "%s: pool %s %s coverage %s, want %.4f" %
                      (name, pool["name"], family, pool[family]["coverage"], ratio))
            else:
                check(pool[family]["coverage"] is None,
                      "%s: pool %s %s: coverage without blocked or leaked" %
                      (name, pool["name"], family))
    for key in by_pool:
        check(key in seen_pools, "%s: attempts of pool %s %s are not in the report" %
              ((name,) + key))
    for point in report["coverage"]["blocking_points"]:
        for family in ("ipv4", "ipv6"):
            if family in point:
                want = tally(by_point.get((point["name"], family), []))
                got = {v: point[family][v] for v in VERDICTS}
                check(got == want, "%s: blocking point %s %s: report %s, events %s" %
                      (name, point["name"], family, got, want))
    # The final coverage events say the same.
    for event in events:
        if event["type"] == "coverage" and event.get("final"):
            family = "ipv4" if event["ip_version"] == 4 else "ipv6"
            row = [p for p in pools if p["name"] == event["pool"]]
            if check(row and family in row[0], "%s: no row for %s" % (name, event["pool"])):
                check(row[0][family]["attempts"] == event["attempts"],
                      "%s: pool %s %s attempts differ from the coverage event" %
                      (name, event["pool"], family))

    # 3. Each leak, with its evidence, in the order the events were written.
    leaked = [e for e in attempts if e["verdict"] == "leaked"]
    leaks = report["coverage"]["leaks"]
    check(leaks["total"] == len(leaked), "%s: %d leaks, %d leaked attempts" %
          (name, leaks["total"], len(leaked)))
    for item, event in zip(leaks["items"], leaked):
        for key in ("src_ip", "src_port", "dst_ip", "dst_port", "evidence", "pool",
                    "community_id"):
            check(item.get(key) == event.get(key), "%s: leak %s:%s %s: %r, event %r" %
                  (name, event["src_ip"], event["src_port"], key, item.get(key),
                   event.get(key)))
    stages = Counter(item["stage"] for item in leaks["items"])
    for stage, count in leaks["by_stage"].items():
        check(count == stages[stage], "%s: leaks at stage %s: %d, listed %d" %
              (name, stage, count, stages[stage]))

    # 3b. What the block breaks: the collateral_block events, by blocking point, pool, reason
    # and port, with their evidence.
    refused = [e for e in events if e["type"] == "collateral_block"]
    collateral = report["coverage"]["collateral"]
    check(collateral["total"] == len(refused), "%s: %d collateral findings in the report, %d "
          "events" % (name, collateral["total"], len(refused)))
    want_rows = defaultdict(Counter)
    for event in refused:
        key = (event["blocking_point"], event["pool"], event["reason"], event["dst_port"])
        want_rows[key][event["evidence"]] += 1
    got_rows = {(r["blocking_point"], r["pool"], r["reason"], r["port"]): r
                for r in collateral["rows"]}
    check(set(got_rows) == set(want_rows), "%s: collateral rows %s, the events make %s" %
          (name, sorted(got_rows), sorted(want_rows)))
    for key, evidence in want_rows.items():
        row = got_rows.get(key)
        if row is None:
            continue
        check(row["findings"] == sum(evidence.values()) and
              all(row[e] == evidence[e] for e in
                  ("icmp_prohibited", "rst_blocking_point", "no_reply")),
              "%s: collateral row %s: %s, the events say %s" % (name, key, row, dict(evidence)))

    # 4. Attempts over time add up to the attempts.
    buckets = report["timeline"]["buckets"]
    for verdict in VERDICTS:
        check(sum(b[verdict] for b in buckets) == totals[verdict],
              "%s: the timeline's %s do not add up" % (name, verdict))

    # 5. Findings: counted and listed as the events show them. A rate limit of the policy
    # (events.max_per_minute) holds lines back, never findings: the report counts those too.
    final_stats = stats[-1] if stats else {}
    held_back = {t: final_stats.get("events_suppressed_" + t, 0) for t in FINDING_TYPES}
    for finding_type in FINDING_TYPES:
        found = [e for e in events if e["type"] == finding_type]
        section = report["findings"][finding_type]
        check(section["total"] == len(found) + held_back[finding_type],
              "%s: %d %s in the report, %d events and %d held back" %
              (name, section["total"], finding_type, len(found), held_back[finding_type]))
        if held_back[finding_type] > 0:
            continue  # which ones were written is ratelimit's scenario's to check
        for item, event in zip(section["listed"], found):
            for key in ("ts", "src_ip", "dst_ip", "pool", "segment"):
                # A detector may name an address as a field of its own instead of a flow.
                got = item[key] if key in item else item["fields"].get(key)
                check(got == event.get(key), "%s: %s %s: %r, event %r" %
                      (name, finding_type, key, got, event.get(key)))
    third_party = [e for e in events if e["type"] == "third_party_submission"]
    servers = report["impact"]["third_party_msas"]["servers"]
    if held_back["third_party_submission"] > 0:
        servers = []  # the report has them all, the lines do not
    check(not servers or len(servers) == len({e["dst_ip"] for e in third_party}),
          "%s: third-party MSAs: %d listed, %d in the events" %
          (name, len(servers), len({e["dst_ip"] for e in third_party})))
    for server in servers:
        sessions = [e for e in third_party if e["dst_ip"] == server["address"]]
        check(server["subscribers"] == len({e["src_ip"] for e in sessions}),
              "%s: third-party MSA %s: subscribers" % (name, server["address"]))
    scores = [s["score"] for s in report["bot_suspects"]["top"]]
    check(scores == sorted(scores, reverse=True), "%s: bot suspects not ranked" % name)

    # 6. The ACL: --check's count, and valid nftables.
    check_acl(name, policy, report)
    check_migration(name, report, events, attempts)

    # 7. The text and HTML reports carry the same totals.
    with open(paths["txt"]) as handle:
        text = handle.read()
    line = "%d attempts: " % totals["attempts"] + ", ".join(
        "%d %s" % (totals[v], v) for v in VERDICTS)
    check(line in text, "%s: the text report lacks %r" % (name, line))
    with open(paths["html"]) as handle:
        html = handle.read()
    check(html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>"),
          "%s: the HTML report is not one whole page" % name)
    check(("<td>Attempts</td><td>%d:" % totals["attempts"]) in html,
          "%s: the HTML report lacks the attempt total" % name)
    page = Page()
    page.feed(html)
    check_summary(name, report, page)
    check_findings_tables(name, report, page)
    figures = "coverage %s, %d leak%s, %d infected subscriber%s, %d evasion finding%s" % (
        coverage_text(totals["blocked"], totals["leaked"]), leaks["total"],
        plural(leaks["total"]), report["bot_suspects"]["subscribers"],
        plural(report["bot_suspects"]["subscribers"]), evasion_total(report),
        plural(evasion_total(report)))
    check(figures in text.split("\n\n1. Coverage audit")[0],
          "%s: the text report's summary lacks %r" % (name, figures))


def check_migration(name, report, events, attempts):
    """The move to 587: the report counts the records the submission_migration events count
    per interval, by its own path, so the connections must be the events' sums, and the
    distinct subscribers over the run lie between the busiest interval's and the intervals'
    sum. Who breaks is every attempt the closing MSA takes today: the would_block attempts
    that name an MSA (a designated MSA's would otherwise be allowed)."""
    section = report["submission_migration"]
    rows = {(r["msa"], r["pool"]): r for r in section["rows"]}
    sums, peaks = Counter(), Counter()
    for event in events:
        if event["type"] != "submission_migration":
            continue
        key = (event["msa"], event["pool"])
        check(key in rows, "%s: %s in the events, not in the report" % (name, key))
        for field, number in event.items():
            if field.startswith(("connections", "subscribers")) and field != "subscribers_capped":
                sums[key + (field,)] += number
                peaks[key + (field,)] = max(peaks[key + (field,)], number)
    for key, row in rows.items():
        for field, number in row.items():
            if field.startswith("connections"):
                check(number == sums[key + (field,)], "%s: %s %s: report %d, events %d" %
                      (name, key, field, number, sums[key + (field,)]))
            elif field.startswith("subscribers") and field != "subscribers_capped":
                check(peaks[key + (field,)] <= number <= sums[key + (field,)],
                      "%s: %s %s: report %d, events between %d and %d" %
                      (name, key, field, number, peaks[key + (field,)], sums[key + (field,)]))
    closing = [e for e in attempts if e["verdict"] == "would_block" and "msa" in e]
    listed = section["planned_close"]
    check(listed["connections"] == len(closing) and
          sum(i["connections"] for i in listed["items"]) == len(closing),
          "%s: %d connections break when port 25 closes, %d would_block attempts name an MSA" %
          (name, listed["connections"], len(closing)))
    v4 = {e["src_ip"] for e in closing if ":" not in e["src_ip"]}
    check(v4 <= {i["subscriber"] for i in listed["items"]},
          "%s: subscribers who break not listed: %s" % (name, v4))
    buckets = section["timeline"]["buckets"]
    total = sum(sum(v for k, v in b.items() if k != "start") for b in buckets)
    check(total == sum(number for key, number in sums.items() if key[2] in
                       ("connections_25", "connections_587", "connections_465")),
          "%s: the submission timeline counts %d connections" % (name, total))


class Page(HTMLParser):
    """What the HTML report shows, by the attributes and classes it marks: the summary's
    figures, its rows per blocking point or pool, its sentences and steps, every table of
    findings (headers and cell texts) and every cell of the page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.figures, self.points, self.pools, self.sentences = {}, {}, {}, {}
        self.steps, self.tables, self.cells, self.every_table = [], [], [], []
        self.stack, self.text, self.row = [], None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.stack.append((tag, attrs))
        if tag == "table":
            self.every_table.append({"headers": [], "rows": []})
            if attrs.get("class") == "findings":
                self.tables.append(self.every_table[-1])
        if tag == "tr":
            self.row = []
            self.row_attrs = attrs
        if tag in ("td", "th", "b", "li", "p"):
            self.text = ""

    def handle_data(self, data):
        if self.text is not None:
            self.text += data

    def inside(self, tag, key=None):
        return any(t == tag and (key is None or key in a) for t, a in self.stack)

    def handle_endtag(self, tag):
        opened, attrs = self.stack.pop() if self.stack else (None, {})
        text = (self.text or "").strip() if tag != "td" else (self.text or "")
        if tag == "b" and self.inside("div", "data-figure"):
            key = [a["data-figure"] for t, a in self.stack if "data-figure" in a][0]
            self.figures[key] = text
        elif tag == "p" and "data-sentence" in attrs:
            self.sentences[attrs["data-sentence"]] = text
        elif tag == "li" and self.inside("ol"):
            self.steps.append(text)
        elif tag == "td":
            self.cells.append(text)
            if self.row is not None:
                self.row.append(text)
        elif tag == "th" and self.every_table:
            self.every_table[-1]["headers"].append(text)
        elif tag == "tr" and self.row is not None:
            if "data-point" in self.row_attrs:
                self.points[self.row_attrs["data-point"]] = self.row
            elif "data-pool" in self.row_attrs:
                self.pools[self.row_attrs["data-pool"]] = self.row
            elif self.every_table and self.row:
                self.every_table[-1]["rows"].append(self.row)
            self.row = None
        if tag in ("td", "th", "b", "li", "p"):
            self.text = None


def plural(count):
    return "" if count == 1 else "s"


def coverage_text(blocked, leaked):
    # As the writers do: the ratio first, then in percent, to one decimal.
    return "n/a" if blocked + leaked == 0 else "%.1f%%" % (blocked / (blocked + leaked) * 100)


def evasion_total(report):
    return sum(f["total"] for f in report["findings"].values() if f["evasion"])


def point_mark(point):
    total = point["total"]
    if point["state"] == "planned":
        return "PLANNED"
    return "LEAKING" if total["leaked"] else "HOLDS" if total["blocked"] else "NO DATA"


def check_summary(name, report, page):
    totals, leaks = report["totals"], report["coverage"]["leaks"]
    want = {"coverage": coverage_text(totals["blocked"], totals["leaked"]),
            "leaks": str(leaks["total"]),
            "infected": str(report["bot_suspects"]["subscribers"]),
            "evasion": str(evasion_total(report))}
    check(page.figures == want, "%s: the summary's figures %s, the JSON's %s" %
          (name, page.figures, want))
    for point in report["coverage"]["blocking_points"]:
        total = point["total"]
        row = [point["name"], point_mark(point), coverage_text(total["blocked"], total["leaked"]),
               str(total["attempts"]), str(total["blocked"]), str(total["leaked"]),
               str(total["would_block"])]
        check(page.points.get(point["name"]) == row, "%s: the summary's row of %s is %s, the "
              "JSON says %s" % (name, point["name"], page.points.get(point["name"]), row))
    check(len(page.points) == len(report["coverage"]["blocking_points"]),
          "%s: %d blocking points in the summary" % (name, len(page.points)))
    unassigned = report["coverage"]["pools_without_blocking_point"]
    for pool in unassigned:
        total = pool["total"]
        row = ["pool %s has none" % pool["name"], "UNFILTERED",
               coverage_text(total["blocked"], total["leaked"]), str(total["attempts"]),
               str(total["blocked"]), str(total["leaked"]), str(total["would_block"])]
        check(page.pools.get(pool["name"]) == row, "%s: the summary's row of pool %s: %s, "
              "want %s" % (name, pool["name"], page.pools.get(pool["name"]), row))
    check(len(page.pools) == len(unassigned), "%s: %d pools without a point in the summary" %
          (name, len(page.pools)))
    check_sentences(name, report, page)
    check_steps(name, report, page)


def check_sentences(name, report, page):
    leaks = report["coverage"]["leaks"]
    sentence = page.sentences.get("leaks", "")
    if leaks["total"] == 0:
        check(sentence.startswith("No leak"), "%s: leaks sentence %r" % (name, sentence))
    else:
        check(sentence.startswith("%d leak%s: " % (leaks["total"], plural(leaks["total"]))),
              "%s: leaks sentence %r" % (name, sentence))
        for point in report["coverage"]["blocking_points"]:
            if point["total"]["leaked"]:
                check("%d through %s (" % (point["total"]["leaked"], point["name"]) in sentence,
                      "%s: the leaks sentence does not name %s: %r" %
                      (name, point["name"], sentence))
    top = report["bot_suspects"]["top"][:3]
    sentence = page.sentences.get("infected", "")
    if not top:
        check(sentence.startswith("No subscriber"), "%s: %r" % (name, sentence))
    else:
        named = re.findall(r"(?:: |, )(\S+) \((\d+\.\d\d)", sentence)
        want = [(t["fields"]["subscriber"], "%.2f" % t["score"]) for t in top]
        check(named == want, "%s: the summary's top suspects %s, the JSON's %s" %
              (name, named, want))


def check_steps(name, report, page):
    steps = page.steps
    check(steps, "%s: no next step" % name)
    joined = "\n".join(steps)
    expected = []
    for pool in report["coverage"]["pools"]:
        leaked = pool["total"]["leaked"]
        if leaked:
            expected.append("Blocking point %s leaked %d attempt%s from pool %s: " %
                            (pool["blocking_point"], leaked, plural(leaked), pool["name"]))
    refused = Counter()
    for row in report["coverage"]["collateral"]["rows"]:
        refused[row["blocking_point"]] += row["findings"]
    for point, count in refused.items():
        expected.append("Blocking point %s refused %d connection%s it must let through" %
                        (point, count, plural(count)))
    for pool in report["coverage"]["pools_without_blocking_point"]:
        expected.append("Pool %s has no blocking point" % pool["name"])
    if report["bot_suspects"]["subscribers"]:
        expected.append("%d subscriber" % report["bot_suspects"]["subscribers"])
    for finding_type, section in report["findings"].items():
        if section["evasion"] and section["total"]:
            expected.append("%d " % section["total"])
            expected.append("(%s): " % finding_type)
    lost = [s for s in report["impact"]["third_party_msas"]["servers"]
            if not s["submission_port_seen"]]
    if lost:
        expected.append("%d third-party mail server%s reached on port 25 %s not seen" %
                        (len(lost), plural(len(lost)), "is" if len(lost) == 1 else "are"))
    abuse = report["findings"].get("msa_abuse", {}).get("total", 0)
    if abuse:
        expected.append("%d subscriber window%s went past the MSA limits (msa_abuse)" %
                        (abuse, plural(abuse)))
    clear = report["findings"].get("cleartext_auth", {}).get("total", 0)
    if clear:
        expected.append("%d login%s sent a password before any TLS (cleartext_auth)" %
                        (clear, plural(clear)))
    breaking = report["submission_migration"]["planned_close"]["subscribers"]
    if breaking:
        expected.append("%d subscriber%s still submit%s on a port 25 planned to close" %
                        (breaking, plural(breaking), "s" if breaking == 1 else ""))
    for text in expected:
        check(text in joined, "%s: no step says %r:\n%s" % (name, text, joined))
    nothing = any(s.startswith("Nothing to do") for s in steps)
    check(nothing == (not expected and len(steps) == 1),
          "%s: 'Nothing to do' with %d steps and %d expected" % (name, len(steps), len(expected)))


# Finding types the HTML report lists in their own section, not among the evasion findings.
ABUSE_TYPES = ("msa_abuse", "cleartext_auth")


# What may not begin or end a cell: a separator whose other side is empty.
DANGLING_END = (",", "/", ";", "(", "=")
DANGLING_START = (",", ";", ")", "/ ")  # a path may begin with /


def check_findings_tables(name, report, page):
    listed = [len(report["coverage"]["leaks"]["items"]), len(report["bot_suspects"]["top"])]
    listed += [len(report["coverage"]["collateral"]["rows"]),
               len(report["findings"]["collateral_block"]["listed"])]
    listed += [len(s["listed"]) for t, s in report["findings"].items() if s["evasion"]]
    # The MSAs' own abuse has a table per type too (report_html_abuse.c).
    listed += [len(report["findings"][t]["listed"]) for t in ABUSE_TYPES]
    tables = page.tables
    check(len(tables) == len([n for n in listed if n]), "%s: %d findings tables, the JSON lists "
          "%s" % (name, len(tables), listed))
    check(sorted(len(t["rows"]) for t in tables) == sorted(n for n in listed if n),
          "%s: the tables' rows %s, the JSON lists %s" %
          (name, [len(t["rows"]) for t in tables], listed))
    for table in tables:
        headers = table["headers"]
        check(headers and all(re.match(r"^[#A-Za-z]", h) for h in headers),
              "%s: a findings table without named headers: %s" % (name, headers))
        for column, header in enumerate(headers):
            values = [row[column] for row in table["rows"] if column < len(row)]
            check(any(v.strip() for v in values), "%s: column %r has no value in any row" %
                  (name, header))
        check(all(len(row) == len(headers) for row in table["rows"]),
              "%s: a row with another number of cells than %s" % (name, headers))
    # No table of the page (servers, ACL, summary...) has a column without a value.
    for table in page.every_table:
        for column, header in enumerate(table["headers"]):
            if table["rows"] and all(len(row) == len(table["headers"]) for row in table["rows"]):
                check(any(row[column].strip() for row in table["rows"]),
                      "%s: column %r of a table has no value in any row" % (name, header))
    for cell in page.cells:
        text = cell.strip()
        check(not text.endswith(DANGLING_END) and not text.startswith(DANGLING_START),
              "%s: a cell with a dangling separator: %r" % (name, cell))


def check_acl(name, policy, report):
    # From the capture directory, as the replay ran: policies may name files relatively.
    status, out, err = run([BINARY, "-c", policy, "--check"], cwd=os.path.join(SOURCE, "pcaps"))
    if not check(status == 0, "%s: --check exits %d: %s" % (name, status, err)):
        return
    acl = report["acl"]
    text = out.decode()
    for family, label in (("ipv4", "IPv4"), ("ipv6", "IPv6")):
        match = re.search(r"%s: (\d+) dynamic blocks x \((\d+) MSA blocks \+ 1\) = (\d+) rules "
                          r"by the draft's formula\n +generated (\d+) rules \((\d+) at planned "
                          r"points\): MSA permits (\d+), exempt permits (\d+), denies (\d+)\n"
                          % label, text)
        if not check(match, "%s: --check prints no %s rule count" % (name, label)):
            continue
        blocks, msas, rules, generated, planned, permits, exempt, denies = map(int,
                                                                              match.groups())
        formula = acl["formula"][family]
        check((formula["dynamic_blocks"], formula["msa_blocks"], formula["rules"]) ==
              (blocks, msas, rules),
              "%s: %s formula %s, --check %s" % (name, label, formula, match.group(0)))
        made = acl["generated"][family]
        check((made["rules"], made["planned"], made["msa_permits"], made["exempt_permits"],
               made["denies"]) == (generated, planned, permits, exempt, denies),
              "%s: %s generated %s, --check %s" % (name, label, made, match.group(0)))
        # The listing is what --check counted, rule by rule: a deny closes each dynamic
        # block, an MSA permit names its MSA, an exemption the pool it is carved out of.
        listed = [r for r in acl["rules"] if r["ip_version"] == int(family[-1]) and
                  r["blocking_point"] is not None]
        kinds = Counter("deny" if r["action"] == "deny" else
                        "exempt" if r["exempt_inside"] is not None else "msa" for r in listed)
        check(len(listed) == generated == permits + exempt + denies and
              (kinds["msa"], kinds["exempt"], kinds["deny"]) == (permits, exempt, denies),
              "%s: %s rules listed %s, --check says %s" % (name, label, dict(kinds),
                                                           match.group(0)))
        check(denies == blocks, "%s: %d %s denies for %d dynamic blocks" %
              (name, denies, label, blocks))
        check(sum(r["state"] == "planned" for r in listed) == planned,
              "%s: %s planned rules differ from --check" % (name, label))
        check(permits + denies <= rules, "%s: %s generates more than the draft's formula" %
              (name, label))
        # The nftables text holds exactly these rules, in this order.
        ip = "ip" if family == "ipv4" else "ip6"
        got = [line.strip() for line in acl["nftables"].splitlines()
               if line.startswith("\t\t%s saddr " % ip)]
        expected = [nft_prefix(r) for r in listed]
        check(len(got) == len(expected) and all(g.startswith(e) for g, e in zip(got, expected)),
              "%s: %s nftables rules differ from the listing:\n%s\n%s" %
              (name, label, "\n".join(got), "\n".join(expected)))
    for rule in acl["rules"]:
        source = ipaddress.ip_network(rule["source"])
        check(source.version == rule["ip_version"], "%s: rule %d family" % (name, rule["n"]))
    nft = shutil.which("nft")
    if nft is None:
        print("SKIP: nft is not installed; the nftables text was not loaded")
        return
    path = os.path.join(WORK, name, "acl.nft")
    with open(path, "w") as handle:
        handle.write(acl["nftables"])
    status, _, err = run([nft, "-c", "-f", path])
    if status != 0 and ("Operation not permitted" in err or "netlink" in err.lower()):
        print("SKIP: nft -c cannot run here: " + err.strip())
        return
    check(status == 0, "%s: nft -c rejects the ACL: %s" % (name, err))


def nft_prefix(rule):
    """The start of the nftables line a listed rule becomes: its match and its verdict."""
    ip = "ip" if rule["ip_version"] == 4 else "ip6"
    text = "%s saddr %s " % (ip, rule["source"])
    if rule["destination"] is not None:
        text += "%s daddr %s " % (ip, rule["destination"])
    return text + "tcp dport 25 " + ("accept" if rule["action"] == "permit" else "")


def png_pixels(path):
    """Decodes an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes)."""
    with open(path, "rb") as handle:
        data = handle.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    offset, idat, header = 8, b"", None
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        body = data[offset + 8:offset + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        offset += 12 + length
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace != 0:
        raise ValueError("unexpected PNG format %s" % (header,))
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous, position = [], bytearray(stride), 0
    for _ in range(height):
        kind = raw[position]
        line = bytearray(raw[position + 1:position + 1 + stride])
        position += 1 + stride
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            upper_left = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - upper_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - upper_left)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else upper_left
                line[i] = (line[i] + predictor) & 255
        rows.append(bytes(line))
        previous = line
    return width, height, channels, rows


def test_html():
    _, _, report, paths = run_with_reports("example", os.path.join(WORK, "html"))
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not check(chromium is not None, "chromium is not installed (.ci/install-deps)"):
        return
    html = paths["html"]
    with open(html) as handle:
        page = handle.read()
    for needle in ("http://", "https://", "<script", "<link", "<img", "url(", "@import"):
        check(needle not in page, "the HTML report holds %r: it must fetch nothing" % needle)
    png = os.path.join(WORK, "html", "report.png")
    pdf = os.path.join(WORK, "html", "report.pdf")
    profile = os.path.join(WORK, "html", "profile")
    base = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--user-data-dir=" + profile, "--no-first-run", "--disable-extensions"]
    for old in (png, pdf):
        if os.path.exists(old):
            os.remove(old)
    status, _, err = run(base + ["--window-size=1000,1800", "--screenshot=" + png,
                                 "file://" + html], timeout=120)
    if not check(status == 0 and os.path.exists(png), "chromium screenshot failed: %s" % err):
        return
    width, height, channels, rows = png_pixels(png)
    check((width, height) == (1000, 1800), "screenshot is %dx%d" % (width, height))
    colours = Counter()
    for row in rows[::2]:
        for x in range(0, width * channels, channels * 2):
            colours[bytes(row[x:x + 3])] += 1
    total = sum(colours.values())
    white = colours[b"\xff\xff\xff"]
    check(white < total * 0.97, "the screenshot is blank: %.1f%% white" % (100 * white / total))
    check(len(colours) > 20, "the screenshot has only %d colours" % len(colours))
    # The summary opens the page: the example's leaking point's mark in the first screenful.
    mark = bytes((0xb0, 0x00, 0x20))
    top = sum(1 for row in rows[:700] for x in range(0, width * channels, channels)
              if row[x:x + 3] == mark)
    check(top > 600, "the summary's LEAKING mark is not at the top of the page (%d pixels)" % top)
    print("the LEAKING mark: %d pixels in the first screenful" % top)
    # The charts rendered: each verdict the example has shows in its colour.
    for verdict, rgb in CHART_COLOURS.items():
        if report["totals"][verdict] > 0:
            check(colours[bytes(rgb)] > 50, "the %s colour of the charts is not in the "
                  "screenshot (%d pixels)" % (verdict, colours[bytes(rgb)]))
    status, _, err = run(base + ["--print-to-pdf=" + pdf, "--no-pdf-header-footer",
                                 "file://" + html], timeout=120)
    if check(status == 0 and os.path.exists(pdf), "chromium print failed: %s" % err):
        with open(pdf, "rb") as handle:
            document = handle.read()
        pages = len(re.findall(rb"/Type\s*/Page[^s]", document))
        check(document.startswith(b"%PDF") and 1 <= pages <= 12,
              "the printed report has %d pages" % pages)
        boxes = [tuple(float(v) for v in box.split()[2:4]) for box in
                 re.findall(rb"/MediaBox\s*\[([^\]]*)\]", document)]
        check(any(w < h for w, h in boxes) and any(w > h for w, h in boxes),
              "the print has no portrait pages or no landscape findings pages: %s" % boxes)


def pcap_records(path):
    with open(path, "rb") as handle:
        data = handle.read()
    header, offset, records = data[:24], 24, []
    while offset < len(data):
        length = struct.unpack("<I", data[offset + 8:offset + 12])[0]
        records.append(data[offset:offset + 16 + length])
        offset += 16 + length
    return header, records


def test_signal():
    work = os.path.join(WORK, "signal")
    os.makedirs(work, exist_ok=True)
    path = os.path.join(work, "stopped.json")
    if os.path.exists(path):
        os.remove(path)
    header, records = pcap_records(os.path.join(SOURCE, "pcaps", "example.pcap"))
    process = subprocess.Popen([BINARY, "-q", "-c", EXAMPLE_POLICY, "-r", "-", "--report", path,
                                "-o", os.devnull], stdin=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    process.stdin.write(header + b"".join(records[:len(records) // 2]))
    process.stdin.flush()
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    try:
        _, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        check(False, "SIGINT did not stop a streamed replay")
        return
    check(process.returncode == 0, "SIGINT: exit %d: %s" % (process.returncode, err))
    if not check(os.path.exists(path), "SIGINT: no report written"):
        return
    with open(path) as handle:
        report = json.load(handle)
    check(report["end_reason"] == "shutdown", "end_reason %r" % report["end_reason"])
    check(report["totals"]["packets"] == len(records) // 2,
          "the stopped report counts %d packets, %d were sent" %
          (report["totals"]["packets"], len(records) // 2))


def test_cli():
    work = os.path.join(WORK, "cli")
    os.makedirs(work, exist_ok=True)
    status, _, err = run([BINARY, "-c", EXAMPLE_POLICY, "-r", EXAMPLE_PCAP, "--report",
                          os.path.join(work, "x.pdf")])
    check(status == 2 and ".json, .html or .txt" in err, "--report x.pdf: %d %s" % (status, err))
    missing = os.path.join(work, "no-such-dir", "x.json")
    status, out, err = run([BINARY, "-q", "-c", EXAMPLE_POLICY, "-r", EXAMPLE_PCAP, "--report",
                            missing])
    # Found at start-up, before anything is read (safety_test.py has the other cases).
    check(status == 2 and "no-such-dir" in err, "unwritable report: %d %s" % (status, err))
    check(out == b"", "events were written although the report cannot be")
    # Same capture, same report: no wall-clock time goes in.
    first, second = os.path.join(work, "a.json"), os.path.join(work, "b.json")
    for path in (first, second):
        run([BINARY, "-q", "-c", EXAMPLE_POLICY, "-r", EXAMPLE_PCAP, "--report", path, "-o",
             os.devnull])
    with open(first, "rb") as a, open(second, "rb") as b:
        check(a.read() == b.read(), "two runs give different reports")


def read_pty(fd, process, timeout):
    output, deadline = b"", time.time() + timeout
    while time.time() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        elif process.poll() is not None:
            break
    return output


def big_capture(path, copies):
    """The example, repeated with its times shifted, so a replay takes more than the
    progress line's half-second interval."""
    header, records = pcap_records(EXAMPLE_PCAP)
    first = struct.unpack("<I", records[0][:4])[0]
    last = struct.unpack("<I", records[-1][:4])[0]
    span = last - first + 120
    with open(path, "wb") as handle:
        handle.write(header)
        for copy in range(copies):
            for record in records:
                seconds = struct.unpack("<I", record[:4])[0] + copy * span
                handle.write(struct.pack("<I", seconds) + record[4:])


def test_progress():
    work = os.path.join(WORK, "progress")
    os.makedirs(work, exist_ok=True)
    capture = os.path.join(work, "long.pcap")
    big_capture(capture, 3000)
    command = [BINARY, "-c", EXAMPLE_POLICY, "-r", capture, "-o", os.devnull]
    # On a terminal: the line appears, then is erased before the summary.
    primary, secondary = pty.openpty()
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=secondary)
    os.close(secondary)
    output = read_pty(primary, process, 120)
    process.wait(timeout=30)
    os.close(primary)
    text = output.decode(errors="replace")
    lines = re.findall(r"\r\x1b\[Kop25b-watch: (\d+\.\d)% of [\d.]+ [kMG]?B, (\d+) packets, "
                       r"(\d+) packets/s", text)
    if check(lines, "no progress line on a terminal: %r" % text[:300]):
        percents = [float(p) for p, _, _ in lines]
        check(percents == sorted(percents) and 0 < percents[-1] <= 100,
              "progress does not grow: %s" % percents)
        check(all(int(rate) > 0 for _, _, rate in lines), "a zero packet rate")
    summary = text.find("op25b-watch: %d packets" % (391 * 3000))
    check(summary > 0, "no summary after the progress: %r" % text[-300:])
    check(text[:summary].endswith("\r\x1b[K"), "the progress line is not erased before the "
          "summary: %r" % text[max(0, summary - 80):summary + 20])
    # On a pipe, and with -q on a terminal: no progress line.
    status, _, err = run(command, timeout=120)
    check(status == 0 and "\r" not in err and "packets/s" not in err,
          "progress on a pipe: %r" % err[:200])
    primary, secondary = pty.openpty()
    process = subprocess.Popen(command + ["-q"], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=secondary)
    os.close(secondary)
    output = read_pty(primary, process, 120)
    process.wait(timeout=30)
    os.close(primary)
    check(output == b"", "-q on a terminal still writes %r" % output[:200])
    os.remove(capture)


def main():
    global BINARY, SOURCE, WORK, EXAMPLE_POLICY, EXAMPLE_PCAP
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--only", required=True,
                        choices=["scenario", "html", "signal", "cli", "progress"])
    parser.add_argument("--scenario")
    args = parser.parse_args()
    BINARY = os.path.abspath(args.binary)
    SOURCE = os.path.abspath(args.source_dir)
    WORK = os.path.abspath(args.work_dir)
    EXAMPLE_POLICY = os.path.join(SOURCE, "rules", "example.yaml")
    EXAMPLE_PCAP = os.path.join(SOURCE, "pcaps", "example.pcap")
    os.makedirs(WORK, exist_ok=True)
    if args.only == "scenario":
        test_scenario(args.scenario)
    else:
        {"html": test_html, "signal": test_signal, "cli": test_cli,
         "progress": test_progress}[args.only]()
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()

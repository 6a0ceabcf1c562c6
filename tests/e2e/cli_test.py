#!/usr/bin/env python3
"""The command line of the README's "Running it", run as a user would: options, exit statuses,
policy errors as FILE:LINE, every input form (file, pcapng, standard input, several files,
damaged files) giving the events the plain run gives.

usage: cli_test.py --binary BIN --source-dir DIR --work-dir DIR [--only NAME]
"""
import argparse
import ipaddress
import json
import os
import re
import shutil
import struct
import subprocess
import sys

import debian_libs

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL: " + message)
    return condition


def run(args, stdin=None):
    result = subprocess.run([BINARY] + args, input=stdin, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, timeout=60)
    return result.returncode, result.stdout, result.stderr.decode(errors="replace")


# --version's line for each library: how it starts, then the soname of the library whose
# own version function printed it.
VERSION_LINES = [
    ("libpcap version ", "libpcap.so"),
    ("nDPI ", "libndpi.so"),
    ("librdkafka ", "librdkafka.so"),
    ("libmaxminddb ", "libmaxminddb.so"),
    ("libyaml ", "libyaml-0.so"),
    ("libmicrohttpd ", "libmicrohttpd.so"),
    ("OpenSSL ", "libcrypto.so"),
]


def test_version():
    """--version names the sensor's version (the project's, in CMakeLists.txt) and, for each
    library, the version of the one the binary runs with: what the loader resolves it to,
    and dpkg says that file's package is at."""
    status, out, _ = run(["--version"])
    lines = out.decode().splitlines()
    with open(os.path.join(SOURCE_DIR, "CMakeLists.txt")) as cmake:
        project = re.search(r"project\(op25b-watch VERSION (\S+)", cmake.read()).group(1)
    check(status == 0 and lines[:1] == ["op25b-watch " + project],
          "--version: status %d, first line %r, not 'op25b-watch %s'" % (status, lines[:1],
                                                                          project))
    check(len(lines) == 1 + len(VERSION_LINES),
          "--version prints %d lines, not %d" % (len(lines), 1 + len(VERSION_LINES)))
    libraries = debian_libs.resolved(BINARY)
    for prefix, soname in VERSION_LINES:
        line = next((line for line in lines if line.startswith(prefix)), None)
        if not check(line is not None, "--version has no line starting %r" % prefix):
            continue
        printed = re.match(r"\d+(\.\d+)+", line[len(prefix):])
        path = next((p for name, p in libraries.items() if name.startswith(soname)), None)
        if not check(printed and path, "%r: no version, or ldd finds no %s" % (line, soname)):
            continue
        package = debian_libs.package_of(path)
        installed = debian_libs.upstream(debian_libs.package_version(package))
        check(debian_libs.same_version(printed.group(0), installed),
              "--version says %r, but %s (%s) is %s" % (line, path, package, installed))
        print("%s  (%s %s)" % (line, package, installed))


def test_version_and_help():
    test_version()
    status, out, _ = run(["--help"])
    check(status == 0, "--help exits %d" % status)
    for option in (rb"-c\b", rb"-r\b.*FILE", rb"-i\b.*IFACE", rb"-f\b.*EXPR", rb"-o\b.*FILE",
                   rb"--check"):
        check(re.search(option, out), "--help does not mention %r" % option)
    # The README's "Running it" names every option --help prints, so it cannot drift
    # behind a new one.
    with open(README, encoding="utf-8") as readme:
        text = readme.read()
    running = text[text.index("## Running it"):text.index("\n## ", text.index("## Running it") + 3)]
    def named(option):
        return re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(option), running) is not None
    for short, long in re.findall(r"^\s+(-\w)?(?:, )?(--[\w-]+)?", out.decode(), re.M):
        if short or long:
            check(named(short or long) or named(long or short),
                  "the README's Running it does not name %s" % (short or long))
    status, _, err = run(["--no-such-option"])
    check(status == 2, "an unknown option exits %d, not 2" % status)
    status, _, err = run(["-r", EXAMPLE_PCAP])
    check(status == 2 and "-c" in err, "no policy: status %d, %r" % (status, err))
    status, _, err = run(["-c", EXAMPLE_POLICY])
    check(status == 2, "no input: status %d" % status)


def test_check():
    status, out, err = run(["-c", EXAMPLE_POLICY, "--check"])
    check(status == 0, "--check exits %d: %s" % (status, err))
    text = out.decode()
    # Recount the draft's formula from the pools and MSAs --check itself lists: dynamic
    # blocks, MSA blocks that take port 25, and static prefixes carved out of a dynamic one.
    dynamic = []
    static = []
    msa = {4: 0, 6: 0}
    section = None
    for line in text.splitlines():
        if re.match(r"^pools \(\d+\):", line):
            section = "pools"
            continue
        if re.match(r"^msas \(\d+\):", line):
            section = "msas"
            continue
        if not line.startswith("  "):
            section = None
            continue
        words = line.split()
        prefixes = []
        for word in words:
            try:
                prefixes.append(ipaddress.ip_network(word))
            except ValueError:
                pass
        if section == "pools" and words[1] == "dynamic":
            dynamic += prefixes
        elif section == "pools":
            static += prefixes
        elif section == "msas" and "25" in words[words.index("ports") + 1].split(","):
            for prefix in prefixes:
                msa[prefix.version] += 1
    blocks = {v: sum(1 for p in dynamic if p.version == v) for v in (4, 6)}
    carved = {v: sum(1 for s in static if s.version == v and
                     any(d.version == v and s.subnet_of(d) for d in dynamic)) for v in (4, 6)}
    check(blocks == {4: 2, 6: 2} and msa == {4: 2, 6: 1} and carved == {4: 1, 6: 1},
          "--check lists %r dynamic, %r MSA blocks and %r carved-out static prefixes" %
          (blocks, msa, carved))
    for version in (4, 6):
        rules = blocks[version] * (msa[version] + 1)
        pattern = (r"IPv%d: %d dynamic blocks x \(%d MSA blocks \+ 1\) = %d rules by the "
                   r"draft's formula\n +generated \d+ rules \(\d+ at planned points\): MSA "
                   r"permits \d+, exempt permits %d, denies %d\n" % (
                       version, blocks[version], msa[version], rules, carved[version],
                       blocks[version]))
        check(re.search(pattern, text), "--check lacks %r:\n%s" % (pattern, text))


# Each mutation of the example policy: (name, text to find, replacement, expected message
# part). The error must name the line the mutation is on.
POLICY_MUTATIONS = [
    ("unknown key", "  stats_interval: 60s", "  stats_intervall: 60s", "unknown key"),
    ("bad prefix", "[203.0.113.0/25, 2001:db8:100::/40]", "[203.0.113.0/33, 2001:db8:100::/40]",
     "prefix"),
    ("host bits set", "[203.0.113.0/25, 2001:db8:100::/40]",
     "[203.0.113.1/25, 2001:db8:100::/40]", "prefix"),
    ("bad enum", "    reject: drop ", "    reject: bounce ", "reject"),
    ("missing blocking point", "    blocking_point: edge-west", "    blocking_point: edge-nowhere",
     "edge-nowhere"),
    ("duplicate prefix", "      - 203.0.113.128/26", "      - 203.0.113.0/25", "203.0.113.0/25"),
    ("yaml syntax", "resolvers: [203.0.113.193,", "resolvers: [203.0.113.193,, ]]", ""),
    ("bad duration", "  syn: 30s", "  syn: 30 parsecs", "syn"),
    ("bad position", "  position: edge-side", "  position: sideways", "position"),
    ("bad point position", "    state: planned ", "    position: behind\n    state: planned ",
     "bad value 'behind' for position"),
    # Names are written into every event and report: bounded, and shown as they are read.
    ("long name", "  name: span-bras-east-1", "  name: " + "s" * 65, "65 bytes long (at most 64)"),
    ("bidi name", "  - name: partner-msa", "  - name: partner\u202e-msa",
     "bidirectional control character (U+202E"),
    ("control in name", "  - name: dsl-vlan", '  - name: "dsl\\x85vlan"',
     "control character (U+0085"),
    # thresholds.msa_abuse: a mapping of counts from 1, its keys only.
    ("msa_abuse zero", "    concurrency: 10 ", "    concurrency: 0 ", "concurrency"),
    ("msa_abuse word", "    rcpt: 200 ", "    rcpt: many ", "rcpt"),
    ("msa_abuse unknown key", "    quota_replies: 3 ", "    quota: 3 ", "unknown key"),
    # planned_close closes a port the MSA serves, and only port 25.
    ("planned close of a port not served", "    pools: [ftth-east]  # permitted",
     "    planned_close: [465]\n    pools: [ftth-east]  # permitted",
     "does not serve port 465"),
    ("planned close of 587", "    ports: [25, 587, 465]",
     "    planned_close: [587]\n    ports: [25, 587, 465]", "only port 25 can be planned to close"),
    # The events: section: a leak is never summarized, and every key is checked.
    ("summarized leak", "  summarize: []", "  summarize: [blocked, leaked]",
     "leaked attempts cannot be summarized"),
    ("summarize twice", "  summarize: []", "  summarize: [blocked, blocked]", "listed twice"),
    ("no summary interval", "  summary_interval: 60s", "  summary_interval: 0s",
     "summary_interval must be longer than 0"),
    ("summary table too large", "  summary_subscribers: 1048576",
     "  summary_subscribers: 99999999", "summary_subscribers is out of range"),
    ("rate limit of no finding", "  max_per_minute: {}", "  max_per_minute: {attempt: 10}",
     "unknown key 'attempt' in max_per_minute"),
    ("rate limit of zero", "  max_per_minute: {}", "  max_per_minute: {bot_suspect: 0}",
     "bot_suspect is out of range"),
]


def test_policy_errors():
    with open(EXAMPLE_POLICY, encoding="utf-8") as source:
        original = source.read()
    for name, find, replace, message in POLICY_MUTATIONS:
        if not check(original.count(find) == 1, "%s: %r is not once in the example" %
                     (name, find)):
            continue
        mutated = original.replace(find, replace)
        line = original[:original.index(find)].count("\n") + 1
        path = os.path.join(WORK, "broken-%s.yaml" % name.replace(" ", "-"))
        with open(path, "w", encoding="utf-8") as out:
            out.write(mutated)
        status, _, err = run(["-c", path, "--check"])
        first = err.splitlines()[0] if err else ""
        check(status == 2, "%s: exit status %d, not 2" % (name, status))
        match = re.match(r"^(.+?):(\d+): (.+)$", first)
        if not check(match is not None, "%s: stderr is not FILE:LINE: message: %r" %
                     (name, err)):
            continue
        check(match.group(1) == path, "%s: names file %s" % (name, match.group(1)))
        check(int(match.group(2)) == line, "%s: names line %s, the mistake is on line %d: %s"
              % (name, match.group(2), line, first))
        check(message.lower() in match.group(3).lower(),
              "%s: message %r does not mention %r" % (name, match.group(3), message))
        # The same policy must stop a capture run the same way, before reading anything.
        status, out, _ = run(["-c", path, "-r", EXAMPLE_PCAP])
        check(status == 2 and out == b"", "%s: a capture run exits %d with output" %
              (name, status))


def reference_events():
    status, out, err = run(["-q", "-c", EXAMPLE_POLICY, "-r", EXAMPLE_PCAP])
    check(status == 0, "the example run exits %d: %s" % (status, err))
    check(out.count(b'"type":"attempt"') > 0, "the example run gives no attempts")
    return out


def read_pcap(path):
    with open(path, "rb") as source:
        data = source.read()
    header, records, offset = data[:24], [], 24
    while offset < len(data):
        length = struct.unpack_from("<I", data, offset + 8)[0]
        records.append(data[offset:offset + 16 + length])
        offset += 16 + length
    return header, records


def test_inputs(reference):
    # Standard input.
    with open(EXAMPLE_PCAP, "rb") as source:
        status, out, err = run(["-q", "-c", EXAMPLE_POLICY, "-r", "-"], stdin=source.read())
    check(status == 0 and out == reference, "-r - differs from -r FILE (status %d)" % status)

    # pcapng, written by Wireshark's editcap.
    if shutil.which("editcap"):
        pcapng = os.path.join(WORK, "example.pcapng")
        subprocess.run(["editcap", "-F", "pcapng", EXAMPLE_PCAP, pcapng], check=True)
        status, out, err = run(["-q", "-c", EXAMPLE_POLICY, "-r", pcapng])
        check(status == 0 and out == reference, "pcapng input differs (status %d)" % status)
    else:
        check(False, "editcap (wireshark-common) is missing")

    # Two files holding alternate packets: merged by timestamp into the same events.
    header, records = read_pcap(EXAMPLE_PCAP)
    halves = [os.path.join(WORK, "odd.pcap"), os.path.join(WORK, "even.pcap")]
    for index, path in enumerate(halves):
        with open(path, "wb") as out_file:
            out_file.write(header + b"".join(records[index::2]))
    status, out, err = run(["-q", "-c", EXAMPLE_POLICY, "-r", halves[0], "-r", halves[1]])
    check(status == 0, "two files: status %d: %s" % (status, err))
    # sensor_stats names no sources, so whole output must match.
    check(out == reference, "two interleaved files give other events than one file")

    # -o FILE holds what standard output held; a second run appends to it (a service
    # restarted by systemd keeps the events it wrote before), whole lines after whole lines.
    events = os.path.join(WORK, "events.ndjson")
    if os.path.exists(events):
        os.remove(events)
    status, out, _ = run(["-q", "-c", EXAMPLE_POLICY, "-r", EXAMPLE_PCAP, "-o", events])
    with open(events, "rb") as written:
        check(status == 0 and out == b"" and written.read() == reference,
              "-o FILE differs from standard output")
    status, out, _ = run(["-q", "-c", EXAMPLE_POLICY, "-r", EXAMPLE_PCAP, "-o", events])
    with open(events, "rb") as written:
        check(status == 0 and written.read() == reference + reference,
              "a second run with -o FILE does not append to the first run's events")

    # A disk that refuses every write: each event is counted lost, the run exits 1.
    if os.path.exists("/dev/full"):
        status, _, err = run(["-q", "-c", EXAMPLE_POLICY, "-r", EXAMPLE_PCAP, "-o", "/dev/full"])
        lost = "%d events could not be delivered" % reference.count(b"\n")
        check(status == 1 and lost in err,
              "-o /dev/full exits %d and says %r, not %r" % (status, err, lost))

    # A BPF filter that lets no port-25 packet through leaves no attempt. As in tcpdump,
    # tagged frames need the "vlan" keyword before the header behind the tag is matched.
    status, out, _ = run(["-q", "-c", EXAMPLE_POLICY, "-r", EXAMPLE_PCAP, "-f",
                          "not (tcp port 25 or (vlan and tcp port 25))"])
    check(status == 0 and b'"type":"attempt"' not in out and b"sensor_stats" in out,
          "-f 'not tcp port 25' still gives attempts")
    status, _, err = run(["-q", "-c", EXAMPLE_POLICY, "-r", EXAMPLE_PCAP, "-f", "tcp port"])
    check(status == 2 and "filter" in err.lower(), "a bad filter exits %d: %r" % (status, err))


def test_damaged_inputs(reference):
    header, records = read_pcap(EXAMPLE_PCAP)
    whole = header + b"".join(records)
    cut_at = len(header) + sum(len(r) for r in records[:200]) + 30
    cases = [
        ("cut mid-packet", whole[:cut_at], 1, True),
        ("header only", header, 0, False),
        ("empty", b"", 1, False),
        ("wrong magic", b"\x00\x01\x02\x03" + whole[4:], 1, False),
    ]
    for name, data, want_status, some_events in cases:
        path = os.path.join(WORK, "damaged-%s.pcap" % name.replace(" ", "-"))
        with open(path, "wb") as out:
            out.write(data)
        status, out, err = run(["-q", "-c", EXAMPLE_POLICY, "-r", path])
        check(status == want_status, "%s: exit %d, not %d (%s)" % (name, status, want_status,
                                                                     err))
        if want_status != 0:
            check(err.strip() != "", "%s: no message on stderr" % name)
        if some_events:
            # Whatever was read before the damage is judged and reported.
            check(b'"type":"attempt"' in out and b'"final":true' in out,
                  "%s: nothing reported for the packets before the damage" % name)
            check(re.search(rb'"capture_errors":[1-9]', out),
                  "%s: the damage is not counted in sensor_stats" % name)
    status, _, err = run(["-q", "-c", EXAMPLE_POLICY, "-r", os.path.join(WORK, "missing.pcap")])
    check(status == 1 and "missing.pcap" in err, "a missing file exits %d: %r" % (status, err))


def test_signals():
    """SIGINT and SIGTERM end a run cleanly: open attempts are decided as unknown with
    close_reason shutdown, the final events are written, exit status 0."""
    import signal
    import time
    with open(EXAMPLE_PCAP, "rb") as source:
        data = source.read()
    header, records = read_pcap(EXAMPLE_PCAP)
    # The first 150 packets: the FTTH bot's SYNs are in, their 30 s timers still running.
    first_part = header + b"".join(records[:150])
    for number in (signal.SIGTERM, signal.SIGINT):
        process = subprocess.Popen([BINARY, "-q", "-c", EXAMPLE_POLICY, "-r", "-"],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
        process.stdin.write(first_part)
        process.stdin.flush()
        time.sleep(1.0)  # the pipe stays open: the sensor waits for more
        process.send_signal(number)
        out, err = process.communicate(timeout=30)
        name = signal.Signals(number).name
        check(process.returncode == 0, "%s: exit %d: %s" % (name, process.returncode,
                                                            err.decode()))
        check(err == b"", "%s: messages on stderr: %r" % (name, err))
        lines = out.decode().splitlines()
        attempts = [json.loads(l) for l in lines if '"type":"attempt"' in l]
        shutdown = [a for a in attempts if a["close_reason"] == "shutdown"]
        check(len(shutdown) >= 6, "%s: %d attempts closed by the shutdown" %
              (name, len(shutdown)))
        for attempt in shutdown:
            check(attempt["verdict"] == "unknown" or attempt["verdict"] == "leaked",
                  "%s: an open attempt was decided %s" % (name, attempt["verdict"]))
            if attempt["src_ip"] == "203.0.113.45":
                check(attempt["verdict"] == "unknown" and attempt["evidence"] == [],
                      "%s: an undecided SYN became %s" % (name, attempt["verdict"]))
        check(lines and '"type":"sensor_stats"' in lines[-1] and '"final":true' in lines[-1],
              "%s: the last event is not the final sensor_stats" % name)
        check(re.search(r'"capture_errors":0,', lines[-1]) is not None,
              "%s: the interrupted read counted as damage" % name)


def test_privileges():
    """-u USER: once capture and outputs are open the process runs as USER, real, effective
    and saved ids alike, and judges the same; an unknown user is bad usage (exit 2), said
    before anything is read."""
    import pwd
    import signal
    import time
    status, _, err = run(["-q", "-u", "no-such-user-op25b", "-c", EXAMPLE_POLICY, "-r",
                          EXAMPLE_PCAP])
    check(status == 2 and "no-such-user-op25b" in err, "unknown user: exit %d, %r" %
          (status, err))
    if os.geteuid() != 0:
        print("privileges: not root, the switch itself is not tested here")
        return
    nobody = pwd.getpwnam("nobody")
    header, records = read_pcap(EXAMPLE_PCAP)
    process = subprocess.Popen([BINARY, "-q", "-u", "nobody", "-c", EXAMPLE_POLICY, "-r", "-"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    process.stdin.write(header + b"".join(records[:50]))
    process.stdin.flush()
    time.sleep(1.0)
    with open("/proc/%d/status" % process.pid) as status_file:
        fields = dict(line.split(":", 1) for line in status_file if ":" in line)
    uids = fields["Uid"].split()
    gids = fields["Gid"].split()
    capabilities = int(fields["CapEff"].strip(), 16)
    out, err = process.communicate(input=b"".join(records[50:]), timeout=30)
    check(uids[:3] == [str(nobody.pw_uid)] * 3, "-u nobody: uids are %r" % uids)
    check(gids[:3] == [str(nobody.pw_gid)] * 3, "-u nobody: gids are %r" % gids)
    check(capabilities == 0, "-u nobody: capabilities %x remain" % capabilities)
    check(process.returncode == 0 and out == reference_events(),
          "-u nobody judged differently (exit %d): %s" % (process.returncode, err.decode()))


TESTS = {
    "privileges": lambda: test_privileges(),
    "signals": lambda: test_signals(),
    "version-help": lambda: test_version_and_help(),
    "check": lambda: test_check(),
    "policy-errors": lambda: test_policy_errors(),
    "inputs": lambda: test_inputs(reference_events()),
    "damaged-inputs": lambda: test_damaged_inputs(reference_events()),
}


def main():
    global BINARY, WORK, EXAMPLE_POLICY, EXAMPLE_PCAP, README, SOURCE_DIR
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--only", choices=sorted(TESTS))
    args = parser.parse_args()
    BINARY = args.binary
    WORK = os.path.join(args.work_dir, args.only or "all")
    os.makedirs(WORK, exist_ok=True)
    EXAMPLE_POLICY = os.path.join(args.source_dir, "rules", "example.yaml")
    EXAMPLE_PCAP = os.path.join(args.source_dir, "pcaps", "example.pcap")
    README = os.path.join(args.source_dir, "README.md")
    SOURCE_DIR = args.source_dir
    for name in ([args.only] if args.only else sorted(TESTS)):
        TESTS[name]()
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()

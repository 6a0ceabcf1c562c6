#!/usr/bin/env python3
"""Nothing lost, nothing destroyed (issue #20): what the program does before it reads a
packet and when something goes wrong around it.

  output-is-input  an output (-o, --report or its temporary file, --spool, standard
                   output redirected) that is a capture given to -r, by path, hard link or
                   symbolic link, or two outputs that are one file: exit 2 at once, both
                   named, the capture untouched
  report-at-start  a --report that cannot be written at the end (/proc, a directory the
                   -u user cannot write, a name that is a directory) stops the run at once
                   with exit 2 and the path named, before anything is read; one that can is
                   written, by the -u user
  full-disk        -o on a full disk (a 16 KiB tmpfs mounted in a private mount namespace;
                   exit 77, skipped, where mounting is not permitted): the file ends at its
                   last whole line, every line in it is the run's, the error names the file,
                   the lost events are counted, exit 1
  bad-user         -u with a user that does not exist: bad usage, exit 2, nothing read
  quiet            -q keeps what matters: a spool of an earlier run's worker left unsent
  second-signal    the Kafka delivery wait (--kafka-timeout) is cut short by a second
                   SIGTERM, or by one that comes after the input ended; the message says how
                   many events were left and where (the spool, or lost)
  dead-worker      --workers: a worker killed outright is named by the parent at once (its
                   pid and signal), even with -q, and the exit status is 1 (live capture on
                   lo: exit 77, skipped, where capturing is not permitted)

usage: safety_test.py --binary BIN --source-dir DIR --work-dir DIR --only PART
"""
import argparse
import json
import os
import pwd
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

failures = []
SKIPPED = 77


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL: " + message)
    return condition


def run(args, stdin=None, stdout=subprocess.PIPE, timeout=60):
    result = subprocess.run([BINARY] + args, stdin=stdin, stdout=stdout,
                            stderr=subprocess.PIPE, timeout=timeout)
    return result.returncode, result.stdout, result.stderr.decode(errors="replace")


def read(path):
    """The file's bytes; None when it is gone."""
    try:
        with open(path, "rb") as source:
            return source.read()
    except FileNotFoundError:
        return None


def fresh_dir(name):
    """An empty directory in this part's work directory."""
    path = os.path.join(WORK, name)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def reference_events():
    status, out, err = run(["-q", "-c", EXAMPLE_POLICY, "-r", EXAMPLE_PCAP])
    check(status == 0 and out.count(b"\n") > 10, "the example run: %d, %s" % (status, err))
    return out


def test_output_is_input():
    work = fresh_dir("files")
    capture = os.path.join(work, "capture.pcap")
    shutil.copyfile(EXAMPLE_PCAP, capture)
    original = read(capture)
    os.link(capture, os.path.join(work, "hard.pcap"))
    os.symlink("capture.pcap", os.path.join(work, "symbolic.pcap"))
    # A capture whose name is a report's temporary file: the report is written through it.
    report_temporary = os.path.join(work, "r.json.tmp")
    shutil.copyfile(EXAMPLE_PCAP, report_temporary)
    # (arguments, stdin, stdout, the two places the message must name)
    cases = [
        (["-r", capture, "-o", capture], None, None, ["-o " + capture, "-r " + capture]),
        (["-r", capture, "-o", os.path.join(work, ".", "capture.pcap")], None, None,
         ["-o ", "-r " + capture]),
        (["-r", capture, "-o", os.path.join(work, "hard.pcap")], None, None,
         ["hard.pcap", "-r " + capture]),
        (["-r", os.path.join(work, "symbolic.pcap"), "-o", capture], None, None,
         ["-o " + capture, "symbolic.pcap"]),
        (["-r", capture, "--report", capture + ".json", "-r", report_temporary,
          "--report", os.path.join(work, "r.json")], None, None,
         ["written through", "r.json.tmp"]),
        (["-k", "127.0.0.1:9", "-r", capture, "--spool", capture], None, None,
         ["--spool " + capture, "-r " + capture]),
        (["-r", "-", "-o", capture], capture, None, ["-o " + capture, "standard input"]),
        (["-r", capture], None, capture, ["standard output", "-r " + capture]),
    ]
    for args, stdin_path, stdout_path, named in cases:
        stdin = open(stdin_path, "rb") if stdin_path else None
        stdout = open(stdout_path, "ab") if stdout_path else subprocess.PIPE
        try:
            status, out, err = run(["-q", "-c", EXAMPLE_POLICY] + args, stdin=stdin,
                                   stdout=stdout, timeout=30)
        finally:
            for stream in (stdin, stdout):
                if stream not in (None, subprocess.PIPE):
                    stream.close()
        what = " ".join(args)
        check(status == 2, "%s: exit %d, not 2" % (what, status))
        check(all(name in err for name in named) and "an output never overwrites an input"
              in err, "%s: the message does not name %r: %r" % (what, named, err))
        check(not out, "%s: events were written" % what)
        for path in (capture, report_temporary):
            if not check(read(path) == original, "%s: %s was changed" % (what, path)):
                shutil.copyfile(EXAMPLE_PCAP, path)
    # Two outputs that are one file: the second would overwrite the first.
    events = os.path.join(work, "events.json")
    for args in (["-o", events, "--report", os.path.join(work, ".", "events.json")],
                 ["--report", os.path.join(work, "a.json"), "--report",
                  os.path.join(work, "..", "files", "a.json")]):
        status, out, err = run(["-q", "-c", EXAMPLE_POLICY, "-r", capture] + args)
        check(status == 2 and "each output needs one of its own" in err and not out,
              "%s: exit %d, %r" % (" ".join(args), status, err))
    check(not os.path.exists(events), "a refused run created its output")


def test_report_at_start():
    work = fresh_dir("files")
    started = time.monotonic()
    for path, reason in ((os.path.join("/proc", "op25b-report.html"), "/proc/op25b-report"),
                         (os.path.join(work, "missing", "r.json"), "No such file"),
                         (os.path.join(work, "directory.json"), "is a directory")):
        if path.endswith("directory.json"):
            os.mkdir(path)
        status, out, err = run(["-q", "-c", EXAMPLE_POLICY, "-r", EXAMPLE_PCAP,
                                "--report", path])
        check(status == 2, "--report %s: exit %d, not 2: %s" % (path, status, err))
        check(("--report %s: cannot be written" % path) in err and reason in err,
              "--report %s: the message does not name the path and %r: %r" % (path, reason,
                                                                              err))
        check(out == b"", "--report %s: the capture was read before the report failed" % path)
    check(time.monotonic() - started < 10, "refusing three reports took %.1f s" %
          (time.monotonic() - started))
    # An earlier run's temporary file is the writer's: it does not stop the run.
    report = os.path.join(work, "earlier.txt")
    with open(report + ".tmp", "w") as leftover:
        leftover.write("half a report\n")
    status, _, err = run(["-q", "-c", EXAMPLE_POLICY, "-r", EXAMPLE_PCAP, "--report", report])
    check(status == 0 and read(report).startswith(b"op25b-watch") and
          not os.path.exists(report + ".tmp"),
          "an earlier temporary file: exit %d, %s" % (status, err))
    if os.geteuid() != 0:
        # Not root: a directory this user cannot write stands for the -u user's.
        locked = os.path.join(work, "locked")
        os.mkdir(locked, 0o555)
        status, out, err = run(["-q", "-c", EXAMPLE_POLICY, "-r", EXAMPLE_PCAP, "--report",
                                os.path.join(locked, "r.html")])
        check(status == 2 and "Permission denied" in err and out == b"",
              "an unwritable directory: exit %d, %r" % (status, err))
        print("report-at-start: not root, -u nobody is not tested here")
        return
    # As root with -u: root may write anywhere, the user it becomes may not. The check
    # is made as that user. In /tmp, where nobody may reach a directory of its own.
    nobody = pwd.getpwnam("nobody")
    work = tempfile.mkdtemp(prefix="op25b-report-")
    try:
        reports_as_nobody(work, nobody)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def reports_as_nobody(work, nobody):
    os.chmod(work, 0o755)
    roots = os.path.join(work, "roots")
    os.mkdir(roots, 0o755)
    status, out, err = run(["-q", "-u", "nobody", "-c", EXAMPLE_POLICY, "-r", EXAMPLE_PCAP,
                            "--report", os.path.join(roots, "r.html")])
    check(status == 2 and out == b"", "-u nobody, a root-owned directory: exit %d" % status)
    check(("--report %s/r.html: cannot be written by user nobody: %s/r.html.tmp: Permission "
           "denied" % (roots, roots)) in err, "-u nobody: the message is %r" % err)
    check(os.listdir(roots) == [], "the check left %r behind" % os.listdir(roots))
    # The same directory given to the user: the report is written at the end, as it.
    os.chown(roots, nobody.pw_uid, nobody.pw_gid)
    status, _, err = run(["-q", "-u", "nobody", "-c", EXAMPLE_POLICY, "-r", EXAMPLE_PCAP,
                          "--report", os.path.join(roots, "r.json")])
    written = os.path.join(roots, "r.json")
    check(status == 0 and os.path.exists(written) and
          json.loads(read(written))["end_reason"] == "end_of_input",
          "-u nobody, a directory of its own: exit %d, %s" % (status, err))
    check(os.path.exists(written) and os.stat(written).st_uid == nobody.pw_uid,
          "the report is not nobody's")
    # A sticky directory (as /tmp): root's report there cannot be replaced by nobody.
    sticky = os.path.join(work, "sticky")
    os.mkdir(sticky)
    os.chmod(sticky, 0o1777)
    with open(os.path.join(sticky, "r.json"), "w") as earlier:
        earlier.write("{}\n")
    status, out, err = run(["-q", "-u", "nobody", "-c", EXAMPLE_POLICY, "-r", EXAMPLE_PCAP,
                            "--report", os.path.join(sticky, "r.json")])
    check(status == 2 and "sticky directory" in err and out == b"",
          "-u nobody, root's report in a sticky directory: exit %d, %r" % (status, err))


def inside_full_disk(mount_point):
    """Runs in the private mount namespace: an 8 KiB tmpfs, filled by -o."""
    reference = reference_events()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8k,mode=0755", "tmpfs",
                              mount_point], stderr=subprocess.PIPE)
    if mounted.returncode != 0:
        print("full-disk: cannot mount a tmpfs (%s): skipped" %
              mounted.stderr.decode().strip())
        sys.exit(SKIPPED)
    events = os.path.join(mount_point, "events.ndjson")
    try:
        status, out, err = run(["-q", "-c", EXAMPLE_POLICY, "-r", EXAMPLE_PCAP, "-o", events])
        written = read(events)
    finally:
        subprocess.run(["umount", mount_point])
    check(len(reference) > 8192, "the example gives only %d bytes of events" % len(reference))
    check(status == 1, "full disk: exit %d, not 1" % status)
    check(("writing events to %s: No space left on device" % events) in err,
          "the error does not name the file and the cause: %r" % err)
    check(written.endswith(b"\n"), "the file ends in part of a line: ...%r" % written[-60:])
    lines = written.split(b"\n")[:-1]
    for line in lines:
        json.loads(line)
    check(reference.startswith(written), "the file is not the first lines of the run's events")
    lost = reference.count(b"\n") - len(lines)
    check(("%d events could not be delivered" % lost) in err,
          "%d lines kept, %d lost, stderr %r" % (len(lines), lost, err))
    print("full-disk: %d whole lines (%d bytes) kept, %d events lost and said so" %
          (len(lines), len(written), lost))


def test_full_disk():
    mount_point = fresh_dir("mount-point")
    if subprocess.run(["unshare", "--mount", "true"], stderr=subprocess.DEVNULL).returncode:
        print("full-disk: no private mount namespace here (unshare --mount): skipped")
        sys.exit(SKIPPED)
    command = ["unshare", "--mount", "--propagation", "private", sys.executable,
               os.path.abspath(__file__), "--binary", BINARY, "--source-dir", SOURCE,
               "--work-dir", os.path.dirname(WORK), "--only", "full-disk", "--inside",
               mount_point]
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    print(result.stdout.decode(errors="replace"), end="")
    if result.returncode == SKIPPED:
        sys.exit(SKIPPED)
    check(result.returncode == 0, "the run in its own mount namespace failed")


def test_bad_user():
    started = time.monotonic()
    status, out, err = run(["-u", "no-such-user-op25b", "-c", EXAMPLE_POLICY, "-r",
                            EXAMPLE_PCAP])
    check(status == 2 and "-u no-such-user-op25b: no such user" in err and
          "Try 'op25b-watch --help'" in err, "unknown user: exit %d, %r" % (status, err))
    check(out == b"" and time.monotonic() - started < 5, "an unknown user read the capture")


def unreachable_broker():
    """A port that refuses connections: bound, never listening."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    return holder, "127.0.0.1:%d" % holder.getsockname()[1]


def test_quiet():
    work = fresh_dir("files")
    spool = os.path.join(work, "spool")
    os.makedirs(os.path.join(spool, "worker-1"))
    with open(os.path.join(spool, "worker-1", "0000000000000001.seg"), "wb") as segment:
        segment.write(b"")
    holder, broker = unreachable_broker()
    with holder:
        status, _, err = run(["-q", "-c", EXAMPLE_POLICY, "-r", EXAMPLE_PCAP, "-k", broker,
                              "--spool", spool, "--kafka-timeout", "100ms"])
    check("%s/worker-1 holds events of an earlier run's worker 1" % spool in err,
          "-q hides the spool an earlier run's worker left: %r" % err)


def signalled_twice(args, first_after_input):
    """The sensor sending to a broker that never answers: the first SIGTERM ends a piped
    input (or comes after the input ended), the second one the delivery wait. Returns
    (status, stderr, seconds the wait lasted after the last signal), or None if it went on
    waiting."""
    command = [BINARY, "-q", "-c", EXAMPLE_POLICY, "-r", "-", "--kafka-timeout", "60s"] + args
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    process.stdin.write(read(EXAMPLE_PCAP))
    process.stdin.flush()
    if first_after_input:
        process.stdin.close()
        process.stdin = None  # the input has ended
    time.sleep(1.5)
    if not first_after_input:
        process.send_signal(signal.SIGTERM)  # ends the input; the wait begins
        time.sleep(1.5)
        check(process.poll() is None, "the first SIGTERM did not leave the delivery wait on")
    signalled = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        _, err = process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        return None
    return process.returncode, err.decode(errors="replace"), time.monotonic() - signalled


def test_second_signal():
    work = fresh_dir("files")
    events = reference_events().count(b"\n")
    spool = os.path.join(work, "spool")
    cases = [(False, [], "; lost (no --spool to keep them)"),
             (True, [], "; lost (no --spool to keep them)"),
             (False, ["--spool", spool], "; %d kept in spool %s for the next start" %
              (events, spool))]
    for first_after_input, extra, where in cases:
        holder, broker = unreachable_broker()
        with holder:
            outcome = signalled_twice(["-k", broker] + extra, first_after_input)
        what = "%s%s" % ("one SIGTERM after the input ended" if first_after_input else
                         "a second SIGTERM", " with a spool" if extra else "")
        if not check(outcome is not None, "%s: still waiting 10 s later" % what):
            continue
        status, err, seconds = outcome
        said = ("kafka: %d events not delivered: the wait for delivery was cut short by a "
                "signal%s" % (events, where))
        check(status == 1 and said in err, "%s: exit %d, %r, not %r" % (what, status, err,
                                                                       said))
        check(seconds < 2, "%s: the wait went on %.1f s" % (what, seconds))
        print("%s: the wait ended %.2f s after it" % (what, seconds))


def test_dead_worker():
    command = [BINARY, "-q", "-c", EXAMPLE_POLICY, "-i", "lo", "--workers", "2", "-o",
               os.devnull]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(2)
    if process.poll() is not None:
        err = process.stderr.read().decode(errors="replace")
        if "ermission" in err or "not permitted" in err:
            print("dead-worker: live capture on lo is not permitted here: skipped")
            sys.exit(SKIPPED)
        check(False, "the workers did not start: %r" % err)
        return
    with open("/proc/%d/task/%d/children" % (process.pid, process.pid)) as children:
        workers = [int(pid) for pid in children.read().split()]
    check(len(workers) == 2, "two workers expected, found %r" % workers)
    os.kill(workers[-1], signal.SIGKILL)
    os.set_blocking(process.stderr.fileno(), False)
    said = b""
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and b"\n" not in said:
        said += process.stderr.read() or b""
        time.sleep(0.05)
    message = "worker 1 (pid %d) was killed by signal 9 (Killed)" % workers[-1]
    check(message in said.decode(errors="replace"),
          "the parent does not say %r within 2 s: %r" % (message, said))
    check(process.poll() is None, "the parent stopped with the worker")
    process.send_signal(signal.SIGTERM)
    os.set_blocking(process.stderr.fileno(), True)
    process.wait(timeout=30)
    check(process.returncode == 1, "exit status %d after a worker died, not 1" %
          process.returncode)


TESTS = {
    "output-is-input": test_output_is_input,
    "report-at-start": test_report_at_start,
    "full-disk": test_full_disk,
    "bad-user": test_bad_user,
    "quiet": test_quiet,
    "second-signal": test_second_signal,
    "dead-worker": test_dead_worker,
}


def main():
    global BINARY, WORK, SOURCE, EXAMPLE_POLICY, EXAMPLE_PCAP
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--only", choices=sorted(TESTS), required=True)
    parser.add_argument("--inside", metavar="MOUNT_POINT",
                        help="(full-disk) run inside the private mount namespace")
    args = parser.parse_args()
    BINARY = os.path.abspath(args.binary)
    SOURCE = os.path.abspath(args.source_dir)
    WORK = os.path.join(os.path.abspath(args.work_dir), args.only)
    os.makedirs(WORK, exist_ok=True)
    EXAMPLE_POLICY = os.path.join(SOURCE, "rules", "example.yaml")
    EXAMPLE_PCAP = os.path.join(SOURCE, "pcaps", "example.pcap")
    if args.inside:
        inside_full_disk(args.inside)
    else:
        TESTS[args.only]()
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()

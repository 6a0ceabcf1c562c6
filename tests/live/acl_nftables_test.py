#!/usr/bin/env python3
"""The generated ACL, loaded into a real router: does it block what the draft says it must
and let through what it must not break?

Three network namespaces: the test's own is the router, with forwarding on and the
nftables ruleset from the report of the policy (acl.nftables: every blocking point's table,
planned ones too, since this one router stands in for all of them) loaded; a "subscriber"
namespace and an "outside" namespace hang off it by two veth pairs. In the outside one, a
small server answers "220 ..." on ports 25 and 587 of every server address (outside MTAs
and the policy's MSAs); in the subscriber one, clients bind to dynamic, static and nested
addresses of the policy and connect. Each case must end as the draft's design says, not as
the tool says:

- dynamic -> outside:25 is refused, the way the pool's blocking point rejects: `drop` is
  silence (the connect times out), `icmp` an ICMP administratively prohibited
  (EHOSTUNREACH for IPv4, EACCES "Permission denied" for IPv6), `tcp-reset` a reset
  (ECONNREFUSED);
- dynamic -> each MSA that serves its pool on 25 reaches ("220" read); an MSA that does not
  serve the pool, or takes no port 25, is refused;
- static inside the dynamic aggregate (a business line, the ISP's own MX) -> outside:25
  reaches (draft figures 6 and 19);
- dynamic -> outside:587 reaches (draft section 4.4.5);
each in IPv4 and IPv6.

Needs root (CAP_NET_ADMIN) and nft; exits 77 (skipped) only where a network namespace or a
veth pair cannot be made.

usage: acl_nftables_test.py --binary BIN --source-dir DIR --policy {example,carved}
"""
import argparse
import errno
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

SKIP = 77
CONNECT_TIMEOUT = 3.0
OUTSIDE_V4 = "198.18.0.25"  # an MTA of another network (RFC 2544 space: in no policy)
OUTSIDE_V6 = "3fff::25"     # the same in IPv6 (RFC 9637 documentation space)

# How each reject mode ends a connect(), as the client sees it.
REFUSED_BY = {
    ("drop", 4): "timeout", ("drop", 6): "timeout",
    ("icmp", 4): "EHOSTUNREACH", ("icmp", 6): "EACCES",
    ("tcp-reset", 4): "ECONNREFUSED", ("tcp-reset", 6): "ECONNREFUSED",
}

# Per policy: (what the case shows, source, destination, port, expected), expected being
# "220" or the reject mode of the blocking point that must refuse it. Written from the
# policy's design, not from the tool's output.
CASES = {
    "example": ("rules/example.yaml", [
        # ftth-east: bras-east, active, drop; isp-msa serves every pool, partner-msa ftth only.
        ("dynamic -> outside:25", "203.0.113.10", OUTSIDE_V4, 25, "drop"),
        ("dynamic -> isp-msa:25", "203.0.113.10", "203.0.113.225", 25, "220"),
        ("dynamic -> partner-msa:25", "203.0.113.10", "192.0.2.1", 25, "220"),
        ("dynamic -> outside:587", "203.0.113.10", OUTSIDE_V4, 587, "220"),
        ("dynamic -> outside:25", "2001:db8:100::10", OUTSIDE_V6, 25, "drop"),
        ("dynamic -> isp-msa:25", "2001:db8:100::10", "2001:db8:ffff::25", 25, "220"),
        ("dynamic -> outside:587", "2001:db8:100::10", OUTSIDE_V6, 587, "220"),
        # dsl-west: edge-west, planned, icmp; partner-msa does not serve it.
        ("dynamic -> outside:25", "198.51.96.10", OUTSIDE_V4, 25, "icmp"),
        ("dynamic -> isp-msa:25", "198.51.96.10", "203.0.113.225", 25, "220"),
        ("dynamic -> partner-msa:25 (not its pool's)", "198.51.96.10", "192.0.2.1", 25, "icmp"),
        ("dynamic -> outside:587", "198.51.96.10", OUTSIDE_V4, 587, "220"),
        ("dynamic -> outside:25", "2001:db8:200::10", OUTSIDE_V6, 25, "icmp"),
        ("dynamic -> isp-msa:25", "2001:db8:200::10", "2001:db8:ffff::25", 25, "220"),
        ("dynamic -> outside:587", "2001:db8:200::10", OUTSIDE_V6, 587, "220"),
        # business: a /29 inside the DSL /20, a /56 inside the DSL /40.
        ("static in the aggregate -> outside:25", "198.51.111.249", OUTSIDE_V4, 25, "220"),
        ("static in the aggregate -> outside:25", "2001:db8:2ff:ff00::10", OUTSIDE_V6, 25,
         "220"),
    ]),
    "carved": ("tests/live/acl-carved.yaml", [
        # mobile: cgnat-edge, active, tcp-reset; isp-msa inside the aggregate takes 25,
        # submission-only takes 587 and 465 only.
        ("dynamic -> outside:25", "198.51.100.10", OUTSIDE_V4, 25, "tcp-reset"),
        ("dynamic -> isp-msa:25", "198.51.100.10", "198.51.100.250", 25, "220"),
        ("dynamic -> submission-only:25", "198.51.100.10", "192.0.2.58", 25, "tcp-reset"),
        ("dynamic -> submission-only:587", "198.51.100.10", "192.0.2.58", 587, "220"),
        ("dynamic -> outside:587", "198.51.100.10", OUTSIDE_V4, 587, "220"),
        ("dynamic -> outside:25", "2001:db8:a00::10", OUTSIDE_V6, 25, "tcp-reset"),
        ("dynamic -> isp-msa:25", "2001:db8:a00::10", "2001:db8:a00:ffff::25", 25, "220"),
        ("dynamic -> submission-only:25", "2001:db8:a00::10", "2001:db8:58::1", 25,
         "tcp-reset"),
        ("dynamic -> submission-only:587", "2001:db8:a00::10", "2001:db8:58::1", 587, "220"),
        ("dynamic -> outside:587", "2001:db8:a00::10", OUTSIDE_V6, 587, "220"),
        ("dynamic -> wifi-msa:25 (not its pool's)", "2001:db8:a00::10", "2001:db8:cafe::25", 25,
         "tcp-reset"),
        # The ISP's MX inside the dynamic /24 and /40, a static pool.
        ("ISP MX in the aggregate -> outside:25", "198.51.100.25", OUTSIDE_V4, 25, "220"),
        ("ISP MX in the aggregate -> outside:25", "2001:db8:a00::25", OUTSIDE_V6, 25, "220"),
        # A business /48 inside the dynamic /40, and a dynamic /64 inside that /48.
        ("static in the aggregate -> outside:25", "2001:db8:aff::10", OUTSIDE_V6, 25, "220"),
        ("dynamic in the static -> outside:25", "2001:db8:aff:1::10", OUTSIDE_V6, 25,
         "tcp-reset"),
        ("dynamic in the static -> isp-msa:25", "2001:db8:aff:1::10", "2001:db8:a00:ffff::25",
         25, "220"),
        ("dynamic in the static -> wifi-msa:25", "2001:db8:aff:1::10", "2001:db8:cafe::25", 25,
         "220"),
        ("dynamic in the static -> outside:587", "2001:db8:aff:1::10", OUTSIDE_V6, 587, "220"),
    ]),
}

# The links: the router's and each side's own address on them.
LINKS = {"sub": ("10.0.1.1", "10.0.1.2", "fd00:1::1", "fd00:1::2"),
         "out": ("10.0.2.1", "10.0.2.2", "fd00:2::1", "fd00:2::2")}
STARTED = []  # processes this test started, stopped by their handle at the end


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def family_of(address):
    return 6 if ":" in address else 4


def run(command, what=None):
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if result.returncode != 0 and what is not None:
        fail("%s: %s: %s" % (what, " ".join(command), result.stderr.decode().strip()))
    return result


def in_namespace(holder, command):
    """The command in the network namespace the holder process keeps."""
    return ["nsenter", "-t", str(holder.pid), "-n"] + command


def start(command, **kwargs):
    process = subprocess.Popen(command, **kwargs)
    STARTED.append(process)
    return process


def write(path, value):
    with open(path, "w") as setting:
        setting.write(value)


def generate_ruleset(args, policy, work_dir):
    """The nftables text of the policy's report, from a replay of an empty capture."""
    capture = os.path.join(work_dir, "empty.pcap")
    with open(capture, "wb") as handle:
        handle.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    report = os.path.join(work_dir, "report.json")
    run([args.binary, "-q", "-c", policy, "-r", capture, "-o", os.devnull, "--report", report],
        "the report of %s" % policy)
    with open(report) as handle:
        nftables = json.load(handle)["acl"]["nftables"]
    path = os.path.join(work_dir, "acl.nft")
    with open(path, "w") as handle:
        handle.write(nftables)
    return path


def make_side(name, holder, addresses):
    """A veth pair from the router to the holder's namespace, its link addresses, one host
    route on the router for each address put on the far end, and default routes back."""
    router4, side4, router6, side6 = LINKS[name]
    near, far = "r-" + name, name + "0"
    run(["ip", "link", "add", near, "type", "veth", "peer", "name", far, "netns",
         str(holder.pid)], "veth " + name)
    run(["ip", "addr", "add", router4 + "/24", "dev", near], "router address")
    run(["ip", "addr", "add", router6 + "/64", "dev", near, "nodad"], "router address")
    run(["ip", "link", "set", near, "up"], "router link")
    inside = [["ip", "link", "set", "lo", "up"],
              ["ip", "addr", "add", side4 + "/24", "dev", far],
              ["ip", "addr", "add", side6 + "/64", "dev", far, "nodad"],
              ["ip", "link", "set", far, "up"],
              ["ip", "route", "add", "default", "via", router4],
              ["ip", "-6", "route", "add", "default", "via", router6]]
    for address in addresses:
        length = "/32" if family_of(address) == 4 else "/128"
        inside.append(["ip", "addr", "add", address + length, "dev", far] +
                      (["nodad"] if family_of(address) == 6 else []))
        via = side4 if family_of(address) == 4 else side6
        run(["ip", "route", "add", address + length, "via", via], "route to " + address)
    for command in inside:
        run(in_namespace(holder, command), name)


def inside_router(args):
    """Runs in the router namespace: both sides, the ruleset, the servers, the cases."""
    if run(["ip", "link", "add", "probe0", "type", "veth", "peer", "name", "probe1"]).returncode:
        print("SKIP: cannot make a veth pair in a network namespace here")
        return SKIP
    run(["ip", "link", "del", "probe0"], "veth probe")
    nft = shutil.which("nft")
    if nft is None:
        fail("nft is missing (the nftables package, in .ci/install-deps)")
    policy_file, cases = CASES[args.policy]
    ruleset = generate_ruleset(args, os.path.join(args.source_dir, policy_file), args.work_dir)
    run([nft, "-f", ruleset], "loading the generated ruleset")
    for setting in ("/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding"):
        write(setting, "1")
    write("/proc/sys/net/ipv4/conf/all/rp_filter", "0")
    holders = {side: start(["unshare", "--net", "sleep", "600"]) for side in ("sub", "out")}
    time.sleep(0.2)  # unshare has made the namespace and exec'd sleep
    clients = sorted({case[1] for case in cases})
    servers = sorted({case[2] for case in cases})
    make_side("sub", holders["sub"], clients)
    make_side("out", holders["out"], servers)
    server = start(in_namespace(holders["out"], [sys.executable, os.path.abspath(__file__),
                                                 "--serve"]),
                   stdout=subprocess.PIPE)
    if server.stdout.readline().strip() != b"ready":
        fail("the outside server did not start")
    wait_for_paths(holders["sub"])
    observed = connect_all(holders["sub"], [(c[1], c[2], c[3]) for c in cases])
    return judge(args.policy, cases, observed)


def wait_for_paths(holder):
    """Neighbour discovery and routes settle: the subscriber side's own link address reaches
    587 outside (no rule is about it) in both families within 10 s."""
    probes = [(LINKS["sub"][1], OUTSIDE_V4, 587), (LINKS["sub"][3], OUTSIDE_V6, 587)]
    deadline = time.time() + 10
    while True:
        results = connect_all(holder, probes)
        if all(result.startswith("220") for result in results):
            return
        if time.time() > deadline:
            fail("the router does not forward at all: %r" % results)
        time.sleep(0.5)


def connect_all(holder, attempts):
    """Runs the attempts at once in the subscriber namespace; one outcome each."""
    command = in_namespace(holder, [sys.executable, os.path.abspath(__file__), "--connect",
                                    json.dumps(attempts)])
    result = run(command, "the clients")
    return json.loads(result.stdout.decode())


def judge(policy, cases, observed):
    failures = []
    print("%s: %d cases, %s" % (policy, len(cases), "source -> destination:port: observed "
                                "(expected)"))
    for (what, source, destination, port, expected), outcome in zip(cases, observed):
        wanted = "220" if expected == "220" else REFUSED_BY[(expected, family_of(source))]
        ok = outcome.startswith("220") if wanted == "220" else outcome == wanted
        shown = "connected, 220" if outcome.startswith("220") else "refused, " + outcome
        print("  %-4s %-44s %s -> %s:%d: %s (%s)" % (
            "ok" if ok else "FAIL", what, source, destination, port, shown,
            "220" if wanted == "220" else "%s: %s" % (expected, wanted)))
        if not ok:
            failures.append("%s %s -> %s:%d" % (what, source, destination, port))
    if failures:
        fail("%d of %d cases: %s" % (len(failures), len(cases), "; ".join(failures)))
    return 0


# ---- Helpers run inside the side namespaces ----

def serve():
    """Answers "220 <address> ..." on 25 and 587 of every local address, both families."""
    listeners = []
    for port in (25, 587):
        listener = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        listener.bind(("::", port))
        listener.listen(64)
        listeners.append(listener)

    def answer(listener):
        while True:
            connection, _ = listener.accept()
            local = connection.getsockname()[0].replace("::ffff:", "")
            try:
                connection.sendall(b"220 %s ESMTP acl-test\r\n" % local.encode())
            finally:
                connection.close()

    for listener in listeners:
        threading.Thread(target=answer, args=(listener,), daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()


def connect_one(source, destination, port):
    family = socket.AF_INET6 if family_of(source) == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as client:
        client.settimeout(CONNECT_TIMEOUT)
        client.bind((source, 0))
        try:
            client.connect((destination, port))
            return client.recv(200).decode(errors="replace").strip() or "closed"
        except socket.timeout:
            return "timeout"
        except OSError as error:
            return errno.errorcode.get(error.errno, str(error))


def connect(attempts):
    results = [None] * len(attempts)

    def attempt(i, source, destination, port):
        results[i] = connect_one(source, destination, port)

    threads = [threading.Thread(target=attempt, args=(i,) + tuple(a))
               for i, a in enumerate(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps(results))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary")
    parser.add_argument("--source-dir")
    parser.add_argument("--policy", choices=sorted(CASES))
    parser.add_argument("--inside", action="store_true")
    parser.add_argument("--work-dir")
    parser.add_argument("--serve", action="store_true")
    parser.add_argument("--connect")
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    if args.connect is not None:
        connect(json.loads(args.connect))
        return
    if args.inside:
        try:
            status = inside_router(args)
        finally:
            for process in STARTED:
                process.kill()
                process.wait()
        sys.exit(status)
    if not (args.binary and args.source_dir and args.policy):
        parser.error("--binary, --source-dir and --policy are required")
    # The router is a namespace of the test's own: its links, routes and ruleset touch
    # nothing on the host and go with it.
    try:
        made = subprocess.run(["unshare", "--net", "true"], stderr=subprocess.PIPE).returncode
    except FileNotFoundError:
        made = None
    if made != 0:
        print("SKIP: cannot make a network namespace here (needs unshare, and root or "
              "CAP_SYS_ADMIN)")
        sys.exit(SKIP)
    with tempfile.TemporaryDirectory(prefix="op25b-acl-") as work_dir:
        command = ["unshare", "--net", sys.executable, os.path.abspath(__file__), "--inside",
                   "--binary", os.path.abspath(args.binary), "--source-dir",
                   os.path.abspath(args.source_dir), "--policy", args.policy,
                   "--work-dir", work_dir]
        sys.exit(subprocess.run(command, timeout=120).returncode)


if __name__ == "__main__":
    main()

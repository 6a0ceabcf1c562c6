#!/usr/bin/env python3
"""The shipped systemd unit is valid (systemd-analyze verify) and hardened: its exposure
score from systemd-analyze security stays at or below 2.5 ("OK"), it holds no
capability but CAP_NET_RAW, and a reload sends SIGHUP. Skipped (77) where systemd-analyze
is missing.

usage: systemd_test.py --binary BIN --source-dir DIR --work-dir DIR
"""
import argparse
import os
import re
import shutil
import subprocess
import sys


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--work-dir", required=True)
    args = parser.parse_args()
    if shutil.which("systemd-analyze") is None:
        print("SKIP: systemd-analyze is missing")
        sys.exit(77)
    with open(os.path.join(args.source_dir, "rules", "systemd", "op25b-watch@.service")) as f:
        unit = f.read()
    for line in unit.splitlines():
        if line.startswith(("AmbientCapabilities=", "CapabilityBoundingSet=")):
            if line.split("=", 1)[1].split() != ["CAP_NET_RAW"]:
                print("FAIL: %s" % line)
                sys.exit(1)
    # systemctl reload (and logrotate through it) sends SIGHUP: outputs re-opened, policy
    # re-read.
    reloads = [line for line in unit.splitlines() if line.startswith("ExecReload=")]
    if reloads != ["ExecReload=/bin/kill -HUP $MAINPID"]:
        print("FAIL: ExecReload is %r, not /bin/kill -HUP $MAINPID" % reloads)
        sys.exit(1)
    os.makedirs(args.work_dir, exist_ok=True)
    # The unit names the installed binary; verify it against the one just built.
    path = os.path.join(args.work_dir, "op25b-watch@eth1.service")
    with open(path, "w") as f:
        f.write(unit.replace("/usr/local/bin/op25b-watch", os.path.abspath(args.binary)))
    # Documentation names man:op25b-watch(8): verify finds it where man looks, the page
    # docs/op25b-watch.8 in a scratch MANPATH.
    manual = os.path.join(args.work_dir, "man", "man8")
    os.makedirs(manual, exist_ok=True)
    shutil.copy(os.path.join(args.source_dir, "docs", "op25b-watch.8"), manual)
    verify = subprocess.run(["systemd-analyze", "verify", path], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT,
                            env=dict(os.environ, MANPATH=os.path.dirname(manual)))
    if verify.returncode != 0 or verify.stdout.strip():
        print("FAIL: systemd-analyze verify:\n" + verify.stdout.decode())
        sys.exit(1)
    security = subprocess.run(["systemd-analyze", "security", "--offline=true", path],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    text = security.stdout.decode()
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", text)
    if match is None:
        print("FAIL: no exposure level in:\n" + text)
        sys.exit(1)
    level = float(match.group(1))
    print("systemd unit verified; exposure level %.1f" % level)
    if level > 2.5:
        print("FAIL: exposure %.1f is above 2.5" % level)
        sys.exit(1)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Live capture end to end: inside a network namespace of its own, the test makes a veth
pair, starts op25b-watch -i on one end, sends the example capture's frames into the other
end with an AF_PACKET socket, stops the sensor with SIGTERM and checks that the attempts
closed by the dialogue itself carry the verdicts the file replay gives.

Needs CAP_NET_ADMIN and CAP_NET_RAW (root in a container is enough); exits 77 (skipped)
when the namespace cannot be made.

usage: live_test.py --binary BIN --source-dir DIR
"""
import argparse
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time

SKIP = 77


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def frames(path):
    with open(path, "rb") as source:
        data = source.read()
    offset = 24
    while offset < len(data):
        length = struct.unpack_from("<I", data, offset + 8)[0]
        yield data[offset + 16:offset + 16 + length]
        offset += 16 + length


def inside_namespace(args):
    """Runs in the new namespace: veth pair, sensor, traffic, checks."""
    for command in (["ip", "link", "add", "op25b0", "type", "veth", "peer", "name", "op25b1"],
                    ["ip", "link", "set", "op25b0", "up"], ["ip", "link", "set", "op25b1", "up"],
                    ["ip", "link", "set", "lo", "up"]):
        if subprocess.run(command, stderr=subprocess.PIPE).returncode != 0:
            print("SKIP: cannot make a veth pair here: %s" % " ".join(command))
            return SKIP
    policy = os.path.join(args.source_dir, "rules", "example.yaml")
    capture = os.path.join(args.source_dir, "pcaps", "example.pcap")

    replay = subprocess.run([args.binary, "-q", "-c", policy, "-r", capture],
                            stdout=subprocess.PIPE, check=True).stdout.decode()
    expected = {}
    for line in replay.splitlines():
        event = json.loads(line)
        if event["type"] == "attempt" and event["close_reason"] == "fin":
            expected[(event["src_ip"], event["src_port"])] = (event["verdict"],
                                                              event["evidence"])
    if len(expected) < 8:
        fail("the example replay closed only %d attempts by FIN" % len(expected))

    sensor = subprocess.Popen([args.binary, "-c", policy, "-i", "op25b1"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1.0)  # the capture is active before traffic starts
    sender = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sender.bind(("op25b0", 0))
    sent = 0
    for frame in frames(capture):
        sender.send(frame)
        sent += 1
        if sent % 50 == 0:
            time.sleep(0.01)  # keep the veth backlog small
    sender.close()
    time.sleep(1.5)  # TPACKET_V3 hands blocks over on its 100 ms timeout
    sensor.send_signal(signal.SIGTERM)
    out, err = sensor.communicate(timeout=30)
    if sensor.returncode != 0:
        fail("sensor exited %d: %s" % (sensor.returncode, err.decode()))
    events = [json.loads(line) for line in out.decode().splitlines()]
    stats = events[-1]
    if stats["type"] != "sensor_stats" or not stats["final"]:
        fail("the last event is not the final sensor_stats")
    # The kernel strips the 802.1Q tag into metadata, and libpcap puts it back, so every
    # frame sent must be counted; drops would show in sensor_stats.
    if stats["packets"] < sent:
        fail("sent %d frames, the sensor counted %d (drops %d)" % (sent, stats["packets"],
                                                                   stats["drops"]))
    live = {(e["src_ip"], e["src_port"]): (e["verdict"], e["evidence"])
            for e in events if e["type"] == "attempt" and e["close_reason"] == "fin"}
    if live != expected:
        missing = sorted(set(expected) - set(live))
        differing = sorted(k for k in expected if k in live and live[k] != expected[k])
        fail("live verdicts differ from the replay: missing %s, differing %s" %
             (missing, differing))
    print("live: %d frames sent on a veth pair, %d counted, %d attempts closed by FIN agree "
          "with the file replay" % (sent, stats["packets"], len(live)))
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--inside", action="store_true")
    args = parser.parse_args()
    if args.inside:
        sys.exit(inside_namespace(args))
    # A namespace of our own: the veth pair and the capture touch nothing on the host.
    command = ["unshare", "--net", sys.executable, os.path.abspath(__file__), "--inside",
               "--binary", args.binary, "--source-dir", args.source_dir]
    try:
        status = subprocess.run(command, timeout=120).returncode
    except FileNotFoundError:
        print("SKIP: unshare is missing")
        sys.exit(SKIP)
    if status not in (0, SKIP) and os.geteuid() != 0:
        print("SKIP: live capture needs root or CAP_NET_ADMIN")
        sys.exit(SKIP)
    sys.exit(status)


if __name__ == "__main__":
    main()

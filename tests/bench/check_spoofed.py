#!/usr/bin/env python3
"""The spoofed-SYN capture of gen_bench (the live flood for --workers) through op25b-watch:
every packet counted, no attempt (no source is a subscriber), and one spoofed_source
finding for each source the capture holds, read from the capture itself."""
import argparse
import json
import os
import socket
import struct
import subprocess
import sys


def sources(path):
    with open(path, "rb") as capture:
        data = capture.read()
    found, offset, packets = set(), 24, 0
    while offset < len(data):
        length = struct.unpack_from("<I", data, offset + 8)[0]
        frame = data[offset + 16:offset + 16 + length]
        offset += 16 + length
        packets += 1
        ethertype = struct.unpack_from(">H", frame, 16)[0]  # behind the 802.1Q tag
        if ethertype == 0x0800:
            found.add(socket.inet_ntop(socket.AF_INET, frame[18 + 12:18 + 16]))
        elif ethertype == 0x86dd:
            found.add(socket.inet_ntop(socket.AF_INET6, frame[18 + 8:18 + 24]))
    return packets, found


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sensor", required=True)
    parser.add_argument("--gen-bench", required=True)
    parser.add_argument("--policy", required=True)
    parser.add_argument("--work-dir", required=True)
    args = parser.parse_args()
    os.makedirs(args.work_dir, exist_ok=True)
    capture = os.path.join(args.work_dir, "spoofed.pcap")
    subprocess.run([args.gen_bench, "spoofed", "3000", capture], check=True,
                   stdout=subprocess.DEVNULL)
    packets, spoofed = sources(capture)
    out = subprocess.run([args.sensor, "-q", "-c", args.policy, "-r", capture],
                         stdout=subprocess.PIPE, check=True).stdout.decode()
    events = [json.loads(line) for line in out.splitlines()]
    stats = events[-1]
    if packets != 3000 or stats["packets"] != packets:
        print("FAIL: %d frames in the capture, the sensor counted %d" % (packets,
                                                                       stats["packets"]))
        return 1
    if stats["events_attempt"] != 0:
        print("FAIL: %d attempts from sources that are no subscriber's" %
              stats["events_attempt"])
        return 1
    reported = {e["src_ip"] for e in events if e["type"] == "spoofed_source"}
    if reported != spoofed:
        print("FAIL: spoofed_source for %d sources, the capture has %d (missing %r)" %
              (len(reported), len(spoofed), sorted(spoofed - reported)[:5]))
        return 1
    print("spoofed capture: %d SYNs from %d sources, each reported as spoofed" %
          (packets, len(spoofed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

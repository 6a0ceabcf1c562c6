#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets from the project's captures and policies.

    make_seeds.py --source-dir REPO --corpus-dir CORPUS --out DIR [--target NAME ...]

Frames come from REPO/pcaps/*.pcap and SHARED/corpus/**/*.pcap* (classic pcap and pcapng,
read here with the standard library only). Each target gets DIR/<target>/, one file per
seed named by its SHA-1 as libFuzzer names its own, in the input format the target's
source describes:
  decode  link selector byte + one frame, whole and cut at snap lengths 64, 96 and 128
  smtp    the TCP payloads of each SMTP connection, as control-byte chunks, also as a snap
          length of 96 bytes would cut them; and written pipelines of 50 and 100 RCPT TO
  policy  the YAML policies of the repository
  sensor  link selector byte + frames with 2-byte time/length headers, the same with
          damaged timestamps, each capture file itself behind a selector with bit 5 set;
          the SMTP captures also with frames cut at 96 bytes and with neighbours swapped
  dns     transport byte (0 UDP, 1 TCP) + one DNS payload (port 53, queries and answers)
  mail_login  protocol byte (0 POP3, 1 IMAP) + the TCP payloads of each POP3/IMAP
          connection as smtp's control-byte chunks, and written dialogues for each branch
  spool   a flags byte + segment files as fuzz_spool.c reads them: segments of the events
          of REPO/tests/scenarios/*.golden.ndjson in the spool's layout
          (src/output/spool_file.h), whole and damaged as a crash or a full disk leaves them
"""

import argparse
import glob
import hashlib
import json
import os
import struct
import sys

# fuzz_link.h: the index of each link type is the selector byte.
LINK_TYPES = [1, 101, 113, 276, 0, 12, 14, 108, 228, 229]
# fuzz_smtp.c: chunk lengths by the control byte's top five bits; 0 is "the rest".
CHUNK_LENGTHS = [1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16, 20, 24, 32, 48, 64, 96, 128, 192, 256,
                 384, 511, 512, 513, 514, 768, 1024, 1536, 2048, 4096, 8192, 0]
# fuzz_sensor.c: packet time steps in microseconds by the header's top four bits.
SECOND = 1000000
TIME_STEPS = [0, 1000, 10000, 100000, 500000, SECOND, 2 * SECOND, 5 * SECOND, 10 * SECOND,
              29 * SECOND, 31 * SECOND, 60 * SECOND, 301 * SECOND, 601 * SECOND,
              1801 * SECOND, 3601 * SECOND]
SENSOR_FRAME_MAX = 0x0fff
# fuzz_sensor.c: byte 0's flags, and the steps that damage a timestamp when DAMAGED_TIMES is set.
TWO_WORKERS = 0x80
DAMAGED_TIMES = 0x40
CAPTURE_FILE = 0x20  # the rest of the input is a capture file read through src/capture/
STEP_DAMAGE_BEHIND, STEP_DAMAGE_AHEAD = 14, 15

# Ports whose dialogues the SMTP parser reads: 25, and submission for AUTH and STARTTLS.
SMTP_PORTS = {25, 587, 465, 2525}
# src/track/mail_flows.h: POP3 and IMAP, in the protocol byte's order (fuzz_mail_login.c).
MAIL_LOGIN_PORTS = (110, 143)
DNS_PORT = 53
SEED_MAX = 16384           # bytes per smtp or sensor seed: keeps executions fast
DECODE_FRAMES_PER_FILE = 256
SNAP_LENGTHS = (64, 96, 128)  # cuts of common SPAN and capture-appliance snap lengths
SENSOR_PACKETS_PER_SEED = 256


# ---- capture files ----

def read_classic(data):
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        return None
    nanoseconds = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(endian + "I", data[20:24])[0] & 0x0fffffff
    frames = []
    offset = 24
    while offset + 16 <= len(data):
        seconds, fraction, captured, _ = struct.unpack(endian + "IIII", data[offset:offset + 16])
        offset += 16
        if captured > len(data) - offset:
            break
        micros = seconds * SECOND + (fraction // 1000 if nanoseconds else fraction)
        frames.append((linktype, micros, data[offset:offset + captured]))
        offset += captured
    return frames


def tsresol_of(options, endian):
    """if_tsresol (RFC draft pcapng section 4.2): units per second of the timestamps."""
    offset = 0
    while offset + 4 <= len(options):
        code, length = struct.unpack(endian + "HH", options[offset:offset + 4])
        if code == 0:
            break
        if code == 9 and length >= 1:
            value = options[offset + 4]
            return 2 ** (value & 0x7f) if value & 0x80 else 10 ** value
        offset += 4 + (length + 3) // 4 * 4
    return SECOND


def read_pcapng(data):
    frames = []
    interfaces = []
    endian = "<"
    offset = 0
    while offset + 12 <= len(data):
        block_type = struct.unpack("<I", data[offset:offset + 4])[0]
        if block_type == 0x0A0D0D0A:
            endian = "<" if data[offset + 8:offset + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            interfaces = []
        block_length = struct.unpack(endian + "I", data[offset + 4:offset + 8])[0]
        if block_length < 12 or offset + block_length > len(data):
            break
        body = data[offset + 8:offset + block_length - 4]
        block_type = struct.unpack(endian + "I", data[offset:offset + 4])[0]
        if block_type == 1 and len(body) >= 8:  # interface description
            linktype = struct.unpack(endian + "H", body[0:2])[0]
            interfaces.append((linktype, tsresol_of(body[8:], endian)))
        elif block_type == 6 and len(body) >= 20:  # enhanced packet
            interface, high, low, captured = struct.unpack(endian + "IIII", body[0:16])
            if interface < len(interfaces) and captured <= len(body) - 20:
                linktype, resolution = interfaces[interface]
                micros = ((high << 32) | low) * SECOND // resolution
                frames.append((linktype, micros, body[20:20 + captured]))
        elif block_type == 3 and len(body) >= 4 and interfaces:  # simple packet
            linktype, _ = interfaces[0]
            frames.append((linktype, 0, body[4:]))
        offset += block_length
    return frames


def read_capture(path):
    with open(path, "rb") as stream:
        data = stream.read()
    if data[:4] == b"\x0a\x0d\x0d\x0a":
        return read_pcapng(data)
    return read_classic(data) or []


# ---- just enough decoding to find TCP payloads ----

def network_layer(linktype, frame):
    """Returns the IP packet inside a frame, or None."""
    if linktype == 1:
        if len(frame) < 14:
            return None
        ethertype, offset = struct.unpack(">H", frame[12:14])[0], 14
        for _ in range(4):
            if ethertype not in (0x8100, 0x88A8, 0x9100) or len(frame) < offset + 4:
                break
            ethertype, offset = struct.unpack(">H", frame[offset + 2:offset + 4])[0], offset + 4
        if ethertype == 0x8864 and len(frame) >= offset + 8:  # PPPoE session, PPP protocol
            protocol = struct.unpack(">H", frame[offset + 6:offset + 8])[0]
            return frame[offset + 8:] if protocol in (0x0021, 0x0057) else None
        return frame[offset:] if ethertype in (0x0800, 0x86DD) else None
    if linktype == 113:
        return frame[16:] if frame[14:16] in (b"\x08\x00", b"\x86\xdd") else None
    if linktype == 276:
        return frame[20:] if frame[0:2] in (b"\x08\x00", b"\x86\xdd") else None
    if linktype in (0, 108):
        return frame[4:]
    if linktype in (12, 14, 101, 228, 229):
        return frame
    return None


def transport_layer(packet, depth=0):
    """(proto, src, dst, body) of an IP packet's first fragment, through IP tunnels."""
    if not packet or depth > 3:
        return None
    version = packet[0] >> 4
    if version == 4 and len(packet) >= 20:
        header = (packet[0] & 15) * 4
        total = struct.unpack(">H", packet[2:4])[0]
        if struct.unpack(">H", packet[6:8])[0] & 0x1fff:
            return None  # not the first fragment
        proto, src, dst = packet[9], packet[12:16], packet[16:20]
        body = packet[header:min(len(packet), total) if total >= header else len(packet)]
    elif version == 6 and len(packet) >= 40:
        proto, src, dst = packet[6], packet[8:24], packet[24:40]
        body = packet[40:40 + struct.unpack(">H", packet[4:6])[0]]
        while proto in (0, 43, 60, 44) and len(body) >= 8:
            if proto == 44:
                if struct.unpack(">H", body[2:4])[0] & 0xfff8:
                    return None
                proto, body = body[0], body[8:]
            else:
                proto, body = body[0], body[(body[1] + 1) * 8:]
    else:
        return None
    if proto in (4, 41):
        return transport_layer(body, depth + 1)
    return proto, src, dst, body


def tcp_segment(packet):
    """(src, dst, sport, dport, seq, flags, payload) of a TCP packet."""
    layer = transport_layer(packet)
    if layer is None or layer[0] != 6 or len(layer[3]) < 20:
        return None
    _, src, dst, body = layer
    sport, dport, seq = struct.unpack(">HHI", body[0:8])
    offset = (body[12] >> 4) * 4
    return src, dst, sport, dport, seq, body[13], body[offset:]


# ---- seeds ----

def add_seed(directory, content, seen):
    digest = hashlib.sha1(content).hexdigest()
    if digest in seen:
        return
    seen.add(digest)
    with open(os.path.join(directory, digest), "wb") as stream:
        stream.write(content)


def decode_seeds(captures, directory):
    seen = set()
    for frames in captures.values():
        for linktype, _, frame in frames[:DECODE_FRAMES_PER_FILE]:
            if linktype in LINK_TYPES:
                selector = bytes([LINK_TYPES.index(linktype)])
                add_seed(directory, selector + frame, seen)
                # As SPAN sessions and capture appliances cut them: headers (TCP options
                # among them) and payloads end at the snap length.
                for snaplen in SNAP_LENGTHS:
                    if len(frame) > snaplen:
                        add_seed(directory, selector + frame[:snaplen], seen)


def sensor_seeds(captures, directory):
    seen = set()
    for name in captures:
        # The files themselves, as -r reads them (pcapng options included), cut to a seed's
        # size: a cut file is a damaged input, which capture must take too.
        with open(name, "rb") as stream:
            add_seed(directory, bytes([CAPTURE_FILE]) + stream.read(SEED_MAX), seen)
    for name, frames in captures.items():
        frames = [f for f in frames if f[0] in LINK_TYPES]
        start = 0
        while start < len(frames):
            seed = bytearray([LINK_TYPES.index(frames[start][0])])
            previous = frames[start][1]
            count = 0
            while start < len(frames) and count < SENSOR_PACKETS_PER_SEED:
                linktype, micros, frame = frames[start]
                if linktype != LINK_TYPES[seed[0]] or len(seed) + 2 + len(frame) > SEED_MAX:
                    break
                delta = max(0, micros - previous)
                step = max(i for i, s in enumerate(TIME_STEPS) if s <= delta)
                frame = frame[:SENSOR_FRAME_MAX]
                seed += struct.pack(">H", step << 12 | len(frame)) + frame
                previous = micros
                start += 1
                count += 1
            if count == 0:  # one frame alone is larger than a seed: skip it
                start += 1
                continue
            add_seed(directory, bytes(seed), seen)
            # The evasion scenarios once more as two workers (the selector's top bit), so
            # spoofed SYNs and their answers meet across sensors from the start.
            if "evasion" in os.path.basename(name):
                add_seed(directory, bytes([seed[0] | TWO_WORKERS]) + bytes(seed[1:]), seen)
            add_seed(directory, damaged(seed), seen)
        # Dialogues as a short snap length and a reordering mirror deliver them.
        base = os.path.basename(name)
        if "smtp" in base or "stacks" in base:
            for variant in (cut_frames(frames, SNAP_LENGTHS[1]), swap_neighbours(frames)):
                add_seed(directory, sensor_seed(variant), seen)


def cut_frames(frames, snaplen):
    return [(linktype, micros, frame[:snaplen]) for linktype, micros, frame in frames]


def swap_neighbours(frames):
    """Every second pair of frames swapped, times kept in order."""
    out = list(frames)
    for i in range(1, len(out) - 1, 4):
        (la, ta, fa), (lb, tb, fb) = out[i], out[i + 1]
        out[i], out[i + 1] = (lb, ta, fb), (la, tb, fa)
    return out


def sensor_seed(frames):
    """One seed of the first frames of a capture (one link type)."""
    seed = bytearray([LINK_TYPES.index(frames[0][0])]) if frames else bytearray([0])
    previous = frames[0][1] if frames else 0
    for linktype, micros, frame in frames[:SENSOR_PACKETS_PER_SEED]:
        frame = frame[:SENSOR_FRAME_MAX]
        if linktype != LINK_TYPES[seed[0]] or len(seed) + 2 + len(frame) > SEED_MAX:
            break
        step = max(i for i, s in enumerate(TIME_STEPS) if s <= max(0, micros - previous))
        seed += struct.pack(">H", step << 12 | len(frame)) + frame
        previous = micros
    return bytes(seed)


def damaged(seed):
    """The seed with one timestamp a third of the way in flipped ahead and one two thirds in
    flipped behind, mid-dialogue, as a damaged capture has them."""
    offsets, offset = [], 1
    while offset + 2 <= len(seed):
        offsets.append(offset)
        offset += 2 + (struct.unpack(">H", seed[offset:offset + 2])[0] & 0x0fff)
    out = bytearray(seed)
    out[0] |= DAMAGED_TIMES
    for place, step in ((len(offsets) // 3, STEP_DAMAGE_AHEAD),
                        (2 * len(offsets) // 3, STEP_DAMAGE_BEHIND)):
        if offsets:
            at = offsets[place]
            out[at] = (out[at] & 0x0f) | step << 4
    return bytes(out)


class Direction:
    """Puts one direction's segments in stream order: retransmitted bytes are dropped, a
    hole is reported as a gap, as src/track/tcp_stream.c does for the sensor."""

    def __init__(self):
        self.next = None
        self.syn = False

    def take(self, seq, flags, payload):
        if flags & 0x02:
            self.syn = True
            self.next = (seq + 1) & 0xffffffff
            return None
        if not payload:
            return None
        gap = False
        if self.next is None:
            self.next = seq
        ahead = (seq - self.next) & 0xffffffff
        if ahead >= 0x80000000:  # behind: all or part was seen already
            behind = 0x100000000 - ahead
            if behind >= len(payload):
                return None
            payload = payload[behind:]
            seq = self.next
        elif ahead > 0:
            gap = True
        self.next = (seq + len(payload)) & 0xffffffff
        return gap, payload


def tcp_dialogues(captures, ports):
    """(server port, chunks) of each TCP connection to one of ports, chunks as
    encode_chunks takes them."""
    dialogues = []
    for frames in captures.values():
        connections = {}
        for linktype, _, frame in frames:
            packet = network_layer(linktype, frame)
            segment = tcp_segment(packet) if packet else None
            if segment is None:
                continue
            src, dst, sport, dport, seq, flags, payload = segment
            if dport in ports:
                key, server = (src, sport, dst, dport), False
            elif sport in ports:
                key, server = (dst, dport, src, sport), True
            else:
                continue
            state = connections.setdefault(key, {"dirs": [Direction(), Direction()],
                                                 "chunks": []})
            taken = state["dirs"][server].take(seq, flags, payload)
            if taken is not None:
                gap, data = taken
                joined = not server and not state["dirs"][0].syn and not any(
                    not s for s, _, _, _ in state["chunks"])
                state["chunks"].append((server, gap, joined, data))
        for key, state in connections.items():
            if state["chunks"]:
                dialogues.append((key[3], state["chunks"]))
    return dialogues


def smtp_seeds(captures, directory):
    seen = set()
    for _, chunks in tcp_dialogues(captures, SMTP_PORTS):
        add_seed(directory, encode_chunks(chunks), seen)
        add_seed(directory, encode_chunks(cut_chunks(chunks, 42)), seen)
    for recipients in (50, 100):
        add_seed(directory, encode_chunks(pipeline(recipients)), seen)
        add_seed(directory, encode_chunks(cut_chunks(pipeline(recipients), 42)), seen)


def cut_chunks(chunks, kept):
    """Each chunk as a snap length keeping `kept` payload bytes would deliver it: its start,
    then the rest reported missing (fuzz_smtp.c's control value 3)."""
    out = []
    for server, gap, joined, data in chunks:
        out.append((server, gap, joined, data[:kept]))
        if len(data) > kept:
            out.append((server, "missing", False, data[kept:]))
    return out


def pipeline(recipients):
    """A bot's pipelined group (RFC 2920) of MAIL, RCPT TO and DATA, answered in one write
    by a server that takes 50 recipients."""
    group = b"MAIL FROM:<news@bulk.example>\r\n"
    replies = b"250 2.1.0 Ok\r\n"
    for i in range(recipients):
        group += b"RCPT TO:<user%03d@example.org>\r\n" % i
        replies += b"250 2.1.5 Ok\r\n" if i < 50 else b"452 4.5.3 Too many recipients\r\n"
    group += b"DATA\r\n"
    replies += b"354 go ahead\r\n"
    return [(True, False, False, b"220 mx ESMTP\r\n"), (False, False, False, b"EHLO b.example\r\n"),
            (True, False, False, b"250-mx\r\n250 PIPELINING\r\n"), (False, False, False, group),
            (True, False, False, replies), (False, False, False, b"Hello.\r\n.\r\n"),
            (True, False, False, b"250 queued\r\n")]


def encode_chunks(chunks, out=None):
    out = bytearray() if out is None else out
    for server, gap, joined, data in chunks:
        first = True
        while data:
            code = max((i for i, n in enumerate(CHUNK_LENGTHS) if 0 < n <= len(data)),
                       key=lambda i: CHUNK_LENGTHS[i])
            length = CHUNK_LENGTHS[code]
            control = int(server) | (code << 3)
            # Bits 1-2: 1 a gap, 2 joined midway, 3 the chunk's bytes were not captured.
            if gap == "missing":
                control |= 6
            elif first:
                control |= 4 if joined else 2 if gap else 0
            if len(out) + 1 + length > SEED_MAX:
                return bytes(out)
            out += bytes([control]) + data[:length]
            data = data[length:]
            first = False
    return bytes(out)


def dns_seeds(captures, directory):
    seen = set()
    for frames in captures.values():
        for linktype, _, frame in frames:
            packet = network_layer(linktype, frame)
            layer = transport_layer(packet) if packet else None
            if layer is None or layer[0] not in (6, 17):
                continue
            proto, _, _, body = layer
            if proto == 17 and len(body) >= 8:
                sport, dport = struct.unpack(">HH", body[0:4])
                payload, transport = body[8:], 0
            elif proto == 6 and len(body) >= 20:
                sport, dport = struct.unpack(">HH", body[0:4])
                payload, transport = body[(body[12] >> 4) * 4:], 1
            else:
                continue
            if DNS_PORT in (sport, dport) and payload:
                add_seed(directory, bytes([transport]) + payload, seen)


# What the login parsers read, written out for the branches no capture reaches: POP3
# (RFC 1939, 2449, 5034, 2595) and IMAP (RFC 9051), as (server?, bytes) in stream order.
MAIL_LOGIN_DIALOGUES = [
    (0, [(True, b"+OK POP3 ready\r\n"), (False, b"CAPA\r\n"),
         (True, b"+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n"), (False, b"USER alice\r\n"),
         (True, b"+OK\r\n"), (False, b"PASS wrong\r\n"), (True, b"-ERR no\r\n"),
         (False, b"USER alice\r\nPASS secret\r\n"), (True, b"+OK\r\n+OK logged in\r\n")]),
    (0, [(True, b"+OK <1.2@mail.example>\r\n"),
         (False, b"APOP alice c4c9334bac560ecc979e58001b3e22fb\r\n"), (True, b"+OK\r\n")]),
    (0, [(True, b"+OK ready\r\n"), (False, b"AUTH\r\n"), (True, b"+OK\r\nPLAIN\r\n.\r\n"),
         (False, b"AUTH PLAIN\r\n"), (True, b"+ \r\n"), (False, b"AGFsaWNlAHNlY3JldA==\r\n"),
         (True, b"+OK\r\n")]),
    (0, [(True, b"+OK ready\r\n"), (False, b"STLS\r\n"), (True, b"+OK begin TLS\r\n"),
         (False, b"\x16\x03\x01\x00\x05hello")]),
    (0, [(True, b"+OK ready\r\n"), (False, b"STLS\r\n"), (True, b"-ERR not now\r\n"),
         (False, b"USER alice\r\nPASS secret\r\n"), (True, b"+OK\r\n+OK\r\n")]),
    (0, [(True, b"-ERR busy\r\n"), (False, b"LIST\r\nRETR 1\r\nQUIT\r\n"),
         (True, b"+OK\r\n1 10\r\n.\r\n+OK\r\n..stuffed\r\n.\r\n+OK bye\r\n")]),
    (1, [(True, b"* OK IMAP4rev2 ready\r\n"), (False, b"a1 CAPABILITY\r\n"),
         (True, b"* CAPABILITY IMAP4rev2 STARTTLS AUTH=PLAIN\r\na1 OK done\r\n"),
         (False, b"a2 LOGIN alice wrong\r\n"), (True, b"a2 NO [AUTHENTICATIONFAILED]\r\n"),
         (False, b"a3 LOGIN {5}\r\nalice {6+}\r\nsecret\r\n"), (True, b"+ go\r\n"),
         (True, b"* LIST {3}\r\nabc\r\na3 OK LOGIN completed\r\n")]),
    (1, [(True, b"* OK ready\r\n"), (False, b"b1 AUTHENTICATE PLAIN\r\n"), (True, b"+ \r\n"),
         (False, b"AGFsaWNlAHNlY3JldA==\r\n"), (True, b"b1 OK\r\n")]),
    (1, [(True, b"* OK ready\r\n"), (False, b"c1 STARTTLS\r\n"),
         (True, b"c1 OK Begin TLS\r\n"), (False, b"\x16\x03\x01\x02\x00")]),
    (1, [(True, b"* PREAUTH welcome alice\r\n"), (False, b"d1 SELECT INBOX\r\n")]),
    (1, [(True, b"* BYE go away\r\n")]),
]


def mail_login_seeds(captures, directory):
    seen = set()
    for port, chunks in tcp_dialogues(captures, MAIL_LOGIN_PORTS):
        protocol = 1 if port == MAIL_LOGIN_PORTS[1] else 0
        add_seed(directory, bytes(encode_chunks(chunks, bytearray([protocol]))), seen)
    for protocol, dialogue in MAIL_LOGIN_DIALOGUES:
        chunks = [(server, False, False, data) for server, data in dialogue]
        add_seed(directory, bytes(encode_chunks(chunks, bytearray([protocol]))), seen)


# Every key the loader reads, segments of each kind among them, so the fuzzer starts from
# all of its branches (the repository's policies use VLAN segments only). geoip is left
# out: it opens the files it names.
EVERY_KEY_POLICY = b"""\
sensor: {name: seed, position: core-side, stats_interval: 1m}
own_prefixes: [198.51.100.0/22, 2001:db8::/32]
resolvers: [198.51.100.53, 2001:db8::53/128]
pools:
  - {name: ftth, type: dynamic, prefixes: [198.51.100.0/24, 2001:db8:100::/40],
     blocking_point: bras, ipv6_subscriber_length: 56}
  - {name: carved, type: static, prefixes: [198.51.100.248/29]}
msas:
  - {name: msa, prefixes: [198.51.102.25/32], ports: [25, 587, 465], pools: [ftth],
     planned_close: [25]}
blocking_points:
  - {name: bras, level: home-router, state: planned, reject: tcp-reset}
segments:
  - {name: by-vlan, vlan: 4094, expects: [ftth]}
  - {name: by-interface, interface: eth1, expects: [carved]}
  - {name: by-mac, mac: "02:00:00:00:00:01", expects: [ftth, carved]}
thresholds: {window: 5m, fanout: 3, mx_direct: 2}
timeouts: {syn: 1500ms, smtp_idle: 1h, pop_before_smtp: 1800}
limits: {flows: 10, sessions: 1}
"""


def policy_seeds(source_dir, directory):
    seen = set()
    add_seed(directory, EVERY_KEY_POLICY, seen)
    paths = [os.path.join(source_dir, "rules", "example.yaml")]
    paths += sorted(glob.glob(os.path.join(source_dir, "tests", "scenarios", "*.yaml")))
    for path in paths:
        if os.path.exists(path):
            with open(path, "rb") as stream:
                add_seed(directory, stream.read(), seen)


# ---- spool segments (src/output/spool_file.h) ----

SPOOL_HEADER = 24
SPOOL_FILES_MAX = 4
SPOOL_SEED_MAX = 4096  # libFuzzer's default -max_len


def fnv1a(data, value=2166136261):
    for byte in data:
        value = ((value ^ byte) * 16777619) & 0xffffffff
    return value


def spool_record(key, kind, value):
    lengths = struct.pack("<III", len(key), len(kind), len(value))
    payload = key + kind + value
    return lengths + struct.pack("<I", fnv1a(payload, fnv1a(lengths))) + payload


def spool_segment(records, start_record=0, version=1):
    """A segment holding records, its stored start past the first start_record of them."""
    start = SPOOL_HEADER + sum(len(r) for r in records[:start_record])
    return b"OP25BSPL" + struct.pack("<IIQ", version, 0, start) + b"".join(records)


def spool_input(flags, files):
    """fuzz_spool.c's input: the flags byte (its low bits the file count less one), each
    file but the last with its u16 length."""
    out = bytes([(flags & ~3) | (len(files) - 1)])
    for file in files[:-1]:
        out += struct.pack("<H", len(file)) + file
    return out + files[-1]


def golden_records(source_dir):
    """The events of each golden file as spool records: key, type header, value."""
    found = []
    for path in sorted(glob.glob(os.path.join(source_dir, "tests", "scenarios",
                                              "*.golden.ndjson"))):
        records = []
        with open(path, "rb") as stream:
            for line in stream:
                event = json.loads(line)
                key = event.get("src_ip") or event.get("sensor") or ""
                records.append(spool_record(key.encode(), event["type"].encode(),
                                            line.rstrip(b"\n")))
        if records:
            found.append(records)
    return found


def spool_variants(records):
    """Segments as runs, crashes and full disks leave them."""
    whole = spool_segment(records)
    half = len(records) // 2
    first, second = spool_segment(records[:half]), spool_segment(records[half:])
    damaged = bytearray(whole)
    damaged[SPOOL_HEADER + len(records[0]) + 20] ^= 0x20
    return [
        [whole],
        [first, second],
        [spool_segment(records, start_record=min(2, len(records)))],
        [whole[:-5]],                                 # torn by a crash
        [whole + b"\0" * 300],                        # zero padding after a failed flush
        [b"\0" * len(whole)],                         # a segment all zeros
        [b""],                                        # created, never written
        [bytes(damaged)],                             # a damaged record in the middle
        [spool_segment(records, version=2)],          # another version: left alone
        [first[:SPOOL_HEADER + 3], second],           # a torn first record, then a segment
        [spool_segment(records[:1]), b"", first, whole[:-1]],
    ]


def spool_seeds(source_dir, directory):
    seen = set()
    for records in golden_records(source_dir):
        # Small enough for the default input length: the first few events.
        while len(records) > 1 and len(spool_segment(records)) * 2 > SPOOL_SEED_MAX:
            records = records[:-1]
        for files in spool_variants(records):
            for flags in (0, 4 | 16, 8 | 16, 4 | 8):
                add_seed(directory, spool_input(flags, files[:SPOOL_FILES_MAX]), seen)


TARGETS = ["decode", "smtp", "policy", "sensor", "dns", "mail_login", "spool"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--corpus-dir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--target", action="append", choices=TARGETS)
    args = parser.parse_args()
    targets = args.target or TARGETS

    paths = sorted(glob.glob(os.path.join(args.source_dir, "pcaps", "*.pcap")))
    paths += sorted(glob.glob(os.path.join(args.source_dir, "pcaps", "*.pcapng")))
    paths += sorted(p for p in glob.glob(os.path.join(args.corpus_dir, "**", "*.pcap*"),
                                         recursive=True) if p.endswith((".pcap", ".pcapng")))
    captures = {}
    if any(t not in ("policy", "spool") for t in targets):
        for path in paths:
            captures[path] = read_capture(path)

    for target in targets:
        directory = os.path.join(args.out, target)
        os.makedirs(directory, exist_ok=True)
        if target == "decode":
            decode_seeds(captures, directory)
        elif target == "smtp":
            smtp_seeds(captures, directory)
        elif target == "sensor":
            sensor_seeds(captures, directory)
        elif target == "dns":
            dns_seeds(captures, directory)
        elif target == "mail_login":
            mail_login_seeds(captures, directory)
        elif target == "spool":
            spool_seeds(args.source_dir, directory)
        else:
            policy_seeds(args.source_dir, directory)
        print("make_seeds: %s: %d seeds from %d captures" %
              (target, len(os.listdir(directory)),
               len(paths) if target not in ("policy", "spool") else 0))
    return 0


if __name__ == "__main__":
    sys.exit(main())

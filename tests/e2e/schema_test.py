#!/usr/bin/env python3
"""The event schema: dashboards/events.schema.json and dashboards/events.md hold the same
contract, and every event the sensor writes keeps it.

Checks:
  1. the schema is a valid JSON Schema (draft 7), and the validator can fail: a real event
     of every type passes, and copies of it with a field too many (also inside `smtp` and
     `features`), a required field missing, or a bad value (address, time, evidence name,
     type, version, count) are rejected;
  2. every line of every committed golden file tests/scenarios/*.golden.ndjson, and of the
     correlator's tests/kafka/*.golden.ndjson, is valid;
  3. every scenario of tests/scenarios/manifest.txt, replayed as scenario_test.py does
     (in pcaps/, with the manifest's capture names), writes only valid lines, and together
     they write every type of the schema but op25b-correlate's (fleet_*), which the
     correlator's golden file must hold instead;
  4. events.md has one section per event type of the schema and no other, and each
     section's field table lists exactly the type's fields (nested ones as `smtp.banner`;
     the findings' shared `smtp` object in its own section, named by the definition's
     title), each with the schema's JSON type and presence (always = required); the
     common fields have their own table; every name the schema enumerates (verdicts,
     evidence, close reasons...) appears in the text;
  5. each type's section shows one example, which is valid, of that type, and a real
     event: it equals a line of some golden file, numbers written alike.
Every violation is reported with its file, line (or field) and the validator's message.

usage: schema_test.py --binary BIN --source-dir DIR
"""
import argparse
import copy
import glob
import json
import os
import re
import subprocess
import sys

import jsonschema

COMMON_SECTION = "Common fields"
# op25b-correlate's types: they share type, v and ts with the sensor's, not sensor.
FLEET_PREFIX = "fleet_"
FIELD_TABLE_HEADER = ["field", "type", "presence", "unit", "meaning"]
JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string",
              list: "array", dict: "object"}

failures = []


def fail(message):
    failures.append(message)
    if len(failures) <= 50:
        print("FAIL: " + message)


def where_in(error):
    path = "/".join(str(part) for part in error.absolute_path)
    return path if path else "top level"


def errors_of(validator, event):
    return sorted(validator.iter_errors(event), key=lambda e: [str(p) for p in e.absolute_path])


def check_line(validator, text, where):
    try:
        event = json.loads(text)
    except ValueError as error:
        fail("%s: not JSON (%s): %s" % (where, error, text[:200]))
        return None
    for error in errors_of(validator, event):
        fail("%s: %s (at %s)\n  %s" % (where, error.message, where_in(error), text[:300]))
    return event


# ---- The schema, read as field tables ----

def resolve(schema, node):
    while "$ref" in node:
        node = schema["definitions"][node["$ref"].rsplit("/", 1)[1]]
    return node


def json_type(schema, node):
    """The one JSON type a field's schema allows, or None when it allows several."""
    node = resolve(schema, node)
    if "type" in node:
        return node["type"]
    if "const" in node:
        return JSON_TYPES[type(node["const"])]
    if "enum" in node:
        kinds = {JSON_TYPES[type(value)] for value in node["enum"]}
        return kinds.pop() if len(kinds) == 1 else None
    if "anyOf" in node:
        kinds = {json_type(schema, branch) for branch in node["anyOf"]}
        return kinds.pop() if len(kinds) == 1 else None
    return None


def fields_of(schema, node, prefix=""):
    """{path: (json type, required, title)} of an object's fields, nested objects included
    as "object.field"; title is that of the nested object's definition, if it has one."""
    node = resolve(schema, node)
    out = {}
    for name, field in node["properties"].items():
        path = prefix + name
        out[path] = (json_type(schema, field), name in node.get("required", []), None)
        target = resolve(schema, field)
        if target.get("type") == "object" and "properties" in target:
            title = target.get("title")
            for sub, (kind, required, _) in fields_of(schema, target, path + ".").items():
                out[sub] = (kind, required, title)
    return out


def event_types(schema):
    return schema["properties"]["type"]["enum"]


def enumerated_names(node, found):
    """Every string the schema enumerates or fixes, anywhere in it."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "enum":
                found.update(v for v in value if isinstance(v, str))
            elif key == "const" and isinstance(value, str):
                found.add(value)
            else:
                enumerated_names(value, found)
    elif isinstance(node, list):
        for value in node:
            enumerated_names(value, found)
    return found


# ---- The documentation ----

def read_sections(path, label):
    """{heading: {"line": n, "rows": {name: (line, cells)}, "examples": [(line, text)]}} of
    the Markdown file at path, which messages call label."""
    sections = {}
    current = {"line": 0, "rows": {}, "examples": []}
    heading = None
    in_table = False
    example = None
    with open(path) as source:
        lines = source.read().split("\n")
    for number, line in enumerate(lines, 1):
        if example is not None:
            if line.startswith("```"):
                current["examples"].append((example[0], "\n".join(example[1])))
                example = None
            else:
                example[1].append(line)
            continue
        if line.startswith("## "):
            heading = line[3:].strip()
            if heading in sections:
                fail("%s:%d: a second section %r" % (label, number, heading))
            current = sections[heading] = {"line": number, "rows": {}, "examples": []}
            in_table = False
            continue
        if line.startswith("```json"):
            example = (number + 1, [])
            continue
        if not line.startswith("|"):
            in_table = False
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells == FIELD_TABLE_HEADER:
            in_table = True
            continue
        if not in_table or set(line) <= set("|- "):
            continue
        match = re.fullmatch(r"`([a-z0-9_.]+)`", cells[0])
        if heading is None or not match or len(cells) != len(FIELD_TABLE_HEADER):
            fail("%s:%d: a field table row must be | `name` | type | presence | unit | "
                 "meaning |: %s" % (label, number, line))
            continue
        if match.group(1) in current["rows"]:
            fail("%s:%d: field `%s` listed twice" % (label, number, match.group(1)))
        current["rows"][match.group(1)] = (number, cells)
    if example is not None:
        fail("%s:%d: an example that never ends" % (label, example[0]))
    return sections


def check_row(doc, name, row, kind, required, section):
    number, cells = row
    if kind is None or not cells[1].startswith(kind):
        fail("%s:%d: `%s` in section %r is documented as %r, the schema says %s" %
             (doc, number, name, section, cells[1], kind))
    presence = "always" if required else "optional"
    if cells[2] != presence:
        fail("%s:%d: `%s` in section %r is documented %r, the schema makes it %s" %
             (doc, number, name, section, cells[2], presence))


def check_documentation(schema, doc_path, doc, golden_lines, validator):
    """doc_path is read; doc names it in messages."""
    sections = read_sections(doc_path, doc)
    types = event_types(schema)
    typed = {}
    for heading in sections:
        match = re.fullmatch(r"`([a-z_]+)`", heading)
        if match:
            typed[match.group(1)] = heading
    for kind in types:
        if kind not in typed:
            fail("%s: no section \"## `%s`\" for event type %s" % (doc, kind, kind))
    for kind, heading in typed.items():
        if kind not in types:
            fail("%s:%d: section %r is no event type of the schema" %
                 (doc, sections[heading]["line"], heading))

    per_type = {kind: fields_of(schema, schema["definitions"][kind]) for kind in types}
    sensor_types = [kind for kind in types if not kind.startswith(FLEET_PREFIX)]
    common = set.intersection(*(set(p for p in per_type[kind] if "." not in p)
                                for kind in sensor_types))
    shared = {}  # title -> {path: (type, required)}
    if COMMON_SECTION not in sections:
        fail("%s: no section \"## %s\"" % (doc, COMMON_SECTION))
    else:
        rows = sections[COMMON_SECTION]["rows"]
        for name in sorted(common - set(rows)):
            fail("%s: common field `%s` is not in section %r" % (doc, name, COMMON_SECTION))
        for name in sorted(set(rows) - common):
            fail("%s:%d: section %r lists `%s`, which not every type has" %
                 (doc, rows[name][0], COMMON_SECTION, name))
        for name in sorted(common & set(rows)):
            kinds = {(per_type[kind][name][0], per_type[kind][name][1])
                     for kind in types if name in per_type[kind]}
            if len(kinds) != 1:
                fail("schema: common field %s differs between types: %s" % (name, kinds))
                continue
            kind, required = kinds.pop()
            check_row(doc, name, rows[name], kind, required, COMMON_SECTION)

    for kind in types:
        if kind not in typed:
            continue
        heading = typed[kind]
        rows = sections[heading]["rows"]
        expected = {}
        for path, (field_kind, required, title) in per_type[kind].items():
            if path in common:
                continue
            if title is not None:
                shared.setdefault(title, {})[path] = (field_kind, required)
                continue
            expected[path] = (field_kind, required)
        for path in sorted(set(expected) - set(rows)):
            fail("%s: section %r does not document the field `%s` of the schema" %
                 (doc, heading, path))
        for path in sorted(set(rows) - set(expected)):
            fail("%s:%d: section %r documents `%s`, which the schema's %s does not have" %
                 (doc, rows[path][0], heading, path, kind))
        for path in sorted(set(rows) & set(expected)):
            check_row(doc, path, rows[path], expected[path][0], expected[path][1], heading)

    for title, expected in sorted(shared.items()):
        if title not in sections:
            fail("%s: no section \"## %s\" for the shared object the schema titles so" %
                 (doc, title))
            continue
        rows = sections[title]["rows"]
        for path in sorted(set(expected) - set(rows)):
            fail("%s: section %r does not document `%s`" % (doc, title, path))
        for path in sorted(set(rows) - set(expected)):
            fail("%s:%d: section %r documents `%s`, which the schema does not have" %
                 (doc, rows[path][0], title, path))
        for path in sorted(set(rows) & set(expected)):
            check_row(doc, path, rows[path], expected[path][0], expected[path][1], title)

    with open(doc_path) as source:
        text = source.read()
    for name in sorted(enumerated_names(schema, set())):
        if "`%s`" % name not in text:
            fail("%s: the schema's value %r is never named (in backticks)" % (doc, name))

    # Examples: numbers compared as written, so 0.6000 stays 0.6000.
    def exact(line):
        return json.loads(line, parse_float=lambda s: "number:" + s)
    real = [exact(line) for line in golden_lines]
    for heading, section in sections.items():
        kind = re.fullmatch(r"`([a-z_]+)`", heading)
        examples = section["examples"]
        if kind and kind.group(1) in types and len(examples) != 1:
            fail("%s:%d: section %r has %d examples, not one" %
                 (doc, section["line"], heading, len(examples)))
        for number, body in examples:
            where = "%s:%d" % (doc, number)
            event = check_line(validator, body, where + " (example)")
            if event is None:
                continue
            if not kind or event.get("type") != kind.group(1):
                fail("%s: an example of type %r in section %r" % (where, event.get("type"),
                                                                 heading))
            if exact(body) not in real:
                fail("%s: the example is no line of any tests/scenarios/*.golden.ndjson or "
                     "tests/kafka/*.golden.ndjson" % where)


# ---- The validator can fail ----

def self_test(schema, validator, samples, attempts, golden_fleet):
    """Each case: (what, event, mutation). Every mutation must be rejected, and the event
    itself accepted, so a rejection is the mutation's doing."""
    def without(field):
        return lambda e: e.pop(field)

    def setting(field, value):
        return lambda e: e.__setitem__(field, value)

    def inside(obj, field, value):
        return lambda e: e[obj].__setitem__(field, value)

    cases = []
    for kind, event in sorted(samples.items()):
        cases.append((kind, event, "an undocumented field", setting("bogus_field", 1)))
        required = schema["definitions"][kind]["required"]
        last = [k for k in required if k not in ("type", "v", "ts", "sensor")][-1]
        cases.append((kind, event, "no %s" % last, without(last)))
        cases.append((kind, event, "no ts", without("ts")))
        cases.append((kind, event, "a bad time", setting("ts", "2026-01-15T09:00:10Z")))
        cases.append((kind, event, "version 2", setting("v", 2)))
        cases.append((kind, event, "the type misspelt", setting("type", kind + "s")))
    attempt = next((e for e in attempts if "smtp" in e and e["verdict"] == "leaked"), None)
    if attempt is None:
        fail("self-test: no golden attempt with a dialogue that leaked to try")
        return len(cases)
    cases += [
        ("attempt", attempt, "a field in smtp", inside("smtp", "bogus_field", 1)),
        ("attempt", attempt, "a bad address", setting("src_ip", "198.51.100.300")),
        ("attempt", attempt, "a bad evidence name", setting("evidence", ["syn_ack", "oops"])),
        ("attempt", attempt, "leaked without leak evidence", setting("evidence", ["no_reply"])),
        ("attempt", attempt, "unknown with evidence", setting("verdict", "unknown")),
        ("attempt", attempt, "a negative count", setting("client_bytes", -1)),
        ("attempt", attempt, "a count as text", setting("syn_count", "1")),
        ("attempt", attempt, "banner without its code", lambda e: e["smtp"].pop("banner_code")),
    ]
    for kind in ("open_submission", "nonstandard_port_smtp", "pop_before_smtp"):
        if kind in samples:
            cases.append((kind, samples[kind], "a field in smtp",
                          inside("smtp", "bogus_field", 1)))
            cases.append((kind, samples[kind], "smtp without auth",
                          lambda e: e["smtp"].pop("auth")))
    if "bot_suspect" in samples:
        cases.append(("bot_suspect", samples["bot_suspect"], "a field in features",
                      inside("features", "bogus_field", 1)))
    if "coverage" in samples:
        cases.append(("coverage", samples["coverage"], "a ratio above 1",
                      setting("coverage", 1.5)))
    held = next((e for e in golden_fleet if e.get("verdict") == "blocked"), None)
    if held is not None:
        cases += [
            ("fleet_attempt", held, "blocked without held_at", without("held_at")),
            ("fleet_attempt", held, "blocked and failed_at", setting("failed_at", ["x"])),
            ("fleet_attempt", held, "seen by nobody", setting("seen_by", [])),
            ("fleet_attempt", held, "a bad sensor verdict",
             setting("sensor_verdicts", {"fleet-edge": "held"})),
            ("fleet_attempt", held, "a bad reason", setting("reason", "guess")),
        ]

    checked = set()
    for kind, event, what, mutate in cases:
        key = json.dumps(event, sort_keys=True)
        if key not in checked:
            checked.add(key)
            for error in errors_of(validator, event):
                fail("self-test: a real %s event is rejected: %s (at %s)" %
                     (kind, error.message, where_in(error)))
        broken = copy.deepcopy(event)
        mutate(broken)
        if not errors_of(validator, broken):
            fail("self-test: the validator accepts a %s event with %s: %s" %
                 (kind, what, json.dumps(broken)[:300]))
    return len(cases)


# ---- Scenarios ----

def load_manifest(directory):
    scenarios = []
    with open(os.path.join(directory, "manifest.txt")) as manifest:
        for line in manifest:
            fields = line.split()
            if fields and not fields[0].startswith("#"):
                scenarios.append((fields[0], fields[1], fields[2:]))
    return scenarios


def run_sensor(binary, policy, captures, capture_dir):
    """As scenario_test.py: in the capture directory with the manifest's file names, so a
    capture's source name is what an `interface:` segment of the policy names."""
    command = [os.path.abspath(binary), "-q", "-c", os.path.abspath(policy)]
    for capture in captures:
        command += ["-r", capture]
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=capture_dir)
    return command, result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--source-dir", required=True)
    args = parser.parse_args()
    source = os.path.abspath(args.source_dir)

    def shown(path):
        return os.path.relpath(path, source)

    schema_path = os.path.join(source, "dashboards", "events.schema.json")
    doc_path = os.path.join(source, "dashboards", "events.md")
    with open(schema_path) as handle:
        schema = json.load(handle)
    try:
        jsonschema.Draft7Validator.check_schema(schema)
    except jsonschema.SchemaError as error:
        fail("%s is no valid JSON Schema: %s (at %s)" % (shown(schema_path), error.message,
                                                        where_in(error)))
        return 1
    # Addresses are checked as formats (ipv4, ipv6), which need the checker.
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())

    # 2. The committed golden files.
    scenario_dir = os.path.join(source, "tests", "scenarios")
    golden_lines = []
    samples = {}
    attempts = []
    fleet_events = []
    goldens = sorted(glob.glob(os.path.join(scenario_dir, "*.golden.ndjson")) +
                     glob.glob(os.path.join(source, "tests", "kafka", "*.golden.ndjson")))
    if not goldens:
        fail("no golden files in %s" % shown(scenario_dir))
    for path in goldens:
        with open(path) as handle:
            for number, line in enumerate(handle.read().splitlines(), 1):
                golden_lines.append(line)
                event = check_line(validator, line, "%s:%d" % (shown(path), number))
                if isinstance(event, dict) and isinstance(event.get("type"), str):
                    samples.setdefault(event["type"], event)
                    if event["type"] == "attempt":
                        attempts.append(event)
                    if event["type"].startswith(FLEET_PREFIX):
                        fleet_events.append(event)

    # 1. The validator can fail (on real events, taken from the golden files).
    cases = self_test(schema, validator, samples, attempts,
                      [e for e in fleet_events if e.get("type") == "fleet_attempt"])

    # 3. Every scenario, replayed now.
    seen_types = {}
    seen_fields = set()
    capture_dir = os.path.join(source, "pcaps")
    scenarios = load_manifest(scenario_dir)
    lines_run = 0
    for name, policy, captures in scenarios:
        command, result = run_sensor(args.binary, os.path.join(scenario_dir, policy), captures,
                                     capture_dir)
        if result.returncode != 0:
            fail("scenario %s: %s exited %d: %s" % (name, " ".join(command), result.returncode,
                                                    result.stderr.decode(errors="replace")))
            continue
        output = result.stdout.decode(errors="replace").splitlines()
        if not output:
            fail("scenario %s wrote no events" % name)
        for number, line in enumerate(output, 1):
            lines_run += 1
            event = check_line(validator, line, "scenario %s (%s -r %s), line %d" %
                               (name, policy, " -r ".join(captures), number))
            if isinstance(event, dict):
                seen_types[event.get("type")] = seen_types.get(event.get("type"), 0) + 1
                for key, value in event.items():
                    seen_fields.add((event.get("type"), key))
                    if isinstance(value, dict):
                        seen_fields.update((event.get("type"), key + "." + sub)
                                           for sub in value)
    for kind in event_types(schema):
        if kind.startswith(FLEET_PREFIX):
            if kind not in samples:
                fail("no golden line of op25b-correlate is a %s event" % kind)
        elif kind not in seen_types:
            fail("no scenario writes a %s event: its schema is never tried on real output" %
                 kind)

    # 4 and 5. The documentation.
    check_documentation(schema, doc_path, shown(doc_path), golden_lines, validator)

    never = sorted("%s.%s" % (kind, path) for kind in event_types(schema)
                   for path in fields_of(schema, schema["definitions"][kind])
                   if (kind, path) not in seen_fields and not kind.startswith(FLEET_PREFIX))
    print("note: fields the scenarios never write (valid by the schema alone): " +
          (", ".join(never) if never else "none"))
    if failures:
        print("%d failures%s" % (len(failures), " (the first 50 shown)"
                                 if len(failures) > 50 else ""))
        return 1
    print("ok: %d golden lines and %d lines from %d scenarios valid (%s); %d self-test cases "
          "rejected; events.md documents all %d types" %
          (len(golden_lines), lines_run, len(scenarios),
           ", ".join("%s %d" % (k, seen_types.get(k, 0)) for k in event_types(schema)), cases,
           len(event_types(schema))))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The README's Layout section is the map of the source, and the source cites only what is
in the repository.

Checks:
  1. the Layout section of README.md (its fenced block) has one line per entry, a path and
     what it is for. An unindented path is relative to the repository root: `dir/` a
     folder, `name.c` a file, `name.*` the .c and/or .h of that name. An indented path is a
     module relative to src/ (`  track/flow.*` is src/track/flow.c and src/track/flow.h);
     every entry must name something that exists, and no file may be listed twice;
  2. every .c and .h file under src/ is listed, and so is every folder of src/ and every
     folder directly under tests/;
  3. no text file of src/, tests/ (but the third-party corpus), docs/, rules/, dashboards/
     or the README cites the outside guide by section or names the directory beside the
     repository: the comments and documents say the contract themselves, or point to a
     document in the repository. A string the program prints that still cited the guide
     would be listed below, to change only with the output (an entry that no longer
     matches fails too); the last ones went with the HTML report's and the metrics'
     rewording, and the list is empty.

Adding a module is adding its line to the Layout. Every failure names the file.

usage: layout_test.py --source-dir DIR
"""
import argparse
import os
import re
import sys

# Built in pieces so that this file does not match itself.
FORBIDDEN = [
    ("cites the outside guide by section",
     re.compile("guide" + r"[\s*#/]*" + "section", re.IGNORECASE)),
    ("names the directory beside the repository", re.compile(re.escape("../" "shared"))),
]

# User-visible output that still cites the guide (path, exact text): none left.
OUTPUT_EXCEPTIONS = []

SCANNED = ["src", "tests", "docs", "rules", "dashboards", "README.md"]
NOT_SCANNED = [os.path.join("tests", "corpus")]

failures = []


def fail(message):
    failures.append(message)


def layout_lines(readme):
    """(line number, text) of every line inside the fenced blocks of the Layout section."""
    with open(readme, encoding="utf-8") as source:
        lines = source.read().split("\n")
    in_section = in_block = False
    found = []
    for number, line in enumerate(lines, 1):
        if line.startswith("## "):
            in_section = line.strip() == "## Layout"
            in_block = False
            continue
        if not in_section:
            continue
        if line.startswith("```"):
            in_block = not in_block
            continue
        if in_block and line.strip():
            found.append((number, line))
    if not found:
        fail("README.md: no \"## Layout\" section with a fenced block of entries")
    return found


def files_of(entry, root):
    """The files and folders (relative to root) an entry names; [] when none exists."""
    if entry.endswith("/"):
        return [entry.rstrip("/") + "/"] if os.path.isdir(os.path.join(root, entry)) else []
    if entry.endswith(".*"):
        base = entry[:-2]
        return [base + ext for ext in (".c", ".h")
                if os.path.isfile(os.path.join(root, base + ext))]
    return [entry] if os.path.isfile(os.path.join(root, entry)) else []


def read_layout(root):
    """{path: README line} of every file and folder the Layout names."""
    listed = {}
    for number, line in layout_lines(os.path.join(root, "README.md")):
        where = "README.md:%d" % number
        parts = line.split(None, 1)
        entry = parts[0]
        if len(parts) < 2:
            fail("%s: %s has no description of its job" % (where, entry))
        if entry.startswith("/") or ".." in entry.split("/") or re.search(r"[?\[\]]", entry) \
                or "*" in entry[:-2] or ("*" in entry and not entry.endswith(".*")):
            fail("%s: %s is not a path this layout can check (dir/, file, or name.*)" %
                 (where, entry))
            continue
        # An indented entry is a module of src/.
        path = os.path.join("src", entry) if line[0].isspace() else entry
        named = files_of(path, root)
        if not named:
            fail("%s: %s names %s, which does not exist" % (where, entry, path))
        for name in named:
            if name in listed:
                fail("%s: %s is listed twice (also at README.md:%d)" % (where, name,
                                                                       listed[name]))
            listed[name] = number
    return listed


def check_listed(root, listed):
    for directory, folders, files in os.walk(os.path.join(root, "src")):
        folders[:] = sorted(f for f in folders if not f.startswith((".", "__")))
        relative = os.path.relpath(directory, root)
        if relative != "src" and relative + "/" not in listed:
            fail("%s/: a folder of src/ that the README's Layout does not list" % relative)
        for name in sorted(files):
            if name.endswith((".c", ".h")):
                path = os.path.join(relative, name)
                if path not in listed:
                    fail("%s: a source file that the README's Layout does not list" % path)
    tests = os.path.join(root, "tests")
    for name in sorted(os.listdir(tests)):
        if os.path.isdir(os.path.join(tests, name)) and not name.startswith((".", "__")):
            if "tests/%s/" % name not in listed:
                fail("tests/%s/: a folder of tests/ that the README's Layout does not list" %
                     name)


def text_files(root):
    for top in SCANNED:
        start = os.path.join(root, top)
        if os.path.isfile(start):
            yield top
            continue
        for directory, folders, files in os.walk(start):
            relative = os.path.relpath(directory, root)
            folders[:] = sorted(f for f in folders
                                if os.path.join(relative, f) not in NOT_SCANNED
                                and not f.startswith((".", "__")))
            for name in sorted(files):
                yield os.path.join(relative, name)


def check_citations(root):
    seen_exceptions = set()
    this_file = os.path.relpath(os.path.abspath(__file__), os.path.abspath(root))
    for path in text_files(root):
        with open(os.path.join(root, path), "rb") as source:
            data = source.read()
        if b"\0" in data:
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        allowed = [fragment for where, fragment in OUTPUT_EXCEPTIONS if where == path]
        for fragment in allowed:
            if fragment in text:
                seen_exceptions.add((path, fragment))
        for what, pattern in FORBIDDEN:
            for match in pattern.finditer(text):
                line_start = text.rfind("\n", 0, match.start()) + 1
                line_end = text.find("\n", match.end())
                line = text[line_start:line_end if line_end >= 0 else len(text)]
                if any(fragment in line for fragment in allowed):
                    continue
                number = text.count("\n", 0, match.start()) + 1
                fail("%s:%d: %s: %s" % (path, number, what, line.strip()))
    for where, fragment in OUTPUT_EXCEPTIONS:
        if (where, fragment) not in seen_exceptions:
            fail("%s: no longer prints %r: remove it from OUTPUT_EXCEPTIONS in %s" %
                 (where, fragment, this_file))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source-dir", required=True)
    args = parser.parse_args()
    root = args.source_dir
    listed = read_layout(root)
    check_listed(root, listed)
    check_citations(root)
    if failures:
        for message in failures:
            print("FAIL " + message)
        print("%d problem(s)" % len(failures))
        return 1
    sources = sum(1 for name in listed if name.endswith((".c", ".h")))
    print("layout: %d entries name %d source files and %d folders; no outside citation" %
          (len(set(listed.values())), sources, sum(1 for n in listed if n.endswith("/"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""One format: every C source and header under src/ and tests/ is as clang-format (14, the
.clang-format at the top of the tree) writes it. Exits 1 naming each file that is not, with
the command that fixes it; 77 when clang-format is missing (.ci/install-deps test installs
it). A different major version formats some constructs differently, so only 14 is asked."""
import argparse
import glob
import os
import shutil
import subprocess
import sys


def formatter():
    for name in ("clang-format-14", "clang-format"):
        path = shutil.which(name)
        if path is None:
            continue
        version = subprocess.run([path, "--version"], stdout=subprocess.PIPE,
                                 universal_newlines=True).stdout
        if " 14." in version:
            return path
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source-dir", required=True)
    args = parser.parse_args()
    tool = formatter()
    if tool is None:
        print("SKIP: clang-format 14 is not installed")
        return 77
    sources = []
    for folder in ("src", "tests"):
        for pattern in ("*.c", "*.h"):
            sources += glob.glob(os.path.join(args.source_dir, folder, "**", pattern),
                                 recursive=True)
    sources.sort()
    if not sources:
        print("FAIL: no source under %s" % args.source_dir)
        return 1
    unformatted = []
    for path in sources:
        with open(path, "rb") as source:
            before = source.read()
        after = subprocess.run([tool, "--style=file", path], check=True,
                               stdout=subprocess.PIPE).stdout
        if after != before:
            unformatted.append(os.path.relpath(path, args.source_dir))
    for path in unformatted:
        print("FAIL: %s is not formatted: clang-format-14 -i %s" % (path, path))
    print("%d of %d C files formatted" % (len(sources) - len(unformatted), len(sources)))
    return 1 if unformatted else 0


if __name__ == "__main__":
    sys.exit(main())

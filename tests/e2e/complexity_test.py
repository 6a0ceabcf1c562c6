#!/usr/bin/env python3
"""Small functions: no function under src/ longer than 80 lines or with a cyclomatic
complexity over 25, as pmccabe counts them (the traditional count, where every case of a
switch is a branch). Exits 1 naming each function over a limit, 77 when pmccabe is missing
(.ci/install-deps test installs it)."""
import argparse
import glob
import os
import shutil
import subprocess
import sys

MAX_LINES = 80
MAX_COMPLEXITY = 25


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source-dir", required=True)
    args = parser.parse_args()
    pmccabe = shutil.which("pmccabe")
    if pmccabe is None:
        print("SKIP: pmccabe is not installed")
        return 77
    sources = sorted(glob.glob(os.path.join(args.source_dir, "src", "**", "*.c"),
                               recursive=True))
    if not sources:
        print("FAIL: no source under %s/src" % args.source_dir)
        return 1
    output = subprocess.run([pmccabe] + sources, check=True, stdout=subprocess.PIPE,
                            universal_newlines=True).stdout
    problems, functions = [], 0
    for line in output.splitlines():
        # modified, traditional, statements, first line, lines, "file(line): name"
        fields = line.split("\t")
        if len(fields) < 6:
            continue
        functions += 1
        complexity, lines = int(fields[1]), int(fields[4])
        where = os.path.relpath(fields[5].strip(), args.source_dir)
        if lines > MAX_LINES:
            problems.append("%s: %d lines (at most %d)" % (where, lines, MAX_LINES))
        if complexity > MAX_COMPLEXITY:
            problems.append("%s: complexity %d (at most %d)" % (where, complexity,
                                                                 MAX_COMPLEXITY))
    for problem in problems:
        print("FAIL: " + problem)
    if problems:
        return 1
    print("PASS: %d functions in %d files within %d lines and complexity %d" %
          (functions, len(sources), MAX_LINES, MAX_COMPLEXITY))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Installing and packaging, as an administrator meets them (rules/install.cmake).

  install  `cmake --install BUILD --prefix TMP` installs exactly the expected files, each
           the bytes of its one source (so no two sources collide), nothing from tests/
           and nothing outside TMP; the unit names the installed binary and README; the
           sysusers.d, tmpfiles.d and logrotate files agree with the unit and work.
  deb      `cpack -G DEB` makes op25b-watch_<version>_<arch>.deb with those files under
           /usr (the logrotate file a conffile under /etc), Depends naming exactly the
           packages of the libraries the binary links (found by ldd and dpkg, not by
           the package), and 0 errors from lintian (its warnings are printed).
  man      docs/op25b-watch.8 and docs/op25b-correlate.8 have exactly their program's
           --help options, each described first in --help's words; man and groff print
           no warning on them.

usage: packaging_test.py --binary BIN --correlate BIN --build-dir DIR --source-dir DIR
                         --work-dir DIR --only install|deb|man
"""
import argparse
import gzip
import os
import re
import shutil
import subprocess
import sys

import debian_libs

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL: " + message)
    return condition


def run(args, **kwargs):
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, **kwargs)


def project_version():
    with open(os.path.join(SOURCE, "CMakeLists.txt")) as cmake:
        return re.search(r"project\(op25b-watch VERSION (\S+)", cmake.read()).group(1)


def expected_files():
    """{installed path relative to the prefix: source path, or (source, 'gzip')}."""
    doc = "share/doc/op25b-watch/"
    files = {
        "bin/op25b-watch": BINARY,
        "bin/op25b-correlate": CORRELATE,
        "share/man/man8/op25b-watch.8.gz": ("docs/op25b-watch.8", "gzip"),
        "share/man/man8/op25b-correlate.8.gz": ("docs/op25b-correlate.8", "gzip"),
        doc + "README.md": "README.md",
        doc + "policy-reference.md": "rules/README.md",
        doc + "examples/example.yaml": "rules/example.yaml",
        doc + "copyright": "rules/debian/copyright",
        doc + "changelog.gz": ("rules/debian/changelog", "gzip"),
        "lib/systemd/system/op25b-watch@.service": "rules/systemd/op25b-watch@.service",
        "lib/sysusers.d/op25b-watch.conf": "rules/systemd/op25b-watch.sysusers",
        "lib/tmpfiles.d/op25b-watch.conf": "rules/systemd/op25b-watch.tmpfiles",
        "etc/logrotate.d/op25b-watch": "rules/logrotate/op25b-watch",
    }
    dashboards = os.path.join(SOURCE, "dashboards")
    for folder, _, names in os.walk(dashboards):
        for name in names:
            source = os.path.relpath(os.path.join(folder, name), SOURCE)
            files["share/op25b-watch/" + source] = source
    # The README's links into docs/ hold where it is installed too.
    for name in os.listdir(os.path.join(SOURCE, "docs")):
        if name.endswith(".md"):
            files[doc + "docs/" + name] = "docs/" + name
    return files


def tree(root):
    """Every file under root, as paths relative to it."""
    found = set()
    for folder, _, names in os.walk(root):
        for name in names:
            found.add(os.path.relpath(os.path.join(folder, name), root))
    return found


def unit_settings(text):
    """{key: [values]} of a unit file's settings."""
    settings = {}
    for line in text.splitlines():
        if re.match(r"^[A-Za-z]+=", line):
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def check_contents(prefix, files):
    for path, source in sorted(files.items()):
        installed = os.path.join(prefix, path)
        if not os.path.isfile(installed):
            continue
        with open(installed, "rb") as f:
            data = f.read()
        if isinstance(source, tuple):
            with open(os.path.join(SOURCE, source[0]), "rb") as f:
                want = f.read()
            # gzip -9n: no name and no time stamp in the header (bytes 3 and 4..7).
            check(data[3] & 0x08 == 0 and data[4:8] == b"\0\0\0\0",
                  "%s carries a file name or time stamp" % path)
            check(gzip.decompress(data) == want, "%s is not %s gzipped" % (path, source[0]))
        elif path.startswith("lib/systemd/system/"):
            continue  # its paths are rewritten; checked by check_unit
        else:
            with open(os.path.join(SOURCE, source), "rb") as f:
                check(data == f.read(), "%s is not the bytes of %s" % (path, source))
        mode = os.stat(installed).st_mode & 0o777
        want_mode = 0o755 if path.startswith("bin/") else 0o644
        check(mode == want_mode, "%s has mode %o, not %o" % (path, mode, want_mode))


def check_unit(prefix):
    """The unit runs PREFIX/bin/op25b-watch and points to PREFIX's README."""
    with open(os.path.join(prefix, "lib/systemd/system/op25b-watch@.service")) as f:
        unit = f.read()
    settings = unit_settings(unit)
    binary = os.path.join(prefix, "bin/op25b-watch")
    for key in ("ExecStart", "ExecStartPre"):
        check(all(v.split()[0] == binary for v in settings.get(key, ["?"])),
              "the installed unit's %s does not run %s" % (key, binary))
    check(settings.get("ExecReload") == ["/bin/kill -HUP $MAINPID"],
          "the unit's ExecReload is %r" % settings.get("ExecReload"))
    readme = "file://" + os.path.join(prefix, "share/doc/op25b-watch/README.md")
    check(readme in settings.get("Documentation", [""])[0].split(),
          "the installed unit's Documentation does not name %s" % readme)
    check("/usr/local/" not in "\n".join(sum(settings.values(), [])),
          "the installed unit still names /usr/local")
    if shutil.which("systemd-analyze"):
        instance = os.path.join(WORK, "op25b-watch@eth1.service")
        with open(instance, "w") as f:
            f.write(unit)
        # MANPATH: Documentation's man:op25b-watch(8) must be the page installed with it.
        env = dict(os.environ, MANPATH=os.path.join(prefix, "share/man"))
        verify = run(["systemd-analyze", "verify", instance], env=env)
        check(verify.returncode == 0 and not (verify.stdout + verify.stderr).strip(),
              "systemd-analyze verify on the installed unit:\n" + verify.stdout +
              verify.stderr)
    return settings


def check_user_and_spool(prefix, settings):
    """sysusers.d makes the unit's User and Group with its WorkingDirectory as home;
    tmpfiles.d then makes the directory the unit may write (ReadWritePaths) for that
    user. Both run on an empty root, as they would on a new machine."""
    user, group = settings["User"][0], settings["Group"][0]
    home = settings["WorkingDirectory"][0]
    spool = [p.lstrip("-") for p in settings.get("ReadWritePaths", [""])[0].split()]
    if os.geteuid() != 0 or not shutil.which("systemd-sysusers"):
        print("NOTE: sysusers.d and tmpfiles.d not applied (needs root and systemd)")
        return
    root = os.path.join(WORK, "root")
    os.makedirs(os.path.join(root, "etc"))
    made = run(["systemd-sysusers", "--root=" + root,
                os.path.join(prefix, "lib/sysusers.d/op25b-watch.conf")])
    check(made.returncode == 0, "systemd-sysusers: " + made.stderr)
    with open(os.path.join(root, "etc/passwd")) as f:
        users = {line.split(":")[0]: line.split(":") for line in f}
    with open(os.path.join(root, "etc/group")) as f:
        groups = {line.split(":")[0]: line.split(":") for line in f}
    if not check(user in users and group in groups,
                 "sysusers.d makes %s, not the unit's %s:%s" % (sorted(users), user, group)):
        return
    check(users[user][5] == home, "%s's home is %s, not the unit's WorkingDirectory %s" %
          (user, users[user][5], home))
    made = run(["systemd-tmpfiles", "--root=" + root, "--create",
                os.path.join(prefix, "lib/tmpfiles.d/op25b-watch.conf")])
    check(made.returncode == 0, "systemd-tmpfiles: " + made.stderr)
    for path in spool:
        made = os.path.join(root, path.lstrip("/"))
        if not check(os.path.isdir(made), "tmpfiles.d does not make the unit's " + path):
            continue
        status = os.stat(made)
        check((status.st_mode & 0o777, status.st_uid, status.st_gid) ==
              (0o750, int(users[user][2]), int(groups[group][2])),
              "%s is %o %d:%d, not 750 %s:%s" % (path, status.st_mode & 0o777,
                                                  status.st_uid, status.st_gid, user, group))
    print("sysusers.d made %s:%s (home %s); tmpfiles.d made %s" % (user, group, home,
                                                                  " ".join(spool)))


def check_logrotate(prefix, settings):
    """The logrotate example rotates *.ndjson in the unit's WorkingDirectory as its User,
    and logrotate takes it: once to parse it, once to rotate a file for real, in a copy
    that names a scratch directory, this user, and a marker for the reload."""
    with open(os.path.join(prefix, "etc/logrotate.d/op25b-watch")) as f:
        text = f.read()
    home, user = settings["WorkingDirectory"][0], settings["User"][0]
    check(home + "/*.ndjson {" in text, "logrotate does not rotate %s/*.ndjson" % home)
    check("su %s %s" % (user, settings["Group"][0]) in text,
          "logrotate does not rotate as the unit's user")
    check("systemctl reload 'op25b-watch@*.service'" in text,
          "logrotate's postrotate does not reload the units")
    if not shutil.which("logrotate"):
        check(False, "logrotate is missing (it is in .ci/install-deps test)")
        return
    logs = os.path.join(WORK, "logs")
    os.makedirs(logs)
    marker = os.path.join(WORK, "reloaded")
    import grp
    import pwd
    me = pwd.getpwuid(os.geteuid()).pw_name
    mine = grp.getgrgid(os.getegid()).gr_name
    copy = os.path.join(WORK, "logrotate.conf")
    text = text.replace(home + "/", logs + "/")
    text = text.replace("su %s %s" % (user, settings["Group"][0]), "su %s %s" % (me, mine))
    text = re.sub(r"^( *)systemctl reload .*$", r"\1echo >> " + marker, text, flags=re.M)
    with open(copy, "w") as f:
        f.write(text)
    os.chmod(copy, 0o644)
    with open(os.path.join(logs, "events-eth1.ndjson"), "w") as f:
        f.write('{"type":"attempt"}\n')
    with open(os.path.join(logs, "events-eth2.ndjson"), "w") as f:
        f.write('{"type":"attempt"}\n')
    state = os.path.join(WORK, "logrotate.state")
    rotated = run(["logrotate", "--force", "--state", state, copy])
    check(rotated.returncode == 0 and not rotated.stderr.strip(),
          "logrotate: %d %s" % (rotated.returncode, rotated.stderr))
    check(sorted(os.listdir(logs)) == ["events-eth1.ndjson.1", "events-eth2.ndjson.1"],
          "after logrotate the files are %s" % sorted(os.listdir(logs)))
    reloads = open(marker).read().count("\n") if os.path.exists(marker) else 0
    check(reloads == 1, "postrotate ran %d times for two files, not once" % reloads)


def test_install():
    prefix = os.path.join(WORK, "prefix")
    done = run(["cmake", "--install", BUILD, "--prefix", prefix])
    if not check(done.returncode == 0, "cmake --install: " + done.stderr):
        return
    lines = re.findall(r"^-- (?:Installing|Up-to-date): (.*)$", done.stdout, re.M)
    written = [os.path.relpath(p, prefix) for p in lines if not os.path.isdir(p)]
    twice = sorted({p for p in written if written.count(p) > 1})
    check(not twice, "installed more than once (sources collide): %s" % twice)
    outside = [p for p in lines if not p.startswith(prefix + "/")]
    check(not outside, "installed outside the prefix: %s" % outside)
    files = expected_files()
    found = tree(prefix)
    missing, extra = sorted(set(files) - found), sorted(found - set(files))
    check(not missing, "not installed: %s" % missing)
    check(not extra, "installed but not expected: %s" % extra)
    from_tests = [p for p in found if re.match(r"test_|.*_test\.py$", p.split("/")[-1]) or
                  "/tests/" in p or ".pcap" in p]
    check(not from_tests, "something from tests/ is installed: %s" % from_tests)
    check_contents(prefix, files)
    for program in ("op25b-watch", "op25b-correlate"):
        version = run([os.path.join(prefix, "bin", program), "--version"])
        check(version.returncode == 0 and version.stdout.startswith(program + " "),
              "the installed %s: --version gives %r" % (program, version.stdout))
    settings = check_unit(prefix)
    check_user_and_spool(prefix, settings)
    check_logrotate(prefix, settings)
    print("installed %d files under the prefix" % len(found))


def deb_contents(deb):
    listing = run(["dpkg-deb", "-c", deb]).stdout
    return {line.split()[-1].lstrip(".") for line in listing.splitlines()
            if not line.startswith("d")}


def expected_depends():
    """The packages of the libraries the binaries name (DT_NEEDED), found through the
    loader and dpkg: what Depends must list."""
    packages = set()
    for binary in (BINARY, CORRELATE):
        paths = debian_libs.resolved(binary)
        packages |= {debian_libs.package_of(paths[soname])
                     for soname in debian_libs.needed(binary)}
    return packages


def check_lintian(deb):
    if not shutil.which("lintian"):
        check(False, "lintian is missing (it is in .ci/install-deps test)")
        return
    result = run(["lintian", "--display-info", "--no-tag-display-limit", deb])
    hints = [line for line in result.stdout.splitlines() if re.match(r"^[EWIPX]: ", line)]
    for line in hints:
        print("lintian " + line)
    errors = [line for line in hints if line.startswith("E: ")]
    check(not errors, "lintian reports %d error(s)" % len(errors))
    check(result.returncode in (0, 2) and (errors or result.returncode == 0),
          "lintian did not run: %d %s" % (result.returncode, result.stderr))
    print("lintian: %d errors, %d warnings" % (len(errors), sum(
        1 for line in hints if line.startswith("W: "))))


def check_man_files(contents):
    """Every packaged path the man pages' FILES sections name is in the package."""
    for name in MAN_PAGES.values():
        with open(os.path.join(SOURCE, name)) as f:
            page = f.read()
        section = page.split(".SH FILES", 1)[1].split(".SH ", 1)[0].replace("\\-", "-")
        for path in re.findall(r"^\.I (/\S+)$", section, re.M):
            if path.startswith("/usr/"):
                check(any(p == path or p.startswith(path) for p in contents),
                      "%s's FILES names %s, which the package lacks" % (name, path))


def test_deb():
    version = project_version()
    arch = run(["dpkg", "--print-architecture"]).stdout.strip()
    out = os.path.join(WORK, "deb")
    made = run(["cpack", "-G", "DEB", "-B", out], cwd=BUILD)
    deb = os.path.join(out, "op25b-watch_%s_%s.deb" % (version, arch))
    if not check(made.returncode == 0 and os.path.isfile(deb),
                 "cpack made no %s: %s%s" % (os.path.basename(deb), made.stdout, made.stderr)):
        return
    contents = deb_contents(deb)
    want = set()
    for path in expected_files():
        want.add(("/" if path.startswith("etc/") else "/usr/") + path)
    check(contents == want, "the package holds %s more, %s fewer than expected" %
          (sorted(contents - want), sorted(want - contents)))
    field = lambda name: run(["dpkg-deb", "-f", deb, name]).stdout.strip()
    depends = field("Depends")
    print("Depends: " + depends)
    named = {re.split(r"[\s(]", d.strip())[0] for d in depends.split(",") if d.strip()}
    expected = expected_depends()
    check(named == expected, "Depends names %s, the binary's libraries come from %s" %
          (sorted(named), sorted(expected)))
    check(field("Package") == "op25b-watch" and field("Version") == version and
          field("Architecture") == arch and field("Section") == "net",
          "control fields: %s %s %s %s" % (field("Package"), field("Version"),
                                           field("Architecture"), field("Section")))
    control = os.path.join(WORK, "control")
    run(["dpkg-deb", "-e", deb, control])
    conffiles = os.path.join(control, "conffiles")
    listed = open(conffiles).read().split() if os.path.exists(conffiles) else []
    check(listed == ["/etc/logrotate.d/op25b-watch"],
          "conffiles lists %s, not the logrotate file" % listed)
    unpacked = os.path.join(WORK, "unpacked")
    run(["dpkg-deb", "-x", deb, unpacked])
    strip_check = run(["file", os.path.join(unpacked, "usr/bin/op25b-watch")]).stdout
    check(", stripped" in strip_check, "the packaged binary is not stripped: " + strip_check)
    unit = open(os.path.join(unpacked, "usr/lib/systemd/system/op25b-watch@.service")).read()
    check("ExecStart=/usr/bin/op25b-watch " in unit, "the packaged unit does not run "
          "/usr/bin/op25b-watch")
    check_postinst(unpacked, control)
    check_man_files(contents)
    check_lintian(deb)


def check_postinst(unpacked, control):
    """postinst configure, run on the unpacked package as its root (DPKG_ROOT), makes the
    unit's user and spool directory."""
    if os.geteuid() != 0 or not shutil.which("systemd-sysusers"):
        print("NOTE: postinst not run (needs root and systemd)")
        return
    os.makedirs(os.path.join(unpacked, "etc"), exist_ok=True)
    done = run(["sh", os.path.join(control, "postinst"), "configure"],
               env=dict(os.environ, DPKG_ROOT=unpacked))
    check(done.returncode == 0, "postinst configure: %d %s" % (done.returncode, done.stderr))
    with open(os.path.join(unpacked, "etc/passwd")) as f:
        check(re.search(r"^op25b:", f.read(), re.M), "postinst made no user op25b")
    check(os.path.isdir(os.path.join(unpacked, "var/spool/op25b-watch")),
          "postinst made no /var/spool/op25b-watch")


ROFF_ESCAPES = [(r"\\f[BIRP]", ""), (r"\\-", "-"), (r"\\\(aq", "'"), (r"\\e", r"\\\\"),
                (r"\\&", ""), (r"\\\|", "")]


def roff_text(text):
    """The words of roff source lines: macros joined as they print, escapes resolved."""
    words = []
    for line in text.splitlines():
        match = re.match(r"^\.(B|I|BR|IR|RB|RI|BI|IB)\s+(.*)$", line)
        if match:
            args = re.findall(r'"([^"]*)"|(\S+)', match.group(2))
            args = [a or b for a, b in args]
            line = (" " if len(match.group(1)) == 1 else "").join(args)
        elif line.startswith("."):
            continue
        words.append(line)
    text = " ".join(words)
    for pattern, plain in ROFF_ESCAPES:
        text = re.sub(pattern, plain, text)
    return re.sub(r"\s+", " ", text).strip()


def option_names(spec):
    return re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", spec)


def help_options(binary):
    """[(spec, description)] from --help: the option in the first 24 columns, its words
    after, continued on lines indented 24."""
    out = run([binary, "--help"]).stdout
    entries = []
    for line in out.splitlines()[1:]:
        if line.startswith(" " * 24) and entries:
            entries[-1][1] = (entries[-1][1] + " " + line.strip()).strip()
        elif re.match(r"^ {2}(-\w|    --)", line):
            if len(line) > 24 and line[23] == " " and line[24] != " ":
                entries.append([line[:24].strip(), line[24:].strip()])
            else:
                entries.append([line.strip(), ""])
    return [(spec, re.sub(r"\s+", " ", desc)) for spec, desc in entries]


def man_options(name):
    """[(tag, paragraph)] of the man page's OPTIONS section (.TP entries)."""
    with open(os.path.join(SOURCE, name)) as f:
        page = f.read()
    section = page.split("\n.SH OPTIONS\n", 1)[1].split("\n.SH ", 1)[0]
    entries = []
    for entry in section.split(".TP\n")[1:]:
        tag, _, body = entry.partition("\n")
        entries.append((roff_text(tag), roff_text(body)))
    return entries


def test_man():
    for binary, name in ((BINARY, MAN_PAGES["op25b-watch"]),
                         (CORRELATE, MAN_PAGES["op25b-correlate"])):
        check_man_page(binary, name)


def check_man_page(binary, page_name):
    helped, manned = help_options(binary), man_options(page_name)
    check(len(helped) > 15, "only %d options parsed from %s --help" % (len(helped), binary))
    by_option = {}
    for spec, text in manned:
        for name in option_names(spec):
            by_option[name] = (spec, text)
    helped_names = set()
    for spec, description in helped:
        names = option_names(spec)
        helped_names.update(names)
        entry = by_option.get(names[0])
        if not check(entry is not None,
                     "the man page's OPTIONS lacks %s (from --help)" % ", ".join(names)):
            continue
        check(entry[0] == spec, "the man page writes %r, --help %r" % (entry[0], spec))
        check(entry[1].lower().startswith(description.lower()),
              "the man page's %s does not start with --help's words %r: %r" %
              (names[0], description, entry[1][:len(description) + 20]))
    for name in sorted(set(by_option) - helped_names):
        check(False, "the man page's OPTIONS has %s, which --help lacks" % name)
    page = os.path.join(SOURCE, page_name)
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
    shown = run(["man", "--warnings", "-l", page], env=env)
    check(shown.returncode == 0 and not shown.stderr,
          "man --warnings -l: %d %s" % (shown.returncode, shown.stderr))
    check("OPTIONS" in shown.stdout, "man -l shows no OPTIONS")
    strict = run(["groff", "-man", "-Tutf8", "-ww", "-z", page], env=env)
    check(strict.returncode == 0 and not strict.stderr, "groff -ww: " + strict.stderr)
    print("%s: %d options in --help and the man page" % (page_name, len(helped)))


TESTS = {"install": test_install, "deb": test_deb, "man": test_man}
MAN_PAGES = {"op25b-watch": "docs/op25b-watch.8", "op25b-correlate": "docs/op25b-correlate.8"}


def main():
    global BINARY, CORRELATE, BUILD, SOURCE, WORK
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--correlate", required=True)
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--only", choices=sorted(TESTS), required=True)
    args = parser.parse_args()
    BINARY, BUILD = os.path.abspath(args.binary), os.path.abspath(args.build_dir)
    CORRELATE = os.path.abspath(args.correlate)
    SOURCE = os.path.abspath(args.source_dir)
    WORK = os.path.join(os.path.abspath(args.work_dir), args.only)
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    TESTS[args.only]()
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()

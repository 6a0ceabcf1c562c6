"""The shared libraries a binary runs with, told by the system rather than by the binary: the
dynamic loader says which file each library resolves to (ldd), dpkg which package holds
that file and at which version. Used by cli_test.py (--version) and packaging_test.py (the
.deb's Depends)."""
import os
import re
import subprocess


def needed(binary):
    """The sonames the binary names itself (its DT_NEEDED entries), in order."""
    out = subprocess.run(["objdump", "-p", binary], stdout=subprocess.PIPE, check=True,
                         universal_newlines=True).stdout
    return re.findall(r"^\s*NEEDED\s+(\S+)$", out, re.M)


def resolved(binary):
    """{soname: path} for every library the loader maps for the binary, as ldd says."""
    out = subprocess.run(["ldd", binary], stdout=subprocess.PIPE, check=True,
                         universal_newlines=True).stdout
    return dict(re.findall(r"^\s*(\S+) => (/\S+) \(", out, re.M))


def package_of(path):
    """The Debian package holding path (without :arch). With /usr merged, dpkg knows a
    file by one of its two names (/lib/... or /usr/lib/...), so both are asked."""
    candidates = [path, os.path.realpath(path)]
    for name in list(candidates):
        candidates.append(name[4:] if name.startswith("/usr/") else "/usr" + name)
    for name in candidates:
        result = subprocess.run(["dpkg-query", "-S", name], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, universal_newlines=True)
        if result.returncode == 0:
            return result.stdout.split(":")[0].strip()
    raise LookupError("no Debian package holds %s" % path)


def package_version(package):
    """The installed version of package, e.g. '1.10.3-1'."""
    return subprocess.run(["dpkg-query", "-W", "-f", "${Version}", package],
                          stdout=subprocess.PIPE, check=True,
                          universal_newlines=True).stdout.strip()


def upstream(version):
    """The upstream part of a Debian version: no epoch, no revision, no +dfsg or ~ suffix."""
    version = version.split(":", 1)[-1]
    version = version.rsplit("-", 1)[0] if "-" in version else version
    return re.split(r"[+~]", version)[0]


def same_version(a, b):
    """1.7.1 == 1.7.1 and 4.2 == 4.2.0: equal as dotted numbers, trailing zeros aside."""
    def parts(text):
        numbers = [int(n) for n in text.split(".")]
        while len(numbers) > 1 and numbers[-1] == 0:
            numbers.pop()
        return numbers
    return parts(a) == parts(b)

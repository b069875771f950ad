"""regionkit-probe: what `regionkit preflight` needs to know about a host, as one JSON line. Changes nothing.

Run by playbooks/preflight.yml through ansible.builtin.raw (no Ansible module, so that the Python itself is
one of the things checked), with the paths whose free space counts as arguments (regionkit_paths.root and
.data). Prints `REGIONKIT-PROBE {...}`:
    {"python": [3, 11, 2], "os": {"id", "version_id", "pretty_name"}, "user": {"uid", "passwordless_sudo"},
     "disk": [{"path", "checked", "device", "free_mb", "total_mb"}], "memory": {"total_mb", "available_mb"},
     "listeners": [{"address", "port", "pid", "process", "cmdline", "cwd"}], "timezone": "Asia/Jakarta"}
It reads /etc/os-release, /proc/meminfo, /proc/net/tcp{,6}, /proc/<pid>/{fd,comm,cmdline,cwd}, the time zone
link and statvfs; when not root it runs `sudo -n true`. Written for Python 3.5 and later, so that an old
Python is reported rather than crashing the probe.
"""
import json
import os
import socket
import subprocess
import sys

MARKER = "REGIONKIT-PROBE "


def os_release():
    fields = {}
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        try:
            with open(path) as handle:
                for line in handle:
                    key, sep, value = line.strip().partition("=")
                    if sep:
                        fields[key] = value.strip("\"'")
            break
        except OSError:
            continue
    return {"id": fields.get("ID"), "version_id": fields.get("VERSION_ID"), "pretty_name": fields.get("PRETTY_NAME")}


def user():
    uid = os.geteuid()
    sudo = None
    if uid != 0:
        try:
            sudo = subprocess.call(["sudo", "-n", "true"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, timeout=10) == 0
        except (OSError, subprocess.TimeoutExpired):
            sudo = False
    return {"uid": uid, "passwordless_sudo": sudo}


def disk(path):
    """Free space where `path` will live: at the path, or at its nearest existing parent."""
    checked = path
    while not os.path.exists(checked):
        checked = os.path.dirname(checked)
    stat = os.statvfs(checked)
    return {"path": path, "checked": checked, "device": os.stat(checked).st_dev,
            "free_mb": stat.f_bavail * stat.f_frsize // 2 ** 20, "total_mb": stat.f_blocks * stat.f_frsize // 2 ** 20}


def memory():
    values = {}
    with open("/proc/meminfo") as handle:
        for line in handle:
            key, _, rest = line.partition(":")
            values[key] = int(rest.split()[0]) // 1024
    return {"total_mb": values.get("MemTotal"), "available_mb": values.get("MemAvailable", values.get("MemFree"))}


def decode_address(text):
    raw = bytes.fromhex(text)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    return socket.inet_ntop(socket.AF_INET6, b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4)))


def listening_sockets():
    """inode -> [(address, port)] of the TCP sockets in LISTEN state (0A)."""
    sockets = {}
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as handle:
                lines = handle.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] != "0A":
                continue
            address, port = fields[1].rsplit(":", 1)
            sockets.setdefault(fields[9], []).append((decode_address(address), int(port, 16)))
    return sockets


def read(path, default=None):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return default


def process(pid):
    if pid is None:
        return {"pid": None, "process": None, "cmdline": None, "cwd": None}
    comm = read("/proc/%s/comm" % pid, b"").decode("utf-8", "replace").strip()
    cmdline = read("/proc/%s/cmdline" % pid, b"").replace(b"\0", b" ").decode("utf-8", "replace").strip()
    try:
        cwd = os.readlink("/proc/%s/cwd" % pid)
    except OSError:
        cwd = None
    return {"pid": int(pid), "process": comm or None, "cmdline": cmdline[:300] or None, "cwd": cwd}


def listeners():
    sockets = listening_sockets()
    owners = {}
    for pid in sorted((p for p in os.listdir("/proc") if p.isdigit()), key=int):
        try:
            fds = os.listdir("/proc/%s/fd" % pid)
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink("/proc/%s/fd/%s" % (pid, fd))
            except OSError:
                continue
            inode = target[len("socket:["):-1] if target.startswith("socket:[") else None
            if inode in sockets and inode not in owners:
                owners[inode] = pid
    found = []
    for inode, addresses in sockets.items():
        owner = process(owners.get(inode))
        for address, port in addresses:
            entry = {"address": address, "port": port}
            entry.update(owner)
            found.append(entry)
    return sorted(found, key=lambda e: (e["port"], e["address"]))


def timezone():
    """The zone libc uses (the /etc/localtime link), else what /etc/timezone names."""
    try:
        target = os.readlink("/etc/localtime")
        if "zoneinfo/" in target:
            return target.split("zoneinfo/", 1)[1]
    except OSError:
        pass
    named = read("/etc/timezone")
    return named.decode("utf-8", "replace").strip() or None if named else None


def main():
    facts = {"python": list(sys.version_info[:3]), "os": os_release(), "user": user(),
             "disk": [disk(p) for p in sys.argv[1:]], "memory": memory(), "listeners": listeners(),
             "timezone": timezone()}
    sys.stdout.write(MARKER + json.dumps(facts, sort_keys=True) + "\n")


main()

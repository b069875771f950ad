"""Sandbox hosts: local test servers on this machine, to rehearse a rollout and to test real deploys.

Each host is a network namespace on a private bridge plus its own mount, pid, uts and ipc namespaces, with an
overlayfs copy of `/` (upper layer on tmpfs) and its own sshd; its PID 1 is `data/sandbox-host.sh`. Nothing can
leave the machine: the hosts have no route beyond their subnet, the bridge does not forward, an `unreachable`
route guards the subnet, and regionkit only dials a sandbox address after checking that the kernel routes it
through the sandbox's bridge. Linux and root only. State lives in `/run/regionkit-sandbox/<name>/`.
"""

from __future__ import annotations

import fcntl
import ipaddress
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from signal import SIGKILL
from typing import TYPE_CHECKING, Any

from regionkit.atomic import write_atomic
from regionkit.errors import InputError, OperationFailed
from regionkit.resources import data_path

if TYPE_CHECKING:
    from regionkit.project.files import Project

STATE_ROOT = Path("/run/regionkit-sandbox")
DEFAULT_NAME = "default"
DEFAULT_SUBNET = "10.77.0.0/24"
MAX_HOSTS = 99
FIRST_HOST_OFFSET = 10  # hosts get .11, .12, ...; the bridge gets .1
GUARD_METRIC = 9999
SSH_PORT = 22
SSHD_TIMEOUT = 15.0
PRIVATE_RANGES = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]{0,6}$")  # so that rks-NAME-h99 fits Linux's 15-character link names
TOOLS_HINT = "install them with: apt-get install iproute2 util-linux openssh-server openssh-client"

_launchers: dict[str, list[subprocess.Popen]] = {}  # host launchers this process started, reaped by down()


@dataclass(frozen=True)
class SandboxHost:
    name: str
    address: str
    ssh_key: Path
    known_hosts: Path


@dataclass(frozen=True)
class SandboxState:
    """A sandbox that is up."""

    name: str
    subnet: str
    hosts: tuple[SandboxHost, ...]

    @property
    def directory(self) -> Path:
        return state_dir(self.name)

    @property
    def bridge(self) -> str:
        return _bridge(self.name)

    @property
    def ssh_key(self) -> Path:
        return self.directory / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.directory / "known_hosts"

    @property
    def ssh_config(self) -> Path:
        return self.directory / "ssh_config"

    def host(self, host_name: str) -> SandboxHost:
        for host in self.hosts:
            if host.name == host_name:
                return host
        raise InputError(f"sandbox {self.name} has no host {host_name}",
                         hint=f"its hosts: {', '.join(h.name for h in self.hosts)}")


@dataclass(frozen=True)
class HostStatus:
    name: str
    address: str
    sshd: bool


@dataclass(frozen=True)
class SandboxStatus:
    name: str
    up: bool
    subnet: str | None
    hosts: tuple[HostStatus, ...]
    leftovers: tuple[str, ...]  # namespaces and links of a crashed run: `down` removes them


def state_dir(name: str) -> Path:
    return STATE_ROOT / name


def up(n: int = 2, name: str = DEFAULT_NAME, subnet: str = DEFAULT_SUBNET) -> SandboxState:
    """Create `n` hosts and wait for their sshd. Anything failing (or Ctrl-C) removes all that was made."""
    _check_name(name)
    if not 1 <= n <= MAX_HOSTS:
        raise InputError(f"the number of hosts must be between 1 and {MAX_HOSTS}, not {n}")
    network = _parse_subnet(subnet, n)
    tools = _require_platform("ip", "ss", "unshare", "nsenter", "ssh-keygen", "sshd", "bash")
    with _machine_lock():
        directory = state_dir(name)
        if directory.exists():
            raise InputError(_already_up_message(name), hint=f"run `regionkit sandbox down --name {name}` first")
        leftovers = _leftovers(name)
        if leftovers:
            raise InputError(f"sandbox {name} was left behind by a crashed run ({', '.join(leftovers)})",
                             hint=f"run `regionkit sandbox down --name {name}` first")
        _check_subnet_free(network)
        directory.mkdir(mode=0o700)
        try:
            _write_state(directory, {"name": name, "subnet": str(network), "ready": False, "hosts": []})
            return _create(name, network, n, tools)
        except BaseException as exc:
            try:
                _remove(name)
            except Exception as cleanup:
                raise OperationFailed(f"{exc or type(exc).__name__}; removing what was made failed too: {cleanup}",
                                      hint=f"run `regionkit sandbox down --name {name}`") from exc
            raise


def down(name: str = DEFAULT_NAME) -> bool:
    """Remove the sandbox: its processes, namespaces, links, guard route and state. Also after a crashed run.
    Returns whether there was anything to remove."""
    _check_name(name)
    _require_platform("ip", "ss")
    with _machine_lock():
        return _remove(name)


def load(name: str = DEFAULT_NAME) -> SandboxState:
    """The sandbox as `up` recorded it; InputError when it is not up."""
    _check_name(name)
    _require_platform()
    record = _read_state(state_dir(name))
    if not record or not record.get("ready"):
        raise InputError(f"sandbox {name} is not up", hint=f"run `regionkit sandbox up --name {name}`")
    return _state_from_record(record)


def status(name: str = DEFAULT_NAME) -> SandboxStatus:
    """The sandbox's hosts and whether each one's sshd accepts a TCP connection (dialled only through the
    sandbox's bridge)."""
    _check_name(name)
    _require_platform("ip")
    record = _read_state(state_dir(name))
    if not record or not record.get("ready"):
        return SandboxStatus(name, False, record.get("subnet") if record else None, (), tuple(_leftovers(name)))
    state = _state_from_record(record)
    hosts = tuple(HostStatus(h.name, h.address, _routes_via(h.address, state.bridge) and _sshd_answers(h.address))
                  for h in state.hosts)
    return SandboxStatus(name, True, state.subnet, hosts, ())


def exec_in(name: str, host: str, argv: list[str], *, input: str | None = None,
            timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run `argv` inside a sandbox host (all its namespaces, its root), capturing text output; never raises
    for the command's own exit status."""
    nsenter = _require_platform("nsenter")["nsenter"]
    state = load(name)
    state.host(host)
    pid = _host_pid1(_netns(name, host))
    if pid is None:
        raise OperationFailed(f"sandbox host {host} is not running",
                              hint=f"run `regionkit sandbox status --name {name}`")
    return subprocess.run([nsenter, "-t", str(pid), "-a", "--", *argv], input=input,
                          capture_output=True, text=True, timeout=timeout)


def region_hosts(state: SandboxState) -> list[dict[str, Any]]:
    """The hosts as `region.yaml` entries: one host is both web and db; with more, the first is the db."""
    entries = []
    for index, host in enumerate(state.hosts):
        roles = ["web", "db"] if len(state.hosts) == 1 else ["db"] if index == 0 else ["web"]
        entries.append({"name": host.name, "address": host.address, "port": SSH_PORT, "user": "root",
                        "roles": roles, "ssh_key": str(host.ssh_key), "known_hosts": str(host.known_hosts)})
    return entries


def is_sandbox_host(entry: Any) -> bool:
    """Whether a `region.yaml` host entry is a sandbox host (its SSH key lives in a sandbox's state)."""
    return isinstance(entry, dict) and str(entry.get("ssh_key") or "").startswith(f"{STATE_ROOT}/")


def write_to_project(project: Project, state: SandboxState) -> list[dict[str, Any]]:
    """Put the sandbox's hosts into the project's `region.yaml`, replacing earlier sandbox hosts."""
    entries = region_hosts(state)
    project.write_hosts(entries, replaces=is_sandbox_host)
    return entries


# --- checks ---------------------------------------------------------------------------------------------------

def _check_name(name: str) -> None:
    if not NAME_PATTERN.match(name):
        raise InputError(f"--name {name!r}: expected 1 to 7 lowercase letters and digits, starting with a letter")


def _parse_subnet(subnet: str, n: int) -> ipaddress.IPv4Network:
    try:
        network = ipaddress.IPv4Network(subnet)
    except ValueError as exc:
        raise InputError(f"--subnet {subnet}: {exc}", hint="for example 10.77.0.0/24") from None
    if not any(network.subnet_of(private) for private in PRIVATE_RANGES):
        raise InputError(f"--subnet {subnet}: not a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)")
    if FIRST_HOST_OFFSET + n >= network.num_addresses - 1:
        raise InputError(f"--subnet {subnet}: no room for {n} hosts from .{FIRST_HOST_OFFSET + 1}",
                         hint="use a larger subnet such as a /24")
    return network


def _require_platform(*tools: str) -> dict[str, str]:
    """The paths of `tools`, after checking that this is Linux and we are root."""
    if sys.platform != "linux":
        raise OperationFailed(f"sandbox hosts need Linux (network namespaces, overlayfs), not {sys.platform}")
    if os.geteuid() != 0:
        raise OperationFailed("sandbox hosts need root (they create network namespaces and mounts)",
                              hint="run regionkit as root")
    paths = {tool: _which(tool) for tool in tools}
    missing = [tool for tool, path in paths.items() if path is None]
    if missing:
        raise OperationFailed(f"sandbox hosts need {', '.join(missing)}, not found on this machine", hint=TOOLS_HINT)
    return {tool: path for tool, path in paths.items() if path is not None}


def _which(tool: str) -> str | None:
    return shutil.which(tool, path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin:/usr/bin:/bin")


def _check_subnet_free(network: ipaddress.IPv4Network) -> None:
    """Refuse a subnet that overlaps any route or address of this machine (another sandbox's included)."""
    for route in _ip_json("-4", "route", "show", "table", "all"):
        destination = route.get("dst")
        if destination in (None, "default") or not ipaddress.IPv4Network(destination, strict=False).overlaps(network):
            continue
        used_by = " ".join(filter(None, (route.get("type"), destination, route.get("dev") and f"dev {route['dev']}")))
        hint = "choose another --subnet; every sandbox needs its own"
        if route.get("type") == "unreachable" and route.get("metric") == GUARD_METRIC:
            hint += (f" (a guard route no sandbox owns any more goes with: ip route del unreachable {destination} "
                     f"metric {GUARD_METRIC})")
        raise InputError(f"--subnet {network} is already in use on this machine ({used_by})", hint=hint)


def _routes_via(address: str, bridge: str) -> bool:
    return _route_to(address) == f"dev {bridge}"


def _route_to(address: str) -> str:
    """How the kernel would send a packet to `address`: `dev X`, `via GATEWAY dev X`, or `unreachable`."""
    result = subprocess.run(["ip", "-j", "route", "get", address], capture_output=True, text=True)
    routes = json.loads(result.stdout) if result.returncode == 0 and result.stdout.strip() else []
    if not routes:
        return "unreachable"
    route = routes[0]
    kind = route.get("type")
    return " ".join(filter(None, (kind if kind != "unicast" else None,
                                  route.get("gateway") and f"via {route['gateway']}", f"dev {route.get('dev')}")))


def _assert_routed(address: str, bridge: str) -> None:
    route = _route_to(address)
    if route != f"dev {bridge}":
        raise OperationFailed(f"the route to sandbox address {address} goes {route}, not through the sandbox bridge "
                              f"{bridge}; refusing to send anything there")


def _sshd_answers(address: str) -> bool:
    try:
        with socket.create_connection((address, SSH_PORT), timeout=0.5):
            return True
    except OSError:
        return False


# --- creation -------------------------------------------------------------------------------------------------

def _create(name: str, network: ipaddress.IPv4Network, n: int, tools: dict[str, str]) -> SandboxState:
    directory = state_dir(name)
    bridge = _bridge(name)
    hosts = tuple(SandboxHost(f"h{i}", str(network.network_address + FIRST_HOST_OFFSET + i),
                              directory / "id_ed25519", directory / "known_hosts") for i in range(1, n + 1))
    state = SandboxState(name, str(network), hosts)
    for host in hosts:
        (directory / "hosts" / host.name / "seed" / "etc" / "ssh").mkdir(parents=True)
        (directory / "hosts" / host.name / "layer").mkdir()
    (directory / "logs").mkdir()
    _generate_keys(tools["ssh-keygen"], [(state.ssh_key, "regionkit-sandbox")]
                   + [(_seed(state, h) / "etc" / "ssh" / "ssh_host_ed25519_key", h.name) for h in hosts])

    commands = [f"route add unreachable {network} metric {GUARD_METRIC}",  # first: if all else goes, this stays
                f"link add {bridge} type bridge",
                f"addr add {network.network_address + 1}/{network.prefixlen} dev {bridge}"]
    for host in hosts:
        netns = _netns(name, host.name)
        commands += [f"netns add {netns}", f"link add {netns} type veth peer name eth0 netns {netns}",
                     f"link set {netns} master {bridge} up"]
    _ip_batch(commands)
    Path(f"/proc/sys/net/ipv4/conf/{bridge}/forwarding").write_text("0")  # never route the hosts' packets on
    ipv6 = Path(f"/proc/sys/net/ipv6/conf/{bridge}/disable_ipv6")
    if ipv6.exists():  # absent when this machine has no IPv6 at all
        ipv6.write_text("1")
    _ip_batch([f"link set {bridge} up"])
    for host in hosts:
        _ip_batch([f"addr add {host.address}/{network.prefixlen} dev eth0", "link set eth0 up", "link set lo up"],
                  netns=_netns(name, host.name))
    for host in hosts:  # before any packet: every address must go through the bridge
        _assert_routed(host.address, bridge)

    _write_seeds(state)
    _write_client_files(state)
    launchers = _launchers.setdefault(name, [])
    for host in hosts:
        launchers.append(_launch(state, host, tools))
    _wait_for_sshd(state, launchers)
    _write_state(directory, _state_record(state))
    return state


def _generate_keys(keygen: str, keys: list[tuple[Path, str]]) -> None:
    running = [(path, subprocess.Popen([keygen, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       text=True)) for path, comment in keys]
    for path, process in running:
        output, _ = process.communicate()
        if process.returncode != 0:
            raise OperationFailed(f"ssh-keygen failed for {path}: {output.strip()}")


def _seed(state: SandboxState, host: SandboxHost) -> Path:
    """The files laid over the host's root by its PID 1."""
    return state.directory / "hosts" / host.name / "seed"


def _write_seeds(state: SandboxState) -> None:
    authorized = state.ssh_key.with_suffix(".pub").read_text()
    hosts_file = "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n" + "".join(
        f"{h.address} {h.name}\n" for h in state.hosts)
    for host in state.hosts:
        seed = _seed(state, host)
        (seed / "etc" / "hostname").write_text(f"{host.name}\n")
        (seed / "etc" / "hosts").write_text(hosts_file)
        (seed / "etc" / "resolv.conf").write_text("nameserver 127.0.0.1\n")  # no DNS query leaves the host
        (seed / "etc" / "machine-id").write_text(f"{uuid.uuid4().hex}\n")
        (seed / "etc" / "ssh" / "sshd_config").write_text(_sshd_config(state, host))
        ssh_dir = seed / "root" / ".ssh"
        ssh_dir.mkdir(parents=True)
        (ssh_dir / "authorized_keys").write_text(authorized)
        for path, mode in ((seed / "root", 0o700), (ssh_dir, 0o700), (ssh_dir / "authorized_keys", 0o600)):
            path.chmod(mode)


def _sshd_config(state: SandboxState, host: SandboxHost) -> str:
    return (f"# sandbox {state.name}, host {host.name}: written by `regionkit sandbox up`\n"
            f"Port {SSH_PORT}\n"
            "HostKey /etc/ssh/ssh_host_ed25519_key\n"
            "PermitRootLogin prohibit-password\n"
            "PasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
            "UsePAM yes\n"
            "PidFile /run/sshd.pid\n"
            "X11Forwarding no\n"
            "PrintMotd no\n"
            "AcceptEnv LANG LC_*\n"
            "Subsystem sftp internal-sftp\n")


def _write_client_files(state: SandboxState) -> None:
    """known_hosts pinning every host key, and an ssh_config: `ssh -F .../ssh_config h1`."""
    lines = []
    for host in state.hosts:
        key_type, key = (_seed(state, host) / "etc" / "ssh" / "ssh_host_ed25519_key.pub").read_text().split()[:2]
        lines.append(f"{host.address} {key_type} {key}\n")
    state.known_hosts.write_text("".join(lines))
    config = [f"# sandbox {state.name}: ssh -F {state.ssh_config} HOST\n"]
    config += [f"Host {host.name}\n  HostName {host.address}\n" for host in state.hosts]
    config.append(f"Host *\n  User root\n  Port {SSH_PORT}\n  IdentityFile {state.ssh_key}\n  IdentitiesOnly yes\n"
                  f"  UserKnownHostsFile {state.known_hosts}\n  StrictHostKeyChecking yes\n")
    state.ssh_config.write_text("".join(config))


def _launch(state: SandboxState, host: SandboxHost, tools: dict[str, str]) -> subprocess.Popen:
    """Start the host's PID 1 in its network namespace and fresh mount, uts, ipc and pid namespaces."""
    argv = [tools["nsenter"], f"--net=/run/netns/{_netns(state.name, host.name)}", "--",
            tools["unshare"], "--mount", "--uts", "--ipc", "--pid", "--fork", "--kill-child=SIGKILL",
            "--propagation", "private", "--",
            tools["bash"], str(data_path("sandbox-host.sh")), host.name,
            str(state.directory / "hosts" / host.name), tools["sshd"]]
    with open(_log(state, host), "wb") as log:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _log(state: SandboxState, host: SandboxHost) -> Path:
    return state.directory / "logs" / f"{host.name}.log"


def _wait_for_sshd(state: SandboxState, launchers: list[subprocess.Popen]) -> None:
    deadline = time.monotonic() + SSHD_TIMEOUT
    pending = dict(zip(state.hosts, launchers, strict=False))
    while pending:
        for host, launcher in list(pending.items()):
            if launcher.poll() is not None:
                lines = _log(state, host).read_text(errors="replace").strip().splitlines()
                raise OperationFailed(f"sandbox host {host.name} stopped while starting: "
                                      f"{lines[-1] if lines else f'exit status {launcher.returncode}'}",
                                      hint=f"see {_log(state, host)}")
            if _sshd_answers(host.address):
                del pending[host]
        if pending and time.monotonic() > deadline:
            raise OperationFailed(f"sshd of {', '.join(h.name for h in pending)} did not answer within "
                                  f"{SSHD_TIMEOUT:g} s", hint=f"see the logs in {state.directory / 'logs'}")
        if pending:
            time.sleep(0.02)


# --- removal --------------------------------------------------------------------------------------------------

def _remove(name: str) -> bool:
    directory = state_dir(name)
    try:
        record = _read_state(directory)
    except OperationFailed:  # a damaged state.json: the bridge still tells the subnet
        record = None
    bridge = _bridge(name)
    subnet = record.get("subnet") if record else _bridge_subnet(bridge)
    netnses = _host_netnses(name)
    found = bool(netnses or record or directory.exists() or Path("/sys/class/net", bridge).exists())
    _kill_everything_in(netnses)
    for launcher in _launchers.pop(name, []):
        launcher.wait(timeout=5)
    commands = []
    for netns in netnses:
        if Path("/sys/class/net", netns).exists():
            commands.append(f"link del {netns}")  # the host end of the veth, at once: `netns del` is lazy
        if Path("/run/netns", netns).exists():
            commands.append(f"netns del {netns}")
    if Path("/sys/class/net", bridge).exists():
        commands.append(f"link del {bridge}")
    if subnet:  # without the guard route, a socket still open to a host would send its next packet out
        subprocess.run(["ss", "-K", "-t", "-u", "dst", subnet], capture_output=True)
    if subnet and _guard_route_exists(subnet):
        commands.append(f"route del unreachable {subnet} metric {GUARD_METRIC}")
    if commands:
        _ip_batch(commands)
    if directory.exists():
        _remove_state_dir(directory)
    return found


def _kill_everything_in(netnses: list[str]) -> None:
    """SIGKILL every process in the hosts' network namespaces: all were started by the sandbox (killing a host's
    PID 1 also ends its pid namespace)."""
    deadline = time.monotonic() + 5
    while pids := [pid for netns in netnses for pid in _netns_pids(netns)]:
        if time.monotonic() > deadline:
            raise OperationFailed(f"processes {', '.join(map(str, pids))} in {', '.join(netnses)} do not stop")
        for pid in pids:
            try:
                os.kill(pid, SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.02)


def _netns_pids(netns: str) -> list[int]:
    """The processes whose network namespace is `/run/netns/<netns>` (what `ip netns pids` finds)."""
    try:
        target = os.stat(f"/run/netns/{netns}")
    except FileNotFoundError:
        return []
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                found = os.stat(f"/proc/{entry.name}/ns/net")
            except OSError:
                continue
            if (found.st_dev, found.st_ino) == (target.st_dev, target.st_ino):
                pids.append(int(entry.name))
    return pids


def _host_pid1(netns: str) -> int | None:
    """The machine's pid of the host's PID 1: the process in its network namespace that is pid 1 in its own."""
    for pid in _netns_pids(netns):
        try:
            status_text = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        match = re.search(r"^NSpid:\s+(.*)$", status_text, re.M)
        if match and len(ids := match.group(1).split()) > 1 and ids[-1] == "1":
            return pid
    return None


def _host_netnses(name: str) -> list[str]:
    """The sandbox's host network namespaces and host-side links that exist on this machine (same names)."""
    prefix = f"{_prefix(name)}-h"
    found: set[str] = set()
    for folder in ("/run/netns", "/sys/class/net"):
        if os.path.isdir(folder):
            found.update(entry for entry in os.listdir(folder) if entry.startswith(prefix))
    return sorted(found, key=lambda n: int(n[len(prefix):]) if n[len(prefix):].isdigit() else 0)


def _leftovers(name: str) -> list[str]:
    """The sandbox's namespaces, links and bridge that exist on this machine."""
    bridge = _bridge(name)
    return _host_netnses(name) + ([bridge] if Path("/sys/class/net", bridge).exists() else [])


def _bridge_subnet(bridge: str) -> str | None:
    if not Path("/sys/class/net", bridge).exists():
        return None
    for link in _ip_json("-4", "addr", "show", "dev", bridge):
        for address in link.get("addr_info", []):
            return str(ipaddress.IPv4Interface(f"{address['local']}/{address['prefixlen']}").network)
    return None


def _guard_route_exists(subnet: str) -> bool:
    return any(route.get("dst") == subnet and route.get("metric") == GUARD_METRIC
               for route in _ip_json("-4", "route", "show", "type", "unreachable"))


def _remove_state_dir(directory: Path) -> None:
    """rm -rf the state folder, refusing if anything is mounted inside it (a host's /dev would be the machine's)."""
    inside = f"{directory}/"
    with open("/proc/self/mounts") as mounts:
        mounted = [line.split()[1] for line in mounts if line.split()[1].startswith(inside)]
    if mounted:
        raise OperationFailed(f"{mounted[0]} is mounted inside {directory}; not removing it",
                              hint=f"unmount it, then run `regionkit sandbox down --name {directory.name}` again")
    shutil.rmtree(directory)


# --- names, state and small helpers ---------------------------------------------------------------------------

def _prefix(name: str) -> str:
    return f"rks-{name}"


def _bridge(name: str) -> str:
    return f"{_prefix(name)}-br"


def _netns(name: str, host: str) -> str:
    """The host's network namespace, also the name of its veth's end on the bridge."""
    return f"{_prefix(name)}-{host}"


@contextmanager
def _machine_lock() -> Iterator[None]:
    """One `up` or `down` at a time on this machine, so that no two sandboxes can claim the same subnet."""
    STATE_ROOT.mkdir(mode=0o700, exist_ok=True)
    with open(STATE_ROOT / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _already_up_message(name: str) -> str:
    record = _read_state(state_dir(name))
    if record and record.get("ready"):
        count = len(record.get("hosts", []))
        return f"sandbox {name} is already up ({count} host{'s' if count != 1 else ''} on {record.get('subnet')})"
    return f"sandbox {name} is half made (a crashed or running `sandbox up`)"


def _state_record(state: SandboxState) -> dict[str, Any]:
    return {"name": state.name, "subnet": state.subnet, "ready": True, "bridge": state.bridge,
            "ssh_key": str(state.ssh_key), "known_hosts": str(state.known_hosts), "ssh_config": str(state.ssh_config),
            "hosts": [{"name": h.name, "address": h.address, "netns": _netns(state.name, h.name)}
                      for h in state.hosts]}


def _state_from_record(record: dict[str, Any]) -> SandboxState:
    directory = state_dir(record["name"])
    return SandboxState(record["name"], record["subnet"], tuple(
        SandboxHost(h["name"], h["address"], directory / "id_ed25519", directory / "known_hosts")
        for h in record["hosts"]))


def _read_state(directory: Path) -> dict[str, Any] | None:
    try:
        return json.loads((directory / "state.json").read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise OperationFailed(f"{directory / 'state.json'}: unreadable ({exc})",
                              hint=f"run `regionkit sandbox down --name {directory.name}`") from None


def _write_state(directory: Path, record: dict[str, Any]) -> None:
    write_atomic(directory / "state.json", json.dumps(record, indent=2) + "\n", mode=0o600)


def _ip_batch(commands: list[str], netns: str | None = None) -> None:
    argv = ["ip", *(["-n", netns] if netns else []), "-batch", "-"]
    result = subprocess.run(argv, input="\n".join(commands) + "\n", capture_output=True, text=True)
    if result.returncode != 0:
        raise OperationFailed(f"ip{f' -n {netns}' if netns else ''}: {' '.join(result.stderr.split())}")


def _ip_json(*args: str) -> list[dict[str, Any]]:
    result = subprocess.run(["ip", "-j", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise OperationFailed(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return json.loads(result.stdout or "[]")

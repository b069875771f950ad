"""`regionkit sandbox up|down|status`: local test servers to rehearse a rollout on (Linux, root)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from regionkit.cli.options import JsonOption
from regionkit.cli.output import print_result, stdout, styled
from regionkit.errors import InputError
from regionkit.project.files import Project
from regionkit.provision import sandbox

if TYPE_CHECKING:
    from rich.text import Text

app = typer.Typer(help="Local test servers to rehearse a rollout on (Linux, root; no traffic leaves the machine).",
                  no_args_is_help=True)

NameOption = Annotated[str, typer.Option(
    "--name", help="Which sandbox: several can run side by side, each on its own --subnet.")]


@app.command("up")
def up(
    count: Annotated[int, typer.Argument(metavar="N", help="How many hosts: 1 is web and db; with more the first "
                                                            "is db and the others web.")] = 2,
    name: NameOption = "default",
    subnet: Annotated[str, typer.Option(help="Private IPv4 subnet for the hosts (.11, .12, ...; the bridge is .1).")
                      ] = "10.77.0.0/24",
    no_project: Annotated[bool, typer.Option(
        "--no-project", help="Only create the servers, even inside a region project.")] = False,
) -> None:
    """Start N test servers with their own sshd; inside a region project, write them into region.yaml's hosts."""

    project = None if no_project else _project_here()
    started = time.monotonic()
    state = sandbox.up(count, name=name, subnet=subnet)
    try:
        entries = sandbox.write_to_project(project, state) if project else sandbox.region_hosts(state)
    except BaseException:
        sandbox.down(name)
        raise
    stdout.print(styled(("up", "green"), f" sandbox {name}: {len(state.hosts)} host"
                        f"{'s' if len(state.hosts) != 1 else ''} on {state.subnet} in "
                        f"{time.monotonic() - started:.1f} s"))
    _hosts_table([(e["name"], e["address"], ", ".join(e["roles"]) if project else "", "yes") for e in entries],
                 roles=project is not None)
    if project:
        stdout.print(f"{project.profile_path}: hosts {', '.join(e['name'] for e in entries)} written "
                     "(earlier sandbox hosts replaced, other hosts kept)")
        stdout.print("  next: regionkit validate, then regionkit deploy")
    stdout.print(f"  log in: ssh -F {state.ssh_config} {state.hosts[0].name}")
    stdout.print("  remove: regionkit sandbox down" + ("" if name == "default" else f" --name {name}"))


@app.command("down")
def down(name: NameOption = "default") -> None:
    """Remove the sandbox's servers, network and state; also cleans up after a crashed run. Idempotent."""

    if sandbox.down(name):
        stdout.print(styled(("removed", "green"), f" sandbox {name}"))
    else:
        stdout.print(f"sandbox {name} is not up: nothing to remove")


@app.command("status")
def status(name: NameOption = "default", json: JsonOption = False) -> None:
    """List the sandbox's hosts and whether each one's sshd answers."""

    report = sandbox.status(name)

    def human() -> None:

        if not report.up:
            stdout.print(f"sandbox {name} is not up")
            if report.leftovers:
                stdout.print(f"  left behind by a crashed run: {', '.join(report.leftovers)}; "
                             f"run: regionkit sandbox down --name {name}")
            return
        stdout.print(f"sandbox {name} on {report.subnet}")
        _hosts_table([(h.name, h.address, "", "yes" if h.sshd else styled(("no", "red"))) for h in report.hosts],
                     roles=False)

    print_result(json, {"name": report.name, "up": report.up, "subnet": report.subnet,
                    "ssh_config": str(sandbox.state_dir(name) / "ssh_config") if report.up else None,
                    "hosts": [{"name": h.name, "address": h.address, "sshd": h.sshd} for h in report.hosts],
                    "leftovers": list(report.leftovers)}, human)


def _project_here():
    """The region project around the current folder, or None outside one."""

    try:
        return Project.locate()
    except InputError:
        return None


def _hosts_table(rows: list[tuple[str, str, str, str | Text]], roles: bool) -> None:
    table = Table()
    for column in ("host", "address", *(["roles"] if roles else []), "sshd"):
        table.add_column(column, no_wrap=True)
    for host, address, host_roles, sshd in rows:
        table.add_row(host, address, *([host_roles] if roles else []), sshd)
    stdout.print(table)

"""The `regionkit` command: a thin typer layer over the core library.

Heavy modules (pydantic models, jinja2, ansible) are imported inside the commands that need them, so that
`regionkit --help` stays fast.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

from regionkit import __version__
from regionkit.cli import agreements as agreements_cli
from regionkit.cli import apps as apps_cli
from regionkit.cli import artifacts as artifacts_cli
from regionkit.cli import audit as audit_cli
from regionkit.cli import bundle as bundle_cli
from regionkit.cli import catalog as catalog_cli
from regionkit.cli import deploy as deploy_cli
from regionkit.cli import init as init_cli
from regionkit.cli import preflight as preflight_cli
from regionkit.cli import project as project_cli
from regionkit.cli import render as render_cli
from regionkit.cli import sandbox as sandbox_cli
from regionkit.cli import secrets as secrets_cli
from regionkit.cli import status as status_cli
from regionkit.cli.output import report_error, report_internal_error
from regionkit.errors import RegionkitError


class _Group(TyperGroup):
    """Turns every RegionkitError raised by a command into one clear line and its exit code."""

    def invoke(self, ctx: typer.Context):  # type: ignore[override]  # typer hands its commands a typer.Context
        try:
            return super().invoke(ctx)
        except RegionkitError as exc:
            report_error(exc)
            raise typer.Exit(exc.exit_code) from None
        except (typer.Exit, typer.Abort, TyperException):
            raise
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
        except BrokenPipeError:  # e.g. `regionkit catalog list | head`: the reader has gone, nothing to say
            os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
            raise typer.Exit(0) from None
        except Exception as exc:  # noqa: BLE001 - last line of defence: never a bare traceback
            if os.environ.get("REGIONKIT_DEBUG"):
                raise
            report_internal_error(exc)
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=_Group,
    name="regionkit",
    help="Roll out Kota Tangerang's shared e-government apps to a region.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("init")(init_cli.init)
app.add_typer(catalog_cli.app, name="catalog")
app.add_typer(apps_cli.app, name="apps")
app.add_typer(artifacts_cli.app, name="artifacts")
app.command("validate")(project_cli.validate)
app.command("render")(render_cli.render)
app.command("plan")(deploy_cli.plan)
app.command("preflight")(preflight_cli.preflight)
app.command("deploy")(deploy_cli.deploy)
app.command("undeploy")(deploy_cli.undeploy)
app.command("status")(status_cli.status)
app.add_typer(bundle_cli.app, name="bundle")
app.add_typer(secrets_cli.app, name="secrets")
app.add_typer(sandbox_cli.app, name="sandbox")
app.add_typer(audit_cli.app, name="audit")
app.add_typer(agreements_cli.app, name="agreements")
app.command("schema")(project_cli.schema)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"regionkit {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[bool, typer.Option(
        "--version", callback=_show_version, is_eager=True, help="Print the version and exit.")] = False,
    directory: Annotated[Path | None, typer.Option(
        "-C", help="Run as if regionkit was started in this directory.", metavar="DIR")] = None,
) -> None:
    """Roll out Kota Tangerang's shared e-government apps to a region."""
    if directory is not None:
        try:
            os.chdir(directory)
        except OSError as exc:
            raise typer.BadParameter(f"cannot enter {directory}: {exc.strerror}", param_hint="-C") from None


def main() -> None:
    app()

"""Ansible stdout callback: one JSON object per line for each play, task result and the final stats.

regionkit reads these lines to show progress per host and app and to keep the run record. Tasks say what they
are about through two task variables, never through their names: `regionkit_app` (the id of the app the task
works on; the playbooks set it, templated, where they loop over apps) and `regionkit_phase` (a marker such as
`recorded`, see regionkit/provision/runspec.py). Events carry them as `app` and `phase`. Results of tasks with `no_log`
arrive here already censored by Ansible; nothing else is echoed beyond a short message.
"""

from __future__ import annotations

import functools
import json
import sys

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: regionkit_events
type: stdout
short_description: JSON lines for regionkit
description: One JSON object per line for plays, task results and stats.
"""

MESSAGE_LIMIT = 2000


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "regionkit_events"

    def _emit(self, event: dict) -> None:
        sys.stdout.write(json.dumps(event, default=str) + "\n")
        sys.stdout.flush()

    def v2_playbook_on_play_start(self, play):
        self._emit({"event": "play", "name": play.get_name()})

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._emit({"event": "task", "name": task.get_name(), **_about(task)})

    def v2_runner_on_ok(self, result):
        status = "changed" if result._result.get("changed") else "ok"
        self._emit(self._result(result, status))

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._emit(self._result(result, "ignored" if ignore_errors else "failed"))

    def v2_runner_on_skipped(self, result):
        self._emit(self._result(result, "skipped"))

    def v2_runner_on_unreachable(self, result):
        self._emit(self._result(result, "unreachable"))

    def v2_playbook_on_stats(self, stats):
        hosts = {host: stats.summarize(host) for host in sorted(stats.processed)}
        self._emit({"event": "stats", "hosts": hosts})

    def _result(self, result, status: str) -> dict:
        task = result._task
        event = {"event": "result", "status": status, "host": result._host.get_name(), "task": task.get_name(),
                 "action": task.action, **_about(task)}
        data = result._result
        if status in ("failed", "unreachable", "ignored"):
            if data.get("_ansible_no_log") or data.get("censored"):
                event["msg"] = "(output hidden: the task handles secrets)"
            else:
                parts = [str(data.get("msg") or "")]
                for key in ("stderr", "stdout"):
                    if data.get(key):
                        parts.append(str(data[key]))
                event["msg"] = "\n".join(p for p in parts if p)[:MESSAGE_LIMIT]
        if status == "changed" and data.get("diff") and not data.get("_ansible_no_log"):
            event["diff"] = True
        return event


def _about(task) -> dict:
    """{"app": the task's `regionkit_app` or None, and "phase": its `regionkit_phase` when it has one}, each
    rendered with the task's variables (the loop variable of an include is among them)."""
    try:
        variables = task.get_vars()
    except Exception:  # noqa: BLE001 - some task kinds cannot compute their vars here; nothing to say then
        variables = {}
    about = {"app": _rendered(variables, "regionkit_app")}
    phase = _rendered(variables, "regionkit_phase")
    if phase is not None:
        about["phase"] = phase
    return about


def _rendered(variables: dict, name: str) -> str | None:
    """The variable `name` as a string rendered with `variables`; None when unset, not a string once rendered, or
    not renderable here (a variable it names is not among the task's own, as on an include before it loops)."""
    value = variables.get(name)
    if value is None:
        return None
    from ansible.template import Templar

    try:
        value = Templar(loader=_loader(), variables=variables).template(value)
    except Exception:  # noqa: BLE001 - undefined variables and the like: the task says nothing then
        return None
    return str(value) if isinstance(value, str) and value else None


@functools.cache
def _loader():
    from ansible.parsing.dataloader import DataLoader

    return DataLoader()

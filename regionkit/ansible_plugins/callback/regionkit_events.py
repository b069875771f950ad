"""Ansible stdout callback: one JSON object per line for each play, task result and the final stats.

regionkit reads these lines to show progress per host and app and to keep the run record. A result is
attributed to an app through the `app` variable that the playbook's per-app loop sets. Results of tasks with
`no_log` arrive here already censored by Ansible; nothing else is echoed beyond a short message.
"""

from __future__ import annotations

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
        self._emit({"event": "task", "name": task.get_name(), "app": _app_of(task)})

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
                 "action": task.action, "app": _app_of(task)}
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


def _app_of(task) -> str | None:
    """The id of the app this task works on, from the playbook's per-app loop variable `app`."""
    try:
        app = task.get_vars().get("app")
    except Exception:  # noqa: BLE001 - some task kinds cannot compute their vars here; no app then
        return None
    return app.get("id") if isinstance(app, dict) else None

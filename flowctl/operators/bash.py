"""BashOperator: runs a command with `bash -c`, streaming its output into the task log."""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from flowctl.baseoperator import BaseOperator
from flowctl.exceptions import FlowctlError, SkipTask


class BashCommandFailed(FlowctlError):
    """The command exited with a code that is neither 0 nor a skip code."""


class BashOperator(BaseOperator):
    """Exit 0 succeeds, a `skip_on_exit_code` (default 99) skips, anything else fails.
    The last line of stdout is the XCom value. The command runs in `cwd`, or else in a fresh temporary
    folder removed when it ends (as in Airflow), never in the scheduler's working directory."""

    template_fields = ("bash_command", "env", "cwd")
    template_fields_renderers = {"bash_command": "bash", "env": "json"}
    template_ext = (".sh", ".bash")
    ui_color = "#f0ede4"

    def __init__(
        self,
        *,
        bash_command: str,
        env: Mapping[str, str] | None = None,
        append_env: bool = False,
        output_encoding: str = "utf-8",
        skip_on_exit_code: int | Iterable[int] | None = 99,
        cwd: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.bash_command = bash_command
        self.env = dict(env) if env is not None else None
        self.append_env = append_env
        self.output_encoding = output_encoding
        codes = [] if skip_on_exit_code is None else skip_on_exit_code
        self.skip_on_exit_code = [codes] if isinstance(codes, int) else list(codes)
        self.cwd = cwd

    def _environment(self, context: Mapping[str, Any]) -> dict[str, str]:
        if self.env is None:
            env = dict(os.environ)
        else:
            env = {**os.environ, **self.env} if self.append_env else dict(self.env)
        env.update(context_environment(context))
        return env

    def execute(self, context: dict[str, Any]) -> Any:
        if self.cwd is not None and not os.path.isdir(self.cwd):
            raise BashCommandFailed(f"cwd {self.cwd!r} is not a directory")
        with working_directory(self.cwd) as folder:
            return run_streaming(
                ["bash", "-c", self.bash_command],
                env=self._environment(context),
                cwd=folder,
                encoding=self.output_encoding,
                on_line=print,
                check_exit=self._check_exit,
            )

    def _check_exit(self, code: int) -> None:
        if code in self.skip_on_exit_code:
            raise SkipTask(f"bash command exited with {code}: skipping")
        if code != 0:
            raise BashCommandFailed(f"bash command failed: it exited with code {code}")


@contextlib.contextmanager
def working_directory(cwd: str | None) -> Iterator[str]:
    """`cwd` itself, or a new empty temporary folder removed afterwards, whatever the command left in it."""
    if cwd is not None:
        yield cwd
        return
    with tempfile.TemporaryDirectory(prefix="flowctltmp", ignore_cleanup_errors=True) as folder:
        yield folder


def run_streaming(
    argv: list[str],
    *,
    env: Mapping[str, str],
    cwd: str | None,
    encoding: str,
    on_line: Callable[[str], Any],
    check_exit: Callable[[int], None],
) -> str | None:
    """Run a command, hand each output line to `on_line` as it comes, return the last line."""
    last_line: str | None = None
    with subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=dict(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    ) as process:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.decode(encoding, errors="replace").rstrip("\n")
            on_line(line)
            last_line = line
        code = process.wait()
    check_exit(code)
    return last_line


def context_environment(context: Mapping[str, Any]) -> dict[str, str]:
    """FLOWCTL_CTX_* variables that tell a shell command which task instance it belongs to."""
    values = {
        "FLOWCTL_CTX_DAG_ID": getattr(context.get("dag"), "dag_id", None),
        "FLOWCTL_CTX_TASK_ID": getattr(context.get("task"), "task_id", None),
        "FLOWCTL_CTX_RUN_ID": context.get("run_id"),
        "FLOWCTL_CTX_LOGICAL_DATE": context.get("ts"),
        "FLOWCTL_CTX_TRY_NUMBER": getattr(context.get("ti"), "try_number", None),
    }
    return {name: str(value) for name, value in values.items() if value is not None}


class _BashDecoratedOperator(BashOperator):
    """The operator behind `@task.bash`: the function returns the command to run."""

    custom_operator_name = "@task.bash"

    def __init__(
        self,
        *,
        python_callable: Callable[..., str],
        op_args: Any = None,
        op_kwargs: Any = None,
        **kwargs: Any,
    ):
        super().__init__(bash_command="", **kwargs)
        self.python_callable = python_callable
        self.op_args = list(op_args or [])
        self.op_kwargs = dict(op_kwargs or {})

    template_fields = ("bash_command", "env", "cwd", "op_args", "op_kwargs")

    def execute(self, context: dict[str, Any]) -> Any:
        from flowctl.operators.python import context_arguments

        kwargs = {**self.op_kwargs, **context_arguments(self.python_callable, context, self.op_kwargs)}
        command = self.python_callable(*self.op_args, **kwargs)
        if not isinstance(command, str) or not command.strip():
            raise BashCommandFailed(f"@task.bash {self.task_id!r} must return a non-empty command string")
        # As in Airflow, the returned command is a template too (it may use {{ ds }}, params, macros...).
        from flowctl.templating import make_environment, render_template

        self.bash_command = render_template(command, context, make_environment(self.dag), template_ext=())
        return super().execute(context)

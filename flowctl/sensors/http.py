"""HttpSensor: call an HTTP endpoint until it answers as wanted."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flowctl.exceptions import DagDefinitionError
from flowctl.operators.python import context_arguments
from flowctl.sensors.base import BaseSensorOperator, PokeReturnValue

log = logging.getLogger(__name__)


class HttpSensor(BaseSensorOperator):
    """Send `method` (GET) to `endpoint` on connection `http_conn_id` every poke. An answer with a status in
    `response_error_codes_allowlist` (404 by default) means "not yet"; another 4xx/5xx, or no answer,
    fails the try (retried if it has retries). Otherwise the sensor is done — or, with `response_check`,
    when `response_check(response, <context keys it names>)` returns true (or a done PokeReturnValue).
    `request_params` is the query string of a GET (the body otherwise); `headers` are added;
    `extra_options` (timeout, verify, ...) go to HttpHook.run."""

    template_fields = ("endpoint", "request_params", "headers")
    ui_color = "#e6f1f2"

    def __init__(
        self,
        *,
        endpoint: str,
        http_conn_id: str = "http_default",
        method: str = "GET",
        request_params: Mapping[str, Any] | None = None,
        request_kwargs: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        response_error_codes_allowlist: Iterable[str | int] | None = None,
        response_check: Callable[..., bool | PokeReturnValue] | None = None,
        extra_options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if response_check is not None and not callable(response_check):
            raise DagDefinitionError(f"sensor {self.task_id!r}: response_check must be callable")
        self.endpoint = endpoint
        self.http_conn_id = http_conn_id
        self.method = method
        self.request_params = dict(request_params or {})
        self.request_kwargs = dict(request_kwargs or {})
        self.headers = dict(headers or {})
        allowlist = ("404",) if response_error_codes_allowlist is None else response_error_codes_allowlist
        if not all(str(code).isdigit() for code in allowlist):
            raise DagDefinitionError(f"sensor {self.task_id!r}: response_error_codes_allowlist must hold status codes")
        self.response_error_codes_allowlist = {int(code) for code in allowlist}
        self.response_check = response_check
        self.extra_options = dict(extra_options or {})

    def poke(self, context: dict[str, Any]) -> bool | PokeReturnValue:
        from flowctl.hooks.http import HttpError, HttpHook

        hook = HttpHook(method=self.method, http_conn_id=self.http_conn_id)
        log.info("Poking %s", self.endpoint)
        try:
            response = hook.run(
                self.endpoint,
                data=self.request_params,
                headers=self.headers,
                extra_options=self.extra_options,
                **self.request_kwargs,
            )
        except HttpError as exc:
            if exc.status_code in self.response_error_codes_allowlist:
                log.info("HTTP %s: not there yet", exc.status_code)
                return False
            raise
        if self.response_check is None:
            return True
        result = self.response_check(response, **_context_for(self.response_check, context))
        return result if isinstance(result, PokeReturnValue) else bool(result)


def _context_for(function: Callable[..., Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """The context keys `function` names after its first parameter (the response)."""
    first = next(iter(inspect.signature(function).parameters), None)
    return context_arguments(function, context, [first] if first else [])

"""HttpOperator: call an endpoint of the service an `http` connection names; the answer goes to XCom."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from flowctl.baseoperator import BaseOperator
from flowctl.exceptions import DagDefinitionError, FailTask
from flowctl.hooks.http import METHODS
from flowctl.operators.python import context_arguments

DEFAULT_MAX_PAGES = 1000


class HttpOperator(BaseOperator):
    """Sends `method` to `endpoint` (templated) with `data` (templated: the query string of a GET, the body
    otherwise) and `headers`, and returns the response text — or what `response_filter(response)` makes
    of it.

    `response_check(response)` returning False fails the task. `pagination_function(response)` returns
    the next request's changes (`endpoint`, `data`, `headers`, `extra_options`; dicts are merged over
    the first request's) or None to stop; then the checks, the filter and the XCom get the list of every
    page's response. Both callables may also name context keys (`ti`, `ds`, ...) as extra arguments.
    `max_pages` stops a pagination function that never returns None.
    """

    template_fields = ("endpoint", "data", "headers")
    template_fields_renderers = {"headers": "json", "data": "py"}
    ui_color = "#f4a460"

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        method: str = "POST",
        data: Mapping[str, Any] | str | None = None,
        headers: Mapping[str, str] | None = None,
        pagination_function: Callable[..., Any] | None = None,
        response_check: Callable[..., bool] | None = None,
        response_filter: Callable[..., Any] | None = None,
        extra_options: Mapping[str, Any] | None = None,
        request_kwargs: Mapping[str, Any] | None = None,
        http_conn_id: str = "http_default",
        log_response: bool = False,
        auth_type: Callable[..., Any] | None = None,
        retry_args: Mapping[str, Any] | None = None,
        max_pages: int = DEFAULT_MAX_PAGES,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if method.upper() not in METHODS:
            raise DagDefinitionError(f"task {self.task_id!r}: method {method!r} is not one of {sorted(METHODS)}")
        self.endpoint = endpoint
        self.method = method.upper()
        self.data = data if data is not None else {}
        self.headers = dict(headers or {})
        self.pagination_function = pagination_function
        self.response_check = response_check
        self.response_filter = response_filter
        self.extra_options = dict(extra_options or {})
        self.request_kwargs = dict(request_kwargs or {})
        self.http_conn_id = http_conn_id
        self.log_response = log_response
        self.auth_type = auth_type
        self.retry_args = dict(retry_args) if retry_args else None
        self.max_pages = max_pages

    @property
    def hook(self) -> Any:
        from flowctl.hooks.http import HttpHook

        if getattr(self, "_hook", None) is None:
            self._hook = HttpHook(method=self.method, http_conn_id=self.http_conn_id, auth_type=self.auth_type)
        return self._hook

    def execute(self, context: dict[str, Any]) -> Any:
        first = {
            "endpoint": self.endpoint,
            "data": self.data,
            "headers": self.headers,
            "extra_options": self.extra_options,
        }
        response = self._call(first)
        responses = self._paginate(response) if self.pagination_function else response
        return self.process_response(context, responses)

    def process_response(self, context: dict[str, Any], response: Any) -> Any:
        """Log, check and filter the response (or the list of pages); what this returns goes to XCom."""
        texts = [page.text for page in response] if isinstance(response, list) else response.text
        if self.log_response:
            self.log_text(texts)
        if self.response_check is not None and not _call_with_context(self.response_check, response, context):
            raise FailTask(f"task {self.task_id!r}: response_check returned False")
        if self.response_filter is not None:
            return _call_with_context(self.response_filter, response, context)
        return texts

    def log_text(self, texts: Any) -> None:
        for text in texts if isinstance(texts, list) else [texts]:
            print(text)

    def _call(self, request: Mapping[str, Any]) -> Any:
        if self.retry_args:
            return self.hook.run_with_advanced_retry(self.retry_args, **request, **self.request_kwargs)
        return self.hook.run(**request, **self.request_kwargs)

    def _paginate(self, response: Any) -> list[Any]:
        pages = [response]
        while changes := self.pagination_function(response):  # type: ignore[misc]
            if len(pages) >= self.max_pages:
                raise FailTask(
                    f"task {self.task_id!r}: pagination_function asked for more than max_pages={self.max_pages} pages"
                )
            response = self._call(self._next_request(changes))
            pages.append(response)
        return pages

    def _next_request(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """The first request with `changes` applied: dicts merged (changes win), anything else replaced."""
        data = changes.get("data")
        if isinstance(self.data, dict) and isinstance(data, dict):
            data = {**self.data, **data}
        return {
            "endpoint": changes.get("endpoint") or self.endpoint,
            "data": data or self.data,
            "headers": {**self.headers, **(changes.get("headers") or {})},
            "extra_options": {**self.extra_options, **(changes.get("extra_options") or {})},
        }


def _call_with_context(function: Callable[..., Any], response: Any, context: Mapping[str, Any]) -> Any:
    """`function(response, **<context keys it names>)`, as Airflow calls response_check and response_filter."""
    parameters = list(inspect.signature(function).parameters.values())
    first = [parameters[0].name] if parameters and parameters[0].kind is not inspect.Parameter.VAR_KEYWORD else []
    return function(response, **context_arguments(function, context, first))

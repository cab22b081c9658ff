"""HttpHook: requests to the service an `http` connection names — base URL, auth, headers, timeouts, retries.

The connection gives the base URL (`host` may carry its scheme, `http://127.0.0.1:8000`; otherwise
`schema` is the scheme, http by default, and `port` is added), basic auth from login and password, and
in its extra JSON request options (`timeout`, `retries`, `retry_backoff`, `verify`, `proxies`, `cert`,
`allow_redirects`, `max_redirects`, `trust_env`, `stream`, `check_response`) and headers (every other
key, or the keys of a nested `headers` object).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

from flowctl.connection import Connection
from flowctl.hooks.base import BaseHook, HookError, is_true

if TYPE_CHECKING:
    import requests

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
OPTION_KEYS = frozenset(
    {
        "timeout",
        "retries",
        "retry_backoff",
        "retry_max_backoff",
        "verify",
        "verify_ssl",
        "proxies",
        "proxy",
        "cert",
        "allow_redirects",
        "max_redirects",
        "trust_env",
        "stream",
        "check_response",
        "headers",
    }
)
_TENACITY_KEYS = frozenset(
    {"stop", "wait", "retry", "before", "after", "before_sleep", "reraise", "retry_error_callback"}
)
_BODY_EXCERPT = 500


class HttpError(HookError):
    """The server answered with an error status (4xx or 5xx); `response` is the answer."""

    def __init__(self, message: str, *, status_code: int, response: Any) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.response = response


class HttpRequestError(HookError):
    """The request got no answer: refused, reset, timed out, or a bad URL."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """`retries` more tries after the first, for connection errors, timeouts and `statuses`; waiting
    `backoff` seconds before the first retry and twice as long before each next one (at most
    `max_backoff`, or what the server's Retry-After asks for within that)."""

    retries: int = 0
    backoff: float = 1.0
    max_backoff: float = 60.0
    statuses: frozenset[int] = RETRYABLE_STATUSES

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> RetryPolicy:
        unknown = sorted(set(args) - {"retries", "backoff", "max_backoff", "statuses"})
        if unknown:
            raise HookError(f"unknown retry arguments {unknown}: use retries, backoff, max_backoff, statuses")
        policy = cls(
            retries=int(args.get("retries", 0)),
            backoff=float(args.get("backoff", 1.0)),
            max_backoff=float(args.get("max_backoff", 60.0)),
            statuses=frozenset(int(code) for code in args.get("statuses", RETRYABLE_STATUSES)),
        )
        if policy.retries < 0 or policy.backoff < 0 or policy.max_backoff < 0:
            raise HookError("retries, backoff and max_backoff must not be negative")
        return policy

    def delay_before(self, retry: int, retry_after: str | None = None) -> float:
        """Seconds to wait before retry number `retry` (1 for the first)."""
        if retry_after and retry_after.strip().isdigit():
            return min(float(retry_after), self.max_backoff)
        return min(self.backoff * 2 ** (retry - 1), self.max_backoff)


class HttpHook(BaseHook):
    """`HttpHook(method="GET", http_conn_id="api").run("items", data={"page": 2})` returns the
    `requests.Response`; a 4xx/5xx answer raises HttpError unless `extra_options={"check_response": False}`."""

    conn_name_attr = "http_conn_id"
    default_conn_name = "http_default"
    conn_type = "http"
    hook_name = "HTTP"
    default_timeout: ClassVar[float] = 60.0

    def __init__(
        self,
        method: str = "POST",
        http_conn_id: str = default_conn_name,
        auth_type: Callable[..., Any] | None = None,
        *,
        retries: int | None = None,
        retry_backoff: float | None = None,
        timeout: float | None = None,
    ) -> None:
        super().__init__()
        self.method = method.upper()
        if self.method not in METHODS:
            raise HookError(f"HTTP method {method!r} is not one of {', '.join(sorted(METHODS))}")
        self.http_conn_id = http_conn_id
        self.auth_type = auth_type
        self.retries, self.retry_backoff, self.timeout = retries, retry_backoff, timeout
        self.base_url = ""
        self._session: requests.Session | None = None
        self._connection_options: dict[str, Any] = {}

    # the session

    def get_conn(self, headers: Mapping[str, str] | None = None) -> requests.Session:
        """A new session set up from the connection (base URL, auth, headers, TLS and proxy options)."""
        import requests
        from requests.auth import HTTPBasicAuth

        conn = self.connection
        self.base_url = base_url(conn)
        options, extra_headers = split_extra(conn)
        session = requests.Session()
        if conn.login:
            session.auth = (self.auth_type or HTTPBasicAuth)(conn.login, conn.password or "")
        elif self.auth_type is not None:
            session.auth = self.auth_type()
        session.headers.update(extra_headers)
        session.headers.update(headers or {})
        if "verify" in options or "verify_ssl" in options:
            session.verify = _verify(options.get("verify", options.get("verify_ssl")))
        session.proxies = dict(options.get("proxies") or options.get("proxy") or {})
        session.cert = options.get("cert")
        session.max_redirects = int(options.get("max_redirects", session.max_redirects))
        session.trust_env = is_true(options.get("trust_env", True))
        self._connection_options = options
        return session

    def url_from_endpoint(self, endpoint: str | None) -> str:
        """The base URL and `endpoint` joined with exactly one slash between them."""
        if not self.base_url or not endpoint:
            return (self.base_url or "") + (endpoint or "")
        return self.base_url.rstrip("/") + "/" + endpoint.lstrip("/")

    # calls

    def run(
        self,
        endpoint: str | None = None,
        data: Mapping[str, Any] | str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        extra_options: Mapping[str, Any] | None = None,
        **request_kwargs: Any,
    ) -> requests.Response:
        """Send `method` to the endpoint: `data` is the query string of a GET, the body otherwise.
        `extra_options` (timeout, retries, retry_backoff, check_response, verify, stream, ...) override the
        connection's; `request_kwargs` go to `requests.Request` (json=, files=, ...)."""
        return self._run(endpoint, data, headers, extra_options, request_kwargs, policy=None)

    def run_with_advanced_retry(self, _retry_args: Mapping[str, Any], *args: Any, **kwargs: Any) -> requests.Response:
        """`run` with its own retry rules: {"retries", "backoff", "max_backoff", "statuses"}, or, when
        tenacity is installed, Airflow's tenacity arguments (`stop`, `wait`, `retry`, ...)."""
        if _TENACITY_KEYS & set(_retry_args):
            try:
                import tenacity
            except ImportError:
                raise HookError("retry_args holds tenacity arguments, and tenacity is not installed") from None
            return tenacity.Retrying(**_retry_args)(self.run, *args, **kwargs)
        policy = RetryPolicy.from_args(_retry_args)
        return self._run(*_run_arguments(args, kwargs), policy=policy)

    def check_response(self, response: requests.Response) -> None:
        """Raise HttpError for a 4xx or 5xx answer, with its status, URL and the start of its body."""
        if response.status_code < 400:
            return
        body = " ".join((response.text or "").split())[:_BODY_EXCERPT]
        self.log.error("HTTP error: %s %s from %s: %s", response.status_code, response.reason, response.url, body)
        message = f"HTTP {response.status_code} {response.reason} from {response.request.method} {response.url}"
        raise HttpError(message + (f": {body}" if body else ""), status_code=response.status_code, response=response)

    def test_connection(self) -> tuple[bool, str]:
        """HEAD the base URL (GET when HEAD is not allowed) within `test_timeout` seconds."""
        import requests

        try:
            session = self._shared_session()
            url = self.base_url
            response = session.head(url, timeout=self.test_timeout, allow_redirects=True)
            if response.status_code in (405, 501):
                response = session.get(url, timeout=self.test_timeout, stream=True)
                response.close()
        except (requests.RequestException, HookError) as exc:
            return False, f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        if response.status_code >= 400:
            return False, f"HTTP {response.status_code} {response.reason} from {url}"
        return True, f"HTTP {response.status_code} from {url}"

    # internals

    def _shared_session(self) -> requests.Session:
        """One session per hook, so a paginated call reuses its connection."""
        if self._session is None:
            self._session = self.get_conn()
        return self._session

    def _run(
        self,
        endpoint: str | None,
        data: Any,
        headers: Mapping[str, str] | None,
        extra_options: Mapping[str, Any] | None,
        request_kwargs: Mapping[str, Any],
        *,
        policy: RetryPolicy | None,
    ) -> requests.Response:
        session = self._shared_session()
        options = {**self._connection_options, **(extra_options or {})}
        policy = policy or self._retry_policy(options)
        return self._send(session, endpoint, data, headers, options, policy, request_kwargs)

    def _retry_policy(self, options: Mapping[str, Any]) -> RetryPolicy:
        retries = self.retries if self.retries is not None else options.get("retries", 0)
        backoff = self.retry_backoff if self.retry_backoff is not None else options.get("retry_backoff", 1.0)
        return RetryPolicy.from_args(
            {"retries": retries, "backoff": backoff, "max_backoff": options.get("retry_max_backoff", 60.0)}
        )

    def _timeout(self, options: Mapping[str, Any]) -> Any:
        if "timeout" not in options:
            return self.timeout if self.timeout is not None else self.default_timeout
        timeout = options["timeout"]  # None waits forever and a (connect, read) pair splits it, as in requests
        return float(timeout) if isinstance(timeout, str) else timeout

    def _send(
        self,
        session: requests.Session,
        endpoint: str | None,
        data: Any,
        headers: Mapping[str, str] | None,
        options: Mapping[str, Any],
        policy: RetryPolicy,
        request_kwargs: Mapping[str, Any],
    ) -> requests.Response:
        import requests

        url = self.url_from_endpoint(endpoint)
        body = {"params": data} if self.method == "GET" else {} if self.method == "HEAD" else {"data": data}
        request = requests.Request(self.method, url, headers=dict(headers or {}), **body, **request_kwargs)
        prepared = session.prepare_request(request)
        settings = session.merge_environment_settings(
            prepared.url,
            options.get("proxies") or {},
            is_true(options.get("stream", False)),
            _verify(options.get("verify", options.get("verify_ssl"))),
            options.get("cert"),
        )
        timeout = self._timeout(options)
        send = {**settings, "timeout": timeout, "allow_redirects": is_true(options.get("allow_redirects", True))}
        attempt = 0
        while True:
            attempt += 1
            started = time.monotonic()
            try:
                response = session.send(prepared, **send)
            except requests.RequestException as exc:
                problem = f"timed out after {timeout} s" if isinstance(exc, requests.Timeout) else "failed"
                error = HttpRequestError(f"{self.method} {url} {problem}: {' '.join(str(exc).split())}")
                if attempt > policy.retries:
                    raise error from exc
                self._wait_to_retry(policy, attempt, str(error), None)
                continue
            self.log.info(
                "%s %s -> %s (%.2f s)", self.method, prepared.url, response.status_code, time.monotonic() - started
            )
            if response.status_code in policy.statuses and attempt <= policy.retries:
                self._wait_to_retry(
                    policy, attempt, f"HTTP {response.status_code}", response.headers.get("Retry-After")
                )
                response.close()
                continue
            if is_true(options.get("check_response", True)):
                self.check_response(response)
            return response

    def _wait_to_retry(self, policy: RetryPolicy, attempt: int, problem: str, retry_after: str | None) -> None:
        delay = policy.delay_before(attempt, retry_after)
        self.log.warning("%s; retry %s of %s in %.2f s", problem, attempt, policy.retries, delay)
        time.sleep(delay)


def base_url(conn: Connection) -> str:
    """The connection's base URL, built as Airflow builds it: a host with a scheme is used as is (plus the
    port when it names none); otherwise `schema` (default http) + `://` + host + `:port`."""
    host = conn.host or ""
    if "://" in host:
        parts = urlsplit(host)
        if conn.port and parts.port is None:
            parts = parts._replace(netloc=f"{parts.netloc}:{conn.port}")
        url, scheme = urlunsplit(parts), parts.scheme
    else:
        scheme = conn.schema or "http"
        url = f"{scheme}://{host}" + (f":{conn.port}" if conn.port else "")
    if scheme.lower() not in ("http", "https"):
        raise HookError(
            f"connection {conn.conn_id!r}: URL scheme {scheme!r} is not http or https "
            "(an HTTP connection's schema is its scheme)"
        )
    return url


def split_extra(conn: Connection) -> tuple[dict[str, Any], dict[str, str]]:
    """The connection extra's request options, and its headers (every other key, plus `headers`)."""
    extra = conn.extra_dejson
    options = {key: value for key, value in extra.items() if key in OPTION_KEYS and key != "headers"}
    headers = {key: value for key, value in extra.items() if key not in OPTION_KEYS}
    nested = extra.get("headers") or {}
    if not isinstance(nested, dict):
        raise HookError(f"connection {conn.conn_id!r}: extra 'headers' must be an object of header names to values")
    headers.update(nested)
    for name, value in headers.items():
        if not isinstance(value, str):
            raise HookError(
                f"connection {conn.conn_id!r}: extra key {name!r} would be sent as a header but is not text; "
                f"request options are {', '.join(sorted(OPTION_KEYS))}"
            )
    return options, headers


def _verify(value: Any) -> Any:
    """TLS verification: a bool, or a CA bundle path; "true"/"false" from a URI are booleans."""
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
        return is_true(value)
    return value


def _run_arguments(args: Iterable[Any], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """`run`'s positional and keyword arguments as (endpoint, data, headers, extra_options, request_kwargs)."""
    names = ("endpoint", "data", "headers", "extra_options")
    values: dict[str, Any] = dict.fromkeys(names)
    values.update(zip(names, args, strict=False))
    for name in names:
        if name in kwargs:
            values[name] = kwargs.pop(name)
    return (*values.values(), kwargs)

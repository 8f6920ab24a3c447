"""JSON over HTTP for the history sources: rate limit, retries with backoff, circuit breaker.

One :class:`HttpJson` per source. Every request first waits for the source's
:class:`~core.feeds.reconnect.RateLimiter`; connection errors, HTTP 429 (and Binance's 418) and
5xx answers are retried with exponential backoff and jitter (a ``Retry-After`` header is honoured
when it asks for at most ``max_retry_after`` seconds; longer waits fail at once); each failed
attempt counts towards the :class:`~core.feeds.reconnect.CircuitBreaker`, and while the breaker is
open :meth:`HttpJson.get` raises :class:`~core.data.sources.base.SourceUnavailable` without
touching the network.

Other answers (2xx and 4xx) are returned to the source, which reads the venue's error body.

Secrets stay out of messages and logs: URLs are shown without their query string, exception texts
are summarised rather than quoted (``requests`` puts the full URL in them), and any value passed
as ``secrets`` is masked in whatever text is left.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from core.data.sources.base import SourceUnavailable
from core.errors import ConfigError
from core.feeds.reconnect import (
    Backoff,
    BackoffConfig,
    BreakerConfig,
    CircuitBreaker,
    RateLimiter,
)

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({418, 429, 500, 502, 503, 504})
"""Answers worth another try: rate limits (418 is Binance's auto-ban) and server errors."""


def _default_backoff() -> BackoffConfig:
    return BackoffConfig(initial=0.5, factor=2.0, cap=8.0, jitter=0.2)


def _default_breaker() -> BreakerConfig:
    return BreakerConfig(failures=5, cooldown=60.0)


@dataclass(frozen=True, slots=True)
class HttpPolicy:
    """How one source talks HTTP.

    Parameters
    ----------
    rate, per
        At most ``rate`` requests per ``per`` seconds (sliding window).
    max_retries
        Further attempts after a failed one (connection error, 429, 5xx).
    backoff
        Delays between attempts when the venue gives no ``Retry-After``.
    breaker
        Failed attempts in a row that open the circuit, and how long it stays open.
    timeout
        Seconds to wait for a connection and for each read.
    max_retry_after
        Longest ``Retry-After`` honoured by waiting; a longer one fails the request at once.
    """

    rate: int = 10
    per: float = 1.0
    max_retries: int = 3
    backoff: BackoffConfig = field(default_factory=_default_backoff)
    breaker: BreakerConfig = field(default_factory=_default_breaker)
    timeout: float = 10.0
    max_retry_after: float = 30.0

    def __post_init__(self) -> None:
        ok = (self.rate >= 1 and self.per > 0 and self.max_retries >= 0 and self.timeout > 0
              and self.max_retry_after >= 0 and self.breaker.failures >= 1)
        if not ok:
            raise ConfigError(
                f"HTTP policy needs rate >= 1, per > 0, max_retries >= 0, timeout > 0 and a "
                f"breaker of at least one failure; got rate={self.rate}, per={self.per}, "
                f"max_retries={self.max_retries}, timeout={self.timeout}.")


@dataclass(frozen=True, slots=True)
class JsonResponse:
    """A venue's answer: status, parsed JSON body (None when not JSON) and headers."""

    status: int
    body: Any
    headers: Mapping[str, str]


def show_url(url: str) -> str:
    """``url`` without its query string and fragment (where keys and tokens travel)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def mask(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every non-empty secret replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds asked for by a ``Retry-After`` header (seconds or an HTTP date); None if absent."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - now()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def describe_exception(exc: BaseException) -> str:
    """A short reason for a network exception that never quotes its text (which holds URLs)."""
    text = str(exc).lower()
    if isinstance(exc, requests.Timeout) or "timed out" in text:
        return "no answer in time"
    if "refused" in text:
        return "connection refused"
    if "resolve" in text or "name or service" in text or "nodename" in text:
        return "cannot resolve the host (no network or DNS)"
    if "remote end closed" in text or "aborted" in text or "reset" in text:
        return "the connection was dropped"
    if isinstance(exc, requests.RequestException):
        return f"connection failed ({type(exc).__name__})"
    return f"request failed ({type(exc).__name__})"


class _Retry(Exception):
    """One failed attempt: ``reason`` for people, ``delay`` from Retry-After (None: back off)."""

    def __init__(self, reason: str, delay: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.delay = reason, delay


class HttpJson:
    """GET JSON from one venue under a rate limit, with retries and a circuit breaker.

    Parameters
    ----------
    source
        The source's name, used in messages (``binance``).
    policy
        Limits, retries and breaker thresholds.
    session
        A ``requests`` session (a new one by default).
    sleep
        Wait function (tests keep the real one; delays are small there).
    clock
        Monotonic clock of the rate limiter and the breaker.
    rng
        Randomness of the backoff jitter.
    """

    def __init__(self, source: str, policy: HttpPolicy | None = None, *,
                 session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None) -> None:
        self.source = source
        self.policy = policy or HttpPolicy()
        self._session = session or requests.Session()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.limiter = RateLimiter(self.policy.rate, self.policy.per, clock)
        self.breaker = CircuitBreaker(self.policy.breaker, clock)
        self.last_failure = ""
        self._lock = threading.Lock()

    def refuse(self, reason: str) -> None:
        """Open the breaker at once: a refusal retrying cannot fix (a rejected API key)."""
        with self._lock:
            self.last_failure = reason
            self.breaker.trip()

    def get(self, url: str, *, params: Mapping[str, object] | None = None,
            headers: Mapping[str, str] | None = None,
            secrets: Iterable[str] = ()) -> JsonResponse:
        """GET ``url`` and parse its JSON body.

        Parameters
        ----------
        url
            Full URL; it may carry a query string of its own (a venue's ``next_url``).
        params, headers
            Query parameters and headers of the request.
        secrets
            Values masked in any message (API keys the caller put in ``params`` or ``headers``).

        Returns
        -------
        JsonResponse
            A 2xx answer with a JSON body, or any 4xx answer other than 418/429 (body None when
            it is not JSON).

        Raises
        ------
        SourceUnavailable
            When the breaker is open, or every attempt failed.
        ConfigError
            When ``url`` is not an http(s) URL.
        """
        secrets = tuple(secrets)
        self._check_breaker()
        backoff = Backoff(self.policy.backoff, self._rng)
        attempt = 0
        while True:
            self._wait_for_slot()
            try:
                response = self._attempt(url, params, headers, secrets)
            except _Retry as failure:
                reason = mask(failure.reason, secrets)
                opened = self._failed(reason)
                if opened or attempt >= self.policy.max_retries:
                    raise SourceUnavailable(self.source, self._final(reason, attempt)) from None
                delay = failure.delay if failure.delay is not None else backoff.next()
                if delay > self.policy.max_retry_after:
                    raise SourceUnavailable(
                        self.source, f"{reason}; asked to wait {delay:.0f} s") from None
                log.info("%s: %s; retrying in %.2f s", self.source, reason, delay)
                attempt += 1
                self._sleep(delay)
                continue
            with self._lock:
                self.breaker.success()
            return response

    # --- steps -----------------------------------------------------------------------------

    def _check_breaker(self) -> None:
        with self._lock:
            if self.breaker.allow():
                return
            wait, failures, last = self.breaker.retry_in(), self.breaker.failures, self.last_failure
        raise SourceUnavailable(
            self.source, f"not asked for another {wait:.0f} s after {failures} failed requests in "
                         f"a row (circuit open; last: {last or 'unknown'})")

    def _wait_for_slot(self) -> None:
        while True:
            with self._lock:
                wait = self.limiter.wait_time()
                if wait <= 0:
                    self.limiter.record()
                    return
            self._sleep(wait)

    def _attempt(self, url: str, params: Mapping[str, object] | None,
                 headers: Mapping[str, str] | None, secrets: tuple[str, ...]) -> JsonResponse:
        shown = show_url(url)
        try:
            raw = self._session.get(url, params=params, headers=headers,
                                    timeout=self.policy.timeout)
        except (requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema,
                requests.exceptions.InvalidURL):
            raise ConfigError(f"{self.source}: {shown} is not an http(s) URL; check the REST "
                              "URL setting.") from None
        except Exception as exc:  # noqa: BLE001 - every network failure is one failed attempt
            raise _Retry(f"{describe_exception(exc)} ({shown})") from None
        log.debug("%s GET %s -> %s", self.source, shown, raw.status_code)
        if raw.status_code in RETRY_STATUSES:
            delay = parse_retry_after(raw.headers.get("Retry-After"))
            what = ("rate limited" if raw.status_code in (418, 429)
                    else "server error")
            raise _Retry(f"{what} (HTTP {raw.status_code} from {shown})", delay)
        try:
            body = raw.json()
        except ValueError:
            body = None
        if body is None and 200 <= raw.status_code < 300:
            raise _Retry(f"an answer that is not JSON (HTTP {raw.status_code} from {shown})")
        if raw.status_code >= 500 or raw.status_code < 200:
            raise _Retry(f"unexpected HTTP {raw.status_code} from {shown}")
        return JsonResponse(raw.status_code, body, dict(raw.headers))

    def _failed(self, reason: str) -> bool:
        """Count one failed attempt; True when the breaker is now open."""
        with self._lock:
            self.last_failure = reason
            self.breaker.failure()
            return not self.breaker.allow()

    def _final(self, reason: str, retries: int) -> str:
        if not self.breaker.allow():
            return f"{reason}; circuit open for {self.breaker.retry_in():.0f} s"
        return f"{reason} (after {retries + 1} attempt{'s' if retries else ''})"

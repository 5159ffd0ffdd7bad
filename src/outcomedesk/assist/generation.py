"""A small client for any OpenAI-compatible chat-completions endpoint (Ollama, vLLM, llama.cpp server, a cloud
API), used to write ticket summaries and knowledge drafts grounded on tickets.

`ChatClient.complete(system, user)` POSTs both texts to `{url}/chat/completions` and returns the answer's text.
It guards the endpoint and the data sent to it:

- a timeout on connecting and on each read; every failure raises `GenerationError` with a message for people,
  and the caller falls back to the extractive path;
- a sliding window of `max_per_minute` calls per 60 s; a call over it is refused at once, never delayed;
- a circuit breaker: after `failures_to_open` consecutive failures (timeouts, connection errors, 5xx, other
  4xx than 429, garbage answers) calls are refused without a request for `open_seconds`, then one trial call
  is let through (half-open): its success closes the circuit, its failure opens it again;
- PII redaction (`redact`): e-mail addresses, phone numbers, IBANs, payment card numbers and IPv4 addresses
  in both texts become placeholders before anything leaves the process.

`from_settings()` builds the client from OUTCOMEDESK_ASSIST_LLM_* settings (None without a URL) and keeps one
client per configuration, so the rate limit and the breaker hold for the whole process.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from django.conf import settings

from outcomedesk.core.parsing import is_digits

log = logging.getLogger(__name__)

State = Literal["closed", "open", "half-open"]
WINDOW_SECONDS = 60.0


class GenerationError(RuntimeError):
    """The model gave no usable answer; the message says why, for people."""


class _ServerBusy(GenerationError):
    """HTTP 429: the endpoint is alive but refuses for now, so the breaker neither counts nor forgives it."""


@dataclass(frozen=True)
class GenerationConfig:
    """Where the endpoint is and how hard the client may use it; `url` is the base, e.g. http://127.0.0.1:11434/v1."""

    url: str
    model: str
    api_key: str = ""
    timeout: float = 20.0
    max_per_minute: int = 30
    failures_to_open: int = 3
    open_seconds: float = 60.0
    redact: bool = True
    max_tokens: int = 600
    temperature: float = 0.2


@dataclass(frozen=True)
class Completion:
    """The answer's text, the model that wrote it, how many PII items were redacted, and the seconds it took."""

    text: str
    model: str
    redactions: int
    seconds: float


# --- PII redaction ------------------------------------------------------------------------------------------

_EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")
# Country code, check digits, then the account in groups of four (spaced or not) and a short last group.
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\w|\.\d)")
# Dates are kept whole and out of the number search: 2026-12-05 has eight digits too.
_DATE = re.compile(r"(?<!\d)(?<!\d[./-])(?:\d{4}[-/]\d{1,2}[-/]\d{1,2}|\d{1,2}[./-]\d{1,2}[./-](?:\d{4}|\d{2}))"
                   r"(?!\d)(?![./-]\d)")
# A run of digit groups with single separators, an optional + and parentheses: (555) 123-4567, +31 (0)20 123 4567.
# Not inside a word or after a letter and a dash, so ticket numbers such as INC0001234 or INC-0001234 stay.
_NUMBER = re.compile(r"(?<![\w+])(?<!\d[./-])(?<![A-Za-z]-)(?:\+\s?)?(?:\(\d{1,5}\)\s?)?\d+"
                     r"(?:(?:[ ./-]|\s?\(\d{1,5}\)\s?)\d+)*(?!\w)")
_THOUSANDS = re.compile(r"[1-9]\d{0,2}(?P<sep>[ .])\d{3}(?:(?P=sep)\d{3})*")
_CARD_SHAPE = re.compile(r"[1-9][\d -]*")


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _iban_valid(candidate: str) -> bool:
    compact = candidate.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def _number_kind(candidate: str) -> str | None:
    """What a run of digit groups is: "card", "phone", or None (an amount, an id, a version, too few digits)."""
    digits = re.sub(r"\D", "", candidate)
    if 13 <= len(digits) <= 19 and _CARD_SHAPE.fullmatch(candidate) and _luhn(digits):
        return "card"
    if not 7 <= len(digits) <= 15 or _THOUSANDS.fullmatch(candidate):
        return None
    groups = candidate.split(".")
    # Only dots: a version (115.0.5790.171) or a decimal (3.14159265) unless every group dials like a phone's.
    if len(groups) > 1 and all(is_digits(g) for g in groups) and (
            any(len(g) == 1 for g in groups) or (len(groups) == 2 and not candidate.startswith("0"))):
        return None
    # A bare run of digits is more often an order or serial number than a phone, unless it dials like one.
    if is_digits(candidate) and not candidate.startswith("0") and len(digits) < 10:
        return None
    return "phone"


def _redact_numbers(text: str, counts: list[int]) -> str:
    def replace(match: re.Match[str]) -> str:
        kind = _number_kind(match.group())
        if kind is None:
            return match.group()
        counts[0] += 1
        return f"[{kind}]"

    return _NUMBER.sub(replace, text)


def _redact_iban(match: re.Match[str], counts: list[int]) -> str:
    # The pattern may take a following capitalised word as a last group: drop words until the checksum holds.
    words = match.group().split(" ")
    while words:
        found = " ".join(words)
        if _iban_valid(found):
            counts[0] += 1
            return "[iban]" + match.group()[len(found):]
        words.pop()
    return match.group()


def redact(text: str) -> tuple[str, int]:
    """The text with e-mail addresses, IBANs, IPv4 addresses, payment cards (Luhn-checked) and phone numbers
    replaced by [email], [iban], [ip], [card] and [phone], and how many were replaced.

    Dates (2026-12-05, 05.12.2026) and ticket numbers (INC0001234) are kept; so are digit runs that fail the
    card check and are too long for a phone number (more than 15 digits).
    """
    counts = [0]

    def count(placeholder: str) -> Callable[[re.Match[str]], str]:
        def replace(_: re.Match[str]) -> str:
            counts[0] += 1
            return placeholder
        return replace

    text = _EMAIL.sub(count("[email]"), text)
    text = _IBAN.sub(lambda m: _redact_iban(m, counts), text)
    text = _IPV4.sub(count("[ip]"), text)
    parts: list[str] = []
    start = 0
    for date in _DATE.finditer(text):
        parts += [_redact_numbers(text[start:date.start()], counts), date.group()]
        start = date.end()
    parts.append(_redact_numbers(text[start:], counts))
    return "".join(parts), counts[0]


# --- the client ---------------------------------------------------------------------------------------------

class ChatClient:
    """Chat completions from one endpoint, rate-limited, behind a circuit breaker; safe to share between threads."""

    def __init__(self, config: GenerationConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._calls: deque[float] = deque()
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def endpoint(self) -> str:
        return self.config.url.rstrip("/") + "/chat/completions"

    @property
    def state(self) -> State:
        with self._lock:
            return self._state(self._clock())

    def _state(self, now: float) -> State:
        if self._opened_at is None:
            return "closed"
        return "open" if now - self._opened_at < self.config.open_seconds else "half-open"

    def complete(self, system: str, user: str) -> Completion:
        """The model's answer to a system and a user message (both redacted first when `redact` is on)."""
        if not self.endpoint.startswith(("http://", "https://")):
            raise GenerationError(f"the language model URL {self.config.url!r} must start with http:// or https://")
        redactions = 0
        if self.config.redact:
            system, found_system = redact(system)
            user, found_user = redact(user)
            redactions = found_system + found_user
        payload = {
            "model": self.config.model,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "max_tokens": self.config.max_tokens,
            "temperature": self.config.temperature,
        }
        trial = self._admit()
        started = time.perf_counter()
        try:
            text, model = self._post(json.dumps(payload).encode())
        except _ServerBusy:
            self._settle(None, trial)
            raise
        except Exception as exc:
            self._settle(False, trial)
            log.warning("generation failed: %s", exc)
            raise
        self._settle(True, trial)
        return Completion(text=text, model=model, redactions=redactions, seconds=time.perf_counter() - started)

    def _admit(self) -> bool:
        """Let a call through or refuse it; True when it is the half-open circuit's trial call."""
        with self._lock:
            now = self._clock()
            state = self._state(now)
            if state == "open":
                wait = self.config.open_seconds - (now - (self._opened_at or now))
                raise GenerationError(f"circuit open: the language model failed {self._failures} times in a row;"
                                      f" no call for {wait:.0f} s more")
            if state == "half-open" and self._trial_running:
                raise GenerationError("circuit open: a trial call to the language model is under way")
            while self._calls and now - self._calls[0] >= WINDOW_SECONDS:
                self._calls.popleft()
            if len(self._calls) >= self.config.max_per_minute:
                raise GenerationError(f"rate limited: the language model takes at most {self.config.max_per_minute}"
                                      f" calls a minute from this process")
            self._calls.append(now)
            if state == "half-open":
                self._trial_running = True
                return True
            return False

    def _settle(self, success: bool | None, trial: bool) -> None:
        """Count the call's outcome for the breaker; None: neither a success nor a failure (HTTP 429)."""
        with self._lock:
            if trial:
                self._trial_running = False
            if success:
                self._failures, self._opened_at = 0, None
            elif success is False:
                self._failures += 1
                if trial or self._failures >= self.config.failures_to_open:
                    self._opened_at = self._clock()

    def _post(self, body: bytes) -> tuple[str, str]:
        url, timeout = self.endpoint, self.config.timeout
        headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": "outcomedesk"}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
        where = f"the language model at {url}"
        try:
            # The scheme was checked in complete(): only http and https get here.
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                raw: bytes = response.read()
        except urllib.error.HTTPError as exc:
            detail = _body_of(exc)
            hint = " (check OUTCOMEDESK_ASSIST_LLM_API_KEY)" if exc.code in (401, 403) else ""
            error = _ServerBusy if exc.code == 429 else GenerationError
            raise error(f"{where} answered HTTP {exc.code}{hint}: {detail}") from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise GenerationError(f"{where} did not answer within {timeout:g} s") from exc
            if isinstance(exc.reason, ConnectionRefusedError):
                raise GenerationError(f"{where} refused the connection: is the server running?") from exc
            raise GenerationError(f"{where} cannot be reached: {exc.reason}") from exc
        except TimeoutError as exc:
            raise GenerationError(f"{where} did not answer within {timeout:g} s") from exc
        except (http.client.HTTPException, OSError) as exc:
            raise GenerationError(f"{where} broke the connection: {exc!r}") from exc
        return _read_answer(raw, where, self.config.model)


def _body_of(exc: urllib.error.HTTPError) -> str:
    try:
        return exc.read().decode("utf-8", "replace")[:200]
    except (OSError, http.client.HTTPException, AttributeError):
        return ""


def _read_answer(raw: bytes, where: str, configured_model: str) -> tuple[str, str]:
    """The content of the first choice and the model named in the answer (else the configured one)."""
    try:
        answer: Any = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        preview = raw[:200].decode("utf-8", "replace")
        raise GenerationError(f"{where} did not answer with JSON: {preview!r}") from exc
    try:
        content = answer["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError) as exc:
        raise GenerationError(f"{where} answered JSON without choices[0].message.content: "
                              f"{json.dumps(answer)[:200]}") from exc
    if not isinstance(content, str):
        raise GenerationError(f"{where} answered a {type(content).__name__} as choices[0].message.content, "
                              f"not text")
    if not content.strip():
        raise GenerationError(f"{where} answered with empty content")
    model = answer.get("model") if isinstance(answer, dict) else None
    return content.strip(), model if isinstance(model, str) and model else configured_model


# --- from the settings --------------------------------------------------------------------------------------

_clients: dict[GenerationConfig, ChatClient] = {}
_clients_lock = threading.Lock()


def from_settings() -> ChatClient | None:
    """The process's client for the OUTCOMEDESK_ASSIST_LLM_* settings; None when no URL is set."""
    url = str(getattr(settings, "OUTCOMEDESK_ASSIST_LLM_URL", "") or "").strip()
    if not url:
        return None
    config = GenerationConfig(
        url=url,
        model=str(getattr(settings, "OUTCOMEDESK_ASSIST_LLM_MODEL", "llama3.1")),
        api_key=str(getattr(settings, "OUTCOMEDESK_ASSIST_LLM_API_KEY", "") or ""),
        timeout=float(getattr(settings, "OUTCOMEDESK_ASSIST_LLM_TIMEOUT", 20.0)),
        max_per_minute=int(getattr(settings, "OUTCOMEDESK_ASSIST_LLM_PER_MINUTE", 30)),
        redact=bool(getattr(settings, "OUTCOMEDESK_ASSIST_LLM_REDACT", True)),
    )
    with _clients_lock:
        client = _clients.get(config)
        if client is None:
            client = _clients[config] = ChatClient(config)
        return client

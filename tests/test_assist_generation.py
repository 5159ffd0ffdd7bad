"""The chat-completions client against a real local HTTP server speaking the OpenAI protocol: the request it
sends, PII redaction, timeouts, garbage answers, the circuit breaker, the rate limit and `from_settings`."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from outcomedesk.assist import generation
from outcomedesk.assist.generation import ChatClient, GenerationConfig, GenerationError, redact


@dataclass
class FakeLLM:
    """What the server answers (`mode`) and every request it received."""

    url: str
    mode: str = "ok"
    content: str = "The VPN drops because the certificate expired."
    requests: list[dict[str, Any]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    answered: int = 0  # answers the server began to send


def _answer(llm: FakeLLM) -> tuple[int, bytes]:
    completion = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_765_000_000,
        "model": "served-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": llm.content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21},
    }
    if llm.mode in ("ok", "slow"):
        return 200, json.dumps(completion).encode()
    if llm.mode == "no-model":
        del completion["model"]
        return 200, json.dumps(completion).encode()
    if llm.mode == "500":
        return 500, b"model runner crashed: CUDA out of memory"
    if llm.mode == "500-long":
        return 500, b"x" * 1000
    if llm.mode == "401":
        return 401, json.dumps({"error": {"message": "Incorrect API key provided"}}).encode()
    if llm.mode == "429":
        return 429, b'{"error": {"message": "slow down"}}'
    if llm.mode == "garbage":
        return 200, b"<html>502 Bad Gateway from the proxy</html>"
    if llm.mode == "no-choices":
        return 200, json.dumps({"id": "x", "object": "chat.completion", "choices": []}).encode()
    if llm.mode == "empty":
        completion["choices"][0]["message"]["content"] = "  "
        return 200, json.dumps(completion).encode()
    raise AssertionError(f"unknown mode {llm.mode}")


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    """A chat-completions server on 127.0.0.1 in a thread, answering as its `mode` says."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            fake.requests.append({"path": self.path, "headers": dict(self.headers), "json": json.loads(body)})
            if fake.mode == "slow":
                fake.release.wait(30)  # far longer than any client timeout; the test's teardown releases it
            fake.answered += 1
            status, payload = _answer(fake)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the client gave up (the timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake = FakeLLM(url=f"http://127.0.0.1:{server.server_address[1]}/v1")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield fake
    fake.release.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _client(llm: FakeLLM, clock: Clock | None = None, **options: Any) -> ChatClient:
    config = GenerationConfig(url=llm.url, model="llama3.1", **options)
    return ChatClient(config, clock=clock) if clock else ChatClient(config)


# --- a successful call --------------------------------------------------------------------------------------

def test_a_call_posts_the_protocol_and_returns_the_text(llm: FakeLLM) -> None:
    completion = _client(llm).complete("You summarise tickets.", "Summarise INC0001234: VPN drops.")

    assert completion.text == "The VPN drops because the certificate expired."
    assert completion.model == "served-model"
    assert completion.redactions == 0
    assert 0 <= completion.seconds < 5
    [request] = llm.requests
    assert request["path"] == "/v1/chat/completions"
    assert "Authorization" not in request["headers"]
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["json"] == {
        "model": "llama3.1",
        "messages": [{"role": "system", "content": "You summarise tickets."},
                     {"role": "user", "content": "Summarise INC0001234: VPN drops."}],
        "max_tokens": 600,
        "temperature": 0.2,
    }


def test_the_key_goes_as_a_bearer_token_and_the_base_url_may_end_in_a_slash(llm: FakeLLM) -> None:
    config = GenerationConfig(url=llm.url + "/", model="gpt-4o-mini", api_key="sk-test-123", max_tokens=50,
                              temperature=0.0)
    ChatClient(config).complete("system", "user")

    [request] = llm.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer sk-test-123"
    assert request["json"]["model"] == "gpt-4o-mini"
    assert (request["json"]["max_tokens"], request["json"]["temperature"]) == (50, 0.0)


def test_without_a_model_in_the_answer_the_configured_one_is_named(llm: FakeLLM) -> None:
    llm.mode = "no-model"
    assert _client(llm).complete("s", "u").model == "llama3.1"


# --- PII redaction ------------------------------------------------------------------------------------------

def test_pii_is_redacted_in_what_the_server_receives(llm: FakeLLM) -> None:
    user = ("Ticket INC0001234 opened 2026-12-05 by jane.doe@example.com, call her on +49 30 1234567. "
            "Refund to IBAN DE89 3704 0044 0532 0130 00, card 4111 1111 1111 1111 was charged twice. "
            "Her laptop is at 192.168.10.20; the order number 4111 1111 1111 1112 is not a card.")
    system = "Escalations go to desk-lead@example.org."

    completion = _client(llm).complete(system, user)

    sent = llm.requests[0]["json"]["messages"]
    assert sent[0]["content"] == "Escalations go to [email]."
    assert sent[1]["content"] == (
        "Ticket INC0001234 opened 2026-12-05 by [email], call her on [phone]. "
        "Refund to IBAN [iban], card [card] was charged twice. "
        "Her laptop is at [ip]; the order number 4111 1111 1111 1112 is not a card.")
    assert completion.redactions == 6


def test_redaction_can_be_switched_off(llm: FakeLLM) -> None:
    completion = _client(llm, redact=False).complete("s", "mail jane.doe@example.com")

    assert llm.requests[0]["json"]["messages"][1]["content"] == "mail jane.doe@example.com"
    assert completion.redactions == 0


@pytest.mark.parametrize("text", [
    "+49 30 1234567", "+44 20 7946 0958", "+1-202-555-0143", "+31 (0)20 123 4567", "0044 20 7946 0958",
    "(555) 123-4567", "555-123-4567", "555.123.4567", "06 12 34 56 78", "06.12.34.56.78", "0612345678",
    "030/1234567", "5551234567",
])
def test_phone_formats(text: str) -> None:
    assert redact(f"call {text} today") == ("call [phone] today", 1)


@pytest.mark.parametrize("text", [
    "2026-12-05", "2026-12-05 10:30", "05.12.2026", "12/05/2026", "INC0001234", "INC-0001234", "KB5034441",
    "123456", "order 12345678", "1.234.567", "EUR 1 250 000", "3.14159265", "Chrome 115.0.5790.171",
    "4111 1111 1111 1112", "4111111111111112", "DE88 3704 0044 0532 0130 00", "no PII here",
])
def test_what_is_not_pii_survives(text: str) -> None:
    assert redact(text) == (text, 0)


@pytest.mark.parametrize(("text", "expected"), [
    ("GB82 WEST 1234 5698 7654 32.", "[iban]."),
    ("NL91ABNA0417164300 ASAP", "[iban] ASAP"),
    ("4111-1111-1111-1111", "[card]"),
    ("5500005555555559", "[card]"),
    ("ssh 10.0.0.1:22, not 1.2.3.4.5", "ssh [ip]:22, not 1.2.3.4.5"),
    ("a.b-c+tag@sub.example.co.uk", "[email]"),
])
def test_other_pii(text: str, expected: str) -> None:
    assert redact(text)[0] == expected


# --- failures -----------------------------------------------------------------------------------------------

def test_a_slow_server_times_out_quickly(llm: FakeLLM) -> None:
    llm.mode = "slow"
    with pytest.raises(GenerationError, match=r"did not answer within 0\.3 s"):
        _client(llm, timeout=0.3).complete("s", "u")
    # The client gave up while the server still held its answer (it holds it until the test ends): without
    # the timeout the call would have waited for it. No wall clock involved.
    assert len(llm.requests) == 1 and llm.answered == 0


@pytest.mark.parametrize(("mode", "message"), [
    ("500", r"answered HTTP 500: model runner crashed: CUDA out of memory"),
    ("401", r"answered HTTP 401 \(check OUTCOMEDESK_ASSIST_LLM_API_KEY\): .*Incorrect API key"),
    ("429", r"answered HTTP 429"),
    ("garbage", r"did not answer with JSON: '<html>502 Bad Gateway"),
    ("no-choices", r"JSON without choices\[0\]\.message\.content"),
    ("empty", r"answered with empty content"),
])
def test_each_bad_answer_is_a_generation_error_that_says_why(llm: FakeLLM, mode: str, message: str) -> None:
    llm.mode = mode
    with pytest.raises(GenerationError, match=message):
        _client(llm).complete("s", "u")


def test_a_long_error_body_is_cut_to_200_characters(llm: FakeLLM) -> None:
    llm.mode = "500-long"
    with pytest.raises(GenerationError) as caught:
        _client(llm).complete("s", "u")
    assert str(caught.value).endswith("HTTP 500: " + "x" * 200)


def test_a_refused_connection_says_so() -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    client = ChatClient(GenerationConfig(url=f"http://127.0.0.1:{port}/v1", model="m", timeout=2))
    with pytest.raises(GenerationError, match="refused the connection"):
        client.complete("s", "u")


def test_a_url_that_is_not_http_is_refused_without_a_request() -> None:
    with pytest.raises(GenerationError, match="must start with http"):
        ChatClient(GenerationConfig(url="file:///etc", model="m")).complete("s", "u")


# --- the circuit breaker ------------------------------------------------------------------------------------

def test_the_breaker_opens_after_three_failures_then_half_opens_and_closes(llm: FakeLLM) -> None:
    clock = Clock()
    client = _client(llm, clock, failures_to_open=3, open_seconds=60)
    llm.mode = "500"
    for _ in range(3):
        assert client.state == "closed"
        with pytest.raises(GenerationError, match="HTTP 500"):
            client.complete("s", "u")
    assert client.state == "open"

    with pytest.raises(GenerationError, match="circuit open: the language model failed 3 times in a row"):
        client.complete("s", "u")
    assert len(llm.requests) == 3
    clock.now += 59
    assert client.state == "open"

    clock.now += 1
    assert client.state == "half-open"
    llm.mode = "ok"
    assert client.complete("s", "u").text
    assert client.state == "closed"
    assert len(llm.requests) == 4


def test_a_failed_trial_call_opens_the_circuit_again(llm: FakeLLM) -> None:
    clock = Clock()
    client = _client(llm, clock, failures_to_open=3, open_seconds=30)
    llm.mode = "garbage"
    for _ in range(3):
        with pytest.raises(GenerationError):
            client.complete("s", "u")
    clock.now += 30
    assert client.state == "half-open"

    with pytest.raises(GenerationError, match="not answer with JSON"):
        client.complete("s", "u")
    assert client.state == "open"
    with pytest.raises(GenerationError, match="circuit open"):
        client.complete("s", "u")
    assert len(llm.requests) == 4


def test_a_401_counts_as_a_failure_and_a_429_does_not(llm: FakeLLM) -> None:
    client = _client(llm, Clock(), failures_to_open=2)
    llm.mode = "429"
    for _ in range(3):
        with pytest.raises(GenerationError, match="HTTP 429"):
            client.complete("s", "u")
    assert client.state == "closed"

    llm.mode = "401"
    for _ in range(2):
        with pytest.raises(GenerationError, match="HTTP 401"):
            client.complete("s", "u")
    assert client.state == "open"


def test_a_success_resets_the_count_of_failures(llm: FakeLLM) -> None:
    client = _client(llm, Clock(), failures_to_open=3)
    for mode in ("500", "500", "ok", "500", "500"):
        llm.mode = mode
        if mode == "ok":
            client.complete("s", "u")
        else:
            with pytest.raises(GenerationError, match="HTTP 500"):
                client.complete("s", "u")
    assert client.state == "closed"
    assert len(llm.requests) == 5


def test_timeouts_open_the_breaker(llm: FakeLLM) -> None:
    client = _client(llm, Clock(), timeout=0.2, failures_to_open=1)
    llm.mode = "slow"
    with pytest.raises(GenerationError, match="did not answer within"):
        client.complete("s", "u")
    assert client.state == "open"


# --- the rate limit -----------------------------------------------------------------------------------------

def test_the_rate_limit_refuses_the_call_over_it_at_once_and_allows_it_after_the_window(llm: FakeLLM) -> None:
    clock = Clock()
    client = _client(llm, clock, max_per_minute=3)
    for _ in range(3):
        client.complete("s", "u")
        clock.now += 10

    with pytest.raises(GenerationError, match=r"rate limited: .* at most 3 calls a minute"):
        client.complete("s", "u")
    assert len(llm.requests) == 3  # refused before any request: nothing waited on the server
    assert client.state == "closed"  # a refusal is not a failure of the endpoint

    clock.now += 30  # the first call is now 60 s old
    client.complete("s", "u")
    assert len(llm.requests) == 4
    with pytest.raises(GenerationError, match="rate limited"):
        client.complete("s", "u")


def test_the_rate_limit_holds_across_threads(llm: FakeLLM) -> None:
    client = _client(llm, Clock(), max_per_minute=5)
    outcomes: list[str] = []

    def call() -> None:
        try:
            client.complete("s", "u")
            outcomes.append("ok")
        except GenerationError:
            outcomes.append("refused")

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert sorted(outcomes) == ["ok"] * 5 + ["refused"] * 3
    assert len(llm.requests) == 5


# --- from the settings --------------------------------------------------------------------------------------

def test_from_settings_without_a_url_is_none(settings: Any) -> None:
    settings.OUTCOMEDESK_ASSIST_LLM_URL = ""
    assert generation.from_settings() is None
    del settings.OUTCOMEDESK_ASSIST_LLM_URL
    assert generation.from_settings() is None


def test_from_settings_keeps_one_client_per_configuration(settings: Any) -> None:
    settings.OUTCOMEDESK_ASSIST_LLM_URL = "http://127.0.0.1:11434/v1"
    settings.OUTCOMEDESK_ASSIST_LLM_MODEL = "qwen2.5"
    settings.OUTCOMEDESK_ASSIST_LLM_API_KEY = "sk-local"
    settings.OUTCOMEDESK_ASSIST_LLM_TIMEOUT = 5
    settings.OUTCOMEDESK_ASSIST_LLM_PER_MINUTE = 12
    settings.OUTCOMEDESK_ASSIST_LLM_REDACT = False

    first = generation.from_settings()
    assert first is not None
    assert first is generation.from_settings()
    assert first.config == GenerationConfig(url="http://127.0.0.1:11434/v1", model="qwen2.5", api_key="sk-local",
                                            timeout=5.0, max_per_minute=12, redact=False)

    settings.OUTCOMEDESK_ASSIST_LLM_MODEL = "llama3.1"
    other = generation.from_settings()
    assert other is not None and other is not first
    assert other.config.model == "llama3.1"


def test_from_settings_defaults(settings: Any) -> None:
    settings.OUTCOMEDESK_ASSIST_LLM_URL = "http://127.0.0.1:8000/v1"
    for name in ("MODEL", "API_KEY", "TIMEOUT", "PER_MINUTE", "REDACT"):
        if hasattr(settings, f"OUTCOMEDESK_ASSIST_LLM_{name}"):
            delattr(settings, f"OUTCOMEDESK_ASSIST_LLM_{name}")

    client = generation.from_settings()
    assert client is not None
    assert client.config == GenerationConfig(url="http://127.0.0.1:8000/v1", model="llama3.1")


# --- summaries and drafts through the endpoint ---------------------------------------------------------------

@pytest.fixture
def configured(llm: FakeLLM, settings: Any) -> FakeLLM:
    settings.OUTCOMEDESK_ASSIST_LLM_URL = llm.url
    settings.OUTCOMEDESK_ASSIST_LLM_MODEL = "llama3.1"
    settings.OUTCOMEDESK_ASSIST_LLM_TIMEOUT = 2.0
    return llm


def _ticket(world: Any) -> Any:
    from outcomedesk.tickets import services as tickets
    from tests import factories as f

    ticket = f.make_ticket(world.alice, world.it, title="VPN drops every hour",
                           description="Since Monday the VPN drops. Call me on +49 170 1234567 or alice@example.com.")
    tickets.add_comment(world.bob, ticket, "Renewed the client certificate; watching it today.")
    return ticket


def test_a_generated_summary_is_grounded_and_redacted(world: Any, configured: FakeLLM) -> None:
    from outcomedesk.assist import writing

    configured.content = json.dumps({
        "happened": [{"text": "The VPN has dropped every hour since Monday.", "cites": [1]}],
        "tried": [{"text": "Bob renewed the client certificate.", "cites": [2]}],
        "state": [{"text": "Open, with the Service Desk.", "cites": [1, 2]}],
        "next": [{"text": "Check tomorrow whether the drops stopped.", "cites": [2]}],
    })
    ticket = _ticket(world)
    made = writing.summarize(ticket)
    assert made is not None and made.method == "generated" and made.model_name == "served-model"
    assert made.sections["tried"][0]["cites"][0]["ref"].startswith("comment-")
    sent = configured.requests[-1]["json"]["messages"][1]["content"]
    assert "[phone]" in sent and "[email]" in sent and "alice@example.com" not in sent
    assert "[2]" in sent and "Renewed the client certificate" in sent
    assert writing.summarize(ticket).pk == made.pk  # same timeline: no second request
    assert len(configured.requests) == 1


@pytest.mark.parametrize(("mode", "content", "reason"), [
    ("ok", '{"happened": [{"text": "Made up.", "cites": [99]}]}', "cites entries that do not exist"),
    ("ok", "Sure! The VPN is broken.", "holds no JSON object"),
    ("ok", '{"happened": [{"text": "No source."}]}', "cites no timeline entry"),
    ("garbage", "", "did not answer with JSON"),
    ("500", "", "500"),
])
def test_a_bad_answer_falls_back_to_the_extractive_summary(world: Any, configured: FakeLLM, mode: str,
                                                            content: str, reason: str) -> None:
    from outcomedesk.assist import writing

    configured.mode, configured.content = mode, content
    made = writing.summarize(_ticket(world))
    assert made is not None and made.method == "extractive"
    assert made.note.startswith("the generated summary was not used") and reason in made.note
    assert made.sections["happened"][0]["cites"][0]["ref"] == "description"


def test_a_generated_draft_waits_for_review_and_generation_has_a_kill_switch(world: Any,
                                                                            configured: FakeLLM) -> None:
    from outcomedesk.assist import writing
    from outcomedesk.assist.switches import set_switch
    from outcomedesk.tickets import services as tickets

    configured.content = json.dumps({"title": "Fix hourly VPN drops", "symptoms": "The VPN drops every hour.",
                                     "cause": "An expired client certificate.",
                                     "resolution": ["Renew the client certificate.", "Reconnect."]})
    ticket = tickets.change_state(world.bob, _ticket(world), "resolved", resolution_notes="Renewed the certificate.")
    draft = writing.draft_article(world.bob, [ticket])
    assert (draft.method, draft.status, draft.title) == ("generated", "in_review", "Fix hourly VPN drops")
    assert draft.resolution == "Renew the client certificate.\nReconnect."
    set_switch(world.root, "generation", False)
    before = len(configured.requests)
    assert writing.draft_article(world.bob, [ticket]).method == "extractive"
    assert writing.summarize(ticket).method == "extractive"
    assert len(configured.requests) == before

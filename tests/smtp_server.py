"""A real SMTP server on a free 127.0.0.1 port (aiosmtpd): it keeps every message it accepted, as the bytes that
arrived, and can be told to refuse for a while (4xx: try later) or for good (5xx) by recipient or subject."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.net import free_port


class Recorder:
    def __init__(self) -> None:
        self.received: list[EmailMessage] = []
        self.refuse_rcpt: dict[str, str] = {}  # address -> SMTP answer
        self.refuse_data: list[tuple[str, str]] = []  # (text in the subject, SMTP answer)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse_rcpt:
            return self.refuse_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        for text, answer in self.refuse_data:
            if text in str(message["Subject"]):
                return answer
        self.received.append(message)
        return "250 Message accepted for delivery"

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.received]


class SmtpServer:
    def __init__(self) -> None:
        self.recorder = Recorder()
        self.port = free_port()
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

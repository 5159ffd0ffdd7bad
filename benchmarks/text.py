"""Service-desk ticket text, deterministic for a given seed: the standard library only.

Titles from service-desk templates; descriptions drawn with a Zipf-like weight from a vocabulary of service-desk
terms followed by a long tail of generated words. Kept free of Django and of Outcomedesk so that the peer
benchmark's loader (benchmarks/peer/site/bulk_load.py, run in django-helpdesk's own virtualenv) and the HTTP
clients make the same text for both systems.
"""

from __future__ import annotations

import random

HEAD_TERMS = [
    "printer", "laptop", "vpn", "password", "email", "outlook", "teams", "network", "wifi", "access", "account",
    "login", "screen", "monitor", "keyboard", "mouse", "docking", "station", "phone", "headset", "license",
    "software", "install", "update", "upgrade", "error", "crash", "slow", "timeout", "server", "database",
    "backup", "restore", "disk", "storage", "share", "folder", "permission", "drive", "calendar", "meeting",
    "room", "projector", "badge", "door", "heating", "cooling", "light", "desk", "chair", "cleaning", "parking",
    "invoice", "payment", "expense", "reimbursement", "payroll", "salary", "contract", "onboarding",
    "offboarding", "leave", "holiday", "benefits", "pension", "certificate", "firewall", "proxy", "browser",
    "chrome", "firefox", "edge", "certificate", "expired", "mfa", "token", "reset", "unlock", "locked", "sap",
    "erp", "report", "dashboard", "excel", "word", "powerpoint", "sharepoint", "onedrive", "sync", "citrix",
    "remote", "desktop", "jira", "confluence", "git", "deployment", "pipeline", "kubernetes", "cluster", "node",
    "memory", "cpu", "latency", "outage", "incident", "degraded", "intermittent", "broken", "missing",
    "request", "new", "replace", "order", "purchase", "approval", "vendor", "quote", "asset", "inventory",
    "tablet", "iphone", "android", "mobile", "sim", "roaming", "voicemail", "scanner", "toner", "paper", "jam",
    "queue", "spooler", "driver", "bluetooth", "usb", "hdmi", "cable", "adapter", "battery", "charger", "power",
]
SYLLABLES = [
    "ka", "ro", "mi", "tu", "sel", "var", "dex", "lin", "pol", "qua", "bor", "nim", "zet", "fra", "gul", "hop",
    "wex", "tri", "san", "mok",
]
TITLE_TEMPLATES = [
    "{a} not working", "{a} {b} error", "Cannot access {a}", "Request: new {a}", "{a} is slow",
    "{a} keeps disconnecting from {b}", "Problem with {a} after {b} update", "{a} {b} missing",
    "Need {a} for new starter", "{a} broken in meeting room", "Question about {a} and {b}",
]

def vocabulary(size: int = 6000, seed: int = 7) -> list[str]:
    """Service-desk terms first (most frequent), then generated words for the long tail."""
    rng = random.Random(seed)
    words = list(dict.fromkeys(HEAD_TERMS))
    seen = set(words)
    while len(words) < size:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


class TextMaker:
    """Titles and descriptions with a Zipf-like word distribution."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.words = vocabulary()
        weights = [1.0 / (rank + 8) for rank in range(len(self.words))]
        total = 0.0
        self.cumulative: list[float] = []
        for w in weights:
            total += w
            self.cumulative.append(total)

    def sample(self, k: int) -> list[str]:
        return self.rng.choices(self.words, cum_weights=self.cumulative, k=k)

    def title(self) -> str:
        a, b = self.sample(2)
        return self.rng.choice(TITLE_TEMPLATES).format(a=a.capitalize(), b=b)[:200]

    def paragraph(self, low: int, high: int) -> str:
        words = self.sample(self.rng.randint(low, high))
        return " ".join(words).capitalize() + "."

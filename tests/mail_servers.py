"""A real IMAP server (Debian's Dovecot) for the intake tests: a throwaway configuration, password file and
Maildir folders in a temporary folder, listening on a free 127.0.0.1 port (IMAP with STARTTLS, and IMAPS), in the
foreground as a child of the tests.

Mailboxes: `it-desk` and `hr-desk`, each with the password `MAILBOX_PASSWORD`, or an OAuth 2.0 bearer token
(XOAUTH2, OAUTHBEARER) that the server's own authorization server (`oauth`, tests/oauth_server.py) says is
active for that mailbox when Dovecot asks it (token introspection). Tests put messages in with `append` (IMAP
APPEND, the protocol a mail server's delivery agent speaks to the store) and read what intake left with `flags`
and `folders`.
"""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.net import free_port
from tests.oauth_server import OAuthServer

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
MAILBOXES = ("it-desk", "hr-desk")
MAILBOX_PASSWORD = "Mailbox pass 42"




class DovecotServer:
    """One Dovecot process; `stop()` ends it and removes its folder."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="outcomedesk-dovecot-"))
        self.port = free_port()
        self.tls_port = free_port()
        self.host = "127.0.0.1"
        self.certificate = self.folder / "cert.pem"
        self.process: subprocess.Popen[bytes] | None = None
        self.oauth = OAuthServer()

    def start(self) -> DovecotServer:
        self.oauth.start()
        key = self.folder / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                        "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out",
                        str(self.certificate)], check=True, capture_output=True)
        me = pwd.getpwuid(os.getuid())
        # Dovecot's own processes run as the invoking user when it is not root (an unprivileged test run).
        internal = ("dovecot", "dovenull") if os.getuid() == 0 else (me.pw_name, me.pw_name)
        users = self.folder / "users"
        users.write_text("".join(f"{name}:{{PLAIN}}{MAILBOX_PASSWORD}::::::\n" for name in MAILBOXES))
        # Dovecot's auth process (the dovecot user, when the tests run as root) reads the password file.
        self.folder.chmod(0o711)
        users.chmod(0o644)
        (self.folder / "run").mkdir()
        # Mail is stored as the invoking user, or as Dovecot's own user when that is root (Dovecot refuses uid 0).
        owner = pwd.getpwnam("dovecot") if os.getuid() == 0 else me
        (self.folder / "mail").mkdir()
        os.chown(self.folder / "mail", owner.pw_uid, owner.pw_gid)
        oauth2 = self.folder / "oauth2.conf.ext"
        oauth2.write_text(f"""
introspection_mode = post
introspection_url = {self.oauth.introspection_url}
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
""")
        oauth2.chmod(0o644)
        conf = self.folder / "dovecot.conf"
        conf.write_text(f"""
protocols = imap
listen = 127.0.0.1
base_dir = {self.folder}/run
state_dir = {self.folder}/state
instance_name = outcomedesk-test-{self.port}
default_internal_user = {internal[0]}
default_login_user = {internal[1]}
default_internal_group = {grp.getgrgid(pwd.getpwnam(internal[0]).pw_gid).gr_name}
first_valid_uid = 0
log_path = {self.folder}/dovecot.log
ssl = yes
ssl_cert = <{self.certificate}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN username_format=%u {users}
}}
# A bearer token is good when the authorization server says it is active for the user logging in.
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {oauth2}
}}
userdb {{
  driver = static
  args = uid={owner.pw_uid} gid={owner.pw_gid} home={self.folder}/mail/%u
}}
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Junk {{
    auto = create
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.tls_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
""")
        (self.folder / "state").mkdir()
        self.process = subprocess.Popen(  # -F keeps Dovecot in the foreground, a child of the tests
            [DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                errors = self.process.stderr.read().decode() if self.process.stderr else ""
                log = (self.folder / "dovecot.log").read_text() if (self.folder / "dovecot.log").exists() else ""
                raise RuntimeError(f"dovecot exited: {errors} {log}")
            try:
                with self.connect("it-desk"):
                    return self
            except (OSError, imaplib.IMAP4.error):
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not answer on 127.0.0.1:{self.port}")

    def stop(self) -> None:
        self.oauth.stop()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self.folder, ignore_errors=True)

    def connect(self, mailbox: str) -> imaplib.IMAP4:
        """An IMAP session logged in to `mailbox` (the test's own client, independent of the product's)."""
        client = imaplib.IMAP4(self.host, self.port, timeout=10)
        client.login(mailbox, MAILBOX_PASSWORD)
        return client

    def append(self, mailbox: str, raw: bytes, folder: str = "INBOX") -> None:
        """Deliver one message into `mailbox`, unread."""
        with self.connect(mailbox) as client:
            status, detail = client.append(folder, "", imaplib.Time2Internaldate(time.time()), raw)
            if status != "OK":
                raise RuntimeError(f"APPEND to {mailbox} failed: {detail!r}")

    def flags(self, mailbox: str, folder: str = "INBOX") -> list[set[str]]:
        """The flags of every message of `folder`, in order."""
        with self.connect(mailbox) as client:
            _, count = client.select(folder, readonly=True)
            if not count or count[0] in (b"0", None):
                return []
            _, data = client.fetch("1:*", "(FLAGS)")
        found = []
        for item in data:
            if not isinstance(item, bytes) or b"FLAGS" not in item:
                continue
            inner = item.split(b"FLAGS (", 1)[1].split(b")", 1)[0].decode()
            found.append(set(inner.split()))
        return found

    def empty(self, mailbox: str) -> None:
        """Remove every message of `mailbox`'s folders (between tests: the server lives for the session)."""
        with self.connect(mailbox) as client:
            _, folders = client.list()
            for line in folders:
                name = line.decode().rsplit(' "/" ', 1)[-1].strip('"') if isinstance(line, bytes) else "INBOX"
                _, count = client.select(name)
                if count and count[0] not in (b"0", None):
                    client.store("1:*", "+FLAGS", "\\Deleted")
                    client.expunge()

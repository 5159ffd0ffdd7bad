"""Reading a mailbox with OAuth 2.0 (XOAUTH2) from a real IMAP server: Debian's Dovecot, whose oauth2 passdb asks
the tests' authorization server (tests/oauth_server.py) whether each bearer token is active for the mailbox, as
Microsoft 365 or Google would check theirs. The product gets its access token from that server's token endpoint
(the client credentials grant, or a refresh token) and keeps it until shortly before it expires; a token or a
client secret that is refused is the mailbox's health, never a crash."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from outcomedesk.core import clock
from outcomedesk.core.errors import InvalidInput
from outcomedesk.intake.email import imap
from outcomedesk.intake.email import services as intake
from outcomedesk.intake.models import InboundStatus, Mailbox
from outcomedesk.tickets.models import Ticket
from tests.conftest import World, client_for
from tests.mail_servers import DovecotServer
from tests.net import free_port
from tests.oauth_server import OAuthServer
from tests.test_intake_email import message

pytestmark = pytest.mark.django_db

SECRET_ENV = "OUTCOMEDESK_TEST_IT_OAUTH_SECRET"
REFRESH_ENV = "OUTCOMEDESK_TEST_IT_OAUTH_REFRESH"
SCOPE = "https://outlook.office365.com/.default"


@pytest.fixture
def client_id(dovecot: DovecotServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """An app registered with the authorization server, granted the it-desk mailbox; its secret in SECRET_ENV.
    A new one for each test: the product keeps tokens per client for the life of the process."""
    name = f"outcomedesk-{uuid.uuid4().hex[:8]}"
    secret = f"secret of {name}"
    dovecot.oauth.register(name, secret, "it-desk")
    monkeypatch.setenv(SECRET_ENV, secret)
    return name


@pytest.fixture
def oauth(dovecot: DovecotServer) -> OAuthServer:
    return dovecot.oauth


@pytest.fixture
def inbox(dovecot: DovecotServer, oauth: OAuthServer, client_id: str, world: World, settings: Any) -> Mailbox:
    dovecot.empty("it-desk")
    settings.OUTCOMEDESK_MAIL_CA_FILE = str(dovecot.certificate)
    return intake.save_mailbox(world.dave, {
        "desk": world.it, "name": "IT desk", "address": "it@desk.example.org", "host": "127.0.0.1",
        "port": dovecot.tls_port, "security": "tls", "username": "it-desk", "auth": "xoauth2",
        "secret_env": SECRET_ENV, "oauth_token_url": oauth.token_url, "oauth_client_id": client_id,
        "oauth_scope": SCOPE,
    })


def _requests(oauth: OAuthServer, client_id: str) -> list[dict[str, str]]:
    return [r for r in oauth.state.token_requests if r["client_id"] == client_id]


def _issued_to(oauth: OAuthServer, client_id: str) -> list[str]:
    return [token for token, row in oauth.state.tokens.items() if row.client_id == client_id]


def test_a_mailbox_reads_its_mail_with_a_token_from_the_token_endpoint(inbox: Mailbox, dovecot: DovecotServer,
                                                                       oauth: OAuthServer, client_id: str) -> None:
    dovecot.append("it-desk", message(message_id="<o1@x.org>", subject="VPN drops"))
    result = imap.poll(inbox)
    assert (result.read, result.error, result.outcomes) == (1, "", {InboundStatus.TICKETED: 1})
    assert Ticket.objects.get().title == "VPN drops"
    assert dovecot.flags("it-desk") == [{"\\Seen"}]
    # Client credentials, as Microsoft 365 grants an app a mailbox; Dovecot checked the token the endpoint issued.
    assert _requests(oauth, client_id) == [{"grant_type": "client_credentials", "client_id": client_id,
                                            "scope": SCOPE}]
    [token] = _issued_to(oauth, client_id)
    assert token in oauth.state.introspected
    inbox.refresh_from_db()
    assert (inbox.failures, inbox.last_error) == (0, "") and inbox.last_success_at is not None


def test_the_token_is_kept_until_shortly_before_it_expires(inbox: Mailbox, oauth: OAuthServer,
                                                          client_id: str) -> None:
    now = clock.now()
    for minutes in (0, 1, 30, 54):  # the server's tokens live an hour: fetched again 5 minutes before
        assert imap.poll(inbox, now=now + timedelta(minutes=minutes)).error == ""
    assert len(_requests(oauth, client_id)) == 1
    assert imap.poll(inbox, now=now + timedelta(minutes=56)).error == ""
    assert len(_requests(oauth, client_id)) == 2 and len(_issued_to(oauth, client_id)) == 2


def test_a_refresh_token_is_exchanged_for_the_access_token(inbox: Mailbox, dovecot: DovecotServer, oauth: OAuthServer,
                                                          client_id: str, world: World,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """As a Google Workspace mailbox whose owner consented once: the refresh token stays in the environment."""
    refresh = oauth.refresh_token_for(client_id)
    monkeypatch.setenv(REFRESH_ENV, refresh)
    google = intake.save_mailbox(world.dave, {"oauth_refresh_token_env": REFRESH_ENV,
                                              "oauth_scope": "https://mail.google.com/"}, mailbox=inbox)
    dovecot.append("it-desk", message(message_id="<o2@x.org>"))
    assert (imap.poll(google).read, Ticket.objects.count()) == (1, 1)
    assert _requests(oauth, client_id) == [{"grant_type": "refresh_token", "refresh_token": refresh,
                                            "client_id": client_id, "scope": "https://mail.google.com/"}]

    monkeypatch.setenv(REFRESH_ENV, "a refresh token the server never issued")
    error = imap.poll(google).error
    assert error == (f"TokenError: the token endpoint {oauth.token_url} refused client {client_id!r}: invalid_grant "
                     "(The refresh token is not valid.)")
    monkeypatch.delenv(REFRESH_ENV)
    assert f"the environment variable {REFRESH_ENV} (the mailbox's refresh token) is not set" in imap.poll(google).error


def test_a_token_the_mail_server_refuses_is_the_mailboxs_health_and_the_next_poll_fetches_another(
        inbox: Mailbox, dovecot: DovecotServer, oauth: OAuthServer, client_id: str, world: World) -> None:
    assert imap.poll(inbox).error == ""
    oauth.revoke_all()  # the kept token is no longer good (revoked, the grant withdrawn)
    dovecot.append("it-desk", message(message_id="<o3@x.org>"))
    refused = imap.poll(inbox)
    assert refused.read == 0
    assert refused.error == (f"MailboxError: the IMAP server refused the access token from {oauth.token_url} for "
                             "it-desk: [AUTHENTICATIONFAILED] Authentication failed.")
    [health] = client_for(world.dave).get("/api/v1/intake/mailboxes").json()
    assert (health["failures"], health["last_error"]) == (1, refused.error)
    assert ["\\Seen" in flags for flags in dovecot.flags("it-desk")] == [False]  # unread: for the next poll

    assert (imap.poll(inbox).read, Ticket.objects.count()) == (1, 1)
    assert len(_requests(oauth, client_id)) == 2
    inbox.refresh_from_db()
    assert (inbox.failures, inbox.last_error) == (0, "")


def test_a_client_secret_the_token_endpoint_refuses_is_the_mailboxs_health(inbox: Mailbox, oauth: OAuthServer,
                                                                          client_id: str,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, "an old client secret")
    result = imap.poll(inbox)
    assert result.error == (f"TokenError: the token endpoint {oauth.token_url} refused client {client_id!r}: "
                            "invalid_client (Client authentication failed.)")
    assert "an old client secret" not in result.error
    assert _issued_to(oauth, client_id) == []
    inbox.refresh_from_db()
    assert inbox.failures == 1 and inbox.last_success_at is None


def test_a_token_endpoint_that_is_down_is_the_mailboxs_health(inbox: Mailbox, world: World) -> None:
    down = f"http://127.0.0.1:{free_port()}/token"
    error = imap.poll(intake.save_mailbox(world.dave, {"oauth_token_url": down}, mailbox=inbox)).error
    assert error.startswith(f"TokenError: the token endpoint {down} could not be reached: ")
    assert "Connection refused" in error


def test_an_access_token_another_tool_keeps_fresh(inbox: Mailbox, dovecot: DovecotServer, oauth: OAuthServer,
                                                  client_id: str, world: World,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a token endpoint the variable holds the access token itself."""
    plain = intake.save_mailbox(world.dave, {"oauth_token_url": "", "oauth_client_id": "", "oauth_scope": ""},
                                mailbox=inbox)
    monkeypatch.setenv(SECRET_ENV, oauth.issue(client_id))
    dovecot.append("it-desk", message(message_id="<o4@x.org>"))
    assert (imap.poll(plain).read, Ticket.objects.count()) == (1, 1)
    monkeypatch.setenv(SECRET_ENV, "an expired token")
    assert imap.poll(plain).error == (f"MailboxError: the IMAP server refused the access token in {SECRET_ENV} "
                                      "(expired?) for it-desk: [AUTHENTICATIONFAILED] Authentication failed.")


@pytest.mark.parametrize(("values", "field"), [
    ({"oauth_token_url": "http://login.example.org/token"}, "oauth_token_url"),
    ({"oauth_token_url": "ftp://127.0.0.1/token"}, "oauth_token_url"),
    ({"auth": "password"}, "oauth_token_url"),
    ({"oauth_client_id": ""}, "oauth_client_id"),
    ({"oauth_refresh_token_env": "1//0a-refresh-token"}, "oauth_refresh_token_env"),
    ({"oauth_token_url": "", "oauth_scope": SCOPE}, "oauth_client_id"),
    ({"oauth_scope": "x" * 501}, "oauth_scope"),
])
def test_oauth_settings_are_checked(inbox: Mailbox, world: World, values: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        intake.save_mailbox(world.dave, values, mailbox=inbox)
    assert field in caught.value.errors
    assert intake.save_mailbox(world.dave, {"oauth_token_url": "https://login.microsoftonline.com/t/oauth2/v2.0/token"},
                               mailbox=inbox).oauth_token_url.startswith("https://")

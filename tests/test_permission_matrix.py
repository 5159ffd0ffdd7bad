"""The permission matrix: every URL pattern and every API operation, for each persona, on their own, others' and
confidential objects, with the expected outcome declared in one table (ROUTES, API, ADMIN below).

A route missing from the table fails `test_every_route_has_its_row`: a new route must state its rule. Every
response body is also searched for the markers planted in what a persona may not read (a confidential HR case,
another requester's ticket): a marker in a list, an export, a search, a drill-down, an AI suggestion or an admin
page is a leak, whatever the status code.

Outcomes: "ok" (the door lets the persona in: 2xx, 3xx other than to a login, or 400/409 for a write that passed
the permission check with the placeholder input), "login" (302 to a login page, or 401), "refused" (403 or 404),
"hidden" (404: refusing with 403 would tell an outsider the confidential object exists).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from outcomedesk.accounts import services as accounts
from outcomedesk.accounts.models import User
from outcomedesk.accounts.policy import OPERATOR
from outcomedesk.api.api import api
from outcomedesk.assist import services as assist
from outcomedesk.assist import writing
from outcomedesk.assist.models import Pattern, Suggestion, TrainedModel
from outcomedesk.core import clock
from outcomedesk.experience.models import Survey
from outcomedesk.improvement.register import services as improvement_register
from outcomedesk.intake.email import services as intake
from outcomedesk.intake.models import Mailbox, WebhookDelivery, WebhookSubscription
from outcomedesk.mail import services as outbox
from outcomedesk.mail.models import MailTemplate
from outcomedesk.sla import services as sla
from outcomedesk.tickets import impact
from outcomedesk.tickets import services as tickets
from outcomedesk.tickets.models import State, Ticket
from tests import factories as f

pytestmark = pytest.mark.django_db

# --- personas ------------------------------------------------------------------------------------------------

ANONYMOUS, REQUESTER, OTHER_REQUESTER = "anonymous", "requester", "other requester"
AGENT, OTHER_AGENT, DESK_MANAGER = "agent", "agent of another desk", "desk manager"
CONFIDENTIAL_MEMBER, SERVICE_MANAGER, EXECUTIVE = "member of a confidential desk", "service manager", "executive"
ADMIN, AI = "platform admin", "the AI account"
PERSONAS = (ANONYMOUS, REQUESTER, OTHER_REQUESTER, AGENT, OTHER_AGENT, DESK_MANAGER, CONFIDENTIAL_MEMBER,
            SERVICE_MANAGER, EXECUTIVE, ADMIN, AI)
NOBODY = {ANONYMOUS, AI}  # the AI's account cannot log in: at every door it is nobody
SIGNED_IN = set(PERSONAS) - NOBODY
STAFF = {AGENT, OTHER_AGENT, DESK_MANAGER, CONFIDENTIAL_MEMBER, SERVICE_MANAGER, ADMIN}
FIGURES = STAFF | {EXECUTIVE}
MANAGERS = {DESK_MANAGER, SERVICE_MANAGER, ADMIN}  # manage the IT desk
IT_WORKERS = {AGENT, DESK_MANAGER}

# Variants: "mine" is the requester's IT ticket (or an IT desk's row), "theirs" another requester's IT ticket,
# "secret" a confidential HR case of the other requester (or an HR desk's row).
MINE, THEIRS, SECRET = "mine", "theirs", "secret"
VARIANTS = (MINE, THEIRS, SECRET)
TICKET_READERS = {MINE: {REQUESTER} | STAFF, THEIRS: {OTHER_REQUESTER} | STAFF,
                  SECRET: {OTHER_REQUESTER, CONFIDENTIAL_MEMBER}}
TICKET_WORKERS = {MINE: IT_WORKERS, THEIRS: IT_WORKERS, SECRET: {CONFIDENTIAL_MEMBER}}
OWN_TICKET = {MINE: {REQUESTER}, THEIRS: {OTHER_REQUESTER}, SECRET: {OTHER_REQUESTER}}
DESK_MEMBERS = {MINE: IT_WORKERS, THEIRS: IT_WORKERS, SECRET: {CONFIDENTIAL_MEMBER}}
DESK_MANAGERS = {MINE: MANAGERS, THEIRS: MANAGERS, SECRET: set()}  # nobody manages HR in this world
DESK_ROW_READERS = {MINE: IT_WORKERS | {SERVICE_MANAGER, ADMIN}, THEIRS: IT_WORKERS | {SERVICE_MANAGER, ADMIN},
                    SECRET: {CONFIDENTIAL_MEMBER}}
FIGURE_READERS = {MINE: FIGURES, THEIRS: FIGURES, SECRET: {CONFIDENTIAL_MEMBER}}
KNOW_THE_SECRET = {OTHER_REQUESTER, CONFIDENTIAL_MEMBER}  # the HR case's requester and HR's agent
# Who may comment on a ticket, or reopen it: its requester and the agents of its desk.
COMMENTERS = {v: OWN_TICKET[v] | TICKET_WORKERS[v] for v in VARIANTS}


@dataclass(frozen=True)
class Rule:
    """Who gets in: `allowed(variant)` are let in; the others are sent to log in when not signed in, else
    refused (hidden when the object is confidential). `gate`: who passes the door before any object is looked at
    (the workspace, the insights), refused with 403 otherwise."""

    allowed: Callable[[str], set[str]]
    gate: frozenset[str] = frozenset(SIGNED_IN)
    variants: tuple[str, ...] = (MINE,)
    any_outcome: bool = False  # a sign-in step: whatever it answers, never a 5xx and never a leak
    signed_by_platform: bool = False  # a chat platform's door: its signature is the credential, no persona has it

    def expect(self, persona: str, variant: str) -> str:
        if self.signed_by_platform:
            return "login"
        if persona in NOBODY:
            return "ok" if persona in self.allowed(variant) else "login"
        if persona not in self.gate:
            return "refused"
        if persona in self.allowed(variant):
            return "ok"
        # Whoever does not know the confidential object is told it does not exist.
        return "hidden" if variant == SECRET and persona not in KNOW_THE_SECRET else "refused"


def everyone(_: str) -> set[str]:
    return set(PERSONAS)


def signed_in(_: str) -> set[str]:
    return set(SIGNED_IN)


def only(*people: str) -> Callable[[str], set[str]]:
    return lambda _: set(people)


def by_variant(table: dict[str, set[str]]) -> Callable[[str], set[str]]:
    return lambda variant: table[variant]


def both(a: dict[str, set[str]], b: set[str]) -> Callable[[str], set[str]]:
    return lambda variant: a[variant] & b


PUBLIC = Rule(everyone, gate=frozenset(PERSONAS))
SIGNED = Rule(signed_in)
WORKSPACE = Rule(only(*STAFF), gate=frozenset(STAFF))
INSIGHTS = Rule(only(*FIGURES), gate=frozenset(FIGURES))
MATURITY = Rule(only(*MANAGERS), gate=frozenset(MANAGERS))
PLATFORM = Rule(only(ADMIN))
SLA_CONFIG = Rule(only(SERVICE_MANAGER, ADMIN), gate=frozenset(STAFF))
TICKET_PAGE = Rule(by_variant(TICKET_READERS), gate=frozenset(STAFF), variants=VARIANTS)
TICKET_WORK = Rule(by_variant(TICKET_WORKERS), gate=frozenset(STAFF), variants=VARIANTS)
PORTAL_TICKET = Rule(by_variant(OWN_TICKET), variants=VARIANTS)
API_TICKET_READ = Rule(by_variant(TICKET_READERS), variants=VARIANTS)
API_TICKET_WORK = Rule(by_variant(TICKET_WORKERS), variants=VARIANTS)
# Writes a reader may try (a comment, reopening): the service decides on the state; here only the door counts.
API_TICKET_TOUCH = Rule(by_variant(COMMENTERS), variants=VARIANTS)
DESK_ROWS_READ = Rule(by_variant(DESK_ROW_READERS), gate=frozenset(STAFF), variants=VARIANTS)
DESK_ROWS_WORK = Rule(by_variant(DESK_MEMBERS), gate=frozenset(STAFF), variants=VARIANTS)
DESK_MANAGE = Rule(by_variant(DESK_MANAGERS), variants=VARIANTS)
DESK_MANAGE_IN_WORKSPACE = Rule(by_variant(DESK_MANAGERS), gate=frozenset(STAFF), variants=VARIANTS)
INITIATIVE_READ = Rule(by_variant(FIGURE_READERS), gate=frozenset(FIGURES), variants=VARIANTS)
INITIATIVE_EDIT = Rule(by_variant(DESK_MANAGERS), gate=frozenset(FIGURES), variants=VARIANTS)
SURVEY_TOKEN = Rule(everyone, gate=frozenset(PERSONAS), variants=VARIANTS)  # the token is the credential
SIGN_IN_STEP = Rule(everyone, gate=frozenset(PERSONAS), any_outcome=True)  # django-allauth's flow
# The sign-in steps of django-allauth (login, password reset, MFA, OIDC and SAML callbacks): open to anyone,
# each answers as its step requires. A person's own security settings: anyone signed in, for themselves.
SIGN_IN_STEPS = {
    "account_login", "account_logout", "account_inactive", "account_signup", "account_reauthenticate",
    "account_request_reauthentication_code", "account_confirm_reauthentication_code", "account_email",
    "account_email_verification_sent", "account_set_password", "account_reset_password",
    "account_confirm_login_code", "account_confirm_email", "account_reset_password_from_key_done",
    "account_reset_password_from_key", "account_reset_password_done", "mfa_authenticate", "mfa_reauthenticate",
    "mfa_login_webauthn", "mfa_reauthenticate_webauthn", "socialaccount_login_cancelled",
    "socialaccount_login_error", "socialaccount_signup", "socialaccount_connections", "saml_acs",
    "saml_finish_acs", "saml_sls", "saml_metadata", "saml_login", "openid_connect_login", "openid_connect_callback",
    # Unnamed: pages the product does not offer (404) and the guards in front of the providers' logins.
    "accounts/email/", "accounts/3rdparty/", "accounts/password/set/", "accounts/oidc/<str:provider_id>/login/",
    "accounts/saml/<str:organization_slug>/login/", "accounts/social/login/cancelled/",
    "accounts/social/login/error/", "accounts/social/signup/", "accounts/social/connections/",
}
OWN_SECURITY = {"account_change_password", "mfa_index", "mfa_activate_totp", "mfa_deactivate_totp",
                "mfa_view_recovery_codes", "mfa_generate_recovery_codes", "mfa_download_recovery_codes",
                "mfa_list_webauthn", "mfa_add_webauthn", "mfa_remove_webauthn", "mfa_edit_webauthn"}

# Web pages: name -> rule. The portal is for anyone signed in; the workspace for desk staff.
ROUTES: dict[str, Rule] = {
    "home": SIGNED,
    "login": PUBLIC,
    "logout": PUBLIC,
    "web:queue": WORKSPACE,
    "web:bulk": WORKSPACE,
    "web:save_view": WORKSPACE,
    "web:delete_view": Rule(by_variant({MINE: {AGENT}, THEIRS: {DESK_MANAGER, SERVICE_MANAGER, ADMIN},
                                        SECRET: set()}), gate=frozenset(STAFF), variants=VARIANTS),
    "web:search": WORKSPACE,
    "web:export_csv": WORKSPACE,
    "web:attachment": Rule(by_variant(TICKET_READERS), variants=VARIANTS),  # whoever reads the ticket
    "web:ticket": TICKET_PAGE,
    "web:ticket_edit": TICKET_WORK,
    "web:ticket_state": TICKET_WORK,
    "web:ticket_reopen": TICKET_WORK,
    "web:ticket_comment": TICKET_WORK,  # requesters reply in the portal
    "web:ticket_link": TICKET_WORK,
    "web:ticket_parent": TICKET_WORK,
    "web:ticket_merge": TICKET_WORK,
    "web:assist_home": WORKSPACE,
    "web:assist_review": DESK_MANAGE_IN_WORKSPACE,
    "web:assist_pattern": DESK_ROWS_WORK,
    "web:ticket_assist": TICKET_WORK,
    "web:ticket_assist_draft": TICKET_WORK,
    "web:ticket_assist_decide": TICKET_WORK,
    "web:ticket_impact_add": TICKET_WORK,
    "web:ticket_impact_end": TICKET_WORK,
    "web:ticket_impact_remove": TICKET_WORK,
    "portal:home": SIGNED,
    "portal:new_ticket": SIGNED,
    "portal:tickets": SIGNED,
    "portal:ticket": PORTAL_TICKET,
    "portal:reply": PORTAL_TICKET,
    "portal:reopen": PORTAL_TICKET,
    "portal:close": PORTAL_TICKET,
    "portal:cancel": PORTAL_TICKET,
    "portal:rate": PORTAL_TICKET,
    "portal:attachment": PORTAL_TICKET,
    "portal:preferences": SIGNED,
    "portal:survey": SURVEY_TOKEN,
    "portal:survey_score": SURVEY_TOKEN,
    "improvement:maturity": MATURITY,
    "improvement:history": MATURITY,
    "improvement:assess": MATURITY,
    "improvement_register:list": INSIGHTS,
    "improvement_register:create": Rule(only(*MANAGERS), gate=frozenset(FIGURES)),
    "improvement_register:detail": INITIATIVE_READ,
    "improvement_register:edit": INITIATIVE_EDIT,
    "improvement_register:status": INITIATIVE_EDIT,
    "insights:manager": INSIGHTS,
    "insights:owner": INSIGHTS,
    "insights:executive": INSIGHTS,
    "insights:tickets": INSIGHTS,
    "insights:export_csv": INSIGHTS,
    "insights:monthly": INSIGHTS,
    **{name: SIGN_IN_STEP for name in SIGN_IN_STEPS},
    **{name: Rule(signed_in, any_outcome=True) for name in OWN_SECURITY},
}

# API operations: "METHOD path" -> rule.
API: dict[str, Rule] = {
    "GET /api/v1/me": SIGNED,
    "GET /api/v1/desks": SIGNED,
    "GET /api/v1/groups": SIGNED,
    "GET /api/v1/services": SIGNED,
    "GET /api/v1/tickets": SIGNED,
    "POST /api/v1/tickets": SIGNED,
    "GET /api/v1/tickets-export": SIGNED,
    "GET /api/v1/tickets/{number}": API_TICKET_READ,
    "PATCH /api/v1/tickets/{number}": API_TICKET_WORK,
    "POST /api/v1/tickets/{number}/state": API_TICKET_TOUCH,
    "POST /api/v1/tickets/{number}/reopen": API_TICKET_TOUCH,
    "GET /api/v1/tickets/{number}/comments": API_TICKET_READ,
    "POST /api/v1/tickets/{number}/comments": API_TICKET_TOUCH,
    "GET /api/v1/tickets/{number}/attachments": API_TICKET_READ,
    "POST /api/v1/tickets/{number}/attachments": API_TICKET_TOUCH,
    "GET /api/v1/tickets/{number}/attachments/{attachment_id}": API_TICKET_READ,
    "GET /api/v1/tickets/{number}/timeline": API_TICKET_READ,
    "GET /api/v1/tickets/{number}/audit": API_TICKET_READ,  # without internal notes for non-workers
    "POST /api/v1/tickets/{number}/links": API_TICKET_WORK,
    "POST /api/v1/tickets/{number}/merge": API_TICKET_WORK,
    "GET /api/v1/tickets/{number}/impacts": API_TICKET_READ,
    "POST /api/v1/tickets/{number}/impacts": API_TICKET_WORK,
    "PATCH /api/v1/tickets/{number}/impacts/{impact_id}": API_TICKET_WORK,
    "DELETE /api/v1/tickets/{number}/impacts/{impact_id}": API_TICKET_WORK,
    "POST /api/v1/tickets-bulk": SIGNED,
    "GET /api/v1/search": SIGNED,
    "GET /api/v1/desks/{slug}/categories": SIGNED,
    "GET /api/v1/sla/calendars": Rule(only(*STAFF)),
    "POST /api/v1/sla/calendars": SLA_CONFIG,
    "GET /api/v1/sla/calendars/{calendar_id}": Rule(only(*STAFF)),
    "PUT /api/v1/sla/calendars/{calendar_id}": SLA_CONFIG,
    "GET /api/v1/sla/policies": Rule(only(*STAFF)),
    "POST /api/v1/sla/policies": SLA_CONFIG,
    "GET /api/v1/sla/policies/{policy_id}": Rule(only(*STAFF)),
    "PATCH /api/v1/sla/policies/{policy_id}": SLA_CONFIG,
    "POST /api/v1/sla/policies/{policy_id}/repair": SLA_CONFIG,
    "GET /api/v1/sla/escalations": Rule(only(*STAFF)),
    "POST /api/v1/sla/escalations": SLA_CONFIG,
    "PATCH /api/v1/sla/escalations/{rule_id}": SLA_CONFIG,
    "GET /api/v1/sla/tickets/{number}/targets": Rule(by_variant(TICKET_READERS), gate=frozenset(STAFF),
                                                     variants=VARIANTS),
    "GET /api/v1/sla/tickets/{number}/timeline": Rule(by_variant(TICKET_READERS), gate=frozenset(STAFF),
                                                      variants=VARIANTS),
    "GET /api/v1/sla/breaching": Rule(only(*STAFF)),
    "POST /api/v1/surveys/{token}/response": SURVEY_TOKEN,
    "GET /api/v1/surveys/": Rule(by_variant(TICKET_READERS), gate=frozenset(STAFF), variants=VARIANTS),
    "GET /api/v1/insights/report": Rule(only(*FIGURES)),
    "GET /api/v1/insights/watermelons": Rule(only(*FIGURES)),
    "GET /api/v1/insights/suggestions": Rule(only(*FIGURES)),
    "GET /api/v1/insights/tickets": Rule(only(*FIGURES)),
    "GET /api/v1/maturity/questionnaire": Rule(only(*MANAGERS)),
    "GET /api/v1/maturity/": Rule(only(*MANAGERS)),
    "GET /api/v1/maturity/{practice}": Rule(only(*MANAGERS)),
    "POST /api/v1/maturity/{practice}": Rule(only(*MANAGERS)),
    "GET /api/v1/improvement/initiatives/": Rule(only(*FIGURES)),
    "POST /api/v1/improvement/initiatives/": Rule(only(*MANAGERS), gate=frozenset(FIGURES)),
    "GET /api/v1/improvement/initiatives/{initiative_id}": INITIATIVE_READ,
    "PATCH /api/v1/improvement/initiatives/{initiative_id}": INITIATIVE_EDIT,
    "POST /api/v1/improvement/initiatives/{initiative_id}/status": INITIATIVE_EDIT,
    "GET /api/v1/assist/tickets/{number}/suggestions": API_TICKET_WORK,
    "GET /api/v1/assist/tickets/{number}/similar": API_TICKET_WORK,
    "POST /api/v1/assist/suggestions/{suggestion_id}/accept": API_TICKET_WORK,
    "POST /api/v1/assist/suggestions/{suggestion_id}/reject": API_TICKET_WORK,
    "GET /api/v1/assist/models": Rule(only(*MANAGERS)),
    "POST /api/v1/assist/models/{model_id}/activate": DESK_MANAGE,
    "POST /api/v1/assist/desks/{desk}/train": DESK_MANAGE,
    "GET /api/v1/assist/desks/{desk}/policies": DESK_MANAGE,
    "PUT /api/v1/assist/desks/{desk}/policies/{field}": DESK_MANAGE,
    "GET /api/v1/assist/quality": Rule(only(*MANAGERS)),
    "GET /api/v1/assist/switches": PLATFORM,
    "PUT /api/v1/assist/switches/{feature}": PLATFORM,
    "GET /api/v1/assist/tickets/{number}/summary": API_TICKET_WORK,
    "POST /api/v1/assist/tickets/{number}/draft": API_TICKET_WORK,
    "GET /api/v1/assist/drafts": SIGNED,
    "POST /api/v1/assist/drafts/{draft_id}/review": DESK_MANAGE,
    "GET /api/v1/assist/patterns": SIGNED,
    "POST /api/v1/assist/desks/{desk}/patterns/detect": DESK_MANAGE,
    "POST /api/v1/assist/patterns/{pattern_id}": Rule(by_variant(DESK_MEMBERS), variants=VARIANTS),
    "GET /api/v1/intake/mailboxes": SIGNED,
    "GET /api/v1/intake/messages": SIGNED,
    "GET /api/v1/intake/messages/{message_id}": Rule(by_variant(DESK_ROW_READERS), variants=VARIANTS),
    "GET /api/v1/intake/messages/{message_id}/original": Rule(by_variant(DESK_ROW_READERS), variants=VARIANTS),
    "POST /api/v1/intake/messages/{message_id}/retry": DESK_MANAGE,
    "POST /api/v1/intake/messages/{message_id}/discard": DESK_MANAGE,
    "POST /api/v1/intake/alertmanager": Rule(only()),  # an alert source's integration account only: no persona
    "POST /api/v1/intake/slack/events": Rule(only(), signed_by_platform=True),
    "POST /api/v1/intake/slack/command": Rule(only(), signed_by_platform=True),
    "POST /api/v1/intake/webhooks/{slug}": Rule(only(), signed_by_platform=True),
    "POST /api/v1/intake/teams": Rule(only(), signed_by_platform=True),
    "POST /api/v1/intake/teams/bot": Rule(only(), signed_by_platform=True),  # the Bot Connector's token only
    "GET /api/v1/intake/deliveries": SIGNED,
    "POST /api/v1/intake/deliveries/{delivery_id}/redeliver": DESK_MANAGE,
    "GET /api/v1/mail/outbox": SIGNED,
    "GET /api/v1/mail/outbox/{mail_id}": Rule(by_variant(DESK_ROW_READERS), variants=VARIANTS),
    "POST /api/v1/mail/outbox/{mail_id}/retry": DESK_MANAGE,
    "POST /api/v1/mail/outbox/{mail_id}/cancel": DESK_MANAGE,
    "GET /api/v1/mail/templates": SIGNED,
    "POST /api/v1/mail/templates": Rule(only(*MANAGERS)),
    "DELETE /api/v1/mail/templates/{template_id}": DESK_MANAGE,
    "POST /api/v1/mail/templates/preview": SIGNED,  # example values only
    "GET /api/v1/mail/preferences": SIGNED,  # one's own
    "PUT /api/v1/mail/preferences": SIGNED,
}
# Forms posted with a field that names their scope (an empty form would ask for another one).
FORM_BODIES = {"improvement:assess": {"desk": "it"}}
API_BODIES = {"POST /api/v1/maturity/{practice}": {"desk": "it"},
              "POST /api/v1/intake/alertmanager": {"groupKey": "g", "alerts": [{
                  "status": "firing", "labels": {"alertname": "X"}, "startsAt": "2026-12-01T09:00:00Z",
                  "fingerprint": "f1"}]},
              "POST /api/v1/tickets/{number}/state": {"state": "cancelled"},  # what a requester may do
              "POST /api/v1/mail/templates": {"desk": "it", "kind": "created", "subject": "s", "body": "b"}}
API_DOCUMENTS = {"api-1:openapi-json": PUBLIC, "api-1:openapi-view": PUBLIC, "api-1:api-root": PUBLIC}

# The admin site: platform admins only, and even they never reach a confidential desk's rows.
ADMIN_PAGES = {"index", "login", "logout", "password_change", "password_change_done", "autocomplete", "jsi18n",
               "view_on_site", "app_list", ""}  # "": the catch-all that sends unknown admin paths to the index
ADMIN_MODEL_PAGES = ("changelist", "add", "change", "delete", "history")


# --- the world -----------------------------------------------------------------------------------------------

MARK_SECRET = "ZQXHRSECRET"  # in the HR case and everything derived from it
MARK_THEIRS = "ZQXCAROLPRIVATE"  # in the other requester's IT ticket (a requester must not read it)


@dataclass
class Matrix:
    people: dict[str, User | None]
    tickets: dict[str, Ticket]
    params: dict[str, dict[str, Any]]  # URL parameter -> variant -> value
    admin_objects: dict[str, dict[str, Any]]  # model label -> variant -> pk


def _build() -> Matrix:
    """Yesterday's tickets (an initiative's baseline must be over), today's initiatives."""
    yesterday = (clock.now() - timedelta(days=1)).replace(hour=8)
    with clock.at(yesterday):
        made = _yesterday()
    today = yesterday.date().isoformat()
    baseline = {"figure": "mttr_median_hours", "target_value": 1, "baseline_from": today, "baseline_to": today}
    initiatives = {
        MINE: improvement_register.create_initiative(made.people[DESK_MANAGER], {  # type: ignore[arg-type]
            "title": "Faster printers", "desk": "it", "owner": "dave", **baseline}).pk,
        SECRET: improvement_register.create_initiative(User.objects.get(username="harriet"), {
            "title": f"Payroll {MARK_SECRET}", "desk": "hr", "owner": "hana", **baseline}).pk,
    }
    initiatives[THEIRS] = initiatives[MINE]
    made.params["pk"] = made.params["initiative_id"] = initiatives
    return made


def _yesterday() -> Matrix:
    it = f.make_desk("it", name="IT")
    hr = f.make_desk("hr", name="HR", confidential=True)
    facilities = f.make_desk("facilities", name="Facilities")
    it_group, hr_group = f.make_group(it, "Service Desk"), f.make_group(hr, "People Team")
    f.make_group(facilities, "Building")
    alice, carol = f.make_user("alice"), f.make_user("carol")
    bob = f.make_agent(it, "bob", group=it_group)
    dave = f.make_agent(it, "dave", group=it_group, role="manager")
    fay = f.make_agent(facilities, "fay")
    hana = f.make_agent(hr, "hana", group=hr_group)
    harriet = f.make_agent(hr, "harriet", role="manager")  # HR's manager: not a persona, no persona manages HR
    people: dict[str, User | None] = {
        ANONYMOUS: None, REQUESTER: alice, OTHER_REQUESTER: carol, AGENT: bob, OTHER_AGENT: fay,
        DESK_MANAGER: dave, CONFIDENTIAL_MEMBER: hana, SERVICE_MANAGER: f.make_user("sam", is_service_manager=True),
        EXECUTIVE: f.make_user("erin", is_executive=True), ADMIN: f.make_user("root", is_superuser=True),
        AI: assist.assistant(),
    }
    service = f.make_service(it, "E-mail")
    printer = "printer on floor 2 jams on every page"
    mine = f.make_ticket(alice, it, title=f"{printer} (alice)", description="alice's own words")
    theirs = f.make_ticket(carol, it, title=f"{printer} {MARK_THEIRS}", description=f"carol writes {MARK_THEIRS}")
    secret = f.make_ticket(carol, hr, title=f"{printer} salary {MARK_SECRET}", description=f"{MARK_SECRET} grievance")
    by_variant = {MINE: mine, THEIRS: theirs, SECRET: secret}
    workers = {MINE: bob, THEIRS: bob, SECRET: hana}
    services = {MINE: service, THEIRS: service, SECRET: f.make_service(hr, "Payroll")}
    attachments, impacts, suggestions, surveys = {}, {}, {}, {}
    for variant, ticket in by_variant.items():
        agent, mark = workers[variant], MARK_SECRET if variant == SECRET else ""
        tickets.add_comment(agent, ticket, f"note {mark}", public=False)
        upload = SimpleUploadedFile(f"{variant}.txt", f"{variant} {mark}".encode())
        attachments[variant] = tickets.add_attachment(ticket.requester, ticket, upload).pk
        impacts[variant] = impact.record_impact(agent, ticket, service=services[variant],
                                                impact_start=clock.now() - timedelta(hours=1)).pk
        # A suggestion as triage leaves one (training a model per persona would cost seconds).
        suggestions[variant] = Suggestion.objects.create(
            ticket=ticket, kind="field", field="group", value=str(ticket.group_id or it_group.pk),
            display=f"suggested {mark}", confidence=0.9, model_name="triage", version="v1", input_hash="x" * 64,
            explanation={}, created_at=clock.now()).pk
    # Resolved twins for drafts, surveys and similar tickets.
    for variant, ticket in list(by_variant.items()):
        with clock.at(clock.now() + timedelta(hours=3)):
            by_variant[variant] = tickets.change_state(workers[variant], ticket, State.RESOLVED,
                                                       resolution_notes=f"fixed {variant}")
        found = Survey.objects.filter(ticket=ticket).first()
        surveys[variant] = found.token if found else "no-survey"
    mine, theirs, secret = by_variant[MINE], by_variant[THEIRS], by_variant[SECRET]
    drafts = {MINE: writing.draft_article(bob, [mine]).pk, SECRET: writing.draft_article(hana, [secret]).pk}
    drafts[THEIRS] = drafts[MINE]
    patterns = {v: Pattern.objects.create(desk=it if v != SECRET else hr, kind="spike", signature=f"spike-{v}",
                                          title=f"spike {MARK_SECRET if v == SECRET else ''}", score=4.0,
                                          evidence={}, version="patterns-1", first_seen=clock.now(),
                                          last_seen=clock.now()).pk for v in (MINE, SECRET)}
    patterns[THEIRS] = patterns[MINE]
    models = {v: TrainedModel.objects.create(desk=it if v != SECRET else hr, field="group", version=f"m-{v}",
                                             trained_at=clock.now(), rows=10, classes=2, figures={},
                                             blob=b"", size_bytes=0).pk for v in (MINE, SECRET)}
    models[THEIRS] = models[MINE]
    personal = tickets.save_view(bob, name="bob's view", query="state=open")
    it_queue = tickets.save_view(dave, name="IT queue", query="state=open", desk=it)
    hr_queue = tickets.save_view(harriet, name=f"HR {MARK_SECRET}", query="state=open", desk=hr)
    calendar = f.make_calendar("Office")
    sla_policy = f.make_policy("Standard", targets={"response": 60, "resolution": 240})
    rule = sla.save_escalation_rule(OPERATOR, {"name": "Warn", "policy": sla_policy.pk, "metric": "resolution",
                                               "at_percent": 80, "action": "notify_assignee"})
    accounts.create_token("bob")
    # Inbound mail: quarantined messages of IT and of HR (the HR one, and HR's mailbox, carry the secret mark).
    for desk, mark in ((it, ""), (hr, MARK_SECRET)):
        Mailbox.objects.create(desk=desk, name=f"{desk.name} mailbox {mark}", address=f"{desk.slug}@desk.example.org",
                               host="127.0.0.1", username=desk.slug, secret_env="OUTCOMEDESK_TEST_MAILBOX")
    inbound = {MINE: intake.receive(b"\x00 unreadable it mail", desk=it).message.pk,
               SECRET: intake.receive(f"\x00 unreadable hr mail {MARK_SECRET}".encode(), desk=hr).message.pk}
    inbound[THEIRS] = inbound[MINE]
    # Outbound webhook deliveries of IT's and HR's tickets (HR's subscription and payload carry the mark).
    deliveries = {}
    for variant in (MINE, SECRET):
        ticket = by_variant[variant]
        mark = MARK_SECRET if variant == SECRET else ""
        subscription = WebhookSubscription.objects.create(
            name=f"{ticket.desk.name} hook {mark}", desk=ticket.desk, url="https://example.org/hook",
            events=["created"], secret_env="OUTCOMEDESK_TEST_HOOK")
        deliveries[variant] = WebhookDelivery.objects.create(
            subscription=subscription, desk=ticket.desk, event="created", ticket=ticket,
            payload={"title": mark}, created_at=clock.now(), status="failed").pk
    deliveries[THEIRS] = deliveries[MINE]
    # Outgoing e-mail and templates of IT and of HR (HR's carry the mark).
    outgoing, templates = {}, {}
    for variant in (MINE, SECRET):
        ticket = by_variant[variant]
        mark = MARK_SECRET if variant == SECRET else ""
        [row] = outbox.queue([outbox.Draft(key=f"matrix-{variant}", kind="comment", recipient=ticket.requester,
                                           subject=f"reply {mark}", text=f"text {mark}", desk_id=ticket.desk_id,
                                           ticket_number=ticket.number)])
        outgoing[variant] = row.pk
        templates[variant] = MailTemplate.objects.create(desk=ticket.desk, kind="comment", subject=f"s {mark}",
                                                         body=f"b {mark}", updated_at=clock.now()).pk
    outgoing[THEIRS], templates[THEIRS] = outgoing[MINE], templates[MINE]
    params: dict[str, dict[str, Any]] = {
        "message_id": inbound,
        "delivery_id": deliveries,
        "mail_id": outgoing,
        "template_id": templates,
        "number": {v: t.number for v, t in by_variant.items()},
        "attachment_id": attachments,
        "impact_id": impacts,
        "suggestion_id": suggestions,
        "token": surveys,
        "score": {v: "5" for v in VARIANTS},
        "draft_id": drafts,
        "pattern_id": patterns,
        "model_id": models,
        "view_id": {MINE: personal.pk, THEIRS: it_queue.pk, SECRET: hr_queue.pk},
        "desk": {MINE: "it", THEIRS: "it", SECRET: "hr"},
        "slug": {MINE: "it", THEIRS: "it", SECRET: "hr"},
        "desk_slug": {MINE: "it", THEIRS: "it", SECRET: "hr"},
        "practice": {v: "incident" for v in VARIANTS},
        "calendar_id": {v: calendar.pk for v in VARIANTS},
        "policy_id": {v: sla_policy.pk for v in VARIANTS},
        "rule_id": {v: rule.pk for v in VARIANTS},
        "feature": {v: "triage" for v in VARIANTS},
        "field": {v: "group" for v in VARIANTS},
    }
    admin_objects = {"tickets.ticket": {MINE: mine.pk, SECRET: secret.pk},
                     "experience.survey": {v: Survey.objects.filter(ticket=t).values_list("pk", flat=True).first()
                                           for v, t in by_variant.items() if v != THEIRS}}
    return Matrix(people, by_variant, params, admin_objects)


# --- requests ------------------------------------------------------------------------------------------------

def _client(matrix: Matrix, persona: str) -> Client:
    client = Client()
    user = matrix.people[persona]
    if user is not None:
        client.force_login(user)
    return client


def _outcome(response: Any) -> str:
    status = response.status_code
    if status >= 500:
        return f"{status}"
    if status == 401 or (status == 302 and "login" in response.get("Location", "")):
        return "login"
    if status == 404:
        return "hidden"
    if status == 403:
        return "refused"
    return "ok"


def _matches(expected: str, got: str) -> bool:
    if expected == "refused":
        return got in ("refused", "hidden")
    return expected == got


def _body(response: Any) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def _send(client: Client, method: str, url: str, body: dict[str, Any] | None = None, *, multipart: bool = False
          ) -> Any:
    """One request, undone afterwards: a write that one persona may make must not change what the next sees."""
    with transaction.atomic():
        if method == "GET":
            response = client.get(url)
        elif method == "POST" and url.startswith("/api/") and not multipart:
            response = client.post(url, body or {}, content_type="application/json")
        elif method == "POST":
            response = client.post(url, body or {})
        else:
            response = client.generic(method, url, data=json.dumps(body or {}), content_type="application/json")
        text = _body(response)
        transaction.set_rollback(True)
    return response, text


def _leaks(persona: str, variant: str, text: str, url: str) -> list[str]:
    found = []
    if MARK_SECRET in text and persona not in {OTHER_REQUESTER, CONFIDENTIAL_MEMBER}:
        found.append(f"{persona} reads the confidential HR case at {url}")
    # Executives read the titles of the tickets behind a figure (the drill-down), not the tickets themselves.
    if MARK_THEIRS in text and persona in {REQUESTER} | NOBODY:
        found.append(f"{persona} reads another requester's ticket at {url}")
    return found


def _web_routes() -> Iterator[tuple[str, str, URLPattern]]:
    def walk(patterns: list[Any], prefix: str, namespace: str) -> Iterator[tuple[str, str, URLPattern]]:
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern),
                                namespace + (f"{p.namespace}:" if p.namespace else ""))
            else:
                yield prefix + str(p.pattern), namespace + (p.name or ""), p

    yield from walk(get_resolver().url_patterns, "", "")


@functools.cache
def _schema() -> dict[str, Any]:
    return api.get_openapi_schema()


def _operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    schema = _schema()
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), path, operation


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref") or next((a["$ref"] for a in node.get("anyOf", []) + node.get("allOf", [])
                                    if "$ref" in a), "")
    if ref:
        return _resolve(schema, schema["components"]["schemas"][ref.rsplit("/", 1)[-1]])
    return node


def _placeholder(schema: dict[str, Any], node: dict[str, Any], name: str) -> Any:
    """A value the schema accepts, so that the handler (and its permission check) runs."""
    node = _resolve(schema, node)
    options = [node, *node.get("anyOf", [])]
    for option in options:
        if "enum" in option:
            return option["enum"][0]
        if option.get("format") == "date-time":
            return "2026-01-01T00:00:00Z"
        if option.get("format") == "date":
            return "2026-01-01"
    kind = next((o.get("type") for o in options if o.get("type") not in (None, "null")), "string")
    if kind == "object":
        return {key: _placeholder(schema, value, key) for key, value in node.get("properties", {}).items()
                if key in node.get("required", [])}
    return {"integer": 1, "number": 1, "boolean": False, "array": []}.get(kind, "x")


def _placeholder_body(operation: dict[str, Any]) -> dict[str, Any]:
    schema = _schema()
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return {}
    return _placeholder(schema, content["application/json"]["schema"], "body")


def _query(operation: dict[str, Any], matrix: Matrix, variant: str) -> str:
    """The required query parameters: a ticket's number where one is asked for, else a placeholder."""
    schema = _schema()
    found = {}
    for parameter in operation.get("parameters", []):
        if parameter.get("in") != "query" or not parameter.get("required"):
            continue
        name = parameter["name"]
        found[name] = matrix.params["number"][variant] if name == "ticket" else \
            _placeholder(schema, parameter.get("schema", {}), name)
    return urlencode(found)


def _fill(path: str, matrix: Matrix, variant: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in matrix.params:
            raise KeyError(f"no value for the URL parameter {name!r}: add it to the matrix world")
        return str(matrix.params[name][variant])

    return re.sub(r"\{(\w+)\}", value, path)


# --- the tests -----------------------------------------------------------------------------------------------

def test_every_route_has_its_row() -> None:
    web = {name or route for route, name, _ in _web_routes() if not route.startswith(("admin/", "api/"))}
    api_names = {name for route, name, _ in _web_routes() if route.startswith("api/")}
    operations = {f"{method} {path}" for method, path, _ in _operations()}
    admin_names = {name.removeprefix("admin:") for route, name, _ in _web_routes() if route.startswith("admin/")}
    undeclared_admin = {n for n in admin_names if n not in ADMIN_PAGES and not n.endswith(ADMIN_MODEL_PAGES)}
    assert web - set(ROUTES) == set(), "web routes without a row in ROUTES"
    assert set(ROUTES) - web == set(), "rows of ROUTES for routes that are gone"
    assert operations - set(API) == set(), "API operations without a row in API"
    assert set(API) - operations == set(), "rows of API for operations that are gone"
    assert {n for n in api_names if not n.startswith("api-1:")} == set()
    assert undeclared_admin == set(), "admin pages without a rule"


@pytest.fixture
def matrix(db: None, settings: Any) -> Matrix:
    settings.OUTCOMEDESK_ASSIST_DISABLED = ""
    return _build()


def _reverse_web(route: str, name: str, matrix: Matrix, variant: str) -> str:
    keys = [a or b for a, b in re.findall(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>", route)]
    kwargs = {key: matrix.params.get(key, {}).get(variant, "x") for key in keys}
    return reverse(name, kwargs=kwargs) if kwargs else reverse(name)


@pytest.mark.parametrize("persona", PERSONAS)
def test_each_web_page_answers_the_persona_as_its_row_says(matrix: Matrix, persona: str) -> None:
    client = _client(matrix, persona)
    problems: list[str] = []
    for route, name, _pattern in _web_routes():
        if route.startswith(("admin/", "api/")) or name in ("logout", "account_logout"):
            continue
        rule = ROUTES[name or route]
        for variant in rule.variants:
            url = _reverse_web(route, name, matrix, variant) if name else "/" + re.sub(r"<[^>]+>", "x", route)
            methods = ("GET", "POST") if name not in ("login",) else ("GET",)
            for method in methods:
                response, text = _send(client, method, url, FORM_BODIES.get(name) if method == "POST" else None)
                if response.status_code == 405:
                    continue  # the door has no such method
                got, expected = _outcome(response), rule.expect(persona, variant)
                if rule.any_outcome and response.status_code < 500:
                    expected = got
                if not _matches(expected, got):
                    problems.append(f"{method} {url} ({variant}): expected {expected}, got {got} "
                                    f"({response.status_code})")
                if rule is not SURVEY_TOKEN:  # a survey link shows its ticket to whoever holds the token
                    problems += _leaks(persona, variant, text, url)
    assert problems == [], f"{persona}:\n" + "\n".join(problems)


@pytest.mark.parametrize("persona", PERSONAS)
def test_each_api_operation_answers_the_persona_as_its_row_says(matrix: Matrix, persona: str) -> None:
    client = _client(matrix, persona)
    problems: list[str] = []
    for method, path, operation in _operations():
        rule = API[f"{method} {path}"]
        body = _placeholder_body(operation) | API_BODIES.get(f"{method} {path}", {})
        multipart = "multipart/form-data" in operation.get("requestBody", {}).get("content", {})
        for variant in rule.variants:
            url = _fill(path, matrix, variant)
            query = _query(operation, matrix, variant)
            url = f"{url}?{query}" if query else url
            if multipart:
                response, text = _send(client, method, url, {"file": SimpleUploadedFile("x.txt", b"x")},
                                       multipart=True)
            else:
                response, text = _send(client, method, url, body)
            got, expected = _outcome(response), rule.expect(persona, variant)
            if not _matches(expected, got):
                problems.append(f"{method} {url} ({variant}): expected {expected}, got {got} "
                                f"({response.status_code}) {text[:160]}")
            if rule is not SURVEY_TOKEN:
                problems += _leaks(persona, variant, text, url)
    assert problems == [], f"{persona}:\n" + "\n".join(problems)


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_admin_site_is_the_platform_admins_and_keeps_confidential_rows_out(matrix: Matrix, persona: str
                                                                               ) -> None:
    from django.contrib import admin

    client = _client(matrix, persona)
    problems: list[str] = []
    for model in admin.site._registry:
        label = model._meta.label_lower
        info = (model._meta.app_label, model._meta.model_name)
        url = reverse("admin:{}_{}_changelist".format(*info))
        response, text = _send(client, "GET", url)
        expected = "ok" if persona == ADMIN else "login"
        if _outcome(response) != expected:
            problems.append(f"GET {url}: expected {expected}, got {response.status_code}")
        problems += _leaks(persona, MINE, text, url)
        for variant, pk in matrix.admin_objects.get(label, {}).items():
            change = reverse("admin:{}_{}_change".format(*info), args=[pk])
            response, text = _send(client, "GET", change)
            shown = response.status_code == 200
            if shown != (persona == ADMIN and variant != SECRET):
                problems.append(f"GET {change} ({variant}): status {response.status_code}")
            problems += _leaks(persona, variant, text, change)
    assert problems == [], f"{persona}:\n" + "\n".join(problems)

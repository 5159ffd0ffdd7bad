"""The self-service portal: submitting, following, replying, reopening; never a glimpse of internal notes."""

from __future__ import annotations

from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from outcomedesk.core import clock
from outcomedesk.tickets import services
from outcomedesk.tickets.models import Attachment, Comment, Ticket
from tests import factories as f
from tests.conftest import World, client_for


def portal_url(ticket: Ticket, action: str = "") -> str:
    return reverse(f"portal:{action or 'ticket'}", args=[ticket.number])


def fresh(ticket: Ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


def test_home_lists_the_active_desks_to_ask(world: World) -> None:
    f.make_desk("old", name="Closed Desk", is_active=False)
    html = client_for(world.alice).get(reverse("portal:home")).content.decode()
    assert reverse("portal:new_ticket", args=["it"]) in html
    assert reverse("portal:new_ticket", args=["hr"]) in html
    assert "Closed Desk" not in html
    assert client_for(world.alice).get(reverse("portal:new_ticket", args=["old"])).status_code == 404


def test_requesters_see_no_agent_links_in_the_top_bar(world: World) -> None:
    html = client_for(world.alice).get(reverse("portal:home")).content.decode()
    assert reverse("web:queue") not in html
    assert 'id="global-search"' not in html
    assert "Alice Requester" in html
    assert reverse("admin:index") not in html
    assert reverse("admin:index") in client_for(world.root).get(reverse("portal:home")).content.decode()


def test_the_form_offers_the_desks_categories_and_labels_every_field(world: World) -> None:
    f.make_category(world.it, "Hardware")
    f.make_category(world.hr, "Payroll")
    html = client_for(world.alice).get(reverse("portal:new_ticket", args=["it"])).content.decode()
    assert "Hardware" in html and "Payroll" not in html
    for field_id in ("ticket-title", "ticket-description", "ticket-category", "ticket-urgency", "ticket-attachments"):
        assert f'<label for="{field_id}">' in html
    assert "How urgent" in html


def test_submitting_opens_a_ticket_with_its_attachment(world: World) -> None:
    category = f.make_category(world.it, "Hardware")
    upload = SimpleUploadedFile("photo.png", b"\x89PNG fake", content_type="image/png")
    client = client_for(world.alice)
    response = client.post(reverse("portal:new_ticket", args=["it"]), {
        "type": "request", "title": "Need a second monitor", "description": "For the new desk",
        "category": category.pk, "urgency": "2", "attachments": [upload],
    })
    ticket = Ticket.objects.get()
    assert response.status_code == 302 and response.url == portal_url(ticket)
    assert (ticket.requester, ticket.desk, ticket.type, ticket.channel) == (world.alice, world.it, "request", "portal")
    assert ticket.category == category and ticket.urgency == 2
    attachment = Attachment.objects.get(ticket=ticket)
    assert attachment.filename == "photo.png" and attachment.is_public
    page = client.get(portal_url(ticket)).content.decode()
    assert "photo.png" in page and f"Your ticket {ticket.number} has been received" in page


def test_a_disallowed_file_type_is_named_and_nothing_is_created(world: World, settings) -> None:  # type: ignore[no-untyped-def]
    upload = SimpleUploadedFile("tool.exe", b"MZ", content_type="application/octet-stream")
    response = client_for(world.alice).post(reverse("portal:new_ticket", args=["it"]), {
        "type": "incident", "title": "Run this", "urgency": "3", "attachments": [upload],
    })
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="ticket-attachments-error"' in html and ".exe are not accepted" in html
    assert 'value="Run this"' in html  # what was typed is kept
    assert not Ticket.objects.exists() and not Attachment.objects.exists()
    media = settings.MEDIA_ROOT
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))


def test_a_missing_title_is_named_beside_the_title(world: World) -> None:
    response = client_for(world.alice).post(reverse("portal:new_ticket", args=["it"]), {"title": " ", "urgency": "3"})
    assert response.status_code == 400
    assert 'id="ticket-title-error">Title is required' in response.content.decode()
    assert not Ticket.objects.exists()


def test_my_tickets_lists_own_and_watched_tickets_only(world: World) -> None:
    own = f.make_ticket(world.alice, world.it, title="Mine")
    others = f.make_ticket(world.carol, world.it, title="Carol's")
    watched = services.open_ticket(world.bob, desk=world.it, title="Team outage", requester=world.carol.pk,
                                   watchers=[world.alice.pk])
    html = client_for(world.alice).get(reverse("portal:tickets")).content.decode()
    assert own.number in html and watched.number in html
    assert others.number not in html
    assert client_for(world.alice).get(portal_url(watched)).status_code == 200


def test_my_tickets_shows_done_tickets_under_all(world: World) -> None:
    done = f.make_ticket(world.alice, world.it)
    services.change_state(world.bob, done, "resolved", resolution_notes="Done")
    client = client_for(world.alice)
    assert done.number not in client.get(reverse("portal:tickets")).content.decode()
    assert done.number in client.get(reverse("portal:tickets") + "?show=all").content.decode()


def test_a_requester_gets_404_for_another_requesters_ticket(world: World) -> None:
    carols = f.make_ticket(world.carol, world.it)
    upload = SimpleUploadedFile("carol.txt", b"private", content_type="text/plain")
    services.add_comment(world.carol, carols, "my file", attachments=[upload])
    client = client_for(world.alice)
    assert client.get(portal_url(carols)).status_code == 404
    assert client.post(portal_url(carols, "reply"), {"body": "hello"}).status_code == 404
    assert client.get(reverse("portal:attachment", args=[Attachment.objects.get().pk])).status_code == 404
    assert client.get(reverse("web:ticket", args=[carols.number])).status_code == 403
    assert not Comment.objects.filter(author=world.alice).exists()


def test_requesters_never_see_internal_notes_or_internal_files(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it)
    services.add_comment(world.bob, ticket, "We are on it", public=True)
    secret = SimpleUploadedFile("internal.txt", b"secret", content_type="text/plain")
    services.add_comment(world.bob, ticket, "Requester is difficult", public=False, attachments=[secret])
    html = client_for(world.alice).get(portal_url(ticket)).content.decode()
    assert "We are on it" in html
    assert "Requester is difficult" not in html and "internal.txt" not in html
    internal = Attachment.objects.get(filename="internal.txt")
    assert client_for(world.alice).get(reverse("portal:attachment", args=[internal.pk])).status_code == 404


def test_a_reply_with_a_file_reaches_the_ticket(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it)
    upload = SimpleUploadedFile("screen.png", b"png", content_type="image/png")
    response = client_for(world.alice).post(
        portal_url(ticket, "reply"), {"body": "Here it is", "attachments": [upload]}
    )
    assert response.status_code == 302
    comment = Comment.objects.get(ticket=ticket)
    assert comment.is_public and comment.channel == "portal" and comment.author == world.alice
    attachment = Attachment.objects.get(comment=comment)
    download = client_for(world.alice).get(reverse("portal:attachment", args=[attachment.pk]))
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"png"


def test_an_empty_reply_is_named_beside_the_reply_box(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it)
    response = client_for(world.alice).post(portal_url(ticket, "reply"), {"body": ""})
    assert response.status_code == 400
    assert 'id="reply-body-error">Reply is required' in response.content.decode()


def test_a_resolved_ticket_can_be_reopened_within_the_window(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it)
    services.change_state(world.bob, ticket, "resolved", resolution_notes="Replaced the cable")
    client = client_for(world.alice)
    html = client.get(portal_url(ticket)).content.decode()
    assert "Replaced the cable" in html and 'id="reopen-button"' in html
    response = client.post(portal_url(ticket, "reopen"), {"reason": "Still broken"})
    assert response.status_code == 302
    ticket = fresh(ticket)
    assert ticket.state == "in_progress" and ticket.reopen_count == 1
    assert Comment.objects.get(ticket=ticket).body == "<p>Still broken</p>"


def test_reopening_after_the_window_shows_why_beside_the_button(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it)
    with clock.at(clock.now() - timedelta(days=world.it.reopen_window_days + 1)):
        services.change_state(world.bob, ticket, "resolved", resolution_notes="Fixed")
    response = client_for(world.alice).post(portal_url(ticket, "reopen"))
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="reopen-error"' in html and "window to reopen has passed" in html
    assert fresh(ticket).state == "resolved"


def test_requesters_close_resolved_tickets_and_cancel_open_ones(world: World) -> None:
    resolved = f.make_ticket(world.alice, world.it)
    services.change_state(world.bob, resolved, "resolved", resolution_notes="Fixed")
    unwanted = f.make_ticket(world.alice, world.it)
    client = client_for(world.alice)
    client.post(portal_url(resolved, "close"))
    assert fresh(resolved).state == "closed"
    assert "Cancel this ticket" in client.get(portal_url(unwanted)).content.decode()
    client.post(portal_url(unwanted, "cancel"))
    assert fresh(unwanted).state == "cancelled"


def test_watchers_cannot_cancel_someone_elses_ticket(world: World) -> None:
    ticket = services.open_ticket(world.bob, desk=world.it, title="Shared", requester=world.carol.pk,
                                  watchers=[world.alice.pk])
    client = client_for(world.alice)
    assert "Cancel this ticket" not in client.get(portal_url(ticket)).content.decode()
    assert client.post(portal_url(ticket, "cancel")).status_code == 403
    assert fresh(ticket).state == "new"


def test_hr_tickets_stay_with_their_requester_and_the_hr_desk(world: World) -> None:
    secret = f.make_ticket(world.alice, world.hr, title="Personal matter")
    assert client_for(world.alice).get(portal_url(secret)).status_code == 200
    assert client_for(world.bob).get(portal_url(secret)).status_code == 404
    assert client_for(world.root).get(portal_url(secret)).status_code == 404


def test_people_opt_out_of_e_mails_and_agents_go_away(world: World) -> None:
    client = client_for(world.bob)
    assert 'id="pref-away"' in client.get("/portal/preferences/").content.decode()
    client.post("/portal/preferences/", {"away": "on"})
    world.bob.refresh_from_db()
    assert world.bob.away is True and world.bob.email_notifications is False
    requester = client_for(world.alice)
    assert 'id="pref-away"' not in requester.get("/portal/preferences/").content.decode()
    requester.post("/portal/preferences/", {"email_notifications": "on", "away": "on"})
    world.alice.refresh_from_db()
    assert world.alice.email_notifications is True and world.alice.away is False

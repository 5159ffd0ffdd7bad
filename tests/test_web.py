"""The agent workspace: queue, filters, bulk actions, saved views, ticket page, search and permissions."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from outcomedesk.accounts.models import Desk, User
from outcomedesk.tickets import services
from outcomedesk.tickets.models import Attachment, Comment, SavedView, Ticket
from tests import factories as f
from tests.conftest import World, client_for


def queue_url(query: str = "") -> str:
    return reverse("web:queue") + (f"?{query}" if query else "")


def ticket_url(ticket: Ticket, action: str = "") -> str:
    if action:
        return reverse(f"web:ticket_{action}", args=[ticket.number])
    return reverse("web:ticket", args=[ticket.number])


def agent_ticket(agent: User, desk: Desk, **fields: Any) -> Ticket:
    """A ticket an agent opens for a requester, setting the fields only staff may set."""
    fields.setdefault("title", "Opened by an agent")
    return services.open_ticket(agent, desk=desk, channel="phone", **fields)


def fresh(ticket: Ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


# --- entry and permissions -------------------------------------------------------------------------------

def test_home_sends_agents_to_the_queue_and_requesters_to_the_portal(world: World) -> None:
    assert client_for(world.bob).get("/").url == reverse("web:queue")
    assert client_for(world.alice).get("/").url == reverse("portal:home")


def test_anonymous_visitors_are_sent_to_log_in(world: World, client) -> None:  # type: ignore[no-untyped-def]
    for url in ("/", queue_url(), reverse("portal:home")):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))


def test_login_page_renders_a_labelled_form(client, db) -> None:  # type: ignore[no-untyped-def]
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b'<label for="id_login">Username or e-mail</label>' in response.content
    assert b'<label for="id_password">Password</label>' in response.content


def test_requesters_are_refused_the_agent_workspace(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it)
    client = client_for(world.alice)
    assert client.get(queue_url()).status_code == 403
    assert client.get(ticket_url(ticket)).status_code == 403
    assert client.get(reverse("web:search") + "?q=printer").status_code == 403
    assert client.post(ticket_url(ticket, "comment"), {"body": "hi"}).status_code == 403


def test_pages_load_htmx_and_styles_from_this_server_only(world: World) -> None:
    html = client_for(world.bob).get(queue_url()).content.decode()
    assert "/static/django_htmx/htmx-2.min.js" in html
    assert "/static/web/outcomedesk.css" in html
    assert "https://" not in html and "http://" not in html
    assert 'hx-headers=\'{"X-CSRFToken": "' in html


# --- the queue -------------------------------------------------------------------------------------------

def test_queue_shows_open_tickets_and_hides_done_ones(world: World) -> None:
    open_ticket = f.make_ticket(world.alice, world.it, title="Printer jammed")
    done = f.make_ticket(world.alice, world.it, title="Old problem")
    services.change_state(world.bob, done, "resolved", resolution_notes="fixed")
    response = client_for(world.bob).get(queue_url())
    assert response.status_code == 200
    assert open_ticket.number in response.content.decode()
    assert done.number not in response.content.decode()
    assert done.number in client_for(world.bob).get(queue_url("state=done")).content.decode()


def test_queue_filters_by_priority_assignee_type_and_text(world: World) -> None:
    urgent = f.make_ticket(world.alice, world.it, title="Server down", impact=1, urgency=1)
    mine = agent_ticket(world.bob, world.it, requester=world.alice, title="Laptop screen flickers", assignee=world.bob)
    request = f.make_ticket(world.alice, world.it, title="New keyboard please", type="request")
    client = client_for(world.bob)

    page = client.get(queue_url("priority=1")).content.decode()
    assert urgent.number in page and mine.number not in page

    page = client.get(queue_url("assignee=me")).content.decode()
    assert mine.number in page and urgent.number not in page

    page = client.get(queue_url("assignee=none")).content.decode()
    assert urgent.number in page and mine.number not in page

    page = client.get(queue_url("type=request")).content.decode()
    assert request.number in page and urgent.number not in page

    page = client.get(queue_url("q=flickers")).content.decode()
    assert mine.number in page and urgent.number not in page


def test_queue_sorts_by_priority_or_age(world: World) -> None:
    low = f.make_ticket(world.alice, world.it, title="first and low")
    high = f.make_ticket(world.alice, world.it, title="second and high", impact=1, urgency=1)
    client = client_for(world.bob)
    by_priority = client.get(queue_url("sort=priority")).content.decode()
    assert by_priority.index(high.number) < by_priority.index(low.number)
    oldest_first = client.get(queue_url("sort=opened")).content.decode()
    assert oldest_first.index(low.number) < oldest_first.index(high.number)


def test_queue_names_a_bad_filter(world: World) -> None:
    response = client_for(world.bob).get(queue_url("priority=9"))
    assert response.status_code == 400
    assert "priority: must be 1 to 5" in response.content.decode()


def test_htmx_filter_requests_get_the_table_partial_only(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it)
    response = client_for(world.bob).get(queue_url("state=open"), headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="queue-table"')
    assert ticket.number in html
    assert "<html" not in html
    assert "HX-Request" in response["Vary"]


def test_queue_pages_by_fifty_without_counting(world: World) -> None:
    tickets = [f.make_ticket(world.alice, world.it, title=f"Ticket number {i}") for i in range(52)]
    client = client_for(world.bob)
    first = client.get(queue_url("sort=opened")).content.decode()
    assert 'rel="next"' in first and 'rel="prev"' not in first
    assert tickets[49].number in first and tickets[50].number not in first
    second = client.get(queue_url("sort=opened&page=2")).content.decode()
    assert tickets[50].number in second and tickets[51].number in second
    assert 'rel="prev"' in second and 'rel="next"' not in second
    assert "SELECT COUNT" not in " ".join(q["sql"] for q in _queries(client, queue_url())).upper()


def _queries(client, url: str) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return list(captured.captured_queries)


def test_queue_query_count_does_not_grow_with_rows(world: World, django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    category = f.make_category(world.it)
    for i in range(5):
        agent_ticket(world.bob, world.it, requester=world.alice, title=f"few {i}", category=category.pk,
                      assignee=world.bob, group=world.it_group)
    client = client_for(world.bob)
    few = len(_queries(client, queue_url()))
    for i in range(55):
        requester = world.alice if i % 2 else world.carol
        agent_ticket(world.dave, world.it, requester=requester, title=f"many {i}", assignee=world.dave,
                      group=world.it_group)
    with django_assert_max_num_queries(12):
        response = client.get(queue_url())
    assert response.content.decode().count('name="numbers"') == 50
    assert len(_queries(client, queue_url())) == few


def test_bulk_assign_to_me_set_group_and_set_state(world: World) -> None:
    second_group = f.make_group(world.it, "Network")
    a = f.make_ticket(world.alice, world.it)
    b = f.make_ticket(world.carol, world.it)
    client = client_for(world.bob)

    response = client.post(reverse("web:bulk"), {"numbers": [a.number, b.number], "action": "assign_me",
                                                 "query": "state=open"})
    assert response.status_code == 302 and response.url == queue_url("state=open")
    assert {fresh(a).assignee, fresh(b).assignee} == {world.bob}

    client.post(reverse("web:bulk"), {"numbers": [a.number], "action": "group", "group": second_group.pk})
    assert fresh(a).group == second_group

    client.post(reverse("web:bulk"), {"numbers": [a.number, b.number], "action": "state", "state": "in_progress"})
    assert {fresh(a).state, fresh(b).state} == {"in_progress"}


def test_bulk_is_all_or_nothing_and_says_why(world: World) -> None:
    a = f.make_ticket(world.alice, world.it)
    b = f.make_ticket(world.alice, world.it)
    client = client_for(world.bob)
    response = client.post(
        reverse("web:bulk"), {"numbers": [a.number, b.number], "action": "state", "state": "pending"}, follow=True
    )
    assert "Nothing changed" in response.content.decode()
    assert "pending_reason" in response.content.decode() or "required when pending" in response.content.decode()
    assert {fresh(a).state, fresh(b).state} == {"new"}


def test_bulk_cannot_reach_tickets_of_a_confidential_desk(world: World) -> None:
    secret = f.make_ticket(world.alice, world.hr)
    client_for(world.bob).post(reverse("web:bulk"), {"numbers": [secret.number], "action": "assign_me"})
    assert fresh(secret).assignee is None


def test_agents_save_personal_views_and_managers_share_desk_queues(world: World) -> None:
    bob = client_for(world.bob)
    response = bob.post(reverse("web:save_view"), {"name": "My P1s", "query": "priority=1&page=3"})
    assert response.status_code == 302
    view = SavedView.objects.get(owner=world.bob)
    assert view.query == "priority=1" and view.desk is None
    assert "My P1s" in bob.get(queue_url()).content.decode()

    bob.post(reverse("web:save_view"), {"name": "Unassigned", "query": "assignee=none", "desk": world.it.pk})
    assert not SavedView.objects.filter(desk=world.it).exists()

    client_for(world.dave).post(
        reverse("web:save_view"), {"name": "Unassigned", "query": "assignee=none", "desk": world.it.pk}
    )
    assert SavedView.objects.get(desk=world.it).query == "assignee=none"
    assert "IT · Unassigned" in bob.get(queue_url()).content.decode()
    assert "My P1s" not in client_for(world.dave).get(queue_url()).content.decode()


def test_a_saved_view_needs_a_name(world: World) -> None:
    response = client_for(world.bob).post(reverse("web:save_view"), {"name": " ", "query": ""}, follow=True)
    assert "name: is required" in response.content.decode()
    assert not SavedView.objects.exists()


# --- the ticket page -------------------------------------------------------------------------------------

def test_ticket_page_shows_fields_description_and_timeline(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it, title="VPN drops", description="It <b>drops</b>\nevery hour")
    services.update_ticket(world.bob, ticket, {"urgency": 1})
    services.add_comment(world.bob, ticket, "Looking into it", public=True)
    services.add_comment(world.bob, ticket, "Probably the firewall", public=False)
    html = client_for(world.bob).get(ticket_url(ticket)).content.decode()
    assert "VPN drops" in html
    assert "It &lt;b&gt;drops&lt;/b&gt;<br>every hour" in html
    assert "Looking into it" in html and "Probably the firewall" in html
    assert 'class="comment reply"' in html and 'class="comment note"' in html
    assert "Internal note" in html and "Public reply" in html
    assert '<span class="ev-field">urgency</span>' in html
    assert 'id="edit-form"' in html and 'id="reply-form"' in html


def test_comment_bodies_are_rendered_as_their_sanitised_html(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it)
    services.add_comment(world.bob, ticket, "<p>Try <strong>this</strong><script>alert(1)</script></p>")
    html = client_for(world.bob).get(ticket_url(ticket)).content.decode()
    assert "<strong>this</strong>" in html
    assert "<script>alert(1)" not in html


def test_posting_a_reply_with_a_file_redirects_back_to_the_ticket(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it)
    upload = SimpleUploadedFile("trace.log", b"boom", content_type="text/plain")
    response = client_for(world.bob).post(
        ticket_url(ticket, "comment"), {"body": "Please restart", "visibility": "reply", "attachments": [upload]}
    )
    assert response.status_code == 302
    comment = Comment.objects.get(ticket=ticket)
    assert comment.is_public and "Please restart" in comment.body
    assert Attachment.objects.get(comment=comment).filename == "trace.log"


def test_htmx_note_returns_the_conversation_with_the_note(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it)
    response = client_for(world.bob).post(
        ticket_url(ticket, "comment"), {"body": "Internal hint", "visibility": "note"}, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="conversation"')
    assert "Internal hint" in html and 'class="comment note"' in html
    assert Comment.objects.get(ticket=ticket).is_public is False


def test_an_empty_reply_is_refused_beside_the_message_field(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it)
    client = client_for(world.bob)
    response = client.post(ticket_url(ticket, "comment"), {"body": "  ", "visibility": "reply"})
    assert response.status_code == 400
    assert 'id="reply-body-error">Message is required' in response.content.decode()
    htmx = client.post(ticket_url(ticket, "comment"), {"body": ""}, headers={"HX-Request": "true"})
    assert 'id="reply-body-error"' in htmx.content.decode()
    assert not Comment.objects.exists()


def test_editing_fields_saves_only_what_changed_and_recomputes_priority(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it, title="Mail slow")
    category = f.make_category(world.it, "E-mail")
    client = client_for(world.bob)
    form = {
        "version": ticket.version, "title": "Mail very slow", "group": world.it_group.pk, "assignee": world.bob.pk,
        "category": category.pk, "service": "", "impact": "1", "urgency": "1", "priority": str(ticket.priority),
        "tags": "Mail, outage",
    }
    response = client.post(ticket_url(ticket, "edit"), form)
    assert response.status_code == 302
    ticket = fresh(ticket)
    assert ticket.title == "Mail very slow"
    assert ticket.assignee == world.bob and ticket.group == world.it_group and ticket.category == category
    assert ticket.priority == 1  # impact 1 x urgency 1, recomputed because priority was left alone
    assert sorted(t.name for t in ticket.tags.all()) == ["mail", "outage"]


def test_a_stale_edit_shows_the_conflict_and_overwrites_nothing(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it, title="Original")
    loaded_version = ticket.version
    services.update_ticket(world.dave, ticket, {"title": "Changed by Dave"})
    response = client_for(world.bob).post(
        ticket_url(ticket, "edit"), {"version": loaded_version, "title": "Bob's title", "impact": "3",
                                     "urgency": "3", "priority": "4"},
    )
    html = response.content.decode()
    assert response.status_code == 409
    assert "changed by someone" in html and "Reload" in html
    assert 'id="conflict-message"' in html
    assert fresh(ticket).title == "Changed by Dave"
    assert 'value="Changed by Dave"' in html  # the form shows the ticket as it is now


def test_an_edit_without_a_version_is_refused(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it, title="Original")
    response = client_for(world.bob).post(ticket_url(ticket, "edit"), {"title": "No version"})
    assert response.status_code == 400
    assert fresh(ticket).title == "Original"


def test_an_empty_title_is_named_beside_the_title_field(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it, title="Original")
    response = client_for(world.bob).post(ticket_url(ticket, "edit"), {"version": ticket.version, "title": ""})
    assert response.status_code == 400
    assert 'id="edit-title-error">Title is required' in response.content.decode()


def test_state_buttons_move_the_ticket_and_name_missing_input(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it)
    client = client_for(world.bob)

    client.post(ticket_url(ticket, "state"), {"state": "in_progress", "version": ticket.version})
    ticket = fresh(ticket)
    assert ticket.state == "in_progress"

    response = client.post(ticket_url(ticket, "state"), {"state": "pending", "version": ticket.version})
    assert response.status_code == 400
    assert 'id="pending-reason-error"' in response.content.decode()

    response = client.post(ticket_url(ticket, "state"), {"state": "resolved", "version": ticket.version,
                                                          "resolution_code": "solved", "resolution_notes": ""})
    assert response.status_code == 400
    assert 'id="resolution-notes-error">Resolution notes: say how the ticket was resolved' in response.content.decode()
    assert fresh(ticket).state == "in_progress"

    client.post(ticket_url(ticket, "state"), {"state": "resolved", "version": ticket.version,
                                              "resolution_code": "workaround", "resolution_notes": "Rebooted"})
    ticket = fresh(ticket)
    assert ticket.state == "resolved" and ticket.resolution_code == "workaround"

    assert 'id="reopen-button"' in client.get(ticket_url(ticket)).content.decode()
    client.post(ticket_url(ticket, "reopen"), {"version": ticket.version, "reason": "Came back"})
    ticket = fresh(ticket)
    assert ticket.state == "in_progress" and ticket.reopen_count == 1  # the resolver owns it now


def test_a_stale_state_change_is_a_conflict(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it)
    old = ticket.version
    services.update_ticket(world.dave, ticket, {"urgency": 1})
    response = client_for(world.bob).post(ticket_url(ticket, "state"), {"state": "cancelled", "version": old})
    assert response.status_code == 409
    assert fresh(ticket).state == "new"


def test_relate_set_parent_and_merge_as_duplicate(world: World) -> None:
    a = f.make_ticket(world.alice, world.it, title="Outage A")
    b = f.make_ticket(world.carol, world.it, title="Outage B")
    dup = f.make_ticket(world.carol, world.it, title="Same outage")
    client = client_for(world.bob)

    client.post(ticket_url(a, "link"), {"related": b.number.lower()})
    assert b.number in client.get(ticket_url(a)).content.decode()

    response = client.post(ticket_url(a, "link"), {"related": "INC9999999"})
    assert response.status_code == 400 and 'id="link-related-error"' in response.content.decode()

    client.post(ticket_url(b, "parent"), {"parent": a.number, "version": b.version})
    assert fresh(b).parent == a

    client.post(ticket_url(dup, "merge"), {"duplicate_of": a.number})
    dup = fresh(dup)
    assert dup.duplicate_of == a and dup.state == "cancelled"


def test_agents_of_other_desks_read_without_forms(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it)
    services.add_comment(world.bob, ticket, "Internal only", public=False)
    client = client_for(world.hana)
    html = client.get(ticket_url(ticket)).content.decode()
    assert "Read only" in html
    assert 'id="edit-form"' not in html and 'id="reply-form"' not in html and "<form method=\"post\" action=\"/desk" \
        not in html
    assert "Internal only" not in html
    assert client.post(ticket_url(ticket, "edit"), {"version": ticket.version, "title": "x"}).status_code == 403
    assert fresh(ticket).title != "x"


def test_an_it_agent_cannot_find_an_hr_ticket_anywhere(world: World) -> None:
    secret = f.make_ticket(world.alice, world.hr, title="Salary dispute")
    client = client_for(world.bob)
    assert client.get(ticket_url(secret)).status_code == 404
    assert client.post(ticket_url(secret, "comment"), {"body": "hi"}).status_code == 404
    assert secret.number not in client.get(queue_url("state=all")).content.decode()
    assert secret.number not in client.get(reverse("web:search") + "?q=salary").content.decode()
    assert client.get(reverse("web:search") + f"?q={secret.number}").status_code == 200
    assert secret.number in client_for(world.hana).get(queue_url()).content.decode()


def test_search_finds_words_and_jumps_to_a_number(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it, title="Projector in room 4 is dead")
    client = client_for(world.bob)
    response = client.get(reverse("web:search") + "?q=projector")
    assert ticket.number in response.content.decode()
    jump = client.get(reverse("web:search") + f"?q={ticket.number.lower()}")
    assert jump.status_code == 302 and jump.url == ticket_url(ticket)


def test_internal_files_download_only_for_the_desk_staff(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it)
    upload = SimpleUploadedFile("secret.txt", b"internal data", content_type="text/plain")
    services.add_comment(world.bob, ticket, "see file", public=False, attachments=[upload])
    attachment = Attachment.objects.get()
    url = reverse("web:attachment", args=[attachment.pk])
    response = client_for(world.bob).get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"internal data"
    assert "attachment" in response["Content-Disposition"]
    assert client_for(world.hana).get(url).status_code == 404
    assert client_for(world.alice).get(url).status_code == 404


def test_ticket_page_query_count_does_not_grow_with_comments(world: World, django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    ticket = agent_ticket(world.bob, world.it, requester=world.alice, group=world.it_group, assignee=world.bob)
    upload = SimpleUploadedFile("one.txt", b"1", content_type="text/plain")
    services.add_comment(world.bob, ticket, "first", attachments=[upload])
    client = client_for(world.bob)
    few = len(_queries(client, ticket_url(ticket)))
    for i in range(30):
        author = world.alice if i % 2 else world.bob
        files = [SimpleUploadedFile(f"f{i}.txt", b"x", content_type="text/plain")] if i % 3 == 0 else []
        services.add_comment(author, ticket, f"comment {i}", attachments=files)
    services.update_ticket(world.bob, ticket, {"urgency": 2, "tags": ["a", "b"]})
    # 16: the SLA panel's targets are one query (web.service_levels.panel).
    with django_assert_max_num_queries(16):
        response = client.get(ticket_url(ticket))
    assert "comment 29" in response.content.decode()
    assert len(_queries(client, ticket_url(ticket))) == few


def test_csv_export_uses_the_queue_filter_and_hides_hr(world: World) -> None:
    f.make_ticket(world.alice, world.it, title="Laptop fan loud", impact=1, urgency=1)
    f.make_ticket(world.alice, world.it, title="Low one")
    f.make_ticket(world.alice, world.hr, title="Payslip question")
    response = client_for(world.bob).get("/desk/export.csv", {"priority": "1"})
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0].startswith("number,type,state")
    assert len(lines) == 2 and "Laptop fan loud" in lines[1]
    everything = b"".join(client_for(world.bob).get("/desk/export.csv", {"state": "all"}).streaming_content)
    assert b"Payslip" not in everything
    assert client_for(world.bob).get("/desk/export.csv", {"priority": "x"}).status_code == 400
    assert client_for(world.alice).get("/desk/export.csv").status_code == 403


def test_agents_add_watchers_by_username_and_unknown_names_are_named(world: World) -> None:
    ticket = f.make_ticket(world.alice, world.it)
    client = client_for(world.bob)
    response = client.post(f"/desk/tickets/{ticket.number}/edit/",
                           {"version": ticket.version, "watchers": "carol, ghost"})
    assert response.status_code == 400
    assert 'id="edit-watchers-error">Watchers: no active user ghost' in response.content.decode()
    client.post(f"/desk/tickets/{ticket.number}/edit/", {"version": ticket.version, "watchers": "carol"})
    assert list(Ticket.objects.get(pk=ticket.pk).watchers.values_list("username", flat=True)) == ["carol"]

"""Triage inside the ticket flow: models trained from the desk's resolved tickets and stored with their
figures, the service manager's policy (suggest, apply above a threshold, never a person's value), agents'
corrections, the kill switch, and a broken model that leaves the ticket as it was."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from outcomedesk.assist import services as assist
from outcomedesk.assist import store
from outcomedesk.assist.models import Outcome, Suggestion, TrainedModel
from outcomedesk.assist.switches import is_enabled, set_switch
from outcomedesk.core.errors import Conflict, InvalidInput, NotAllowed
from outcomedesk.core.models import AuditEvent, Channel
from outcomedesk.tickets import services as tickets
from outcomedesk.tickets.models import Ticket
from tests import factories as f
from tests.conftest import World


@pytest.fixture
def new(world: World, django_capture_on_commit_callbacks: Any) -> Callable[..., Ticket]:
    """Alice opens an IT ticket; what runs after the commit (the triage task) runs before this returns."""
    def open_(title: str, **fields: object) -> Ticket:
        with django_capture_on_commit_callbacks(execute=True):
            return f.make_ticket(world.alice, world.it, title=title, **fields)
    return open_


def test_training_stores_a_versioned_model_with_held_out_figures(world: World, history: dict) -> None:
    found = assist.train_desk(world.it, actor=world.dave, fields=["group", "category"])
    assert all(isinstance(row, TrainedModel) for row in found)
    model = TrainedModel.objects.get(desk=world.it, field="group", is_active=True)
    assert model.rows == 60 and model.classes == 2
    assert model.version.startswith("triage-svm-2-")
    assert {"accuracy", "macro_f1", "weighted_f1", "coverage_at_90_precision", "test_rows",
            "train_seconds"} <= set(model.figures)
    assert model.figures["test_rows"] == 12
    assert model.size_bytes == len(bytes(model.blob)) > 0
    # Training again keeps the first, inactive; a manager can roll back to it.
    again = assist.train_field(world.it, "group", actor=world.dave)
    assert isinstance(again, TrainedModel) and again.is_active
    assert TrainedModel.objects.filter(desk=world.it, field="group").count() == 2
    assist.activate_model(world.dave, model.pk)
    assert TrainedModel.objects.get(desk=world.it, field="group", is_active=True).pk == model.pk
    assert AuditEvent.objects.filter(object_type="assist_model", action="activated").exists()


def test_a_field_with_one_value_is_skipped_with_the_reason(world: World, history: dict) -> None:
    found = assist.train_field(world.it, "service")
    assert isinstance(found, assist.TrainingSkipped)
    assert "0 resolved tickets with a service" in found.reason
    f.make_service(world.it)
    out = io.StringIO()
    with pytest.raises(CommandError, match="nothing was trained"):
        call_command("assist", "train", "--desk", "it", "--field", "service", stdout=out)
    assert "service: skipped" in out.getvalue()


def test_only_managers_train_and_set_policy(world: World, history: dict) -> None:
    with pytest.raises(NotAllowed):
        assist.train_field(world.it, "group", actor=world.bob)
    with pytest.raises(NotAllowed):
        assist.set_policy(world.bob, world.it, "group", "auto")
    with pytest.raises(InvalidInput) as bad:
        assist.set_policy(world.dave, world.it, "group", "always", threshold="high")
    assert set(bad.value.errors) == {"mode", "threshold"}


def test_suggest_mode_leaves_the_ticket_alone(world: World, history: dict, new: Callable[..., Ticket]) -> None:
    assist.train_desk(world.it, fields=["group"])
    ticket = new("the VPN will not connect since this morning")
    ticket.refresh_from_db()
    suggestion = Suggestion.objects.get(ticket=ticket, field="group")
    assert suggestion.value == str(history["network"].pk) and suggestion.display == "Network"
    assert suggestion.outcome == Outcome.OPEN and suggestion.threshold is None
    assert suggestion.model_name == "triage" and suggestion.version.startswith("triage-svm-2-")
    assert len(suggestion.input_hash) == 64 and 0 <= suggestion.confidence <= 1
    assert "vpn" in [w["word"] for w in suggestion.explanation["words"]]
    assert ticket.group_id is None and ticket.version == 1
    # The agent takes it: the value is the agent's change.
    assist.decide(world.bob, suggestion.pk, accept=True)
    ticket.refresh_from_db()
    assert ticket.group_id == history["network"].pk
    assert AuditEvent.objects.filter(object_id=ticket.pk, field="group", actor=world.bob).exists()
    suggestion.refresh_from_db()
    assert suggestion.outcome == Outcome.ACCEPTED and suggestion.decided_by == world.bob
    with pytest.raises(Conflict, match="already"):
        assist.decide(world.bob, suggestion.pk, accept=False)
    with pytest.raises(NotAllowed, match="only agents of the IT desk"):  # HR's agent reads IT, works HR only
        assist.decide(world.hana, suggestion.pk, accept=True)


def test_auto_mode_applies_confident_values_as_the_ai_and_records_corrections(
    world: World, history: dict, new: Callable[..., Ticket],
) -> None:
    assist.train_desk(world.it, fields=["group", "category", "impact"])
    for field in ("group", "category", "impact"):
        assist.set_policy(world.dave, world.it, field, "auto", threshold=0.5)
    ticket = new("printer on floor 4 jams and prints blank pages")
    ticket.refresh_from_db()
    assert ticket.group_id == world.it_group.pk and ticket.category_id == history["printing"].pk
    bot = assist.assistant()
    change = AuditEvent.objects.get(object_id=ticket.pk, object_type="ticket", field="group", actor=bot)
    assert change.channel == Channel.ASSIST
    applied = Suggestion.objects.filter(ticket=ticket, outcome=Outcome.APPLIED)
    assert {s.field for s in applied} == {"group", "category"}  # impact: the model agreed with the default
    # The agent knows better: the category becomes Connectivity. That is a correction, kept for training.
    tickets.update_ticket(world.bob, ticket, {"category": history["connectivity"].pk})
    corrected = Suggestion.objects.get(ticket=ticket, field="category")
    assert corrected.outcome == Outcome.CORRECTED and corrected.final_value == str(history["connectivity"].pk)
    quality = assist.live_quality([world.it.pk])
    assert quality["category"]["corrected"] == 1 and quality["group"]["precision"] == 1.0


def test_a_value_a_person_set_is_never_touched(world: World, history: dict, new: Callable[..., Ticket]) -> None:
    assist.train_desk(world.it, fields=["group", "category", "impact"])
    for field in ("group", "category", "impact"):
        assist.set_policy(world.dave, world.it, field, "auto", threshold=0.5)
    ticket = new("printer jams on every page", category=history["connectivity"].pk, impact=1)
    ticket.refresh_from_db()
    assert ticket.category_id == history["connectivity"].pk and ticket.impact == 1
    assert not Suggestion.objects.filter(ticket=ticket, field__in=["category", "impact"]).exists()
    assert ticket.group_id == world.it_group.pk  # the empty field was filled


def test_below_the_threshold_it_only_suggests(world: World, history: dict, new: Callable[..., Ticket]) -> None:
    assist.train_desk(world.it, fields=["group"])
    assist.set_policy(world.dave, world.it, "group", "auto", threshold=1.0)
    ticket = new("VPN and printer both fail")
    ticket.refresh_from_db()
    suggestion = Suggestion.objects.get(ticket=ticket, field="group")
    assert suggestion.confidence < 1.0 and suggestion.outcome == Outcome.OPEN and suggestion.threshold == 1.0
    assert ticket.group_id is None


def test_kill_switch_stops_triage(
    world: World, history: dict, new: Callable[..., Ticket], settings: Any,
) -> None:
    assist.train_desk(world.it, fields=["group"])
    with pytest.raises(NotAllowed):
        set_switch(world.bob, "triage", False)
    set_switch(world.root, "triage", False, "model misroutes after the reorganisation")
    assert not Suggestion.objects.filter(ticket=new("VPN down")).exists()
    set_switch(world.root, "triage", True)
    assert Suggestion.objects.filter(ticket=new("VPN down")).exists()
    settings.OUTCOMEDESK_ASSIST_DISABLED = ["all"]
    assert not is_enabled("triage")
    assert not Suggestion.objects.filter(ticket=new("VPN down")).exists()


def test_a_broken_model_leaves_the_ticket_as_it_was(world: World, history: dict, new: Callable[..., Ticket],
                                                     caplog: pytest.LogCaptureFixture) -> None:
    assist.train_desk(world.it, fields=["group"])
    assist.set_policy(world.dave, world.it, "group", "auto", threshold=0.5)
    TrainedModel.objects.filter(is_active=True).update(blob=b"not a model")
    store.forget()
    with caplog.at_level(logging.ERROR, logger="outcomedesk.assist.services"):
        ticket = new("VPN down again")
    ticket.refresh_from_db()
    assert ticket.group_id is None and ticket.version == 1
    assert not Suggestion.objects.filter(ticket=ticket).exists()
    assert f"triage of ticket {ticket.pk} failed" in caplog.text

"""Trained models in the database, loaded once per process and kept until a newer one becomes active."""

from __future__ import annotations

import io
import threading

import joblib

from outcomedesk.assist.models import TrainedModel
from outcomedesk.assist.triage import TriageModel

_lock = threading.Lock()
_loaded: dict[int, TriageModel] = {}
KEEP = 32  # models held in memory per process (a desk has at most five fields)


def dump(model: TriageModel) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    return buffer.getvalue()


def load(row_id: int) -> TriageModel:
    """The model of one TrainedModel row, unpickled once per process."""
    with _lock:
        found = _loaded.get(row_id)
    if found is not None:
        return found
    blob = TrainedModel.objects.filter(pk=row_id).values_list("blob", flat=True).get()
    model = joblib.load(io.BytesIO(bytes(blob)))
    if not isinstance(model, TriageModel):
        raise TypeError(f"trained model {row_id} does not hold a TriageModel")
    with _lock:
        if len(_loaded) >= KEEP:
            _loaded.pop(next(iter(_loaded)))
        _loaded[row_id] = model
    return model


def forget() -> None:
    with _lock:
        _loaded.clear()

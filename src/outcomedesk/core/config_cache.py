"""Configuration that every ticket write reads (desks, routing rules, the priority matrix, SLA policies, webhook
subscriptions), kept in each process and read again only once it changed, in this process or in any other.

Each kind has a stamp in `ConfigVersion`, set to a new random value whenever one of its models is written: on
`post_save` and `post_delete`, and by `ConfigQuerySet` for the writes that send no signal (`update`,
`bulk_create`, `bulk_update`). The stamp changes in the transaction of the change, so another process sees the new
stamp when it sees the new rows; a change rolled back leaves the old stamp, and a stamp taken from an uncommitted
change is one that nobody will ever store again. A cache answers from memory while its stamp is the stored one.

Reading the stamps is one query for every kind at once; inside `reading()` (one ticket write, say) it is made once,
at the first cache asked. Outside such a block every `get` reads them itself: correct, one query a call.
Raw SQL writes of these tables must call `changed(name)`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Generic, TypeVar

from django.db import models
from django.db.models.signals import post_delete, post_save

from outcomedesk.core.models import ConfigVersion

T = TypeVar("T")
M = TypeVar("M", bound=models.Model)

# Which caches each model feeds: filled when a cache is made (in its app's module, imported by AppConfig.ready()).
_watched: dict[type[models.Model], set[str]] = {}
_caches: dict[str, ConfigCache[Any]] = {}


class _Stamps:
    """The stamps read for one `reading()` block (None until a cache is first asked in it)."""

    def __init__(self) -> None:
        self.stamps: dict[str, str] | None = None


_block: ContextVar[_Stamps | None] = ContextVar("outcomedesk_config_stamps", default=None)


@contextmanager
def reading() -> Iterator[None]:
    """Inside the block, the stamps are read once, when a cache is first asked: the configuration as of then."""
    if _block.get() is not None:  # an enclosing block reads them already
        yield
        return
    token = _block.set(_Stamps())
    try:
        yield
    finally:
        _block.reset(token)


def _stamps() -> dict[str, str]:
    block = _block.get()
    if block is not None and block.stamps is not None:
        return block.stamps
    stamps = dict(ConfigVersion.objects.values_list("name", "stamp"))
    if block is not None:
        block.stamps = stamps
    return stamps


def changed(*names: str) -> None:
    """Mark these kinds of configuration changed: every process reads them again (called by the signals and
    `ConfigQuerySet`; call it after writing their tables with raw SQL)."""
    for name in names:
        stamp = uuid.uuid4().hex
        ConfigVersion.objects.bulk_create([ConfigVersion(name=name, stamp=stamp)], update_conflicts=True,
                                          unique_fields=["name"], update_fields=["stamp"])
        cache = _caches.get(name)
        if cache is not None:
            cache.forget()
        block = _block.get()
        if block is not None and block.stamps is not None:
            block.stamps[name] = stamp  # this block reads what it wrote


def _changed_model(model: type[models.Model]) -> None:
    names = _watched.get(model)
    if names:
        changed(*sorted(names))


def _on_write(sender: type[models.Model], **_: Any) -> None:
    _changed_model(sender)


class ConfigCache(Generic[T]):
    """One kind of configuration: `load()` builds it from the database, `get()` answers from memory while the stored
    stamp of `name` is the one it was built under. What `load` returns is shared by every thread of the process:
    callers must not change it (hand out copies of model instances that a caller may change)."""

    def __init__(self, name: str, load: Callable[[], T], models_: Iterable[type[models.Model]]) -> None:
        if name in _caches:
            raise ValueError(f"a configuration cache named {name!r} exists already")
        self.name = name
        self._load = load
        self._held: tuple[str, T] | None = None
        _caches[name] = self
        for model in models_:
            _watched.setdefault(model, set()).add(name)
            post_save.connect(_on_write, sender=model, dispatch_uid="config-cache")
            post_delete.connect(_on_write, sender=model, dispatch_uid="config-cache")

    def get(self) -> T:
        stamp = _stamps().get(self.name, "")  # read before the rows: what is loaded is at least that recent
        held = self._held
        if held is not None and held[0] == stamp:
            return held[1]
        value = self._load()
        self._held = (stamp, value)
        return value

    def forget(self) -> None:
        self._held = None


class ConfigQuerySet(models.QuerySet[M]):
    """The queryset of a model that a cache watches: the bulk writes, which send no signal, mark it changed too."""

    def update(self, **kwargs: Any) -> int:
        count = super().update(**kwargs)
        if count:
            _changed_model(self.model)
        return count

    def bulk_create(self, *args: Any, **kwargs: Any) -> list[M]:
        made = super().bulk_create(*args, **kwargs)
        if made:
            _changed_model(self.model)
        return made

    def bulk_update(self, *args: Any, **kwargs: Any) -> int:
        count = super().bulk_update(*args, **kwargs)
        if count:
            _changed_model(self.model)
        return count

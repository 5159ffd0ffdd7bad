"""Business services."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from outcomedesk.cmdb.models import BusinessService

router = Router(tags=["services"])


class ServiceOut(Schema):
    id: int
    name: str
    slug: str
    desk: str
    criticality: int
    users_served: int
    cost_of_downtime_per_hour: Decimal
    sla_target_percent: Decimal
    experience_target: Decimal
    watermelon_reopen_rate: Decimal
    watermelon_downtime_rise: Decimal
    watermelon_cluster_size: int

    @staticmethod
    def resolve_desk(obj: BusinessService) -> str:
        return obj.desk.slug


@router.get("/services", response=list[ServiceOut])
def services(request: HttpRequest) -> Any:
    return BusinessService.objects.filter(is_active=True).select_related("desk")

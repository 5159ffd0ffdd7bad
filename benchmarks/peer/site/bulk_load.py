"""Fill django-helpdesk's database for the peer benchmark: queues, agents, the API user and N tickets.

Run in django-helpdesk's virtualenv, from this folder, with the repository root on PYTHONPATH (for
benchmarks.text, the same ticket text as Outcomedesk's load and HTTP clients):

    python bulk_load.py --tickets 100000

Tickets and their first follow-up ("Ticket Opened", as django-helpdesk's form writes it) are written with
bulk_create in batches; a progress line every few seconds, whatever stdout is. The shares mirror Outcomedesk's
benchmark organisation (benchmarks/data.py): four queues (IT 70 %, Facilities 12 %, Finance 8 %, HR 10 %),
30 % of tickets open and recent, the rest resolved or closed over three years, 20 % with a reply.
"""

import argparse
import os
import random
import sys
import time
from datetime import timedelta

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk_site.settings")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402
from helpdesk.models import FollowUp, Queue, Ticket  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from benchmarks.text import TextMaker  # noqa: E402

QUEUES = [("it", "IT", 0.70), ("facilities", "Facilities", 0.12), ("finance", "Finance", 0.08), ("hr", "HR", 0.10)]
AGENTS = 200
REQUESTERS = 5000
API_USER = "bench-agent"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--progress-seconds", type=float, default=3.0)
    args = parser.parse_args()
    rng = random.Random(2)
    text = TextMaker(rng)
    User = get_user_model()

    with transaction.atomic():
        queues = [Queue.objects.create(title=title, slug=slug, email_address=f"{slug}@example.org",
                                       allow_public_submission=False, allow_email_submission=False)
                  for slug, title, _ in QUEUES]
        agents = [User.objects.create(username=f"agent{n:03d}", email=f"agent{n:03d}@example.org", is_staff=True)
                  for n in range(AGENTS)]
        api_user = User.objects.create(username=API_USER, email="bench@example.org", is_staff=True,
                                       is_superuser=True)
        Token.objects.create(user=api_user)
    weights = [share for _, _, share in QUEUES]
    requesters = [f"user{n:05d}@example.org" for n in range(REQUESTERS)]
    now = timezone.now()
    span = timedelta(days=3 * 365).total_seconds()

    # bulk_create writes the given times; the model's auto_now(_add) would stamp every row "now".
    for name in ("created", "modified"):
        field = Ticket._meta.get_field(name)
        field.auto_now = field.auto_now_add = False

    started = last = time.monotonic()
    written = 0
    print(f"loading {args.tickets:,} tickets into django-helpdesk ({connection.settings_dict['NAME']})", flush=True)
    while written < args.tickets:
        size = min(args.batch, args.tickets - written)
        tickets, replies = [], []
        for _ in range(size):
            is_open = rng.random() < 0.30
            if is_open:
                status = rng.choice((Ticket.OPEN_STATUS, Ticket.OPEN_STATUS, Ticket.REOPENED_STATUS))
                created = now - timedelta(seconds=rng.random() * 60 * 86400)
            else:
                status = rng.choices((Ticket.CLOSED_STATUS, Ticket.RESOLVED_STATUS), (55, 15))[0]
                created = now - timedelta(seconds=60 * 86400 + rng.random() * (span - 60 * 86400))
            done = created + timedelta(hours=rng.randint(1, 200))
            tickets.append(Ticket(
                title=text.title(), queue=rng.choices(queues, weights)[0], created=created,
                modified=created if is_open else done, submitter_email=rng.choice(requesters),
                assigned_to=rng.choice(agents) if rng.random() < 0.8 else None, status=status,
                description=text.paragraph(15, 60), resolution="" if is_open else text.paragraph(5, 15),
                priority=rng.choices((1, 2, 3, 4, 5), (1, 2, 6, 2, 1))[0],
            ))
            replies.append(rng.randint(1, 2) if rng.random() < 0.2 else 0)
        with transaction.atomic():
            Ticket.objects.bulk_create(tickets)
            followups = []
            for ticket, count in zip(tickets, replies, strict=True):
                followups.append(FollowUp(ticket=ticket, title="Ticket Opened", date=ticket.created, public=True,
                                          comment=ticket.description, user=ticket.assigned_to))
                followups += [FollowUp(ticket=ticket, title="Comment", date=ticket.created + timedelta(hours=n + 1),
                                       public=True, comment=text.paragraph(8, 30), user=ticket.assigned_to)
                              for n in range(count)]
            FollowUp.objects.bulk_create(followups)
        written += size
        if time.monotonic() - last >= args.progress_seconds or written == args.tickets:
            last = time.monotonic()
            rate = written / (last - started)
            print(f"  {written:,} / {args.tickets:,} tickets ({rate:,.0f}/s)", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"loaded {written:,} tickets in {time.monotonic() - started:.1f} s; API user {API_USER} "
          f"(token authentication)", flush=True)


if __name__ == "__main__":
    sys.exit(main())

"""Events the tickets app announces; higher layers (the SLA engine) subscribe in their AppConfig.ready()."""

from django.dispatch import Signal

# Sent inside the transaction of every service call that changed a ticket, after it is saved.
# Arguments: ticket (the saved Ticket), now (the instant of the change), created (True from open_ticket: the ticket
# was just inserted, with its audit events and nothing else of it stored yet; its requester is loaded).
ticket_changed = Signal()

# Sent inside the transaction of open_ticket, after the ticket is saved (and after ticket_changed).
# Arguments: ticket, now. Subscribers that must not delay the requester defer their work to commit.
ticket_opened = Signal()

# Sent inside the transaction of every comment or internal note written, after it is saved.
# Arguments: comment (the saved Comment, its ticket loaded), now. Subscribers defer outside work to commit.
comment_added = Signal()

# Sent inside the transaction of a change people are told about (the notification events: created, assigned,
# comment, note, state, resolved, reopened), not for imports and the demo. Arguments: event, ticket, actor (a User
# or None), comment_id (or None), now. Subscribers write what must not be lost in this transaction and defer the
# outside work to commit (outbound webhooks keep a delivery row, then send it).
ticket_event = Signal()

# Sent by the notification task after it sent the e-mails of one event (in the worker, after commit).
# Arguments: event, ticket_id. What must reach people after those e-mails (the survey after "resolved") hooks here.
notifications_sent = Signal()

"""Events the tickets app announces; higher layers (the SLA engine) subscribe in their AppConfig.ready()."""

from django.dispatch import Signal

# Sent inside the transaction of every service call that changed a ticket, after it is saved.
# Arguments: ticket (the saved Ticket), now (the instant of the change).
ticket_changed = Signal()

# Sent inside the transaction of open_ticket, after the ticket is saved (and after ticket_changed).
# Arguments: ticket, now. Subscribers that must not delay the requester defer their work to commit.
ticket_opened = Signal()

# Sent inside the transaction of every comment or internal note written, after it is saved.
# Arguments: comment (the saved Comment, its ticket loaded), now. Subscribers defer outside work to commit.
comment_added = Signal()

"""Every change of a ticket goes through these functions: UI, API, portal, imports and tasks call them.

Each one checks permission, validates, writes in one transaction with its audit events, and defers
notifications to commit. The modules: `opening` (check and write a new ticket), `changes` (fields),
`lifecycle` (states, reopening, auto-close, escalation), `conversation` (replies, notes, attachments),
`relations` (links, merges), `configuration` (categories, routing rules), `saved_views` (queues); `common`
holds what they share.
"""

from outcomedesk.tickets.services.changes import bulk_update, update_ticket
from outcomedesk.tickets.services.common import EDITABLE, TITLE_MAX, Lookups, lock_for_change
from outcomedesk.tickets.services.configuration import create_assignment_rule, create_category
from outcomedesk.tickets.services.conversation import add_attachment, add_comment
from outcomedesk.tickets.services.lifecycle import (
    TRANSITIONS,
    change_state,
    close_resolved,
    escalate_ticket,
    reopen_ticket,
)
from outcomedesk.tickets.services.opening import NewTicket, check_ticket, open_ticket, write_ticket
from outcomedesk.tickets.services.relations import link_tickets, merge_tickets
from outcomedesk.tickets.services.saved_views import clean_query, delete_view, save_view

__all__ = [
    "EDITABLE", "TITLE_MAX", "TRANSITIONS", "Lookups", "NewTicket", "add_attachment", "add_comment", "bulk_update",
    "change_state", "check_ticket", "clean_query", "close_resolved", "create_assignment_rule", "create_category",
    "delete_view", "escalate_ticket", "link_tickets", "lock_for_change", "merge_tickets", "open_ticket",
    "reopen_ticket", "save_view", "update_ticket", "write_ticket",
]

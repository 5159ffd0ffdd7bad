"""What the chat platforms share: an agent's public reply on a ticket goes back to the ticket's chat thread, on
Slack or on Teams through its bot (a thread a Teams outgoing webhook opened cannot be posted to later: that
webhook only answers the message that called it), after commit, by a task; and every post is recorded in the
transaction that makes it (`post_once`), so a task run twice posts once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from outcomedesk.accounts import policy
from outcomedesk.core import clock
from outcomedesk.core.config_cache import ConfigCache
from outcomedesk.core.html import html_to_text
from outcomedesk.core.models import Channel
from outcomedesk.intake.models import ChatChannel, ChatPlatform, ChatPost, ChatThread
from outcomedesk.tickets.models import Comment


def can_post(thread: ChatThread) -> bool:
    """Whether the desk can post in this thread later: Slack's always, Teams' when its bot knows the thread."""
    if thread.channel.platform == ChatPlatform.SLACK:
        return True
    return bool(thread.service_url and thread.conversation_id and settings.OUTCOMEDESK_TEAMS_APP_ID)


def _any_chat_channel() -> bool:
    return ChatChannel.objects.exists()


# Asked on every public reply: kept per process until a channel changes (core.config_cache). Without any channel
# there is no thread (a thread belongs to a channel), and no need to look for one.
CHANNELS_EXIST = ConfigCache("chat_channels", _any_chat_channel, [ChatChannel])


def on_comment_added(comment: Comment, **_: Any) -> None:
    """A public reply of the desk's staff on a ticket with a chat thread goes to that thread after commit."""
    if not comment.is_public or comment.channel == Channel.CHAT or comment.author_id is None:
        return
    if not CHANNELS_EXIST.get():
        return
    thread = ChatThread.objects.filter(ticket_id=comment.ticket_id).select_related("channel").first()
    if thread is None or not can_post(thread) or not policy.can(comment.author, policy.WORK, comment.ticket):
        return
    from outcomedesk.intake.tasks import post_chat_reply

    transaction.on_commit(lambda: post_chat_reply.delay(comment.pk))


def post_reply(comment_id: int) -> bool:
    """Post one agent reply to its ticket's thread (the task of `on_comment_added`), once."""
    comment = Comment.objects.select_related("author", "ticket").filter(pk=comment_id).first()
    thread = ChatThread.objects.select_related("channel").filter(ticket_id=comment.ticket_id).first() if comment \
        else None
    if comment is None or thread is None or not can_post(thread):
        return False
    who = comment.author.display_name or comment.author.username if comment.author else "The desk"
    text = html_to_text(comment.body)
    if thread.channel.platform == ChatPlatform.SLACK:
        from outcomedesk.intake.slack import client as slack

        return post_once(ChatPost(comment=comment, thread=thread),
                         lambda: slack.post(thread.channel.channel_id, thread.thread_id, f"*{who}*: {text}"))
    from outcomedesk.intake.teams import client as teams

    teams.access_token()  # before the transaction below, which stays open while the post is under way
    return post_once(ChatPost(comment=comment, thread=thread), lambda: teams.send(
        thread.service_url, thread.conversation_id,
        {"type": "message", "textFormat": "markdown", "text": f"**{who}**: {text}",
         "from": {"id": f"28:{settings.OUTCOMEDESK_TEAMS_APP_ID}"}, "conversation": {"id": thread.conversation_id}}))


def post_once(post: ChatPost, send: Callable[[], str]) -> bool:
    """Record `post` and `send()` it in one transaction: a failure rolls the record back (the task's retry sends
    it), and a post recorded already (a task run again) is not sent. False when it was posted before."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                post.posted_at = clock.now()
                post.save(force_insert=True)
        except IntegrityError:
            return False
        post.message_ts = send()[:100]
        post.save(update_fields=["message_ts"])
    return True

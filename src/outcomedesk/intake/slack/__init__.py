"""Slack: the Events API and a slash command open tickets and add comments (`services`), signed requests only
(`signing`), agents' public replies go back to the thread through Slack's Web API (`client`)."""

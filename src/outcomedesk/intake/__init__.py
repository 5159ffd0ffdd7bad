"""Intake: messages from outside (e-mail first) read into a shape the ticket services can take."""

"""Microsoft Teams: an outgoing webhook (a channel's @mention of the desk) opens tickets and adds comments
(`services`), HMAC-signed requests only."""

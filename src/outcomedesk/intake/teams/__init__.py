"""Microsoft Teams: a Bot Framework bot (the Bot Connector's signed tokens checked in `botauth`, its REST API and
the token endpoint in `client`) and the older outgoing webhook (HMAC-signed) open tickets and add comments
(`services`); the bot also posts agents' public replies back to the thread (`intake.chat`)."""

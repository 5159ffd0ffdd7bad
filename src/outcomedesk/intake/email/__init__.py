"""E-mail intake. `message` reads one RFC 5322 message into a `ParsedMessage` (with `decode` for charsets and
encoded words, `parts` for the MIME tree, attachments and winmail.dat), `classify` tells tickets from
auto-replies, bounces and loops, `trim` cuts quoted history and signatures from a reply for display."""

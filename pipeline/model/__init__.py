"""Pure nouns: mail, the escalation state machine, root cause, ids, tokens, work time, honest statistics."""

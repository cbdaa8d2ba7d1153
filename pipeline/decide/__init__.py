"""Facts to verdicts and transitions: the classify chain, answers to replies, the chase plan."""

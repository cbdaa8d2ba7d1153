"""qmark's domain and flow: parse, classify, escalate, render; no infrastructure imports."""

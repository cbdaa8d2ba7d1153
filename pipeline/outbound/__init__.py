"""Rendering and hand-over: composing, headers, threads, every kind of mail qmark sends, the transport."""

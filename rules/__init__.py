"""The rule language: durations, working hours, holidays, zones; schema, loader with exact errors, routing."""

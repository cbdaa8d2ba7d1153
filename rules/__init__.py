"""The rule language: schema, loader with precise errors, and routing predicates."""

"""Processes and Dramatiq actors: thin adapters over pipeline/."""

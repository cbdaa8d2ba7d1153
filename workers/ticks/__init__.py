"""What a scheduler tick runs: chase timers, the sweeper, the daily digest."""

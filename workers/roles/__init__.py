"""One module per qmark role: run (the supervisor), smtp, imap, worker, scheduler, http."""

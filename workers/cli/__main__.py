"""``python -m workers.cli``: the ``qmark`` command, as ``qmark run`` starts its children."""

import sys

from workers.cli.main import main

sys.exit(main())

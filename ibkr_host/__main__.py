"""``python -m ibkr_host``: the ``ibkr`` command without the console script."""

import sys

from ibkr_host.cli import main

sys.exit(main())

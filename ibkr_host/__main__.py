"""``python -m ibkr_api``: the ``ibkr`` command without the console script."""

import sys

from ibkr_api.cli import main

sys.exit(main())

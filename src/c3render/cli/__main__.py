"""``python -m c3render.cli``: the ``c3-render`` command."""

import sys

from c3render.cli.main import main

sys.exit(main())

"""``python -m keyscope``: the admin command line."""

import sys

from keyscope.cli import main

sys.exit(main())

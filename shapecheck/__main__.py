"""Allow ``python -m shapecheck``."""

import sys

from shapecheck.cli import main

sys.exit(main())

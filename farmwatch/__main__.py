"""`python -m farmwatch` is the `farmwatch` command."""

import sys

from farmwatch.cli import main

sys.exit(main())

"""``python -m framepipe_plugin build APP``: the same as ``framepipe-py``."""

import sys

from .build import main

sys.exit(main())

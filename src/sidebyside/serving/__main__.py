"""``python -m sidebyside.serving install-kserve | check`` (also ``sidebyside serving ...``)."""

import sys

from .kserve_install import main

sys.exit(main())

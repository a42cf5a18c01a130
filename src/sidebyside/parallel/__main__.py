"""``python -m sidebyside.parallel COMMAND ...``: the worker programs (see :mod:`.workers`)."""

from .workers import main

main()

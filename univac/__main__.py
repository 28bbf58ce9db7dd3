"""``python -m univac``: the same as the ``univac`` command."""

from univac.cli import main

raise SystemExit(main())

"""``python -m tinygrad_edu``: the same as the ``tinygrad-edu`` command."""

from tinygrad_edu.cli import main

raise SystemExit(main())

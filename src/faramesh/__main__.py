"""`python -m faramesh`: the same entry point as the `faramesh` console script."""

from faramesh.cli.main import main

raise SystemExit(main())

"""`python -m data_generators` is the `labdata` command."""

from data_generators.cli import main

raise SystemExit(main())

"""`python -m tritonform.cli`, as the tests and benchmarks run the installed `tritonform` command."""

from tritonform.cli import main

raise SystemExit(main())

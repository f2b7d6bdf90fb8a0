"""`python -m hfproviders`: the same CLI as the `hfproviders` console script."""

from hfproviders.cli import main

raise SystemExit(main())

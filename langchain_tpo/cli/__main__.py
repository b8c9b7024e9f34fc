"""`python -m langchain_tpo.cli`, the same as the `tpo` script."""

import sys

from langchain_tpo.cli import main

sys.exit(main())

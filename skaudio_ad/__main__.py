"""``python -m skaudio_ad``: the ``skaudio-ad`` command line."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())

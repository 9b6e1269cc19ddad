"""``python -m skaudio_ad``: the ``skaudio-ad`` command line."""

import sys

if __name__ == "__main__":
    try:
        from ._cli import main
    except KeyboardInterrupt:  # Ctrl-C while Python is still starting up
        sys.stderr.write("\nskaudio-ad: interrupted\n")
        sys.exit(130)
    sys.exit(main())

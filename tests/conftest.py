"""Say which gmmfast the tests run against; refuse the source tree when asked to.

`.ci/run` sets GMMFAST_TEST_INSTALLED=1 so that a file missing from the installed
package fails CI instead of being picked up from the checkout.
"""

import os
from pathlib import Path

import gmmfast

_SOURCE_TREE = Path(__file__).resolve().parent.parent


def pytest_report_header(config):
    info = gmmfast.show_config(file=False)
    return (f"gmmfast {gmmfast.__version__} from {Path(gmmfast.__file__).parent}; "
            f"OpenMP {'on' if info['openmp'] else 'off'}, {info['n_threads']} threads")


def pytest_configure(config):
    if os.environ.get("GMMFAST_TEST_INSTALLED") == "1":
        where = Path(gmmfast.__file__).resolve()
        if _SOURCE_TREE in where.parents:
            raise RuntimeError(
                f"GMMFAST_TEST_INSTALLED=1 but gmmfast was imported from the source tree "
                f"({where}); install it (pip install .) and run pytest, not python -m pytest")

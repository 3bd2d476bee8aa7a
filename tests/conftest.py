import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def data_home():
    """Folder of the real benchmark data (IMSAT_SKLEARN_DATA), or skip."""
    path = os.environ.get("IMSAT_SKLEARN_DATA")
    if not path:
        pytest.skip("IMSAT_SKLEARN_DATA is not set: real-data tests need the shared data folder")
    if not Path(path).is_dir():
        pytest.skip(f"IMSAT_SKLEARN_DATA={path} is not a folder")
    return Path(path)

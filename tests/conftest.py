"""Test configuration: fast mode on, CPU only, a non-interactive matplotlib backend."""

import os

os.environ["CGFLOW_FAST"] = "1"
os.environ.setdefault("CGFLOW_DEVICE", "cpu")
os.environ.setdefault("MPLBACKEND", "Agg")

"""Reports: the self-contained HTML page (`html.py`) and `ganlens demo`, which fills one (`demo.py`)."""

from .demo import DemoSizes, run_demo
from .html import Report

__all__ = ["DemoSizes", "Report", "run_demo"]

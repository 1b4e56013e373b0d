"""Data, read in order: ``read/`` (sources into rows), ``layouts/`` (detect and normalise every
layout), ``prepare/`` (templates, previews, trainer-ready rows, the token cache), ``inspect.py`` on top.

Training makes one call, ``for_training``, and gets one ``PreparedData`` back.
"""

from studio.data.prepare.prepared import PreparedData
from studio.data.prepare.training_data import for_training, load_training_data
from studio.data.read.files import DataError

__all__ = ["DataError", "PreparedData", "for_training", "load_training_data"]

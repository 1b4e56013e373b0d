"""Data, read in order: ``read/`` (sources into rows), ``layouts/`` (detect and normalise every
layout), ``prepare/`` (templates, previews, trainer-ready rows, the token cache), ``inspect.py`` on top.

Training asks for its rows once, ``for_training`` (train and eval set, from the token cache when it can),
and gets one ``PreparedData`` back; beside it, it uses only the names below (the chat template, the
progress of the data's maps, the plan for tokenizing, the cache key its rows are stored under).
"""

from studio.data.prepare.prepared import PreparedData
from studio.data.prepare.progress import fmt_seconds, reported_maps, tokenizing_plan
from studio.data.prepare.templates import apply_template
from studio.data.prepare.training_data import cache_key_for, for_training, load_training_data
from studio.data.read.files import DataError

__all__ = ["DataError", "PreparedData", "apply_template", "cache_key_for", "fmt_seconds", "for_training",
           "load_training_data", "reported_maps", "tokenizing_plan"]

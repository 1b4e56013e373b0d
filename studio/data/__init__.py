"""Data: load a source, detect its format, normalise it to TRL's conversational form."""

from studio.data.layouts.normalise import DataError, PreparedData
from studio.data.prepare.training_data import load_training_data

__all__ = ["DataError", "PreparedData", "load_training_data"]

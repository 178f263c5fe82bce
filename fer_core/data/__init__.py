"""Data: the synthetic face world, real-dataset adapters and the papers' protocols."""

from fer_core.data.base import EXPRESSIONS_7, EXPRESSIONS_8, DataError, FaceDataset, SubsetView

__all__ = ["EXPRESSIONS_7", "EXPRESSIONS_8", "DataError", "FaceDataset", "SubsetView"]

"""Antiphon's training and ONNX export pipeline (see models/python/README.md)."""

__version__ = "0.1.0"

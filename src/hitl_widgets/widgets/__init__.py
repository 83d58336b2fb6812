"""Widgets: thin anywidget views that read core state and call core methods."""

from .labeler import Labeler

__all__ = ["Labeler"]

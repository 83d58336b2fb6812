"""Widgets: thin anywidget/ipywidgets views that read core state and call core methods."""

from .app import LabelingApp, label
from .chart import show
from .dashboard import Dashboard
from .labeler import Labeler

__all__ = ["Dashboard", "Labeler", "LabelingApp", "label", "show"]

"""Analyses: plain functions of a `Snapshot` (metrics, routing, agreement, label errors).

They never take a Session: reading one consistent snapshot is what keeps a chart from
mixing a fit of one moment with labels of another, and keeps these modules free of the
Session's locks and private fields.
"""

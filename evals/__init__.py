"""Evaluation: dataset → run → metrics → report."""

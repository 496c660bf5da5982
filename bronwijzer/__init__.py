"""Bronwijzer: answers from Dutch policy documents, with passage and page."""

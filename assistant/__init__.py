"""Answering: retrieve → answer → cite → web."""

"""Ingest pipeline: discover, load, clean, chunk and index source documents."""

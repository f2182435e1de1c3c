"""Retrieval: which passages of the user's documents a question is about (BM25 over terms)."""

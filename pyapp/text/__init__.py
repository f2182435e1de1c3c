"""Text handling that needs no model: token budgets, chunking."""

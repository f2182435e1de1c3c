"""Recipes: what to ask the model for each operation (summarize, ...), as prompts and plans."""

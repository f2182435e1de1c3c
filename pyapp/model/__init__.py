"""The model as Python sees it: GGUF metadata, tensor types, tokenizer and chat template."""

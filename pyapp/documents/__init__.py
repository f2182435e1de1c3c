"""Getting user text in: validation and cleaning of pasted or dropped documents."""

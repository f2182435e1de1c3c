"""The evaluation set (documents, questions, expected facts, key points) and its scoring."""

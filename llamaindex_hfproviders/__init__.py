"""LlamaIndex adapter (in progress)."""

"""Everything that takes a run out of the studio: export, GGUF, model card, Hub push and login."""

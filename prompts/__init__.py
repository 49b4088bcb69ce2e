"""Prompt files and phrasebooks, versioned and content-hashed, with a small validating loader."""

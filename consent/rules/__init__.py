"""The consent and provenance rules, free of Django so they can be read, tested and reused alone."""

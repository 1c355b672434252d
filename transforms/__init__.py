"""Beam transforms of news-ingest, one module per stage: source -> parse -> dedup -> nlp -> extract -> sinks."""

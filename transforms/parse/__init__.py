"""Parse stage: raw messages to articles (``article``), with their publication times (``pubtime``)."""

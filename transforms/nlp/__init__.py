"""NLP stage: spaCy over batches of articles, then the extractors (entities, timexes, events) on each Doc.

``annotate`` holds the work and the process pool, ``lemmas`` the on-demand lemmatizer, ``preload`` what the
pool's forkserver imports; ``transform`` holds the DoFns and the public ``AnnotateArticles``.
"""

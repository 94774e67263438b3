"""The learned triage model: hashed n-gram features, a linear classifier in numpy, its file and its training.

``features`` and ``model`` are what scoring uses at run time (pure, numpy only); ``training``,
``corpus``, ``figures`` and ``install`` are what ``socialwatch model train|eval|install`` uses.
"""

"""Reports: the period summary behind ``socialwatch report`` and the daily digest, its renderings and charts."""

"""socialwatch: watches a brand's social media so that no unhappy customer waits."""

__version__ = "0.1.0"

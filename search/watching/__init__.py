"""Watching a study: the terminal, the results files, the report, MLflow, the dashboard, show.

Observers of a run hear about trials as the engine finishes them; they never change the search.
"""

"""The engine core: the study, its data and the sealed test, the store, trials, final evaluation.

Everything here runs in the driver (the one process that writes the store), except
:mod:`search.core._worker`, which runs in a trial worker wherever a backend places it.
"""

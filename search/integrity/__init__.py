"""Honest estimates: ties between configs, leak checks, the validation-test gap, nested CV and
the stop-below-noise rule. Statistics over scores and data; no store, no backend."""

"""Where trials run: worker processes on this machine, or Ray actors on a cluster."""

"""The Ray placement: trial workers as Ray actors on a local Ray or a cluster."""

"""Many runs: a sweep's grid, member tags and saved definition (grid.py), the executors that train its members
(local_executor.py: one `grok-tui train` process each; ray_executor.py: Ray tasks), its results read from the
members' files (results.py) and its figure (figure.py). Each member is an ordinary run."""

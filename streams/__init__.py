"""Stream processors: pure domain models next to the thin Faust agents that run them."""

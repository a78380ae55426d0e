"""Stream processors: pure steps (normalise, match, score, triage, detect) and thin Faust agents."""

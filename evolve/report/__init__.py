"""What a person reads: summaries, explanations and the offline HTML report."""

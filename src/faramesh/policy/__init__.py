"""The policy IR and its compiled evaluator."""

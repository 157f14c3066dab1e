"""Study files: a base config, named variants and seeds, and the claim they test."""

"""Sources: where benchmarks and their code come from (discovery, git, worktrees, imports)."""

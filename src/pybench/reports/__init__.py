"""Front ends that render a run's outcomes; each module renders them in one format."""

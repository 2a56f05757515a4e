"""Analysis of logged results: collect → stats → tables and plots. Every output is a pure function of
the files a run writes (results.json and the per-item predictions), so reports regenerate without GPUs."""

"""PaDA-Agent: pattern analysis, strategy drafting, targeted generation and quality control."""

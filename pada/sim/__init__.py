"""The offline SIMULATION: a procedurally generated task world and an oracle teacher that knows only it.

Everything here exists for the demo and CI. Its numbers are reported as they come out and are never
comparable to, or evidence for, results on real benchmarks.
"""

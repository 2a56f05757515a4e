"""Comparison methods, one self-contained module each, all behind pada.methods.Method."""

"""Comparison methods, one self-contained module each, all behind pada.methods.Method.

Each conf/method/<name>.yaml names its class with ``_target_`` (e.g. ``baselines.sft.SFTOnly``).
"""

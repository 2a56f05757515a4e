"""Our ROUGE-L equals rouge_score's, checked in a subprocess (rouge_scorer imports absl, which must stay out
of the pytest process: its logging handler keeps a capture stream that pytest later closes)."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import json, random
from rouge_score import rouge_scorer, tokenizers
from pada.text import rouge_l as rouge_l_f
tok = tokenizers.DefaultTokenizer(use_stemmer=False)
scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
rng, words = random.Random(0), "the a cat dog sat on mat 12 apples Tom has buys more".split()
pairs = [(" ".join(rng.choices(words, k=rng.randint(0, 12))), " ".join(rng.choices(words, k=rng.randint(0, 12))))
         for _ in range(500)]
print(json.dumps([[scorer.score(a, b)["rougeL"].fmeasure, rouge_l_f(tok.tokenize(a), tok.tokenize(b))] for a, b in pairs]))
"""


def test_rouge_l_matches_rouge_score():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    pairs = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(pairs) == 500 and any(0 < ref < 1 for ref, _ in pairs)
    assert all(
        abs(ours - ref) < 1e-12 for ref, ours in pairs
    )  # 2*lcs/(m+n) vs 2PR/(P+R): float rounding only

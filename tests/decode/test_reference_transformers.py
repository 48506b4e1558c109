"""seqlab's greedy and beam search return exactly transformers' generate sequences on SmolLM2."""

import pytest
import torch

import seqlab.decode as D
import seqlab.lm as L

PROMPTS = [
    "The capital of France is",
    "Once upon a time",
    "def fibonacci(n):",
    "The best way to learn a language is",
    "Water boils at",
    "My favourite colour is",
    "import numpy as np",
    "The three primary colours are",
    "In 1969, astronauts",
    "A recipe for pancakes:",
    "The quick brown fox",
    "Dear Sir or Madam,",
    "Photosynthesis is the process",
    "To be or not to be",
    "The largest planet in the solar system",
    "SELECT * FROM users WHERE",
    "Machine learning is",
    "The weather today is",
    "Here is a haiku about autumn:",
    "2 + 2 =",
]
BEAM = dict(num_beams=4, length_penalty=1.0, early_stopping=False)


@pytest.fixture(scope="module")
def smol():
    return L.load("smollm2-135m")


@pytest.mark.slow
@pytest.mark.parametrize("method", ["greedy", "beam"])
def test_equal_to_transformers_generate_on_20_prompts(smol, method):
    kw = BEAM if method == "beam" else {}
    hf_kw = dict(
        do_sample=False, num_beams=kw.get("num_beams", 1), **{k: v for k, v in kw.items() if k != "num_beams"}
    )
    mismatches = []
    for p in PROMPTS:  # one prompt at a time
        ids, mask = smol.encode([p])
        ours = D.generate(smol, ids, method, attention_mask=mask, max_new_tokens=16, **kw)
        with torch.no_grad():
            ref = smol.model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=16, **hf_kw)
        if not torch.equal(ours, ref):
            mismatches.append((p, smol.decode(ours), smol.decode(ref)))
    assert not mismatches, mismatches


@pytest.mark.slow
@pytest.mark.parametrize("method", ["greedy", "beam"])
def test_batched_prompts_with_padding_equal_one_at_a_time(smol, method):
    kw = BEAM if method == "beam" else {}
    prompts = PROMPTS[:4]
    ids, mask = smol.encode(prompts)
    assert bool((mask == 0).any())  # the batch is padded
    batched = D.generate(smol, ids, method, attention_mask=mask, max_new_tokens=8, **kw)
    for i, p in enumerate(prompts):
        one_ids, one_mask = smol.encode([p])
        one = D.generate(smol, one_ids, method, attention_mask=one_mask, max_new_tokens=8, **kw)[0]
        row = batched[i, int((mask[i] == 0).sum()) :]  # drop the left padding
        assert torch.equal(row[: one.shape[0]], one), (p, smol.decode(row[None]), smol.decode(one[None]))
        assert bool((row[one.shape[0] :] == smol.pad_token_id).all())

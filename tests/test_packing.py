import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from codesift.packing import first_fit_decreasing, pack_rows, pad_rows


def test_first_fit_decreasing_respects_capacity_and_keeps_every_index():
    lengths = [5, 9, 3, 7, 1, 8, 2, 6]
    bins = first_fit_decreasing(lengths, 10)
    assert sorted(i for b in bins for i in b) == list(range(len(lengths)))
    assert all(sum(lengths[i] for i in b) <= 10 for b in bins)
    assert len(bins) == 5  # 41 tokens need at least 5 bins of 10
    with pytest.raises(ValueError):
        first_fit_decreasing([11], 10)


def test_pack_rows_layout():
    rows = pack_rows([[1, 2, 3], [4, 5]], [[1, 2, 3], [4, 5]], [[0, 1]], pad_id=0, row_len=7)
    assert rows["input_ids"].tolist() == [[1, 2, 3, 4, 5, 0, 0]]
    assert rows["position_ids"].tolist() == [[0, 1, 2, 0, 1, 0, 1]]
    assert rows["labels"].tolist() == [[-100, 2, 3, -100, 5, -100, -100]]
    assert rows["segment_ids"].tolist() == [[0, 0, 0, 1, 1, -1, -1]]


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_packed_logits_equal_unpacked(attn):
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(
        vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, attn_implementation=attn)).eval()
    g = torch.Generator().manual_seed(1)
    seqs = [torch.randint(1, 97, (n,), generator=g).tolist() for n in (7, 12, 3, 9, 5)]
    bins = first_fit_decreasing([len(s) for s in seqs], 20)
    assert len(bins) < len(seqs)
    rows = pack_rows(seqs, seqs, bins, pad_id=0)
    with torch.no_grad():
        packed = model(input_ids=rows["input_ids"], position_ids=rows["position_ids"],
                       use_cache=False).logits
        for r, b in enumerate(bins):
            at = 0
            for i in b:
                alone = model(input_ids=torch.tensor([seqs[i]])).logits[0]
                got = packed[r, at:at + len(seqs[i])]
                assert (got - alone).abs().max() < 1e-5
                at += len(seqs[i])
        # The trap the published "dynamic pack" falls into: with a KV cache, transformers
        # skips packed-sequence detection and later sequences see earlier ones.
        leaky = model(input_ids=rows["input_ids"], position_ids=rows["position_ids"],
                      use_cache=True).logits
    assert (leaky - packed).abs().max() > 1e-3


def test_pad_rows_masks_padding():
    rows = pad_rows([[1, 2, 3], [4]], [[1, 2, 3], [4]], pad_id=0)
    assert rows["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert rows["labels"].tolist() == [[-100, 2, 3], [-100, -100, -100]]

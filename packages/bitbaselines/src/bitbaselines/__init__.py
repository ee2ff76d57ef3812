"""Token-level reference models for bitlab: a byte-level window-attention masked LM
(:class:`ByteMLM`), a BERT-style masked LM over byte-level BPE tokens (:class:`BpeMLM`), Hugging
Face's BertForMaskedLM at the BpeMLM's size (:mod:`bitbaselines.hf_bert`, extra ``hf``), and the
exact byte-level BPE they share (:mod:`bitbaselines.bpe`).

The models are plain ``torch.nn.Module`` s with Hugging Face Hub folders (``save_pretrained`` /
``from_pretrained``); they know nothing of training: bittrain trains them through the same loop as
bitswin, bitbench measures them.
"""

from bitbaselines.bpe import load_tokenizer, save_tokenizer, train_reference_bpe
from bitbaselines.bpe_mlm import BpeMLM, bpe_mlm_flops_per_byte
from bitbaselines.byte_mlm import ByteMLM, byte_mlm_flops_per_byte
from bitbaselines.config import BpeMLMConfig, ByteMLMConfig
from bitbaselines.tokenizer import encode_windows
from bitbaselines.version import __version__

__all__ = [
    "BpeMLM",
    "BpeMLMConfig",
    "ByteMLM",
    "ByteMLMConfig",
    "__version__",
    "bpe_mlm_flops_per_byte",
    "byte_mlm_flops_per_byte",
    "encode_windows",
    "load_tokenizer",
    "save_tokenizer",
    "train_reference_bpe",
]

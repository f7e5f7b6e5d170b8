#!/usr/bin/env python3
"""Train the tiny byte-level BPE tokenizer of test/fixtures/tokenizer-tiny/ (see its README.md).

    /work/main/.venv/bin/python scripts/make-tokenizer.py [OUT_DIR]

Exactly 1024 tokens, so every id fits the `synthetic:tiny` model's vocabulary: 256 byte tokens and
763 merges learned from a seeded word corpus built here (no download, same output on every run), then
the five Llama-3 special tokens at ids 1019..1023, so <|eot_id|> is 1023, synthetic:tiny's EOS. The
pre-tokenizer splits like Llama 3 (contractions, letters, 1-3 digit groups, punctuation, newlines,
spaces), then maps bytes to printable characters (GPT-2 byte level); a post-processor adds
<|begin_of_text|> in front. tokenizer_config.json carries bos/eos and a Llama-3-style chat template.

Also writes reference.json: what HF `transformers` makes of a few strings and a chat (ids with and
without special tokens, decoded text, the rendered chat prompt), which test/tokenizer.test.ts checks
our TypeScript tokenizer and chat template rendering against.
"""
import json
import random
import re
import sys
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

VOCAB_TOTAL = 1024
SPECIAL = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
BOS, EOS = "<|begin_of_text|>", "<|eot_id|>"
# Llama 3's split pattern (tokenizer.json of Meta-Llama-3): contractions, words, 1-3 digits,
# punctuation runs, newlines, trailing and other whitespace.
SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
# Same structure as Llama 3's template: BOS once, a header per message, <|eot_id|> after each,
# and the assistant header when a generation prompt is asked for.
CHAT_TEMPLATE = (
    "{{- bos_token }}"
    "{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
)

WORDS = """the of and to a in is it you that he was for on are with as I his they be at one have this from
or had by hot word but what some we can out other were all there when up use your how said an each she
which do their time if will way about many then them write would like so these her long make thing see
him two has look more day could go come did number sound no most people my over know water than call
first who may down side been now find any new work part take get place made live where after back
little only round man year came show every good me give our under name very through just form sentence
great think say help low line differ turn cause much mean before move right boy old too same tell does
set three want air well also play small end put home read hand port large spell add even land here must
big high such follow act why ask men change went light kind off need house picture try us again animal
point mother world near build self earth father head stand own page should country found answer school
grow study still learn plant cover food sun four between state keep eye never last let thought city tree
cross farm hard start might story saw far sea draw left late run while press close night real life few
north open seem together next white children begin got walk example ease paper group always music those
both mark often letter until mile river car feet care second book carry took science eat room friend
began idea fish mountain stop once base hear horse cut sure watch color face wood main enough plain girl
usual young ready above ever red list though feel talk bird soon body dog family direct pose leave song
measure door product black short numeral class wind question happen complete ship area half rock order
fire south problem piece told knew pass since top whole king space heard best hour better true during
hundred five remember step early hold west ground interest reach fast verb sing listen six table travel
less morning ten simple several vowel toward war lay against pattern slow center love person money serve
appear road map rain rule govern pull cold notice voice unit power town fine certain fly fall lead cry
dark machine note wait plan figure star box noun field rest correct able pound done beauty drive stood
contain front teach week final gave green quick develop ocean warm free minute strong special mind behind
clear tail produce fact street inch multiply nothing course stay wheel full force blue object decide
surface deep moon island foot system busy test record boat common gold possible plane stead dry wonder
laugh thousand ago ran check game shape equate miss brought heat snow tire bring yes distant fill east
paint language among attention kernel tensor token request latency throughput engine server model cache
batch prefill decode benchmark backend memory queue sample logits softmax matrix vector gradient""".split()
PUNCT = [".", ",", "?", "!", ":", ";", " -", " (", ")", "'s", "'t", "'re", "\n", "\n\n", " \"", "\""]


def corpus(seed: int = 0, lines: int = 6000) -> list[str]:
    """Sentences of Zipf-weighted words, numbers and punctuation; seeded, so the merges are fixed."""
    rng = random.Random(seed)
    weights = [1.0 / (k + 1) for k in range(len(WORDS))]
    out = []
    for _ in range(lines):
        n = rng.randint(4, 16)
        words = rng.choices(WORDS, weights, k=n)
        words[0] = words[0].capitalize()
        text = " ".join(words)
        if rng.random() < 0.3:
            text += f" {rng.randint(0, 99999)}"
        out.append(text + rng.choice(PUNCT))
    out += ["café naïve über façade – “quotes” — ½ € ✓", "def f(x):\n    return x * 2  # code\n"]
    return out


def train(out: Path) -> None:
    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel(add_prefix_space=True, trim_offsets=True, use_regex=True)
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_TOTAL - len(SPECIAL), special_tokens=[],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus(), trainer)
    base = tok.get_vocab_size()
    assert base == VOCAB_TOTAL - len(SPECIAL), f"trained {base} tokens, want {VOCAB_TOTAL - len(SPECIAL)}: a larger corpus is needed"
    tok.add_special_tokens(SPECIAL)  # appended: ids 1019..1023
    assert tok.get_vocab_size() == VOCAB_TOTAL, tok.get_vocab_size()
    bos_id = tok.token_to_id(BOS)
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single=f"{BOS}:0 $A:0", pair=f"{BOS}:0 $A:0 {BOS}:1 $B:1", special_tokens=[(BOS, bos_id)]),
    ])
    out.mkdir(parents=True, exist_ok=True)
    tok.save(str(out / "tokenizer.json"))
    added = {str(tok.token_to_id(t)): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                                       "single_word": False, "special": True} for t in SPECIAL}
    config = {
        "added_tokens_decoder": added,
        "bos_token": BOS,
        "eos_token": EOS,
        "chat_template": CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "model_input_names": ["input_ids", "attention_mask"],
        "model_max_length": 1024,
        "tokenizer_class": "PreTrainedTokenizerFast",
    }
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")


STRINGS = [
    "Hello world",
    "The engine serves 12345 tokens per second, with a latency of 3.5 ms.",
    "  leading spaces and\ttabs\nand new lines\n\n",
    "I'll say they're here; it's the model's cache!",
    "café naïve über – “quotes” ✓ 漢字",
    "<|begin_of_text|>already special<|eot_id|>",
    "",
]
CHAT = [
    {"role": "system", "content": "You are a terse assistant."},
    {"role": "user", "content": "  What is the latency of the fused kernel?  "},
    {"role": "assistant", "content": "About 3 ms."},
    {"role": "user", "content": "And the throughput?"},
]


def reference(out: Path) -> None:
    hf = AutoTokenizer.from_pretrained(str(out))
    assert isinstance(hf, PreTrainedTokenizerFast) and len(hf) == VOCAB_TOTAL, len(hf)
    cases = []
    for s in STRINGS:
        with_special = hf(s, add_special_tokens=True)["input_ids"]
        plain = hf(s, add_special_tokens=False)["input_ids"]
        cases.append({
            "text": s,
            "ids": plain,
            "ids_with_special": with_special,
            "decoded": hf.decode(plain),
            "decoded_skip_special": hf.decode(with_special, skip_special_tokens=True),
        })
    rendered = hf.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True)
    ref = {
        "made_by": "scripts/make-tokenizer.py (HF transformers AutoTokenizer on this directory)",
        "vocab_size": len(hf),
        "bos_token_id": hf.bos_token_id,
        "eos_token_id": hf.eos_token_id,
        "cases": cases,
        "chat": {
            "messages": CHAT,
            "add_generation_prompt": True,
            "rendered": rendered,
            "ids": hf(rendered, add_special_tokens=False)["input_ids"],
        },
    }
    text = json.dumps(ref, indent=1, ensure_ascii=False)
    text = re.sub(r"\[\s*(-?\d+(?:,\s*-?\d+)*)\s*\]", lambda m: "[" + ",".join(m.group(1).split()).replace(",,", ",") + "]", text)
    (out / "reference.json").write_text(text + "\n")


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "test" / "fixtures" / "tokenizer-tiny")
    train(out)
    reference(out)
    print(f"wrote {out}/tokenizer.json, tokenizer_config.json, reference.json ({VOCAB_TOTAL} tokens)")

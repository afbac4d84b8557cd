#!/usr/bin/env python3
"""Social-media text normalization, written INTO tokenizer.json (standard library only).

The normalization is a list of Hugging Face ``Replace`` normalizers appended after the tokenizer's own
BertNormalizer (so it sees lowercased text). Because it lives in tokenizer.json, the training recipe (Python
``tokenizers``) and the service (``@huggingface/tokenizers`` in TypeScript, which reads the same file) apply
exactly the same rules: the data is never rewritten by hand, so train and serve cannot drift apart.

Rules (after lowercasing), in this order:
1. URLs (``http://``, ``https://``, ``www.``)  -> `` http ``
2. @handles                                   -> `` @user `` (the model should not learn brand priors)
3. letter elongation: 3 or more of the same letter -> 2 (``soooo`` -> ``soo``, ``nooooo`` -> ``noo``)
4. frequent emoji and emoticons -> a word the encoder knows (``😂`` -> `` joy ``, ``:(`` -> `` sad ``); the
   MiniLM vocabulary maps emoji to [UNK], so without this they carry no signal at all.

Patterns stay inside what both regex engines read the same way (Oniguruma in Rust, JS RegExp with the
``u`` flag): no look-arounds, no backreferences, and replacement strings without ``$``.

``python3 normalize.py IN.json OUT.json`` writes a normalized copy; ``--check CASES.json`` (needs the
``tokenizers`` package) checks the expected tokens of test/fixtures/tokenizer/social-normalizer-cases.json,
which test/unit/social-normalizer.test.ts checks on the TypeScript side.
"""
from __future__ import annotations

import argparse
import copy
import json
import string
import sys

VERSION = "social-v1"

EMOJI = {
    "😂": "joy", "🤣": "laughing", "😆": "laughing", "😹": "joy",
    "❤": "love", "♥": "love", "😍": "love", "🥰": "love", "😘": "kiss", "💕": "love", "💖": "love",
    "😊": "happy", "☺": "happy", "🙂": "smile", "😀": "smile", "😃": "smile", "😄": "smile", "😁": "smile",
    "😉": "wink", "😎": "cool", "👍": "good", "👌": "good", "💯": "perfect", "🙌": "celebrate",
    "🎉": "celebrate", "👏": "applause", "🙏": "thanks", "🔥": "fire", "✨": "sparkle", "😋": "yummy",
    "😭": "crying", "😢": "sad", "😞": "sad", "😔": "sad", "☹": "sad", "🙁": "sad", "💔": "heartbroken",
    "😡": "angry", "😠": "angry", "🤬": "angry", "👎": "bad", "🙄": "annoyed", "😒": "annoyed",
    "😤": "annoyed", "😩": "tired", "😫": "tired", "😴": "sleepy", "🤔": "thinking", "😱": "shocked",
    "😳": "embarrassed", "🤢": "disgusted", "🤮": "disgusted", "😷": "sick", "💩": "crap", "😬": "awkward",
}
# After lowercasing, so ":D" is ":d". Longer forms first.
EMOTICONS = [(":-)", "smile"), (":)", "smile"), ("(:", "smile"), (";-)", "wink"), (";)", "wink"),
             (":-d", "laugh"), (":d", "laugh"), (":-(", "sad"), (":(", "sad"), ("):", "sad"),
             (":'(", "crying"), (":-/", "annoyed"), ("<3", "love"), (":p", "playful")]


def rules() -> list[dict]:
    out = [
        {"type": "Replace", "pattern": {"Regex": r"(?:https?://|www\.)[^\s]+"}, "content": " http "},
        {"type": "Replace", "pattern": {"Regex": r"@[a-z0-9_]+"}, "content": " @user "},
    ]
    out += [{"type": "Replace", "pattern": {"Regex": f"{c}{{3,}}"}, "content": c * 2} for c in string.ascii_lowercase]
    out += [{"type": "Replace", "pattern": {"String": e}, "content": f" {w} "} for e, w in EMOJI.items()]
    out += [{"type": "Replace", "pattern": {"String": e}, "content": f" {w} "} for e, w in EMOTICONS]
    return out


def add_social_normalizer(tokenizer: dict) -> dict:
    """A copy of a tokenizer.json dict with the rules appended to its normalizer (idempotent)."""
    tok = copy.deepcopy(tokenizer)
    base = tok.get("normalizer")
    extra = rules()
    if isinstance(base, dict) and base.get("type") == "Sequence" and base.get("normalizers", [])[-len(extra):] == extra:
        return tok
    steps = [base] if base else []
    tok["normalizer"] = {"type": "Sequence", "normalizers": steps + extra}
    return tok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input")
    ap.add_argument("output", nargs="?")
    ap.add_argument("--check", help="cases JSON: [{text, tokens}] to check with the tokenizers package")
    args = ap.parse_args()
    with open(args.input, encoding="utf-8") as f:
        tok = add_social_normalizer(json.load(f))
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            json.dump(tok, f, ensure_ascii=False)
    if args.check:
        from tokenizers import Tokenizer

        t = Tokenizer.from_str(json.dumps(tok))
        t.no_padding()
        t.no_truncation()
        with open(args.check, encoding="utf-8") as f:
            cases = json.load(f)["cases"]
        bad = 0
        for c in cases:
            got = t.encode(c["text"]).tokens
            if got != c["tokens"]:
                bad += 1
                print(f"MISMATCH {c['text']!r}: {got} != {c['tokens']}", file=sys.stderr)
        print(f"{len(cases) - bad}/{len(cases)} normalizer cases match")
        sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()

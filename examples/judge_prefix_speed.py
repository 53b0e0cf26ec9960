"""LLM-as-user cost: `LLMJudge` prompts/s with each persona's prefix reused (key-value cache) against full prompts.

No model can be downloaded here, so the script builds a small random GPT-2-style causal LM (``--layers``,
``--width``; default 4 x 256, about 5M parameters besides the embeddings) and a byte-level BPE tokenizer
trained on the world's texts, in a temporary folder. Speed does not depend on the weights being trained; the
answers of a random model mean nothing, but both paths must give the same ones. The world is the synthetic one
grounded by a hashing encoder (no language model: long item texts), or MovieLens-100K's users and movies with
``--data-path`` (short item texts: a title, a year and genres). The speed-up is bounded by the ratio of a
prompt's tokens to its own suffix's, so it depends on the prompts as much as on the code. Each repeat times ``judge_matrix`` over ``--users`` personas
x ``--items`` items with ``reuse_prefix=True`` and ``False`` in turn (answers not cached), and reports the
prompts per CPU-second of each, their ratio and the largest difference between the two paths' answers.

Run from the repository root::

    python examples/judge_prefix_speed.py --repeats 3 [--data-path ../shared/data/movielens-100k]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def build_model(folder: Path, corpus: list[str], layers: int, width: int, seed: int) -> Path:
    """Save a random GPT-2-style causal LM and a BPE tokenizer trained on ``corpus`` to ``folder``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=4000, special_tokens=["<|endoftext|>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    backend.train_from_iterator(corpus + ["Answer: Yes No"] * 50, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|endoftext|>",
                                        bos_token="<|endoftext|>")
    eos = tokenizer.eos_token_id
    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=len(tokenizer), n_embd=width, n_layer=layers, n_head=max(1, width // 64),
                        n_positions=1024, bos_token_id=eos, eos_token_id=eos)
    GPT2LMHeadModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=4, help="personas judged")
    parser.add_argument("--items", type=int, default=100, help="items judged for every persona")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-path", default=None,
                        help="MovieLens-100K folder: judge its users' personas and its movies (short item texts) "
                             "instead of the synthetic world's")
    args = parser.parse_args()

    import torch

    from metarec.encoders.judge import LLMJudge
    from metarec.envs.worlds import synthetic_world

    torch.set_num_threads(args.threads)
    if args.data_path:
        from metarec.simulators import Catalog, Population

        catalog, population = Catalog.from_movielens(args.data_path), Population.from_movielens(args.data_path)
    else:
        world = synthetic_world(n_items=max(args.items, 60), n_users=max(args.users, 20), text_encoder="hashing:32")
        catalog, population = world.catalog, world.population
    corpus = list(catalog.titles) + list(catalog.texts)
    corpus += [p.description for p in population] + [s for p in population for s in (*p.likes, *p.dislikes)]
    users, items = np.arange(args.users), np.arange(args.items)
    n_prompts = len(users) * len(items)
    with tempfile.TemporaryDirectory(prefix="metarec-judge-") as tmp:
        folder = build_model(Path(tmp), corpus, args.layers, args.width, args.seed)
        judges = {reuse: LLMJudge(folder, cache=False, batch_size=args.batch_size, reuse_prefix=reuse, progress=False)
                  for reuse in (True, False)}
        pairs = [(int(u), int(i)) for u in users for i in items]
        prompts = judges[True].prompts([population[u] for u, _ in pairs],
                                       [(catalog.titles[i], catalog.texts[i]) for _, i in pairs])
        ids = judges[True].lm.tokenize(prompts, judges[True].max_length, "prompts")
        groups, _ = judges[True]._prefix_groups(prompts, ids)
        shared = np.mean([n for n, rows in groups for _ in rows]) if groups else 0.0
        print(f"{n_prompts} prompts ({len(users)} personas x {len(items)} items), {np.mean([len(x) for x in ids]):.0f} "
              f"tokens each on average, {shared:.0f} of them the persona's shared prefix; GPT-2-style "
              f"{args.layers} x {args.width}, batch {args.batch_size}, {args.threads} torch thread(s)")
        rates: dict[bool, list[float]] = {True: [], False: []}
        answers: dict[bool, np.ndarray] = {}
        for r in range(args.repeats):
            for reuse in ((True, False) if r % 2 == 0 else (False, True)):
                begin = time.process_time()
                answers[reuse] = judges[reuse].judge_matrix(population, catalog, users, items)
                rates[reuse].append(n_prompts / (time.process_time() - begin))
            print(f"repeat {r}: reuse {rates[True][-1]:.1f} prompts/CPU-s, full {rates[False][-1]:.1f}, "
                  f"ratio {rates[True][-1] / rates[False][-1]:.2f}", flush=True)
    ratios = np.array(rates[True]) / np.array(rates[False])
    print(f"prefix reuse / full prompts: median {np.median(ratios):.2f}, range {ratios.min():.2f}-{ratios.max():.2f}; "
          f"largest answer difference {np.abs(answers[True] - answers[False]).max():.2e}")


if __name__ == "__main__":
    main()

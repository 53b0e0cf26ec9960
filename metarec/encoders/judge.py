"""LLM-as-user: ask a generative language model whether a persona would click on (or how it would rate) an item.

`LLMJudge` fills a prompt template with a persona and an item, runs a decoder-only model on each prompt and
reads the answer from the **next-token logits** of a fixed set of answer tokens (``" Yes"`` / ``" No"``, or
``" 1"`` ... ``" 5"``), renormalised over that set. Nothing is parsed from free text, so there is no
"unparseable answer" to default silently. Prompts are batched with left padding (the next-token position is
the last one for every row), and every answer is cached on disk, keyed on the model files, dtype,
``max_length``, answer tokens and the exact prompt text: a second run reads the cache and never loads the
model.

Cost: every prompt of a persona starts with the same persona text (the template up to its first item
placeholder), so the judge encodes that prefix once per persona and reuses its key-value cache for all the
persona's items, running only the item suffixes (batched, ``reuse_prefix=True``; answers equal the
uncached path's within float rounding). That still leaves ``n_users x n_items`` suffix passes for a full
grid, which is why the judge is called at build time, and why :mod:`metarec.encoders.distill` distils it into the fast
simulator. `judge_simulator` turns judged probabilities into a `Simulator` whose static utilities reproduce
them under the click model. See ``docs/llm_judge.md``.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
from tqdm.auto import tqdm

from metarec.encoders.cache import CachedTextEncoder, default_cache_dir
from metarec.encoders.causal_lm import CausalLM, _answer_ids, _cache_rows, _shareable
from metarec.encoders.judge_prompts import (
    _MODES,
    _PROGRESS_THRESHOLD,
    CLICK_ANSWERS,
    DEFAULT_CLICK_PROMPT,
    DEFAULT_RATING_PROMPT,
    PLACEHOLDERS,
    RATING_ANSWERS,
    check_template,
    format_prompt,
    persona_part_pattern,
)
from metarec.encoders.text import check_texts
from metarec.errors import ConfigError, EncoderError
from metarec.simulators import Catalog, Persona, Population, ResponseModel, Simulator, make_response_model


class _Scorer:
    """The TextEncoder face of a judge, so that `CachedTextEncoder` caches its answers: prompt -> log-probs."""

    def __init__(self, judge: LLMJudge) -> None:
        self.judge = judge
        self.dim = len(judge.answer_tokens)
        self.cache_key = judge.cache_key

    def encode(self, prompts: Sequence[str]) -> np.ndarray:
        return self.judge._score(list(prompts))


class LLMJudge:
    """A generative language model asked whether a persona would click on an item, or how they would rate it.

    Parameters
    ----------
    model : str or os.PathLike
        A local folder holding a decoder-only model (``config.json``, weights, tokenizer), or a hub id in
        the local Hugging Face cache.
    mode : {"click", "rating"}, default "click"
        ``"click"``: `judge` returns P(first answer) over the two answers (P(" Yes")).
        ``"rating"``: answer ``k`` means rating ``k + 1``; `judge` returns the expected rating.
    prompt_template : str, optional
        Uses the `PLACEHOLDERS` ``{name} {description} {likes} {dislikes} {title} {text}``; it should end
        just before the answer (``"Answer:"``). Default `DEFAULT_CLICK_PROMPT` or `DEFAULT_RATING_PROMPT`.
    answer_tokens : tuple of str, optional
        Each must be exactly one token of the tokenizer. Default ``(" Yes", " No")`` or ``(" 1", ..., " 5")``.
    device : {"cpu", "cuda", "cuda:N", "auto"}, default "cpu"
    dtype : {"float32", "float16", "bfloat16"}, default "float32"
    batch_size : int, default 8
        Prompts per forward pass (sorted by length, left padded).
    max_length : int, default 512
        Tokens kept per prompt; longer prompts lose their start (with a warning).
    revision : str, optional
        Hub revision, part of the cache key.
    cache : bool, default True
        Cache answers on disk under ``cache_dir / "judge" / <hash of the key>``.
    cache_dir : str or Path, optional
        Cache root; default `metarec.encoders.default_cache_dir()`.
    progress : bool, optional
        tqdm bar; ``None`` shows one when more than 50 prompts miss the cache.
    reuse_prefix : bool, default True
        Encode the prefix that a persona's prompts share once and reuse its key-value cache for all of its
        items (see the module docstring); ``False`` runs every prompt in full. Answers agree within float
        rounding either way, so the on-disk cache is shared.

    Examples
    --------
    >>> judge = LLMJudge("/path/to/Qwen2.5-0.5B-Instruct")  # doctest: +SKIP
    >>> p = judge.judge_matrix(population, catalog)  # (n_users, n_items) P(click)  # doctest: +SKIP
    """

    def __init__(
        self,
        model: str | os.PathLike,
        mode: Literal["click", "rating"] = "click",
        prompt_template: str | None = None,
        answer_tokens: Sequence[str] | None = None,
        *,
        device: str = "cpu",
        dtype: Literal["float32", "float16", "bfloat16"] = "float32",
        batch_size: int = 8,
        max_length: int = 512,
        revision: str | None = None,
        cache: bool = True,
        cache_dir: str | os.PathLike | None = None,
        progress: bool | None = None,
        reuse_prefix: bool = True,
    ) -> None:
        if mode not in _MODES:
            raise ConfigError(f"`mode` must be one of {_MODES}, got {mode!r}")
        for name, value in (("batch_size", batch_size), ("max_length", max_length)):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ConfigError(f"`{name}` must be an int >= 1, got {value!r}")
        if prompt_template is None:
            prompt_template = DEFAULT_CLICK_PROMPT if mode == "click" else DEFAULT_RATING_PROMPT
        check_template(prompt_template)
        if answer_tokens is None:
            answer_tokens = CLICK_ANSWERS if mode == "click" else RATING_ANSWERS
        if isinstance(answer_tokens, str) or not all(isinstance(a, str) and a for a in answer_tokens):
            raise ConfigError(f"`answer_tokens` must be a tuple of non-empty str, got {answer_tokens!r}")
        answer_tokens = tuple(answer_tokens)
        if mode == "click" and len(answer_tokens) != 2:
            raise ConfigError(f"click mode needs two answer tokens (yes, no), got {answer_tokens!r}")
        if mode == "rating" and len(answer_tokens) < 2:
            raise ConfigError(
                f"rating mode needs >= 2 answer tokens (rating 1, 2, ...), got {answer_tokens!r}"
            )
        if prompt_template != prompt_template.rstrip() and answer_tokens[0][:1].isspace():
            warnings.warn(
                "`prompt_template` ends with whitespace and the answers start with a space, so the model is "
                "asked for the token after a space; end the template right before the answer ('Answer:')",
                stacklevel=2,
            )
        self.mode = mode
        self.prompt_template = prompt_template
        self.answer_tokens = answer_tokens
        self.batch_size, self.max_length = int(batch_size), int(max_length)
        self.progress = progress
        self.reuse_prefix = bool(reuse_prefix)
        self._persona_part = persona_part_pattern(prompt_template)
        self.lm = CausalLM(model, device=device, dtype=dtype, revision=revision)
        self.answer_ids = _answer_ids(self.lm.tokenizer, answer_tokens, self.lm.model_id)
        self.cache_key = f"LLMJudge/v1|{self.lm.fingerprint}|max_length={self.max_length}|answers={json.dumps(answer_tokens)}"
        root = (default_cache_dir() if cache_dir is None else Path(cache_dir).expanduser()) / "judge"
        self._cache = CachedTextEncoder(_Scorer(self), cache_dir=root) if cache else None

    def __repr__(self) -> str:
        return (
            f"LLMJudge(model={self.lm.model_id!r}, mode={self.mode!r}, answer_tokens={self.answer_tokens!r}, "
            f"dtype={self.lm.dtype!r}, batch_size={self.batch_size})"
        )

    @property
    def _model(self) -> Any:
        """The loaded model, or None while every answer came from the cache."""
        return self.lm.model

    @property
    def cache_directory(self) -> Path | None:
        """The folder holding this judge's cached answers (None when caching is off)."""
        return None if self._cache is None else self._cache.directory

    # ------------------------------------------------------------------ prompts
    def format_prompt(self, persona: Persona, title: str, text: str) -> str:
        """The prompt for one (persona, item) pair; see `format_prompt`."""
        return format_prompt(self.prompt_template, persona, title, text)

    def prompts(self, personas: Sequence[Persona], items: Sequence[tuple[str, str]]) -> list[str]:
        """One prompt per (persona, item) pair; ``items`` are ``(title, text)`` pairs of the same length."""
        if len(personas) != len(items):
            raise ValueError(
                f"`personas` ({len(personas)}) and `items` ({len(items)}) must have the same length: one "
                "pair per prompt (use `judge_matrix` for a users x items grid)"
            )
        out = []
        for k, (persona, item) in enumerate(zip(personas, items)):
            if not isinstance(persona, Persona):
                raise TypeError(f"`personas[{k}]` must be a Persona, got {type(persona).__name__}")
            if not (
                isinstance(item, tuple | list) and len(item) == 2 and all(isinstance(s, str) for s in item)
            ):
                raise TypeError(f"`items[{k}]` must be a (title, text) pair of str, got {item!r}")
            out.append(self.format_prompt(persona, item[0], item[1]))
        return out

    # ------------------------------------------------------------------ answers
    def answer_log_probs(self, prompts: Sequence[str]) -> np.ndarray:
        """Log-probabilities of the answers after each prompt, renormalised over the answers, (n, n_answers)."""
        prompts = check_texts(prompts)
        if not prompts:
            return np.zeros((0, len(self.answer_tokens)))
        scores = self._cache.encode(prompts) if self._cache is not None else self._score(prompts)
        return np.asarray(scores, dtype=np.float64)

    def distribution(self, personas: Sequence[Persona], items: Sequence[tuple[str, str]]) -> np.ndarray:
        """Probability of each answer for each (persona, item) pair, (n, n_answers), rows sum to 1."""
        log_probs = self.answer_log_probs(self.prompts(personas, items))
        probs = np.exp(log_probs)
        return probs / probs.sum(axis=1, keepdims=True)

    def summarize(self, distribution: np.ndarray) -> np.ndarray:
        """(..., n_answers) distributions -> P(click) (click mode) or the expected rating (rating mode)."""
        if self.mode == "click":
            return distribution[..., 0]
        return distribution @ np.arange(1.0, distribution.shape[-1] + 1.0)

    def judge(self, personas: Sequence[Persona], items: Sequence[tuple[str, str]]) -> np.ndarray:
        """P(click) in [0, 1] (click mode) or the expected rating in [1, n] (rating mode), (n,) per pair."""
        return self.summarize(self.distribution(personas, items))

    def judge_pairs(self, population: Population, catalog: Catalog, pairs: np.ndarray) -> np.ndarray:
        """`judge` on ``pairs`` (n, 2) of (user index, item index), (n,)."""
        pairs = np.asarray(pairs, dtype=np.int64)
        if pairs.ndim != 2 or pairs.shape[1] != 2:
            raise ValueError(f"`pairs` must have shape (n, 2) of (user, item) indices, got {pairs.shape}")
        _check_indices(pairs[:, 0], len(population), "user")
        _check_indices(pairs[:, 1], len(catalog), "item")
        personas = [population[int(u)] for u in pairs[:, 0]]
        items = [(catalog.titles[int(i)], catalog.texts[int(i)]) for i in pairs[:, 1]]
        return self.judge(personas, items)

    def distribution_matrix(
        self,
        population: Population,
        catalog: Catalog,
        users: Sequence[int] | None = None,
        items: Sequence[int] | None = None,
    ) -> np.ndarray:
        """Answer distributions on the ``users x items`` grid (default: all), (n_users, n_items, n_answers)."""
        users = np.arange(len(population)) if users is None else np.asarray(users, dtype=np.int64)
        items = np.arange(len(catalog)) if items is None else np.asarray(items, dtype=np.int64)
        _check_indices(users, len(population), "user")
        _check_indices(items, len(catalog), "item")
        personas = [population[int(u)] for u in users for _ in items]
        pairs = [(catalog.titles[int(i)], catalog.texts[int(i)]) for _ in users for i in items]
        return self.distribution(personas, pairs).reshape(len(users), len(items), -1)

    def judge_matrix(
        self,
        population: Population,
        catalog: Catalog,
        users: Sequence[int] | None = None,
        items: Sequence[int] | None = None,
    ) -> np.ndarray:
        """`judge` on the ``users x items`` grid (default: every user and item), (n_users, n_items)."""
        return self.summarize(self.distribution_matrix(population, catalog, users, items))

    def _score(self, prompts: list[str]) -> np.ndarray:
        """Run the model on ``prompts`` (cache misses): (n, n_answers) float32 log-probs over the answers."""
        import torch  # deferred: torch loads only when a prompt misses the answer cache

        self.lm.load()
        ids = self.lm.tokenize(prompts, self.max_length, "LLMJudge")
        out = np.empty((len(prompts), len(self.answer_ids)), dtype=np.float32)
        groups, singles = self._prefix_groups(prompts, ids) if self.reuse_prefix else ([], list(range(len(ids))))
        show = self.progress if self.progress is not None else len(prompts) > _PROGRESS_THRESHOLD
        with tqdm(total=len(prompts), disable=not show, desc="LLM judge", unit="prompt") as bar:
            with torch.inference_mode():
                singles += self._score_shared(ids, groups, out, bar)
                self._score_full(ids, singles, out, bar)
        if not np.all(np.isfinite(out)):
            raise EncoderError(f"{self!r} produced non-finite answer log-probabilities; try dtype='float32'")
        return out

    def _answers(self, logits) -> np.ndarray:
        """(b, vocab) next-token logits -> (b, n_answers) log-probs renormalised over the answers."""
        import torch  # deferred: torch loads only when a prompt misses the answer cache

        answer_ids = torch.tensor(self.answer_ids, device=logits.device)
        return torch.log_softmax(logits[:, answer_ids], dim=1).cpu().numpy()

    def _score_full(self, ids: list[list[int]], rows: list[int], out: np.ndarray, bar) -> None:
        """Whole prompts ``rows``, batched by similar length (left padded)."""
        order = sorted(rows, key=lambda i: -len(ids[i]))  # stable: similar lengths share a batch
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            input_ids, mask = self.lm.pad([ids[i] for i in idx])
            logits, _ = self.lm.forward(input_ids, mask)
            out[idx] = self._answers(logits)
            bar.update(len(idx))

    def _prefix_groups(self, prompts: list[str], ids: list[list[int]]) -> tuple[list[tuple[int, list[int]]], list[int]]:
        """Prompts that share a persona part, with the number of leading tokens all of them share.

        Returns ``groups`` (shared token count, prompt indices), each of >= 2 prompts sharing >= 2 tokens and
        leaving every prompt at least one token of its own, and the remaining prompt indices.
        """
        by_persona: dict[str, list[int]] = {}
        for i, prompt in enumerate(prompts):
            match = self._persona_part.match(prompt)
            by_persona.setdefault(match[0] if match else prompt, []).append(i)
        groups, singles = [], []
        for rows in by_persona.values():
            shared = 0
            if len(rows) > 1:
                common = os.path.commonprefix([ids[i] for i in rows])
                shared = min(len(common), min(len(ids[i]) for i in rows) - 1)
            if shared >= 2:
                groups.append((shared, rows))
            else:
                singles += rows
        return groups, singles

    def _score_shared(self, ids: list[list[int]], groups: list[tuple[int, list[int]]], out: np.ndarray,
                      bar) -> list[int]:
        """Score grouped prompts: each group's prefix once (``batch_size`` groups a pass), then the suffixes.

        The suffixes of a chunk of groups are batched together (``batch_size`` a pass, left padded), each
        row attending to its group's cached prefix; positions count real tokens only, so every token sees
        the positions and keys of its whole prompt. Returns the prompts left for `_score_full` (all of them
        when the model's cache cannot be shared).
        """
        import torch  # deferred: torch loads only when a prompt misses the answer cache

        for start in range(0, len(groups), self.batch_size):
            chunk = groups[start : start + self.batch_size]
            prefix_ids, prefix_mask = self.lm.pad([ids[rows[0]][:shared] for shared, rows in chunk])
            _, cache = self.lm.forward(prefix_ids, prefix_mask, use_cache=True)
            if not _shareable(cache):
                return [i for _, rows in groups for i in rows]
            members = sorted(((-(len(ids[i]) - shared), g, i) for g, (shared, rows) in enumerate(chunk)
                              for i in rows))  # by suffix length, longest first
            for first in range(0, len(members), self.batch_size):
                batch = members[first : first + self.batch_size]
                owner = torch.tensor([g for _, g, _ in batch], device=prefix_mask.device)
                suffix_ids, suffix_mask = self.lm.pad([ids[i][chunk[g][0] :] for _, g, i in batch])
                mask = torch.cat([prefix_mask[owner], suffix_mask], dim=1)
                logits, _ = self.lm.forward(suffix_ids, mask, cache=_cache_rows(cache, owner), use_cache=True)
                out[[i for _, _, i in batch]] = self._answers(logits)
                bar.update(len(batch))
        return []


def _check_indices(index: np.ndarray, n: int, what: str) -> None:
    if index.ndim != 1 or (index.size and (index.min() < 0 or index.max() >= n)):
        raise ValueError(f"{what} indices must be a 1-d array in [0, {n}), got {index!r}")


def judge_utility(
    probabilities: np.ndarray,
    temperature: np.ndarray | float,
    no_click_utility: float,
    scale: float = 1.0,
    clip: float = 1e-4,
) -> np.ndarray:
    """Utilities under which one shown item is clicked with the judged probability.

    ``u = no_click_utility + scale * T * logit(clip(p))`` with ``T`` each user's choice temperature.
    For `MultinomialLogit` with a slate of one item, ``P(click) = sigmoid((u - u_0) / T) = p`` exactly when
    ``scale=1`` (the same holds for the first position of `Cascade` and `IndependentBernoulli`). With
    larger slates the items compete, so each one's click probability is below its judged ``p``: the
    mapping is then an approximation that keeps the judge's ranking.

    Parameters
    ----------
    probabilities : (n_users, n_items) in [0, 1]
    temperature : (n_users,) or float
    no_click_utility : float
    scale : float
        Sharpens (> 1) or flattens (< 1) the judged preferences.
    clip : float
        ``p`` is clipped to ``[clip, 1 - clip]`` so that certain answers stay finite.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1:
        raise ConfigError(
            f"`probabilities` must be a finite (n_users, n_items) array in [0, 1], got shape {p.shape}"
        )
    if not 0 < clip < 0.5:
        raise ConfigError(f"`clip` must be in (0, 0.5), got {clip!r}")
    if not np.isfinite(scale) or scale <= 0:
        raise ConfigError(f"`scale` must be a finite number > 0, got {scale!r}")
    t = np.broadcast_to(np.asarray(temperature, dtype=np.float64).reshape(-1, 1), (p.shape[0], 1))
    p = np.clip(p, clip, 1.0 - clip)
    return no_click_utility + scale * t * (np.log(p) - np.log1p(-p))


def judge_simulator(
    catalog: Catalog,
    population: Population,
    judge: LLMJudge | np.ndarray,
    *,
    response: ResponseModel | str = "mnl",
    temperature: float | None = None,
    scale: float = 1.0,
    clip: float = 1e-4,
    rating_threshold: int = 4,
    **simulator_kwargs: Any,
) -> Simulator:
    """A `Simulator` whose static utilities come from an LLM judge (the ``LLMJudge`` response mode).

    The judge is asked once per (user, item) (cached), and ``static_utility = u_0 + scale * T_u *
    logit(p)`` (`judge_utility`): a single shown item is clicked with the judged probability under the
    response model (exact for slate size 1, approximate for slates). Dynamics apply on top, and every step
    afterwards is plain numpy: no language model is called per step.

    Parameters
    ----------
    catalog, population
        The world; the catalogue needs embeddings (or pass ``encoder=``) for observations and dynamics.
    judge : LLMJudge or np.ndarray
        A judge (``judge_matrix`` is called on every user and item) or precomputed P(click),
        (n_users, n_items). A rating-mode judge gives ``p = P(rating >= rating_threshold)``.
    response : ResponseModel or str
        The click model; its ``no_click_utility`` is ``u_0``.
    temperature : float, optional
        Overrides every persona's choice temperature (``None`` keeps each persona's trait).
    scale, clip
        See `judge_utility`.
    **simulator_kwargs
        Passed to `Simulator` (``dynamics``, ``encoder``, ...).
    """
    if temperature is not None:
        if not np.isfinite(temperature) or temperature <= 0:
            raise ConfigError(f"`temperature` must be a finite number > 0, got {temperature!r}")
        personas = tuple(
            replace(p, traits=replace(p.traits, temperature=float(temperature))) for p in population
        )
        population = Population(personas, population.splits)
    if isinstance(judge, LLMJudge):
        if judge.mode == "click":
            probabilities = judge.judge_matrix(population, catalog)
        else:
            distribution = judge.distribution_matrix(population, catalog)
            if not 1 <= rating_threshold <= distribution.shape[-1]:
                raise ConfigError(
                    f"`rating_threshold` must be in [1, {distribution.shape[-1]}], got {rating_threshold}"
                )
            probabilities = distribution[..., rating_threshold - 1 :].sum(axis=-1)
    else:
        probabilities = np.asarray(judge, dtype=np.float64)
        if probabilities.shape != (len(population), len(catalog)):
            raise ConfigError(
                f"judged probabilities must have shape (n_users, n_items) = {(len(population), len(catalog))}, "
                f"got {probabilities.shape}"
            )
    response_model = make_response_model(response)
    utility = judge_utility(
        probabilities, population.traits_array["temperature"], response_model.no_click_utility, scale, clip
    )
    return Simulator(catalog, population, response=response_model, static_utility=utility, **simulator_kwargs)


__all__ = [
    "CLICK_ANSWERS",
    "DEFAULT_CLICK_PROMPT",
    "DEFAULT_RATING_PROMPT",
    "PLACEHOLDERS",
    "RATING_ANSWERS",
    "CausalLM",
    "LLMJudge",
    "check_template",
    "format_prompt",
    "judge_simulator",
    "persona_part_pattern",
    "judge_utility",
]

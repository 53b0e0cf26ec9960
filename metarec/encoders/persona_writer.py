"""Persona writers: the offline template writer, and an optional generative language model that rewords it.

A writer turns a catalogue into a `Population` (``write(catalog, n_users, seed)``). `TemplatePersonaWriter`
is `Population.synthetic`: it draws each persona's liked and disliked topics, traits, latent factors and
split, and words the prose and statements from templates. `LLMPersonaWriter` keeps all of that (so the
ground-truth topics, the prior-aware reference and the splits are unchanged) and asks a decoder-only
model to reword the prose and each like / dislike statement, one generation per field.

Generations are parsed from a constrained format: each prompt ends where the answer starts, generation
stops at the first newline or the end-of-sequence token, and the answer is kept only if it is valid
(finished before ``max_new_tokens``, no special tokens, enough words and letters, not too long). An invalid
generation falls back to the template wording, recorded in ``writer.fallbacks`` and reported in one
warning that names the personas: never silently.
"""

from __future__ import annotations

import difflib
import inspect
import os
import string
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

import numpy as np
from tqdm.auto import tqdm

from metarec.encoders.causal_lm import CausalLM
from metarec.errors import ConfigError
from metarec.seeding import SeedLike
from metarec.simulators import Catalog, Population

#: Prompt for the prose; placeholders ``{name}``, ``{description}`` (the template prose), ``{likes}``, ``{dislikes}``.
DESCRIPTION_PROMPT = (
    "Rewrite this short profile of a person in your own words, in one or two sentences.\n"
    "Profile: {description}\n"
    "Rewritten profile:"
)
#: Prompt for one like statement; placeholders ``{name}``, ``{statement}`` (the template wording).
LIKE_PROMPT = (
    "Reword this statement about what a person enjoys, keeping its meaning, as a short phrase without a "
    "subject.\n"
    "Statement: is a big fan of spy thrillers\n"
    "Reworded: can't get enough of stories about secret agents\n"
    "Statement: {statement}\n"
    "Reworded:"
)
#: Prompt for one dislike statement; placeholders ``{name}``, ``{statement}``.
DISLIKE_PROMPT = (
    "Reword this statement about what a person dislikes, keeping its meaning, as a short phrase without a "
    "subject.\n"
    "Statement: avoids ghost stories\n"
    "Reworded: has no patience for tales of haunted houses\n"
    "Statement: {statement}\n"
    "Reworded:"
)
_FIELDS = {
    "description_prompt": ("name", "description", "likes", "dislikes"),
    "like_prompt": ("name", "statement"),
    "dislike_prompt": ("name", "statement"),
}
_PROGRESS_THRESHOLD = 50


class PersonaWriter(Protocol):
    """Anything with ``write(catalog, n_users, seed) -> Population``."""

    def write(self, catalog: Catalog, n_users: int, seed: SeedLike = 0) -> Population:
        """Write ``n_users`` personas for ``catalog``."""
        ...


class TemplatePersonaWriter:
    """The offline default: `Population.synthetic`'s template writer.

    Parameters
    ----------
    **synthetic_kwargs
        Passed to `Population.synthetic` (``n_likes``, ``n_dislikes``, ``latent_dim``, ``split_shares``, ...).

    Examples
    --------
    >>> from metarec.simulators import Catalog
    >>> population = TemplatePersonaWriter().write(Catalog.synthetic(30, 4, seed=0), n_users=5, seed=0)
    >>> len(population)
    5
    """

    def __init__(self, **synthetic_kwargs: Any) -> None:
        accepted = [p for p in inspect.signature(Population.synthetic).parameters if p not in ("catalog", "n_users",
                                                                                               "seed", "cls")]
        unknown = sorted(set(synthetic_kwargs) - set(accepted))
        if unknown:
            close = difflib.get_close_matches(unknown[0], accepted, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"TemplatePersonaWriter has no setting(s) {unknown}.{hint} It takes {accepted} "
                              "(the keywords of Population.synthetic)")
        self.synthetic_kwargs = synthetic_kwargs

    def write(self, catalog: Catalog, n_users: int, seed: SeedLike = 0) -> Population:
        """``Population.synthetic(catalog, n_users, seed, **synthetic_kwargs)``."""
        return Population.synthetic(catalog, n_users, seed, **self.synthetic_kwargs)


@dataclass(frozen=True)
class Fallback:
    """One generation that was invalid and replaced by the template wording."""

    persona: str
    field: str
    reason: str
    generated: str


def _check_prompt(name: str, template: str) -> None:
    allowed = _FIELDS[name]
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as err:
        raise ConfigError(f"`{name}` is not a valid format string ({err})") from None
    bad = [f for f in fields if f not in allowed]
    if bad:
        raise ConfigError(f"`{name}` has unknown placeholder '{{{bad[0]}}}'; known: {allowed}")


class LLMPersonaWriter:
    """Reword template personas with a generative language model (optional; offline default: the template).

    Parameters
    ----------
    model : str or os.PathLike
        A local decoder-only model folder (or a hub id in the local Hugging Face cache).
    template : TemplatePersonaWriter, optional
        Draws topics, traits, latent factors and splits, and supplies the fallback wording.
    description_prompt, like_prompt, dislike_prompt : str
        Prompts (see `DESCRIPTION_PROMPT`, `LIKE_PROMPT`, `DISLIKE_PROMPT`); each should end where the
        answer starts, and the answer ends at the first newline.
    max_new_tokens : int, default 24
        Longest statement; a generation that reaches it unfinished is invalid. The prose gets 3x as many.
    min_words, max_words : int, default 2 and 16
        Valid statements have this many words (the prose: ``min_words`` to ``5 * max_words``).
    do_sample : bool, default False
        Greedy decoding (default) or sampling at ``temperature`` from a `torch.Generator` seeded by the
        ``seed`` of `write` (reproducible).
    device, dtype, batch_size, revision, progress
        As for `LLMJudge`.

    Attributes
    ----------
    fallbacks : list of Fallback
        The invalid generations of the last `write` call.
    """

    def __init__(
        self,
        model: str | os.PathLike,
        template: TemplatePersonaWriter | None = None,
        *,
        description_prompt: str = DESCRIPTION_PROMPT,
        like_prompt: str = LIKE_PROMPT,
        dislike_prompt: str = DISLIKE_PROMPT,
        max_new_tokens: int = 24,
        min_words: int = 2,
        max_words: int = 16,
        do_sample: bool = False,
        temperature: float = 0.7,
        device: str = "cpu",
        dtype: Literal["float32", "float16", "bfloat16"] = "float32",
        batch_size: int = 8,
        revision: str | None = None,
        progress: bool | None = None,
    ) -> None:
        for name, value in (("description_prompt", description_prompt), ("like_prompt", like_prompt)):
            _check_prompt(name, value)
        _check_prompt("dislike_prompt", dislike_prompt)
        for name, value in (
            ("max_new_tokens", max_new_tokens),
            ("min_words", min_words),
            ("max_words", max_words),
            ("batch_size", batch_size),
        ):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ConfigError(f"`{name}` must be an int >= 1, got {value!r}")
        if min_words > max_words:
            raise ConfigError(f"`min_words` ({min_words}) must be <= `max_words` ({max_words})")
        if (isinstance(temperature, bool) or not isinstance(temperature, int | float | np.integer | np.floating)
                or not np.isfinite(temperature) or temperature <= 0):
            raise ConfigError(f"`temperature` must be a finite number > 0, got {temperature!r}")
        self.template = template if template is not None else TemplatePersonaWriter()
        self.prompts = {"description": description_prompt, "likes": like_prompt, "dislikes": dislike_prompt}
        self.max_new_tokens, self.min_words, self.max_words = max_new_tokens, min_words, max_words
        self.do_sample, self.temperature = do_sample, float(temperature)
        self.batch_size, self.progress = batch_size, progress
        self.lm = CausalLM(model, device=device, dtype=dtype, revision=revision)
        self.fallbacks: list[Fallback] = []

    def write(self, catalog: Catalog, n_users: int, seed: SeedLike = 0) -> Population:
        """Write ``n_users`` personas: the template's draws, reworded by the model where it writes validly."""
        base = self.template.write(catalog, n_users, seed)
        return self._rewrite(base, seed, stacklevel=5)

    def rewrite(self, population: Population, seed: SeedLike = 0) -> Population:
        """Reword the prose and statements of any population (traits, topics and splits are kept).

        Prose-only personas (`Persona.from_text`) get their prose reworded and their statements parsed again
        from the new prose (with the default polarity parser).
        """
        return self._rewrite(population, seed, stacklevel=4)

    def _rewrite(self, population: Population, seed: SeedLike, stacklevel: int) -> Population:
        jobs: list[tuple[int, str, int, str]] = []  # (persona, field, statement index, prompt)
        for u, persona in enumerate(population):
            values = {
                "name": persona.name,
                "description": persona.description or persona.name,
                "likes": "; ".join(persona.likes),
                "dislikes": "; ".join(persona.dislikes) or "nothing in particular",
            }
            jobs.append((u, "description", 0, self.prompts["description"].format(**values)))
            if persona.from_text:  # a prose-only persona stays prose-only: its statements are re-parsed
                continue
            for kind in ("likes", "dislikes"):
                for k, statement in enumerate(getattr(persona, kind)):
                    prompt = self.prompts[kind].format(name=persona.name, statement=statement)
                    jobs.append((u, kind, k, prompt))
        budgets = [
            3 * self.max_new_tokens if f == "description" else self.max_new_tokens for _, f, *_ in jobs
        ]
        texts = self._generate([j[3] for j in jobs], budgets, seed)
        self.fallbacks = []
        written: list[dict[str, Any]] = [
            {"description": p.description, "likes": list(p.likes), "dislikes": list(p.dislikes)}
            for p in population
        ]
        for (u, kind, k, _), (text, finished), budget in zip(jobs, texts, budgets):
            max_words = 5 * self.max_words if kind == "description" else self.max_words
            answer, reason = self._parse(text, finished, budget, max_words)
            label = kind if kind == "description" else f"{kind}[{k}]"
            if reason:
                self.fallbacks.append(Fallback(population[u].name, label, reason, text))
                continue
            if kind == "description":
                written[u]["description"] = answer
            else:
                written[u][kind][k] = answer
        if self.fallbacks:
            self._warn(len(jobs), stacklevel)
        personas = tuple(
            replace(p, description=w["description"], likes=(), dislikes=(), parsed=())
            if p.from_text
            else replace(p, description=w["description"], likes=tuple(w["likes"]), dislikes=tuple(w["dislikes"]))
            for p, w in zip(population, written)
        )
        return Population(personas, population.splits)

    def _warn(self, n_jobs: int, stacklevel: int) -> None:
        by_persona: dict[str, list[str]] = {}
        for f in self.fallbacks:
            by_persona.setdefault(f.persona, []).append(f"{f.field}: {f.reason}")
        shown = [f"{name!r} ({'; '.join(fields)})" for name, fields in list(by_persona.items())[:8]]
        more = f" and {len(by_persona) - 8} more" if len(by_persona) > 8 else ""
        warnings.warn(
            f"LLMPersonaWriter: {len(self.fallbacks)} of {n_jobs} generations by {self.lm.model_id!r} were "
            f"invalid and use the template wording instead, for personas {', '.join(shown)}{more}. "
            "Details in `writer.fallbacks`; a larger or instruction-tuned model, or clearer prompts, help.",
            stacklevel=stacklevel,
        )

    def _parse(self, text: str, finished: bool, budget: int, max_words: int) -> tuple[str, str]:
        """(answer, "") for a valid generation, ("", reason) otherwise."""
        answer = text.split("\n", 1)[0].strip().strip("\"'").strip()
        if not finished:
            return "", f"no newline or end of text within {budget} tokens"
        if not answer:
            return "", "empty"
        specials = [t for t in self.lm.tokenizer.all_special_tokens if t and t in answer]
        if specials:
            return "", f"contains special token {specials[0]!r}"
        words = answer.split()
        if not self.min_words <= len(words) <= max_words:
            return "", f"{len(words)} words (valid: {self.min_words} to {max_words})"
        letters = sum(c.isalpha() for c in answer)
        if letters < 0.6 * len(answer.replace(" ", "")):
            return "", "mostly non-letters"
        return answer, ""

    def _generate(
        self, prompts: Sequence[str], budgets: Sequence[int], seed: SeedLike
    ) -> list[tuple[str, bool]]:
        """Continue each prompt until a newline or eos, at most ``budget`` tokens: (text, finished) each."""
        import torch  # deferred: heavy dependency, loaded on first use

        self.lm.load()
        generator = None
        if self.do_sample:
            seed_int = (
                seed if isinstance(seed, int | np.integer) else np.random.default_rng(seed).integers(2**31)
            )
            generator = torch.Generator(device=self.lm.torch_device).manual_seed(int(seed_int))
        ids = self.lm.tokenize(list(prompts), max_length=4096, owner="LLMPersonaWriter")
        order = np.argsort([-len(row) for row in ids], kind="stable")
        out: list[tuple[str, bool]] = [("", False)] * len(prompts)
        eos = self.lm.tokenizer.eos_token_id
        show = self.progress if self.progress is not None else len(prompts) > _PROGRESS_THRESHOLD
        with tqdm(total=len(prompts), disable=not show, desc="writing personas", unit="field") as bar:
            with torch.inference_mode():
                for start in range(0, len(prompts), self.batch_size):
                    idx = order[start : start + self.batch_size]
                    budget = max(budgets[i] for i in idx)
                    results = self._generate_batch([ids[i] for i in idx], budget, eos, generator)
                    for i, (tokens, finished) in zip(idx, results):
                        if len(tokens) > budgets[i]:  # the batch ran longer than this field's budget
                            tokens, finished = tokens[: budgets[i]], False
                        out[i] = (self.lm.tokenizer.decode(tokens, skip_special_tokens=False), finished)
                    bar.update(len(idx))
        return out

    def _generate_batch(self, rows, budget: int, eos: int | None, generator) -> list[tuple[list[int], bool]]:
        import torch  # deferred: heavy dependency, loaded on first use

        input_ids, mask = self.lm.pad(rows)
        logits, cache = self.lm.forward(input_ids, mask, use_cache=True)
        tokens: list[list[int]] = [[] for _ in rows]
        done = [False] * len(rows)
        for _ in range(budget):
            if self.do_sample:
                probs = torch.softmax(logits / self.temperature, dim=-1)
                step = torch.multinomial(probs, 1, generator=generator)[:, 0]
            else:
                step = logits.argmax(dim=-1)
            for b, token in enumerate(step.tolist()):
                if done[b]:
                    continue
                if token == eos:
                    done[b] = True
                    continue
                tokens[b].append(token)
                if "\n" in self.lm.tokenizer.decode(tokens[b][-4:], skip_special_tokens=False):
                    done[b] = True
            if all(done):
                break
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
            logits, cache = self.lm.forward(step[:, None], mask, cache=cache, use_cache=True)
        return list(zip(tokens, done))


def write_population(
    catalog: Catalog, n_users: int, seed: SeedLike = 0, writer: PersonaWriter | None = None
) -> Population:
    """``n_users`` personas for ``catalog`` from ``writer`` (default: the offline `TemplatePersonaWriter`).

    Examples
    --------
    >>> from metarec.simulators import Catalog
    >>> len(write_population(Catalog.synthetic(30, 4, seed=0), n_users=6, seed=1))
    6
    """
    writer = writer if writer is not None else TemplatePersonaWriter()
    if not callable(getattr(writer, "write", None)):
        raise TypeError(
            f"`writer` must have a write(catalog, n_users, seed) method, got {type(writer).__name__}"
        )
    population = writer.write(catalog, n_users, seed)
    if not isinstance(population, Population) or len(population) != n_users:
        raise ConfigError(
            f"{type(writer).__name__}.write returned {type(population).__name__} of "
            f"{len(population) if isinstance(population, Population) else '?'} personas; expected a "
            f"Population of {n_users}"
        )
    return population


__all__ = [
    "DESCRIPTION_PROMPT",
    "DISLIKE_PROMPT",
    "LIKE_PROMPT",
    "Fallback",
    "LLMPersonaWriter",
    "PersonaWriter",
    "TemplatePersonaWriter",
    "write_population",
]

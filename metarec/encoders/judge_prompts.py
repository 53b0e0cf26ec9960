"""Prompt templates of the LLM judge: placeholders, validation, filling, and the persona part shared by prompts."""

from __future__ import annotations

import difflib
import re
import string

from metarec.errors import ConfigError
from metarec.simulators import Persona

#: The placeholders a prompt template may use (``{{`` and ``}}`` write literal braces).
PLACEHOLDERS = ("name", "description", "likes", "dislikes", "title", "text")

_PREAMBLE = (
    "You are simulating a user of a recommendation service.\n"
    "User: {description}\n"
    "The user likes: {likes}.\n"
    "The user dislikes: {dislikes}.\n"
    "\n"
    "Recommended item: {title}\n"
    "{text}\n"
    "\n"
)
DEFAULT_CLICK_PROMPT = (
    _PREAMBLE + "Question: Would this user click on the recommended item? Answer Yes or No.\nAnswer:"
)
DEFAULT_RATING_PROMPT = (
    _PREAMBLE
    + "Question: How would this user rate the recommended item, from 1 (hate it) to 5 (love it)?\nRating:"
)
CLICK_ANSWERS = (" Yes", " No")
RATING_ANSWERS = (" 1", " 2", " 3", " 4", " 5")

_MODES = ("click", "rating")
_PROGRESS_THRESHOLD = 50


def check_template(template: str) -> tuple[str, ...]:
    """Validate a prompt template and return the placeholders it uses.

    Raises `ConfigError` for an unknown placeholder (with the closest known one), a positional ``{}``,
    a format spec or conversion (``{title:>9}``, ``{title!r}``) and unbalanced braces.
    """
    if not isinstance(template, str) or not template.strip():
        raise ConfigError(f"`prompt_template` must be a non-empty str, got {template!r}")
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as err:
        raise ConfigError(
            f"`prompt_template` is not a valid format string ({err}); write literal braces as '{{{{' and '}}}}'"
        ) from None
    used = []
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if field == "" or field.isdigit():
            raise ConfigError(
                f"`prompt_template` has a positional placeholder '{{{field}}}'; name one of {PLACEHOLDERS}"
            )
        if field not in PLACEHOLDERS:
            close = difflib.get_close_matches(field, PLACEHOLDERS, n=1)
            hint = f" Did you mean '{{{close[0]}}}'?" if close else ""
            raise ConfigError(
                f"`prompt_template` has an unknown placeholder '{{{field}}}'; known: {PLACEHOLDERS}.{hint} "
                "Write a literal brace as '{{' or '}}'."
            )
        if spec or conversion:
            raise ConfigError(
                f"`prompt_template` placeholder '{{{field}}}' has a format spec or conversion; use a bare '{{{field}}}'"
            )
        used.append(field)
    return tuple(dict.fromkeys(used))


def format_prompt(template: str, persona: Persona, title: str, text: str) -> str:
    """Fill ``template`` with one persona and one item.

    ``{likes}`` and ``{dislikes}`` are the statements joined with ``"; "`` (``"nothing in particular"``
    when empty); ``{description}`` falls back to the name when the persona has no prose.
    """
    return template.format(
        name=persona.name,
        description=persona.description.strip() or persona.name,
        likes="; ".join(persona.likes) or "nothing in particular",
        dislikes="; ".join(persona.dislikes) or "nothing in particular",
        title=title,
        text=text,
    )


#: Placeholders that depend on the item; the others depend on the persona only.
ITEM_PLACEHOLDERS = ("title", "text")


def persona_part_pattern(template: str) -> re.Pattern[str]:
    """A regex matching the persona part of a filled prompt: the template up to its first item placeholder.

    Persona placeholders match any text (shortest first). Prompts with the same persona part are grouped for
    prefix reuse; a grouping is only an optimisation (the shared tokens are found exactly), so a persona
    text that happens to contain the next literal only splits a group.

    Examples
    --------
    >>> persona_part_pattern("{name} likes {likes}. Item: {title}? Answer:").match("Ann likes jazz. Item: X? Answer:")[0]
    'Ann likes jazz. Item: '
    """
    parts = []
    for literal, field, _, _ in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if field is None:  # an escaped brace, or the end of the template
            continue
        if field in ITEM_PLACEHOLDERS:
            break
        parts.append(".*?")
    return re.compile("".join(parts), re.DOTALL)

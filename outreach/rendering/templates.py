"""Staff-written templates in a sandboxed Jinja: limits on output and arithmetic, errors
with line numbers, and the variables a template may use."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from functools import lru_cache
from types import TracebackType
from typing import Any

import jinja2
from jinja2 import meta, nodes
from jinja2.sandbox import SandboxedEnvironment, SecurityError

#: Rendered output larger than this (characters) is refused: it can only be a runaway loop.
MAX_OUTPUT_CHARS = 1_000_000


#: Largest sequence a template may build with ``*`` (e.g. ``'-' * 40`` is fine).
_MAX_REPEAT = 10_000


#: Largest integer (in bits) a template may build with ``**``.
_MAX_POWER_BITS = 4_096


DOCUMENTED_VARIABLES: dict[str, str] = {
    "first_name": "The subscriber's first name as they gave it (may be empty); "
    "filled in per recipient when the message is sent.",
    "audience": "The name of the audience (list) this message is sent to.",
    "organisation": "Your organisation's name, as shown in the footer.",
    "postal_address": "Your organisation's postal address (every marketing email shows it).",
    "support_email": "The address subscribers can write to with questions.",
    "support_phone": "The phone number subscribers can call with questions.",
    "request_url": "The audience's free consultation request page (/request/<audience>); "
    "a tracked link credits the request to the message.",
    "unsubscribe_url": "The subscriber's personal one-click unsubscribe link.",
    "preferences_url": "The subscriber's personal link to their preference page.",
}


#: Variables whose value differs per recipient (rendered as tags, swapped at send time).
PERSONAL_VARIABLES: tuple[str, ...] = ("first_name", "unsubscribe_url", "preferences_url")


_TAG_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class TemplateError(ValueError):
    """A staff template cannot be rendered (syntax, security or runtime error).

    ``lineno`` is the template line when known; the message then starts with
    ``"line N: "``.
    """

    def __init__(self, message: str, lineno: int | None = None) -> None:
        self.lineno = lineno
        self.detail = message
        super().__init__(f"line {lineno}: {message}" if lineno else message)


def tag(name: str) -> str:
    """Return the substitution tag for a personal variable: ``[%name%]``."""
    if not _TAG_NAME.fullmatch(name):
        raise ValueError(f"not a variable name: {name!r}")
    return f"[%{name}%]"


class _Sandbox(SandboxedEnvironment):
    """Jinja's sandbox, plus: unsafe attributes raise, and no huge ``*`` / ``**`` values."""

    intercepted_binops = frozenset({"*", "**"})

    def unsafe_undefined(self, obj: Any, attribute: str) -> jinja2.Undefined:
        """Raise instead of returning an undefined value (the default renders empty)."""
        raise SecurityError(
            f"access to attribute {attribute!r} of {type(obj).__name__!r} object is not allowed"
        )

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        """Refuse ``*`` and ``**`` results too large to be anything but a mistake."""
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and isinstance(times, int)
                    and len(seq) * times > _MAX_REPEAT
                ):
                    raise SecurityError("repeated value is too long")
        elif (
            isinstance(left, int)
            and isinstance(right, int)
            and right > 0
            and left.bit_length() * right > _MAX_POWER_BITS
        ):
            raise SecurityError("number is too large")
        return super().call_binop(context, operator, left, right)


def _make_sandbox(*, autoescape: bool) -> _Sandbox:
    env = _Sandbox(
        autoescape=autoescape,
        undefined=jinja2.ChainableUndefined,
        keep_trailing_newline=True,
    )
    # No globals: staff get the documented variables and filters, nothing else
    # (range, lipsum, cycler, joiner, namespace and dict are removed).
    env.globals.clear()
    return env


_TEXT_ENV = _make_sandbox(autoescape=False)


_HTML_ENV = _make_sandbox(autoescape=True)


def _template_lineno(tb: TracebackType | None) -> int | None:
    """The template line of the innermost template frame in a traceback."""
    lineno = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            lineno = tb.tb_lineno
        tb = tb.tb_next
    return lineno


def _as_template_error(exc: BaseException) -> TemplateError:
    if isinstance(exc, TemplateError):
        return exc
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return TemplateError(exc.message or "syntax error", exc.lineno)
    if isinstance(exc, RecursionError):
        message = "a macro calls itself without end"
    elif isinstance(exc, jinja2.TemplateError):
        message = exc.message or type(exc).__name__
    else:
        message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return TemplateError(message, _template_lineno(exc.__traceback__))


@lru_cache(maxsize=512)
def _compile(source: str, autoescape: bool) -> jinja2.Template:
    env = _HTML_ENV if autoescape else _TEXT_ENV
    try:
        return env.from_string(source)
    except Exception as exc:
        raise _as_template_error(exc) from None


def _render(source: str, context: Mapping[str, Any], *, autoescape: bool) -> str:
    if not isinstance(source, str):
        raise TemplateError("a template must be text")
    template = _compile(source, autoescape)
    parts: list[str] = []
    size = 0
    try:
        stream: Iterator[str] = template.generate(dict(context))
        for chunk in stream:
            size += len(chunk)
            if size > MAX_OUTPUT_CHARS:
                raise TemplateError(f"output is longer than {MAX_OUTPUT_CHARS:,} characters")
            parts.append(chunk)
    except Exception as exc:
        raise _as_template_error(exc) from None
    return "".join(parts)


def render_text(source: str, context: Mapping[str, str]) -> str:
    """Render a staff template as plain text (sandboxed, no escaping).

    Undefined variables render as empty text. Raises ``TemplateError`` (with the line
    number when known) on syntax errors, sandbox violations and runtime errors.
    """
    return _render(source, context, autoescape=False)


def render_html(source: str, context: Mapping[str, str]) -> str:
    """Render a staff HTML template (sandboxed, values HTML-escaped)."""
    return _render(source, context, autoescape=True)


def _parents(node: nodes.Node) -> Iterator[tuple[nodes.Node, nodes.Node]]:
    for child in node.iter_child_nodes():
        yield node, child
        yield from _parents(child)


def check_template(source: str) -> list[str]:
    """List problems in a staff template, each ``"line N: ..."``; ``[]`` when fine.

    Reports syntax errors (then stops), unknown variables (anything not in
    ``DOCUMENTED_VARIABLES``), attribute access the sandbox forbids, includes /
    imports, and personal variables used other than as a plain ``{{ name }}`` (at
    render time they are placeholders, so filters and conditions would see the tag).
    When nothing is found statically, a trial render with placeholder values reports
    run-time errors too.
    """
    try:
        _compile(source, False)
        tree = _TEXT_ENV.parse(source)
    except TemplateError as exc:
        return [str(exc)]
    except Exception as exc:  # the parser should only raise TemplateSyntaxError
        return [str(_as_template_error(exc))]

    problems: list[tuple[int, str]] = []
    undeclared = meta.find_undeclared_variables(tree)
    reported: set[str] = set()
    for parent, node in _parents(tree):
        lineno = getattr(node, "lineno", 0) or 0
        if isinstance(node, nodes.Name) and node.ctx == "load":
            name = node.name
            if name in undeclared and name not in DOCUMENTED_VARIABLES:
                if name not in reported:
                    reported.add(name)
                    hint = difflib.get_close_matches(name, DOCUMENTED_VARIABLES, n=1)
                    more = f"; did you mean '{hint[0]}'?" if hint else ""
                    problems.append((lineno, f"unknown variable '{name}'{more}"))
            elif (
                name in undeclared
                and name in PERSONAL_VARIABLES
                and not isinstance(parent, nodes.Output | nodes.Concat)
            ):
                problems.append(
                    (
                        lineno,
                        f"'{name}' is filled in per recipient when the message is sent; "
                        f"use it as {{{{ {name} }}}} (filters, tests and conditions "
                        "on it would see a placeholder)",
                    )
                )
        elif isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
            problems.append((lineno, f"access to attribute '{node.attr}' is not allowed"))
        elif (
            isinstance(node, nodes.Getitem)
            and isinstance(node.arg, nodes.Const)
            and isinstance(node.arg.value, str)
            and node.arg.value.startswith("_")
        ):
            problems.append((lineno, f"access to attribute '{node.arg.value}' is not allowed"))
        elif isinstance(node, nodes.Include | nodes.Import | nodes.FromImport | nodes.Extends):
            problems.append((lineno, "include, import and extends are not available"))
    problems.sort(key=lambda item: item[0])
    found = [f"line {lineno}: {message}" for lineno, message in problems]
    if not found:
        # Trial render with placeholders: catches what only shows at run time
        # (forbidden attributes through filters, division by zero, endless macros).
        try:
            render_text(source, {name: tag(name) for name in DOCUMENTED_VARIABLES})
        except TemplateError as exc:
            found.append(str(exc))
    return found

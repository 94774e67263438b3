"""Parser for the Graph API's ``fields=`` field-expansion syntax.

``id,message,comments.limit(5).order(reverse_chronological){id,from{name},message}``
becomes a tree of :class:`FieldSpec`. Modifiers may come before or after the braces,
as Graph accepts both.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class FieldSyntaxError(ValueError):
    """Raised with Graph's own wording and the character position of the problem."""

    def __init__(self, message: str, position: int, text: str) -> None:
        self.position = position
        self.text = text
        super().__init__(f'Syntax error "{message}" at character {position}: {text}')


@dataclass
class FieldSpec:
    name: str
    modifiers: dict[str, str] = field(default_factory=dict)
    children: list[FieldSpec] | None = None

    @property
    def alias(self) -> str:
        """The key the value is returned under (``.as(name)``)."""
        return self.modifiers.get("as", self.name)


def _is_name_char(char: str) -> bool:
    return char.isalnum() or char in "_-"


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, message: str) -> FieldSyntaxError:
        return FieldSyntaxError(message, self.pos, self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_space(self) -> None:
        while self.peek() and self.peek().isspace():
            self.pos += 1

    def name(self) -> str:
        self.skip_space()
        start = self.pos
        while self.peek() and _is_name_char(self.peek()):
            self.pos += 1
        if start == self.pos:
            found = self.peek() or "end of string"
            raise self.error(f'Expected field name instead of "{found}".')
        return self.text[start : self.pos]

    def field_list(self, closing: str) -> list[FieldSpec]:
        fields: list[FieldSpec] = []
        while True:
            self.skip_space()
            if closing and self.peek() == closing and not fields:
                raise self.error(f'Expected field name instead of "{closing}".')
            fields.append(self.field())
            self.skip_space()
            if self.peek() == ",":
                self.pos += 1
                continue
            if closing:
                if self.peek() != closing:
                    raise self.error(f'Expected "{closing}" instead of "{self.peek() or "end of string"}".')
                self.pos += 1
            elif self.peek():
                raise self.error(f'Expected end of string instead of "{self.peek()}".')
            return fields

    def field(self) -> FieldSpec:
        spec = FieldSpec(self.name())
        while True:
            self.skip_space()
            char = self.peek()
            if char == ".":
                self.pos += 1
                modifier = self.name()
                self.skip_space()
                if self.peek() != "(":
                    raise self.error(f'Expected "(" instead of "{self.peek() or "end of string"}".')
                self.pos += 1
                end = self.text.find(")", self.pos)
                if end < 0:
                    raise self.error('Expected ")" instead of "end of string".')
                spec.modifiers[modifier] = self.text[self.pos : end].strip()
                self.pos = end + 1
            elif char == "{":
                if spec.children is not None:
                    raise self.error('Expected "," instead of "{".')
                self.pos += 1
                spec.children = self.field_list("}")
            else:
                return spec


def parse_fields(text: str | None) -> list[FieldSpec] | None:
    """The parsed field list, or None when no ``fields`` were asked for (use the defaults)."""
    if text is None or not text.strip():
        return None
    return _Parser(text).field_list("")


def unparse_fields(specs: list[FieldSpec]) -> str:
    """The inverse of ``parse_fields``, for ``paging.next`` URLs."""
    parts = []
    for spec in specs:
        text = spec.name + "".join(f".{name}({value})" for name, value in spec.modifiers.items())
        if spec.children is not None:
            text += "{" + unparse_fields(spec.children) + "}"
        parts.append(text)
    return ",".join(parts)

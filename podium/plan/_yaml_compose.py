"""YAML text → one tree of nodes, within limits, whatever the text.

PyYAML's composer recurses (deep nesting overflows the stack) and lets an alias repeat a node
any number of times (a few hundred bytes can stand for billions of nodes). `_Composer` keeps an
explicit stack, counts every node as expanded (an alias counts the nodes it repeats) and refuses,
with file and line, a text past the limits below, a recursive alias and a tag that is not plain
data. The events come from libyaml when PyYAML has it (an order of magnitude faster), else from
PyYAML's own parser; a syntax error is worded by PyYAML's parser either way.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, cast

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    Event,
    MappingStartEvent,
    ScalarEvent,
    StreamEndEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from podium.exceptions import ConfigError

if TYPE_CHECKING:
    from yaml._yaml import Mark as _CMark

    _AnyMark: TypeAlias = yaml.Mark | _CMark

MAX_FILE_SIZE = 4 * 2**20
"""The bytes of a workflow file (the characters of a text) that are read at most."""
MAX_DEPTH = 64
"""How deep lists and mappings may nest, aliases expanded."""
MAX_NODES = 250_000
"""The scalars, lists and mappings a file may hold, aliases expanded."""

_MAX_NUMBER = 100  # characters of an int or float: int() of a long literal is slow, then refused
_PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "seq", "map")
)
_NON_PRINTABLE = yaml.reader.Reader.NON_PRINTABLE  # what YAML refuses in a text
_KINDS = {
    "tag:yaml.org,2002:int": "an integer",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:bool": "a boolean",
    "tag:yaml.org,2002:timestamp": "a date",
}
_TOO_DEEP = f"lists and mappings nest more than {MAX_DEPTH} levels deep"
_LIBYAML_TOO_DEEP = "exceeded maximum nesting depth"  # libyaml's own limit, of 1000


def _check_text(text: str, file: str | None) -> None:
    """Refuse a text past `MAX_FILE_SIZE` or with a character YAML does not allow."""
    if len(text) > MAX_FILE_SIZE:
        line = text.count("\n", 0, MAX_FILE_SIZE) + 1
        raise _located(f"the text is larger than {_size(MAX_FILE_SIZE)}", file, line=line)
    found = _NON_PRINTABLE.search(text)
    if found is None:
        return
    char = found.group()
    # appending a character makes the last of the split lines the one holding `char`
    head = (text[: found.start()] + "x").splitlines()
    if unicodedata.category(char) == "Cc":
        what = f"control character {char!r} (U+{ord(char):04X}) is not allowed"
        how = "remove it, or write it as an escape in a double-quoted string"
    else:  # a lone surrogate (text decoded from bytes that are not UTF-8) or a non-character
        what = f"character {char!r} (U+{ord(char):04X}) is not allowed"
        how = "the text is not valid Unicode"
    raise _located(f"invalid YAML: {what}; {how}", file, line=len(head), column=len(head[-1]))


def _size(n: int) -> str:
    return f"the {n // 2**20} MiB limit" if n >= 2**20 else f"the {n:,}-byte limit"


def _located(
    message: str,
    file: str | None,
    *,
    line: int | None = None,
    column: int | None = None,
    mark: _AnyMark | None = None,
) -> ConfigError:
    """A one-line `ConfigError` at a line (and column) of the file or of the bare text."""
    if mark is not None:
        line, column = mark.line + 1, mark.column + 1
    if column is not None:
        message += f" (column {column})"
    if file is None and line is not None:
        message = f"line {line}: {message}"
    return ConfigError(message, file=file, line=line)


def _yaml_error(exc: yaml.YAMLError, file: str | None) -> ConfigError:
    if not isinstance(exc, yaml.MarkedYAMLError):  # a reader error, which `_check_text` prevents
        return _located("invalid YAML: " + " ".join(str(exc).split()), file)
    mark = exc.problem_mark or exc.context_mark
    message = "invalid YAML: "
    if exc.context and exc.problem:  # e.g. "while parsing a flow sequence", "expected ..."
        started = exc.context_mark
        message += exc.context + (f" (line {started.line + 1}), " if started else ", ")
    message += exc.problem or exc.context or "unreadable"
    return _located(message, file, mark=mark)


# -- construction: plain data, every failure with its mark ----------------------------------------


class _Constructor(SafeConstructor):
    """`SafeConstructor` with numbers kept within 64 bits and every failure a `ConstructorError`.

    PyYAML's constructors let `ValueError` (a bad date, an int of 5000 digits), `KeyError`
    (``!!bool maybe``) and the like escape without a line.
    """

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ArithmeticError, AttributeError, LookupError, TypeError, ValueError) as exc:
            what = _shown(node.value) if isinstance(node, ScalarNode) else "this node"
            detail = "" if isinstance(exc, LookupError) else f": {exc}"  # a KeyError says no more
            kind = _KINDS.get(node.tag, _short_tag(node.tag))
            message = f"cannot read {what} as {kind}{detail}; quote it to keep it as text"
            raise ConstructorError(None, None, message, node.start_mark) from None

    def construct_yaml_int(self, node: ScalarNode) -> int:
        if len(node.value) > _MAX_NUMBER:
            raise _too_long(node, "integer")
        value: int = super().construct_yaml_int(node)
        if not -(2**63) <= value < 2**64:
            raise ConstructorError(
                None,
                None,
                f"integer {_shown(node.value)} does not fit in 64 bits; quote it to keep it as "
                "text",
                node.start_mark,
            )
        return value

    def construct_yaml_float(self, node: ScalarNode) -> float:
        if len(node.value) > _MAX_NUMBER:
            raise _too_long(node, "number")
        value: float = super().construct_yaml_float(node)
        return value


_Constructor.yaml_constructors = {
    **SafeConstructor.yaml_constructors,
    "tag:yaml.org,2002:int": _Constructor.construct_yaml_int,
    "tag:yaml.org,2002:float": _Constructor.construct_yaml_float,
}


def _too_long(node: ScalarNode, kind: str) -> ConstructorError:
    message = (
        f"{kind} {_shown(node.value)} is longer than {_MAX_NUMBER} characters; quote it to keep "
        "it as text"
    )
    return ConstructorError(None, None, message, node.start_mark)


def _short_tag(tag: str) -> str:
    """``tag:yaml.org,2002:int`` → ``!!int``, as it is written."""
    standard = "tag:yaml.org,2002:"
    return "!!" + tag.removeprefix(standard) if tag.startswith(standard) else tag


def _shown(value: object, limit: int = 40) -> str:
    text = str(value)
    return repr(text if len(text) <= limit else text[:limit] + "…")


class _PyLoader(
    yaml.reader.Reader,
    yaml.scanner.Scanner,
    yaml.parser.Parser,
    _Constructor,
    yaml.resolver.Resolver,
):
    """PyYAML's parser and resolver, `_Constructor`, no composer."""

    def __init__(self, text: str) -> None:
        yaml.reader.Reader.__init__(self, text)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        _Constructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)


class _Loader(Protocol):
    """What `_Composer` and `_compose` use of a loader (`_PyLoader` or libyaml's)."""

    def check_event(self, *choices: type[Event]) -> bool: ...
    def get_event(self) -> Event | None: ...
    def resolve(self, kind: type[Node], value: Any, implicit: Any) -> str: ...
    def construct_document(self, node: Node) -> Any: ...
    def construct_object(self, node: Node, deep: bool = False) -> Any: ...
    def dispose(self) -> None: ...


_FastLoader: Callable[[str], _Loader] | None = None

if yaml.__with_libyaml__:
    from yaml._yaml import CParser

    class _CLoader(CParser, _Constructor, yaml.resolver.Resolver):
        """libyaml's parser, PyYAML's resolver, `_Constructor`."""

        def __init__(self, text: str) -> None:
            CParser.__init__(self, text)
            _Constructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)

    _FastLoader = _CLoader


def _parse(text: str, file: str | None) -> tuple[_Loader, Node | None]:
    """The root node of `text`'s one document (``None`` if empty) and the loader to construct it.

    Raises:
        ConfigError: `text` is not YAML or passes a limit (with its line).
    """
    _check_text(text, file)
    loader = (_FastLoader or _PyLoader)(text)
    composer = _Composer(loader, file)
    try:
        return loader, composer.document()
    except yaml.YAMLError as exc:
        raise _syntax_error(exc, text, composer.events, file) from None


def _syntax_error(exc: yaml.YAMLError, text: str, events: int, file: str | None) -> ConfigError:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem == _LIBYAML_TOO_DEEP:
        return _located(_TOO_DEEP, file, mark=exc.problem_mark)  # libyaml's limit is past ours
    if _FastLoader is not None and isinstance(
        exc, yaml.scanner.ScannerError | yaml.parser.ParserError
    ):
        exc = _python_syntax_error(text, events) or exc  # worded as PyYAML's parser words it
    return _yaml_error(exc, file)


def _python_syntax_error(text: str, events: int) -> yaml.MarkedYAMLError | None:
    """The syntax error PyYAML's parser finds within about `events` events, if any."""
    loader: _Loader = _PyLoader(text)
    try:
        for _ in range(events + 2):
            if loader.check_event(StreamEndEvent):
                return None
            loader.get_event()
    except yaml.MarkedYAMLError as exc:
        return exc
    finally:
        loader.dispose()
    return None


# -- composition: an explicit stack, every node counted ------------------------------------------


@dataclass(slots=True)
class _Open:
    """A list or mapping being composed: its nodes so far, counted and measured."""

    node: SequenceNode | MappingNode
    anchor: str | None
    size: int = 1
    height: int = 1
    key: Node | None = None


@dataclass(frozen=True, slots=True)
class _Anchored:
    node: Node
    size: int
    height: int
    done: bool = True  # False while its own children are composed: an alias to it recurses


class _Composer:
    """Events → nodes, as PyYAML's composer, within `MAX_DEPTH` and `MAX_NODES`."""

    def __init__(self, loader: _Loader, file: str | None) -> None:
        self.loader = loader
        self.file = file
        self.anchors: dict[str, _Anchored] = {}
        self.nodes = 0  # composed so far, aliases expanded
        self.events = 0  # taken from the parser so far

    def document(self) -> Node | None:
        self._next()  # stream start
        if self.loader.check_event(StreamEndEvent):
            return None
        self._next()  # document start
        root = self._tree()
        self._next()  # document end
        if not self.loader.check_event(StreamEndEvent):
            event = self._next()
            raise ComposerError(
                "expected a single document in the stream",
                root.start_mark,
                "but found another document",
                _mark(event.start_mark),
            )
        return root

    def _next(self) -> Event:
        self.events += 1
        event = self.loader.get_event()
        if event is None:  # the parser guarantees every event the composer asks for
            raise ComposerError(None, None, "unexpected end of the stream", None)
        return event

    def _tree(self) -> Node:
        stack: list[_Open] = []
        while True:
            event = self._next()
            if isinstance(event, CollectionStartEvent):
                stack.append(self._open(event, depth=len(stack) + 1))
                continue
            if isinstance(event, CollectionEndEvent):
                done = stack.pop()
                done.node.end_mark = _mark(event.end_mark)
                node: Node = done.node
                size, height = done.size, done.height
                if done.anchor is not None:
                    self.anchors[done.anchor] = _Anchored(node, size, height)
            elif isinstance(event, AliasEvent):
                node, size, height = self._alias(event, depth=len(stack))
            elif isinstance(event, ScalarEvent):
                node, size, height = self._scalar(event), 1, 0
            else:
                raise ComposerError(None, None, f"unexpected {event}", _mark(event.start_mark))
            if not stack:
                return node
            _attach(stack[-1], node, size, height)

    def _open(self, event: CollectionStartEvent, *, depth: int) -> _Open:
        if depth > MAX_DEPTH:
            raise self._refuse(_TOO_DEEP, event)
        self._count(1, event)
        kind = MappingNode if isinstance(event, MappingStartEvent) else SequenceNode
        tag = self._tag(event, kind, None)
        node = kind(tag, [], _mark(event.start_mark), None, flow_style=event.flow_style)
        self._anchor(event, _Anchored(node, 0, 0, done=False))
        return _Open(node, event.anchor)

    def _scalar(self, event: ScalarEvent) -> ScalarNode:
        self._count(1, event)
        tag = self._tag(event, ScalarNode, event.value)
        node = ScalarNode(
            tag, event.value, _mark(event.start_mark), _mark(event.end_mark), style=event.style
        )
        self._anchor(event, _Anchored(node, 1, 0))
        return node

    def _alias(self, event: AliasEvent, *, depth: int) -> tuple[Node, int, int]:
        name = event.anchor
        target = self.anchors.get(name) if name is not None else None
        if target is None:
            raise ComposerError(
                None, None, f"found undefined alias {name!r}", _mark(event.start_mark)
            )
        if not target.done:
            raise self._refuse(
                f"alias *{name} is inside the node it stands for (recursive data)", event
            )
        if depth + target.height > MAX_DEPTH:
            raise self._refuse(
                f"alias *{name} makes lists and mappings nest more than {MAX_DEPTH} levels deep",
                event,
            )
        self._count(target.size, event, alias=name)
        return target.node, target.size, target.height

    def _tag(self, event: ScalarEvent | CollectionStartEvent, kind: type, value: Any) -> str:
        tag = event.tag
        if tag is None or tag == "!":
            return self.loader.resolve(kind, value, event.implicit)
        if tag not in _PLAIN_TAGS:
            raise self._refuse(
                f"tag {_short_tag(tag)!r} is not supported: a workflow file holds plain data "
                "(strings, numbers, booleans, null, lists and mappings)",
                event,
            )
        return tag

    def _anchor(self, event: ScalarEvent | CollectionStartEvent, anchored: _Anchored) -> None:
        name = event.anchor
        if name is None:
            return
        if name in self.anchors:
            raise ComposerError(
                f"found duplicate anchor {name!r}; first occurrence",
                self.anchors[name].node.start_mark,
                "second occurrence",
                _mark(event.start_mark),
            )
        self.anchors[name] = anchored

    def _count(self, n: int, event: Event, *, alias: str | None = None) -> None:
        self.nodes += n
        if self.nodes <= MAX_NODES:
            return
        limit = f"{MAX_NODES:,} nodes (scalars, lists and mappings)"
        if alias is None:
            raise self._refuse(f"the file holds more than {limit}", event)
        raise self._refuse(
            f"alias *{alias} repeats {n:,} nodes, which takes the file past {limit}; an alias "
            "counts as the nodes it repeats",
            event,
        )

    def _refuse(self, message: str, event: Event) -> ConfigError:
        return _located(message, self.file, mark=_mark(event.start_mark))


def _mark(mark: _AnyMark | None) -> yaml.Mark | None:
    # libyaml's marks have the fields of PyYAML's; the type stubs keep the two apart
    return cast("yaml.Mark | None", mark)


def _attach(parent: _Open, node: Node, size: int, height: int) -> None:
    parent.size += size
    parent.height = max(parent.height, height + 1)
    if isinstance(parent.node, SequenceNode):
        parent.node.value.append(node)
    elif parent.key is None:
        parent.key = node
    else:
        parent.node.value.append((parent.key, node))
        parent.key = None

"""User task forms: what a person fills in to complete a user task.

```python
from wfc.dsl import Field, UserTaskForm

update_card = UserTaskForm(
    "update-card",
    card_token=Field(str, display_name="New card", description="The token of the new card"),
    note=Field(str, required=False),
)
```

A form is a plain value, usually declared once at module level and used by
``wf.assign_user_task(form, ...)`` in any thread. It is checked where it is
written (a bad field raises :class:`DslError` at that line), and the compiler
puts every form its user tasks use into ``WorkflowSpec.forms``.
"""

from __future__ import annotations

import re
from typing import Any

from wfc.dsl.errors import DslError
from wfc.dsl.source import Source, caller_source
from wfc.specs import FIELD_TYPES, FieldDef, FieldType, FormDef, text_problem

_FORM_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]*")
_FIELD_NAME = re.compile(r"[^\W\d][\w.:-]*")
# Python types stand for the field types of the same name; dict and list are JSON.
_PYTHON_TYPES: dict[object, FieldType] = {str: "str", int: "int", float: "float", bool: "bool",
                                          dict: "json", list: "json"}


def field_type(value: object) -> FieldType | None:
    """The field type ``value`` names (``str`` or ``"str"``, ``dict`` or ``"json"``, …), if any."""
    if isinstance(value, str):
        return next((t for t in FIELD_TYPES if t == value), None)
    try:
        return _PYTHON_TYPES.get(value)
    except TypeError:  # an unhashable value names no type
        return None


class Field:
    """One field of a :class:`UserTaskForm`.

    Args:
        type: ``str``, ``int``, ``float``, ``bool``, or ``"json"`` (also
            ``dict`` or ``list``) for any JSON value. An ``int`` is accepted
            for a ``float`` field; a ``bool`` is never a number.
        required: Completing the task without a value for it is refused.
        display_name: The label a person sees; the field's name when unset.
        description: Help text shown with the field.
    """

    __slots__ = ("description", "display_name", "required", "source", "type")

    def __init__(
        self,
        type: object,  # the name users write: Field(type=str)
        required: bool = True,
        display_name: str | None = None,
        description: str = "",
    ) -> None:
        source = caller_source()
        kind = field_type(type)
        if kind is None:
            raise DslError(
                f"a field's type is str, int, float, bool or \"json\" (dict and list mean json too), got {type!r}: "
                "Field(str), Field(int, required=False), Field(\"json\")",
                str(source),
            )
        if not isinstance(required, bool):
            raise DslError(f"required is True or False, got {required!r}: Field(str, required=False)", str(source))
        if display_name is not None and (not isinstance(display_name, str) or not display_name.strip()):
            raise DslError(
                f"display_name is a non-empty string (or None for the field's name), got {display_name!r}",
                str(source),
            )
        if not isinstance(description, str):
            raise DslError(f"description is a string, got {description!r}", str(source))
        for what, text in (("display_name", display_name), ("description", description)):
            problem = text_problem(text) if text else None
            if problem is None and text and "\x00" in text:
                problem = "it contains a NUL character, which the database cannot store"
            if problem is not None:
                raise DslError(f"the field's {what} cannot be stored: {problem}", str(source))
        self.type: FieldType = kind
        self.required = required
        self.display_name = display_name
        self.description = description
        self.source = source

    def __repr__(self) -> str:
        options = "" if self.required else ", required=False"
        if self.display_name is not None:
            options += f", display_name={self.display_name!r}"
        if self.description:
            options += f", description={self.description!r}"
        return f"Field({self.type!r}{options})"

    def definition(self, name: str) -> FieldDef:
        """The spec record of this field under ``name``."""
        return FieldDef(name=name, type=self.type, required=self.required,
                        display_name=self.display_name, description=self.description)


class UserTaskForm:
    """A named form: its fields, in the order a person sees them.

    ``UserTaskForm("approve-expense", approved=Field(bool), comment=Field(str, required=False))``.
    Field names are the keyword names (``**{"card-token": Field(str)}`` for
    names that are not identifiers); completing a task gives one value per field,
    read downstream as ``ut["approved"]``. A workflow has one form per name:
    two different forms with the same name are refused when the second is used.
    """

    __slots__ = ("_definition", "fields", "name", "source")

    def __init__(self, name: str, **fields: Field) -> None:
        source = caller_source()
        if not isinstance(name, str) or not _FORM_NAME.fullmatch(name):
            raise DslError(
                "a form name is letters, digits, '_', '-', '.' or ':' (no spaces), "
                f"got {name!r}: UserTaskForm(\"update-card\", card_token=Field(str))",
                str(source),
            )
        for field_name, value in fields.items():
            _check_field(name, field_name, value, source)
        self.name = name
        self.fields: dict[str, Field] = dict(fields)
        self.source: Source = source
        self._definition = FormDef(name=name, fields=[f.definition(n) for n, f in fields.items()])

    @property
    def definition(self) -> FormDef:
        """The spec record of the form, as ``WorkflowSpec.forms`` holds it."""
        return self._definition

    def __repr__(self) -> str:
        fields = "".join(f", {name}={value!r}" for name, value in self.fields.items())
        return f"UserTaskForm({self.name!r}{fields})"


def _check_field(form: str, name: str, value: Any, source: Source) -> None:
    if not _FIELD_NAME.fullmatch(name):
        raise DslError(
            f"field name {name!r} of form {form!r} must start with a letter or '_' and be letters, digits, "
            "'_', '-', '.' or ':'",
            str(source),
        )
    if not isinstance(value, Field):
        hint = f"{name}=Field({value.__name__})" if field_type(value) is not None and isinstance(value, type) \
            else f"{name}=Field(str)"
        raise DslError(
            f"field {name!r} of form {form!r} must be a Field(...), got {value!r}: write {hint}",
            str(source),
        )


def form_difference(old: FormDef, new: FormDef) -> str:
    """What differs between two forms of one name, briefly, for an error message."""
    before = {f.name: f for f in old.fields}
    after = {f.name: f for f in new.fields}
    parts = [f"field {n!r} only in the first" for n in before if n not in after]
    parts += [f"field {n!r} only in the second" for n in after if n not in before]
    parts += [f"field {n!r} differs" for n in before if n in after and before[n] != after[n]]
    if not parts and list(before) != list(after):
        parts.append("the fields are in another order")
    return ", ".join(parts) or "they differ"

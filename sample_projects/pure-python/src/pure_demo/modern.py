"""Syntax of recent Pythons: compiled bytecode must come from the interpreter that runs it."""


def first(items: object) -> object:
    match items:
        case [head, *_]:
            return head
        case _:
            return None


def caught() -> bool:
    seen = False
    try:
        raise ExceptionGroup("several", [ValueError("one")])
    except* ValueError:
        seen = True
    return seen

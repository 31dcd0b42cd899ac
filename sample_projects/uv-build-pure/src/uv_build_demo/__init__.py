"""A pure package whose wheel ships compiled bytecode."""


def greet(name: str) -> str:
    return f"hello {name}"

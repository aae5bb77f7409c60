"""Run as a script (the app never imports it; tests may, to check many answers without a process each): reads {"a": expr, "b": expr, "symbols": [...]} as JSON on stdin and
prints {"equal": true|false} after checking a − b simplifies to 0 with sympy.

Both expressions were already rebuilt from whitelisted tokens (`domain/marking.canonical_expression`); parse_expr gets
a global dict holding only the names it needs, and the parent process kills us after a time limit and caps memory."""
import json
import sys

from sympy import Float, Integer, Rational, Symbol, expand, nsimplify, pi, simplify, sqrt
from sympy.parsing.sympy_parser import auto_number, parse_expr


def equal(a_text: str, b_text: str, symbols: list[str]) -> bool:
    """Whether two canonical expressions are equal for all values of `symbols` (a − b simplifies to 0)."""
    names = {name: Symbol(name) for name in symbols}
    safe_globals = {"Integer": Integer, "Float": Float, "Rational": Rational, "Symbol": Symbol, "sqrt": sqrt,
                    "pi": pi, "__builtins__": {}}
    a = parse_expr(a_text, local_dict=dict(names), global_dict=safe_globals, transformations=(auto_number,))
    b = parse_expr(b_text, local_dict=dict(names), global_dict=safe_globals, transformations=(auto_number,))
    difference = nsimplify(expand(a - b), rational=True)
    return bool(difference == 0 or simplify(difference) == 0)


def main() -> None:
    request = json.loads(sys.stdin.read(4096))
    print(json.dumps({"equal": equal(request["a"], request["b"], request["symbols"])}))


if __name__ == "__main__":
    main()

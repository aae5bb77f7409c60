"""Parametrised GCSE and A-Level questions (maths here, physics in physics_templates): each template turns a seed into
one exact variant.

A variant is a plain dict (subject, level, topic, prompt, kind, answer, tolerance, unit, choices, solution,
difficulty); the same template and seed always give the same variant, so a stored (template, seed) pair regenerates
the item exactly. Kinds:
"numeric" (answer a decimal string, tolerance absolute, optional unit), "choice" (answer the index of the right
choice) and "algebra" (answer an expression in x, y or n, marked by equivalence)."""
from __future__ import annotations

import math
import random
from collections.abc import Callable
from fractions import Fraction

from . import physics_templates
from .question_kit import choice as _choice
from .question_kit import num as _num
from .question_kit import signed as _signed
from .question_kit import tidy as _tidy

Variant = dict
# How many fixed variants of each template the question bank holds, and the seeds they are looked for in.
BANK_VARIANTS = 10
_SEED_RANGE = range(1, 200)


def fractions_add(rng):
    b, d = rng.choice([3, 4, 5, 6, 7, 8]), rng.choice([2, 3, 5, 9, 10, 12])
    a, c = rng.randint(1, b - 1), rng.randint(1, d - 1)
    total = Fraction(a, b) + Fraction(c, d)
    lcm = b * d // math.gcd(b, d)
    raw = f"{a * lcm // b + c * lcm // d}/{lcm}"
    simplest = f"{total.numerator}/{total.denominator}"
    ending = f", which simplifies to {simplest}." if raw != simplest else ", already in its simplest form."
    return dict(kind="algebra", difficulty=1, topic="fractions",
                prompt=f"Work out {a}/{b} + {c}/{d}. Give your answer as a fraction in its simplest form.",
                answer=simplest,
                solution=f"Use the common denominator {lcm}: {a}/{b} = {a * lcm // b}/{lcm} and {c}/{d} = "
                         f"{c * lcm // d}/{lcm}. Add the numerators: {raw}{ending}")


def percentage_change(rng):
    amount, pct = rng.choice([40, 60, 80, 120, 150, 240, 360, 450]), rng.choice([5, 12, 15, 20, 35])
    up = rng.random() < 0.5
    result = amount * (1 + pct / 100) if up else amount * (1 - pct / 100)
    word, mult = ("Increase", 1 + pct / 100) if up else ("Decrease", 1 - pct / 100)
    return dict(kind="numeric", difficulty=1, topic="percentages", unit="£", tolerance=0.005,
                prompt=f"{word} £{amount} by {pct}%.", answer=_num(result),
                solution=f"The multiplier is {_num(mult, 2)}. £{amount} × {_num(mult, 2)} = £{_num(result)}.")


def index_laws(rng):
    a, b, c = rng.randint(2, 9), rng.randint(2, 9), rng.randint(1, 6)
    n = a + b - c
    return dict(kind="algebra", difficulty=2, topic="indices",
                prompt=f"Simplify x^{a} × x^{b} ÷ x^{c}.", answer=f"x**{n}",
                solution=f"Add the powers when multiplying and subtract when dividing: {a} + {b} − {c} = {n}, "
                         f"so the answer is x^{n}.")


def standard_form_product(rng):
    a, b = rng.choice([2, 3, 4]), rng.choice([2, 1.5, 3])
    m, n = rng.randint(2, 6), rng.randint(2, 5)
    mant, exp = a * b, m + n
    if mant >= 10:
        mant, exp = mant / 10, exp + 1
    right = f"{_num(mant)} × 10^{exp}"
    options, answer = _choice(rng, right, [f"{_num(mant)} × 10^{m * n}", f"{_num(a + b)} × 10^{exp}",
                                          f"{_num(mant * 10)} × 10^{exp - 2}", f"{_num(mant)} × 10^{exp - 1}"])
    return dict(kind="choice", difficulty=2, topic="standard-form", choices=options, answer=answer,
                prompt=f"Work out ({_num(a)} × 10^{m}) × ({_num(b)} × 10^{n}). Give your answer in standard form.",
                solution=f"Multiply the numbers: {_num(a)} × {_num(b)} = {_num(a * b)}; add the powers: {m} + {n} = "
                         f"{m + n}. Adjust so the number is between 1 and 10: {right}.")


def hcf(rng):
    g = rng.choice([4, 6, 8, 12, 14, 15, 18])
    p, q = rng.sample([2, 3, 5, 7, 11], 2)
    x, y = g * p, g * q
    return dict(kind="numeric", difficulty=2, topic="prime-factors-hcf-lcm", tolerance=0,
                prompt=f"Find the highest common factor (HCF) of {x} and {y}.", answer=str(math.gcd(x, y)),
                solution=f"Write each as a product of prime factors and take the primes they share. "
                         f"{x} = {math.gcd(x, y)} × {x // math.gcd(x, y)} and {y} = {math.gcd(x, y)} × "
                         f"{y // math.gcd(x, y)}, and {x // math.gcd(x, y)} and {y // math.gcd(x, y)} share no "
                         f"factor, so the HCF is {math.gcd(x, y)}.")


def round_sig_figs(rng):
    value = round(rng.uniform(100, 99999) / 10 ** rng.randint(0, 4), 4)
    digits = math.floor(math.log10(abs(value)))
    rounded = round(value, 1 - digits)
    return dict(kind="numeric", difficulty=1, topic="rounding-bounds", tolerance=0,
                prompt=f"Round {value:g} to 2 significant figures.", answer=_num(rounded, 4),
                solution=f"The first significant figure is in the 10^{digits} place, so keep two figures and "
                         f"look at the third to decide whether to round up: {value:g} ≈ {_num(rounded, 4)}.")


def order_of_operations(rng):
    a, b, c, d = rng.randint(2, 12), rng.randint(2, 9), rng.randint(2, 9), rng.randint(1, 20)
    result = a + b * c - d
    return dict(kind="numeric", difficulty=1, topic="order-of-operations", tolerance=0,
                prompt=f"Work out {a} + {b} × {c} − {d}.", answer=str(result),
                solution=f"Multiplication comes before addition and subtraction: {b} × {c} = {b * c}, then "
                         f"{a} + {b * c} − {d} = {result}.")


def expand_double(rng):
    a, b = rng.choice([-7, -5, -3, -2, 1, 2, 3, 4, 6]), rng.choice([-6, -4, -1, 2, 3, 5, 7])
    return dict(kind="algebra", difficulty=2, topic="expanding-brackets",
                prompt=f"Expand and simplify (x {_signed(a)})(x {_signed(b)}).",
                answer=f"x**2 + ({a + b})*x + ({a * b})",
                solution=f"Multiply each term by each term: x² {_signed(b)}x {_signed(a)}x {_signed(a * b)}, then "
                         f"collect the x terms: x² {_signed(a + b)}x {_signed(a * b)}.")


def factorise_quadratic(rng):
    a, b = rng.sample([-6, -5, -3, -2, 1, 2, 3, 4, 7], 2)
    s, p = a + b, a * b
    right = f"(x {_signed(a)})(x {_signed(b)})"
    options, answer = _choice(rng, right, [f"(x {_signed(-a)})(x {_signed(-b)})", f"(x {_signed(s)})(x {_signed(1)})",
                                          f"(x {_signed(p)})(x {_signed(1)})", f"x(x {_signed(s)})"])
    return dict(kind="choice", difficulty=2, topic="factorising", choices=options, answer=answer,
                prompt=f"Factorise x² {_signed(s)}x {_signed(p)}.",
                solution=f"Find two numbers that multiply to {p} and add to {s}: {a} and {b}. So x² {_signed(s)}x "
                         f"{_signed(p)} = {right}.")


def linear_equation(rng):
    x = rng.randint(-6, 9)
    a, c = rng.sample([2, 3, 4, 5, 7, 8], 2)
    b = rng.randint(-10, 10)
    d = a * x + b - c * x
    return dict(kind="numeric", difficulty=2, topic="linear-equations", tolerance=0,
                prompt=f"Solve {a}x {_signed(b)} = {c}x {_signed(d)}.", answer=str(x),
                solution=f"Subtract {c}x from both sides: {a - c}x {_signed(b)} = {d}. Then "
                         f"{a - c}x = {d - b}, so x = {d - b} ÷ {a - c} = {x}.")


def rearrange(rng):
    a, b = rng.randint(2, 9), rng.randint(1, 12)
    return dict(kind="algebra", difficulty=2, topic="rearranging-formulae",
                prompt=f"Make x the subject of y = {a}x + {b}.", answer=f"(y - {b})/{a}",
                solution=f"Subtract {b} from both sides: y − {b} = {a}x. Divide by {a}: x = (y − {b})/{a}.")


def nth_term(rng):
    d, first = rng.choice([2, 3, 4, 5, 6, 7, -3, -2]), rng.randint(-5, 15)
    terms = ", ".join(str(first + d * k) for k in range(5))
    c = first - d
    return dict(kind="algebra", difficulty=2, topic="sequences", prompt=f"Find the nth term of {terms}, …",
                answer=f"{d}*n + ({c})",
                solution=f"The common difference is {d}, so the nth term starts {d}n. When n = 1, {d}n = {d} and "
                         f"the first term is {first}, so add {c}: nth term = {d}n {_signed(c)}.")


def gradient(rng):
    x1, y1 = rng.randint(-5, 5), rng.randint(-5, 5)
    run, m = rng.choice([1, 2, 4]), rng.choice([-3, -2, -1, 1, 2, 3, 0.5, 1.5])
    x2, y2 = x1 + run, y1 + m * run
    return dict(kind="numeric", difficulty=1, topic="straight-line-graphs", tolerance=0.001,
                prompt=f"Find the gradient of the line through ({x1}, {y1}) and ({x2}, {_num(y2)}).",
                answer=_num(m),
                solution=f"Gradient = change in y ÷ change in x = ({_num(y2)} − {y1}) ÷ ({x2} − {x1}) = "
                         f"{_num(y2 - y1)} ÷ {run} = {_num(m)}.")


def quadratic_roots(rng):
    r1, r2 = rng.sample([-7, -5, -4, -2, -1, 1, 3, 4, 6], 2)
    b, c = -(r1 + r2), r1 * r2
    return dict(kind="numeric", difficulty=3, topic="quadratic-equations", tolerance=0,
                prompt=f"Solve x² {_signed(b)}x {_signed(c)} = 0. Give the larger solution.", answer=str(max(r1, r2)),
                solution=f"Factorise: (x {_signed(-r1)})(x {_signed(-r2)}) = 0, so x = {r1} or x = {r2}. The larger "
                         f"is {max(r1, r2)}.")


def simultaneous(rng):
    x, y = rng.randint(-4, 6), rng.randint(-3, 7)
    a, b, c = rng.randint(1, 4), rng.randint(1, 3), rng.randint(1, 4)
    e1, e2 = a * x + b * y, c * x - b * y
    return dict(kind="numeric", difficulty=3, topic="simultaneous-equations", tolerance=0,
                prompt=f"Solve the simultaneous equations {a}x + {b}y = {e1} and {c}x − {b}y = {e2}. What is x?",
                answer=str(x),
                solution=f"Add the equations to eliminate y: {a + c}x = {e1 + e2}, so x = {x}. (Then y = {y}.)")


def inequality(rng):
    a, b = rng.randint(2, 6), rng.randint(-8, 8)
    x = rng.randint(-3, 6)
    c = a * x + b
    right = f"x < {x}"
    options, answer = _choice(rng, right, [f"x > {x}", f"x < {c - b}", f"x < {x + 1}", f"x ≤ {x}"])
    return dict(kind="choice", difficulty=2, topic="inequalities", choices=options, answer=answer,
                prompt=f"Solve {a}x {_signed(b)} < {c}.",
                solution=f"Subtract {b} from both sides: {a}x < {c - b}. Divide by {a} (positive, so the sign stays): "
                         f"x < {x}.")


def share_ratio(rng):
    a, b = rng.sample([1, 2, 3, 4, 5, 7], 2)
    part = rng.choice([5, 8, 12, 15, 20, 25])
    total = (a + b) * part
    return dict(kind="numeric", difficulty=1, topic="ratio", unit="£", tolerance=0.005,
                prompt=f"Share £{total} in the ratio {a}:{b}. How much is the larger share?",
                answer=str(max(a, b) * part),
                solution=f"There are {a} + {b} = {a + b} parts, each worth £{total} ÷ {a + b} = £{part}. The larger "
                         f"share is {max(a, b)} × £{part} = £{max(a, b) * part}.")


def speed(rng):
    hours, mins = rng.randint(1, 3), rng.choice([0, 15, 30, 45])
    t = hours + mins / 60
    v = rng.choice([40, 48, 56, 60, 64, 72, 80])
    dist = v * t
    return dict(kind="numeric", difficulty=2, topic="compound-measures", unit="km/h", tolerance=0.05,
                prompt=f"A car travels {_num(dist)} km in {hours} h {mins} min. Work out its average speed in km/h.",
                answer=str(v),
                solution=f"{hours} h {mins} min = {_num(t)} hours. "
                         f"Speed = distance ÷ time = {_num(dist)} ÷ {_num(t)} = "
                         f"{v} km/h.")


def compound_interest(rng):
    p, r, n = rng.choice([500, 800, 1200, 2000, 2500]), rng.choice([2, 3, 4, 5]), rng.randint(2, 5)
    value = p * (1 + r / 100) ** n
    return dict(kind="numeric", difficulty=2, topic="growth-decay", unit="£", tolerance=0.01,
                prompt=f"£{p} is invested at {r}% compound interest per year. How much is it worth after {n} years? "
                       f"Give your answer to the nearest penny.", answer=f"{value:.2f}",
                solution=f"Multiplier 1.{r:02d} for each year: £{p} × 1.{r:02d}^{n} = £{value:.2f}.")


def polygon_angle(rng):
    n = rng.choice([5, 6, 8, 9, 10, 12, 15, 18, 20])
    interior = 180 - 360 / n
    return dict(kind="numeric", difficulty=2, topic="angles", unit="°", tolerance=0.05,
                prompt=f"Work out the size of each interior angle of a regular polygon with {n} sides.",
                answer=_num(interior, 1),
                solution=f"Each exterior angle is 360° ÷ {n} = {_num(360 / n, 1)}°. Interior and exterior angles "
                         f"add to 180°, so each interior angle is 180° − {_num(360 / n, 1)}° = {_num(interior, 1)}°.")


def trapezium_area(rng):
    a, b, h = rng.randint(3, 12), rng.randint(5, 15), rng.randint(2, 10)
    area = (a + b) * h / 2
    return dict(kind="numeric", difficulty=1, topic="area-perimeter", unit="cm^2", tolerance=0.05,
                prompt=f"A trapezium has parallel sides {a} cm and {b} cm and height {h} cm. Work out its area.",
                answer=_num(area, 1),
                solution=f"Area = ½(a + b)h = ½ × ({a} + {b}) × {h} = {_num(area, 1)} cm².")


def circle_area(rng):
    r = rng.choice([2, 3, 4.5, 5, 6, 7, 8.2, 10, 12])
    area = math.pi * r * r
    return dict(kind="numeric", difficulty=1, topic="circles", unit="cm^2", tolerance=0.051,
                prompt=f"A circle has radius {_num(r)} cm. Work out its area, to 1 decimal place.",
                answer=_num(area, 1),
                solution=f"Area = πr² = π × {_num(r)}² = {_num(area, 4)}… ≈ {_num(area, 1)} cm².")


def pythagoras(rng):
    a, b = rng.randint(3, 15), rng.randint(4, 20)
    c = math.hypot(a, b)
    return dict(kind="numeric", difficulty=2, topic="pythagoras", unit="cm", tolerance=0.051,
                prompt=f"A right-angled triangle has shorter sides {a} cm and {b} cm. Work out the length of the "
                       f"hypotenuse, to 1 decimal place.", answer=_num(c, 1),
                solution=f"c² = {a}² + {b}² = {a * a} + {b * b} = {a * a + b * b}, so c = √{a * a + b * b} = "
                         f"{_num(c, 3)}… ≈ {_num(c, 1)} cm.")


def trig_opposite(rng):
    hyp, angle = rng.randint(5, 20), rng.choice([20, 25, 30, 35, 40, 50, 55, 62, 70])
    opp = hyp * math.sin(math.radians(angle))
    return dict(kind="numeric", difficulty=3, topic="trigonometry", unit="cm", tolerance=0.051,
                prompt=f"In a right-angled triangle the hypotenuse is {hyp} cm and one angle is {angle}°. Work out "
                       f"the side opposite that angle, to 1 decimal place.", answer=_num(opp, 1),
                solution=f"sin θ = opposite ÷ hypotenuse, so opposite = {hyp} × sin {angle}° = {_num(opp, 3)}… ≈ "
                         f"{_num(opp, 1)} cm.")


def cylinder_volume(rng):
    r, h = rng.choice([2, 3, 4, 5, 6]), rng.choice([5, 8, 10, 12, 15])
    v = math.pi * r * r * h
    return dict(kind="numeric", difficulty=2, topic="volume-surface-area", unit="cm^3", tolerance=0.51,
                prompt=f"A cylinder has radius {r} cm and height {h} cm. Work out its volume, to the nearest cm³.",
                answer=str(round(v)),
                solution=f"Volume = πr²h = π × {r}² × {h} = {_num(v, 2)}… ≈ {round(v)} cm³.")


def probability_not(rng):
    p = rng.choice([0.1, 0.15, 0.2, 0.35, 0.42, 0.6, 0.72, 0.85])
    return dict(kind="numeric", difficulty=1, topic="probability", tolerance=0.0001,
                prompt=f"The probability that a train is late is {p}. What is the probability that it is not late?",
                answer=_num(1 - p, 3),
                solution=f"The probabilities of an event and of it not happening add to 1: 1 − {p} = {_num(1 - p, 3)}.")


def mean_of_list(rng):
    values = [rng.randint(1, 30) for _ in range(rng.randint(5, 8))]
    mean = sum(values) / len(values)
    return dict(kind="numeric", difficulty=1, topic="averages", tolerance=0.051,
                prompt=f"Work out the mean of {', '.join(map(str, values))}. Give your answer to 1 decimal place "
                       f"if it is not whole.", answer=_num(mean, 1),
                solution=f"Add them: {sum(values)}. Divide by how many there are ({len(values)}): "
                         f"{sum(values)} ÷ {len(values)} = {_num(mean, 3)} ≈ {_num(mean, 1)}.")


def surd_simplify(rng):
    square, rest = rng.choice([4, 9, 16, 25]), rng.choice([2, 3, 5, 6, 7])
    n, k = square * rest, int(math.isqrt(square))
    right = f"{k}√{rest}"
    options, answer = _choice(rng, right, [f"{rest}√{k}", f"{square}√{rest}", f"{k * rest}√2", f"√{n // 2}"])
    return dict(kind="choice", difficulty=2, topic="surds", choices=options, answer=answer,
                prompt=f"Simplify √{n}.",
                solution=f"{n} = {square} × {rest} and {square} is a square number, so √{n} = √{square} × √{rest} = "
                         f"{right}.")


def reverse_percentage(rng):
    original, pct = rng.choice([40, 80, 120, 200, 250, 360]), rng.choice([10, 20, 25, 30])
    sale = original * (1 - pct / 100)
    return dict(kind="numeric", difficulty=3, topic="percentages", unit="£", tolerance=0.005,
                prompt=f"In a sale, prices are reduced by {pct}%. A coat costs £{_num(sale)} in the sale. What was "
                       f"its price before the sale?", answer=_num(original),
                solution=f"The sale price is {100 - pct}% of the original: £{_num(sale)} ÷ {_num(1 - pct / 100)} = "
                         f"£{_num(original)}. (Adding {pct}% of the sale price is a common mistake.)")


def differentiate_poly(rng):
    a, b, c = rng.randint(2, 6), rng.randint(-9, 9), rng.randint(-10, 10)
    n = rng.randint(3, 5)
    return dict(kind="algebra", difficulty=2, topic="al-differentiation",
                prompt=f"Differentiate y = {a}x^{n} {_signed(b)}x² {_signed(c)}x with respect to x.",
                answer=f"{a * n}*x**{n - 1} + ({2 * b})*x + ({c})",
                solution=f"Bring each power down and reduce it by one: dy/dx = {a * n}x^{n - 1} {_signed(2 * b)}x "
                         f"{_signed(c)}.")


def definite_integral(rng):
    a, b = rng.randint(1, 4), rng.randint(-5, 5)
    lo, hi = 0, rng.randint(1, 4)
    value = Fraction(a, 3) * (hi ** 3 - lo ** 3) + Fraction(b, 2) * (hi ** 2 - lo ** 2)
    return dict(kind="numeric", difficulty=3, topic="al-integration", tolerance=0.01,
                prompt=f"Evaluate the integral of {a}x² {_signed(b)}x from x = {lo} to x = {hi}. Give your answer to "
                       f"2 decimal places if it is not exact.", answer=_num(float(value)),
                solution=f"Integrate: {a}x³/3 {_signed(b)}x²/2. Substitute {hi} and {lo} and subtract: "
                         f"{value} = {_num(float(value))}.")


def suvat_final_speed(rng):
    u, a, t = rng.randint(0, 12), rng.choice([1.5, 2, 2.5, 3, 4]), rng.randint(2, 9)
    v = u + a * t
    return dict(kind="numeric", difficulty=1, topic="al-kinematics", unit="m/s", tolerance=0.01,
                prompt=f"A particle moves in a straight line with initial speed {u} m/s and constant acceleration "
                       f"{_num(a)} m/s². Find its speed after {t} s.", answer=_num(v),
                solution=f"Use v = u + at: v = {u} + {_num(a)} × {t} = {_num(v)} m/s.")


# --- A-Level pure and statistics --------------------------------------------------------------------------------


def binomial_coefficient(rng):
    n, k = rng.randint(4, 8), rng.randint(2, 3)
    a, b = rng.choice([1, 2, 3]), rng.choice([-3, -2, -1, 2, 3, 4])
    coeff = math.comb(n, k) * a ** (n - k) * b ** k
    return dict(kind="numeric", difficulty=2, topic="al-binomial", tolerance=0, level="A-Level",
                prompt=f"Find the coefficient of x^{k} in the expansion of ({a} {_signed(b)}x)^{n}.",
                answer=str(coeff),
                solution=f"The x^{k} term is C({n}, {k}) × {a}^{n - k} × ({b}x)^{k}. C({n}, {k}) = {math.comb(n, k)}, "
                         f"so the coefficient is {math.comb(n, k)} × {a ** (n - k)} × {b ** k} = {coeff}. Keep the "
                         f"sign of {b} inside the power.")


def exponential_equation(rng):
    base, target = rng.choice([2, 3, 5, 7]), rng.choice([10, 20, 50, 100, 200])
    x = math.log(target) / math.log(base)
    return dict(kind="numeric", difficulty=2, topic="al-exponentials-logs", tolerance=0.001, level="A-Level",
                prompt=f"Solve {base}^x = {target}, giving x to 3 decimal places.", answer=f"{x:.3f}",
                solution=f"Take logs of both sides: x ln {base} = ln {target}, so x = ln {target} ÷ ln {base} = "
                         f"{math.log(target):.4f} ÷ {math.log(base):.4f} = {x:.3f}.")


def log_laws(rng):
    base, m, n, factor = rng.choice([2, 3, 5]), rng.randint(1, 4), rng.randint(1, 3), rng.choice([2, 3, 7])
    a, b = base ** m * factor, base ** n  # a × b ÷ factor = base^(m + n)
    total = m + n
    return dict(kind="numeric", difficulty=2, topic="al-exponentials-logs", tolerance=0, level="A-Level",
                prompt=f"Without a calculator, evaluate log_{base} {a} + log_{base} {b} − log_{base} {factor}.",
                answer=str(total),
                solution=f"Combine the logs: log_{base}({a} × {b} ÷ {factor}) = log_{base} {a * b // factor}. "
                         f"{a * b // factor} = {base}^{total}, so the value is {total}.")


def double_angle(rng):
    opp, adj, hyp = rng.choice([(3, 4, 5), (5, 12, 13), (8, 15, 17), (7, 24, 25)])
    if rng.random() < 0.5:
        opp, adj = adj, opp
    cos2 = Fraction(adj * adj - opp * opp, hyp * hyp)
    return dict(kind="algebra", difficulty=3, topic="al-trigonometry", level="A-Level",
                prompt=f"Given that sin θ = {opp}/{hyp} and θ is acute, find the exact value of cos 2θ as a fraction.",
                answer=f"{cos2.numerator}/{cos2.denominator}",
                solution=f"cos 2θ = 1 − 2 sin²θ = 1 − 2 × {opp * opp}/{hyp * hyp} = {hyp * hyp - 2 * opp * opp}/"
                         f"{hyp * hyp}, which is {cos2.numerator}/{cos2.denominator}. (No need for θ itself.)")


def trig_identity(rng):
    form = rng.choice(["a", "b", "c", "d"])
    cases = {
        "a": ("(1 − cos²x) ÷ sin x", "sin x", ["cos x", "tan x", "1"], "1 − cos²x = sin²x, and sin²x ÷ sin x = sin x."),
        "b": ("sin x ÷ tan x", "cos x", ["sin x", "sin²x", "1 ÷ cos x"],
              "tan x = sin x ÷ cos x, so sin x ÷ (sin x ÷ cos x) = cos x."),
        "c": ("(1 + tan²x) cos²x", "1", ["tan²x", "sin²x", "cos²x"], "1 + tan²x = sec²x = 1 ÷ cos²x, so the product "
                                                                       "is 1."),
        "d": ("2 sin x cos x ÷ cos 2x", "tan 2x", ["tan x", "2 tan x", "sin 2x"],
              "2 sin x cos x = sin 2x, and sin 2x ÷ cos 2x = tan 2x."),
    }
    prompt, right, wrong, why = cases[form]
    options, answer = _choice(rng, right, wrong)
    return dict(kind="choice", difficulty=2, topic="al-trigonometry", level="A-Level", choices=options, answer=answer,
                prompt=f"Simplify {prompt}.", solution=why)


def arithmetic_series(rng):
    a, d, n = rng.randint(-5, 12), rng.choice([2, 3, 4, 5, 7, -2]), rng.randint(10, 40)
    total = n * (2 * a + (n - 1) * d) // 2
    return dict(kind="numeric", difficulty=2, topic="al-sequences-series", tolerance=0, level="A-Level",
                prompt=f"An arithmetic series has first term {a} and common difference {d}. Find the sum of its first "
                       f"{n} terms.", answer=str(total),
                solution=f"Sₙ = n/2 × (2a + (n − 1)d) = {n}/2 × (2 × {a} + {n - 1} × {d}) = {n}/2 × "
                         f"{2 * a + (n - 1) * d} = {total}.")


def geometric_infinity(rng):
    a, r = rng.choice([6, 8, 12, 20, 45, 90]), rng.choice([Fraction(1, 2), Fraction(1, 3), Fraction(2, 3),
                                                          Fraction(-1, 2), Fraction(3, 4), Fraction(1, 4)])
    total = Fraction(a) / (1 - r)
    return dict(kind="numeric", difficulty=2, topic="al-sequences-series", tolerance=0.01, level="A-Level",
                prompt=f"A geometric series has first term {a} and common ratio {r}. Find its sum to infinity, to 2 "
                       f"decimal places if it is not whole.", answer=_num(float(total)),
                solution=f"|r| < 1, so the series converges: S∞ = a ÷ (1 − r) = {a} ÷ (1 − ({r})) = {a} ÷ {1 - r} = "
                         f"{total} = {_num(float(total))}.")


def vector_angle(rng):
    u = [rng.randint(-4, 5) or 1 for _ in range(3)]
    v = [rng.randint(-4, 5) or 2 for _ in range(3)]
    dot = sum(p * q for p, q in zip(u, v, strict=True))
    nu, nv = math.sqrt(sum(p * p for p in u)), math.sqrt(sum(q * q for q in v))
    angle = math.degrees(math.acos(max(-1.0, min(1.0, dot / (nu * nv)))))  # rounding can step just past ±1
    return dict(kind="numeric", difficulty=3, topic="al-vectors", tolerance=0.1, unit="°", level="A-Level",
                prompt=f"Find the angle between the vectors a = ({u[0]}, {u[1]}, {u[2]}) and b = ({v[0]}, {v[1]}, "
                       f"{v[2]}), in degrees to 1 decimal place.", answer=_num(angle, 1),
                solution=f"a·b = {dot}, |a| = √{sum(p * p for p in u)}, |b| = √{sum(q * q for q in v)}. cos θ = "
                         f"a·b ÷ (|a||b|) = {dot} ÷ {nu * nv:.4f} = {dot / (nu * nv):.4f}, so θ = {_num(angle, 1)}°.")


def vector_magnitude(rng):
    x, y, z = rng.sample([1, 2, 3, 4, 6, -2, -3, -6, 12], 3)
    size = math.sqrt(x * x + y * y + z * z)
    return dict(kind="numeric", difficulty=1, topic="al-vectors", tolerance=0.01, level="A-Level",
                prompt=f"Find the magnitude of the vector {x}i {_signed(y)}j {_signed(z)}k, to 2 decimal places if it "
                       f"is not whole.", answer=_num(size),
                solution=f"|v| = √({x}² + {y}² + {z}²) = √{x * x + y * y + z * z} = {_num(size, 4)} ≈ {_num(size)}.")


def chain_rule_gradient(rng):
    a, b, n = rng.randint(2, 5), rng.randint(-3, 4), rng.randint(2, 5)
    x0 = rng.randint(-1, 2)
    grad = n * a * (a * x0 + b) ** (n - 1)
    return dict(kind="numeric", difficulty=3, topic="al-differentiation", tolerance=0, level="A-Level",
                prompt=f"Find the gradient of the curve y = ({a}x {_signed(b)})^{n} at the point where x = {x0}.",
                answer=str(grad),
                solution=f"Chain rule: dy/dx = {n}({a}x {_signed(b)})^{n - 1} × {a} = {n * a}({a}x {_signed(b)})^"
                         f"{n - 1}. At x = {x0}: {n * a} × ({a * x0 + b})^{n - 1} = {grad}.")


def exponential_tangent(rng):
    a, k, x0 = rng.randint(2, 6), rng.choice([-2, -1, 2, 3]), rng.choice([0, 0, 1])
    grad = a * k * math.exp(k * x0)
    return dict(kind="numeric", difficulty=2, topic="al-differentiation", tolerance=0.01, level="A-Level",
                prompt=f"Find the gradient of y = {a}e^({k}x) at x = {x0}, to 2 decimal places if it is not whole.",
                answer=_num(grad),
                solution=f"d/dx e^(kx) = k e^(kx), so dy/dx = {a * k}e^({k}x). At x = {x0}: {a * k} × e^{k * x0} = "
                         f"{_num(grad)}.")


def stationary_point(rng):
    p, q = sorted(rng.sample([-3, -2, -1, 1, 2, 3, 4], 2))
    # y = 2x³ − 3(p + q)x² + 6pqx + 1 has dy/dx = 6(x − p)(x − q): stationary points at x = p and x = q.
    return dict(kind="numeric", difficulty=3, topic="al-differentiation", tolerance=0, level="A-Level",
                prompt=f"The curve y = 2x³ {_signed(-3 * (p + q))}x² {_signed(6 * p * q)}x + 1 has two stationary "
                       f"points. Find the x-coordinate of the local minimum.", answer=str(q),
                solution=f"dy/dx = 6x² {_signed(-6 * (p + q))}x {_signed(6 * p * q)} = 6(x {_signed(-p)})(x "
                         f"{_signed(-q)}), zero at x = {p} and x = {q}. d²y/dx² = 12x {_signed(-6 * (p + q))}: at "
                         f"x = {q} it is {12 * q - 6 * (p + q)} > 0, so the minimum is at x = {q}.")


def integral_reciprocal(rng):
    k, upper = rng.choice([1, 2, 3, 4, 5]), rng.choice([2, 3, 4, 5, 10])
    value = k * math.log(upper)
    return dict(kind="numeric", difficulty=2, topic="al-integration", tolerance=0.001, level="A-Level",
                prompt=f"Evaluate the integral of {k}/x from x = 1 to x = {upper}, to 3 decimal places.",
                answer=f"{value:.3f}",
                solution=f"∫ {k}/x dx = {k} ln|x|. Between 1 and {upper}: {k}(ln {upper} − ln 1) = {k} ln {upper} = "
                         f"{value:.3f}.")


def integral_exponential(rng):
    a, k, upper = rng.randint(2, 6), rng.choice([1, 2, 3, -1]), rng.choice([1, 2])
    value = a / k * (math.exp(k * upper) - 1)
    return dict(kind="numeric", difficulty=3, topic="al-integration", tolerance=0.01, level="A-Level",
                prompt=f"Evaluate the integral of {a}e^({k}x) from x = 0 to x = {upper}, to 2 decimal places.",
                answer=_num(value),
                solution=f"∫ {a}e^({k}x) dx = ({a}/{k})e^({k}x). Between 0 and {upper}: ({a}/{k})(e^{k * upper} − 1) = "
                         f"{_num(value)}.")


def indefinite_integral(rng):
    a, b, c = rng.choice([3, 6, 9, 12]), rng.choice([-4, -2, 2, 4, 8]), rng.randint(-9, 9)
    return dict(kind="algebra", difficulty=2, topic="al-integration", level="A-Level",
                prompt=f"Find y if dy/dx = {a}x² {_signed(b)}x {_signed(c)} and y = 0 when x = 0.",
                answer=f"{a // 3}*x**3 + ({b // 2})*x**2 + ({c})*x",
                solution=f"Integrate term by term: y = {a}x³/3 {_signed(b)}x²/2 {_signed(c)}x + C = {a // 3}x³ "
                         f"{_signed(b // 2)}x² {_signed(c)}x + C, and y = 0 at x = 0 gives C = 0.")


def complete_square(rng):
    h, k = rng.randint(-6, 6), rng.randint(-12, 12)
    b, c = -2 * h, h * h + k
    return dict(kind="numeric", difficulty=2, topic="al-quadratics", tolerance=0, level="A-Level",
                prompt=f"Write x² {_signed(b)}x {_signed(c)} in the form (x + p)² + q. What is the minimum value of "
                       f"the expression?", answer=str(k),
                solution=f"Halve the x coefficient: (x {_signed(-h)})² = x² {_signed(b)}x + {h * h}, so x² "
                         f"{_signed(b)}x {_signed(c)} = (x {_signed(-h)})² {_signed(k)}. A square is never negative, "
                         f"so the minimum is {k}, at x = {h}.")


def discriminant_k(rng):
    a, b = rng.choice([1, 2, 3]), rng.choice([4, 6, 8, 10, 12])
    # ax² + bx + k = 0 has equal roots when b² − 4ak = 0.
    k = Fraction(b * b, 4 * a)
    return dict(kind="numeric", difficulty=2, topic="al-quadratics", tolerance=0.001, level="A-Level",
                prompt=f"Find the value of k for which {a if a > 1 else ''}x² + {b}x + k = 0 has equal roots.",
                answer=_num(float(k), 3),
                solution=f"Equal roots when the discriminant b² − 4ac = 0: {b}² − 4 × {a} × k = 0, so k = {b * b} ÷ "
                         f"{4 * a} = {_num(float(k), 3)}.")


def circle_radius(rng):
    a, b, r = rng.randint(-5, 5), rng.randint(-5, 5), rng.randint(2, 9)
    d, e, f = -2 * a, -2 * b, a * a + b * b - r * r
    return dict(kind="numeric", difficulty=2, topic="al-coordinate-geometry", tolerance=0, level="A-Level",
                prompt=f"Find the radius of the circle x² + y² {_signed(d)}x {_signed(e)}y {_signed(f)} = 0.",
                answer=str(r),
                solution=f"Complete the square in x and y: (x {_signed(-a)})² + (y {_signed(-b)})² = {a * a} + "
                         f"{b * b} {_signed(-f)} = {r * r}. The centre is ({a}, {b}) and the radius √{r * r} = {r}.")


def composite_function(rng):
    a, b, c = rng.randint(2, 5), rng.randint(-4, 6), rng.randint(1, 4)
    x0 = rng.randint(-3, 3)
    inner = c * x0 * x0 + 1
    value = a * inner + b
    return dict(kind="numeric", difficulty=2, topic="al-functions", tolerance=0, level="A-Level",
                prompt=f"f(x) = {a}x {_signed(b)} and g(x) = {c}x² + 1. Find fg({x0}).", answer=str(value),
                solution=f"fg(x) means f(g(x)): apply g first. g({x0}) = {c} × {x0 * x0} + 1 = {inner}; then "
                         f"f({inner}) = {a} × {inner} {_signed(b)} = {value}.")


def remainder_theorem(rng):
    coeffs = [rng.randint(1, 3), rng.randint(-5, 5), rng.randint(-6, 6), rng.randint(-9, 9)]
    a = rng.choice([-2, -1, 1, 2, 3])
    remainder = sum(cf * a ** (3 - i) for i, cf in enumerate(coeffs))
    p, q, r, s = coeffs
    return dict(kind="numeric", difficulty=2, topic="al-polynomials", tolerance=0, level="A-Level",
                prompt=f"Find the remainder when p(x) = {p}x³ {_signed(q)}x² {_signed(r)}x {_signed(s)} is divided by "
                       f"(x {_signed(-a)}).", answer=str(remainder),
                solution=f"By the remainder theorem the remainder is p({a}) = {p} × {a ** 3} {_signed(q * a * a)} "
                         f"{_signed(r * a)} {_signed(s)} = {remainder}.")


def partial_fractions(rng):
    p, q = rng.sample([-4, -3, -2, -1, 1, 2, 3, 5], 2)
    big_a = rng.choice([1, 2, 3, -1, 4])
    big_b = rng.choice([b for b in (1, 2, -2, 3, 5) if b != -big_a])  # A + B = 0 would leave no x term
    # A/(x − p) + B/(x − q) = ((A + B)x − (Aq + Bp)) / ((x − p)(x − q))
    m, n = big_a + big_b, -(big_a * q + big_b * p)
    return dict(kind="numeric", difficulty=3, topic="al-partial-fractions", tolerance=0, level="A-Level",
                prompt=f"Write ({m}x {_signed(n)}) / ((x {_signed(-p)})(x {_signed(-q)})) as A/(x {_signed(-p)}) + "
                       f"B/(x {_signed(-q)}). What is A?", answer=str(big_a),
                solution=f"{m}x {_signed(n)} ≡ A(x {_signed(-q)}) + B(x {_signed(-p)}). Put x = {p}: {m * p + n} = "
                         f"A × {p - q}, so A = {big_a}. (Put x = {q} to find B = {big_b}.)")


def newton_raphson(rng):
    k, x0 = rng.choice([2, 3, 5, 7, 10]), rng.choice([1, 1.5, 2, 2.5])
    # One iteration for f(x) = x³ − k.
    x1 = x0 - (x0 ** 3 - k) / (3 * x0 ** 2)
    return dict(kind="numeric", difficulty=3, topic="al-numerical-methods", tolerance=0.001, level="A-Level",
                prompt=f"Use one iteration of the Newton–Raphson method on f(x) = x³ − {k}, starting from x₀ = "
                       f"{_num(x0)}, to find x₁ to 3 decimal places.", answer=f"{x1:.3f}",
                solution=f"f'(x) = 3x². x₁ = x₀ − f(x₀)/f'(x₀) = {_num(x0)} − ({_num(x0 ** 3, 3)} − {k}) ÷ "
                         f"{_num(3 * x0 ** 2, 3)} = {x1:.3f}.")


def binomial_probability(rng):
    n, p, r = rng.choice([6, 8, 10, 12]), rng.choice([0.2, 0.25, 0.3, 0.4, 0.5]), rng.randint(1, 4)
    prob = math.comb(n, r) * p ** r * (1 - p) ** (n - r)
    return dict(kind="numeric", difficulty=2, topic="al-probability-distributions", tolerance=0.0001,
                level="A-Level",
                prompt=f"X ~ B({n}, {p}). Find P(X = {r}), to 4 decimal places.", answer=f"{prob:.4f}",
                solution=f"P(X = {r}) = C({n}, {r}) × {p}^{r} × {_num(1 - p)}^{n - r} = {math.comb(n, r)} × "
                         f"{p ** r:.6g} × {(1 - p) ** (n - r):.6g} = {prob:.4f}.")


TEMPLATES: dict[str, Callable[[random.Random], Variant]] = {
    f.__name__: f for f in (
        fractions_add, percentage_change, index_laws, standard_form_product, hcf, round_sig_figs,
        order_of_operations, expand_double, factorise_quadratic, linear_equation, rearrange, nth_term, gradient,
        quadratic_roots, simultaneous, inequality, share_ratio, speed, compound_interest, polygon_angle,
        trapezium_area, circle_area, pythagoras, trig_opposite, cylinder_volume, probability_not, mean_of_list,
        surd_simplify, reverse_percentage, differentiate_poly, definite_integral, suvat_final_speed,
        binomial_coefficient, exponential_equation, log_laws, double_angle, trig_identity, arithmetic_series,
        geometric_infinity, vector_angle, vector_magnitude, chain_rule_gradient, exponential_tangent,
        stationary_point, integral_reciprocal, integral_exponential, indefinite_integral, complete_square,
        discriminant_k, circle_radius, composite_function, remainder_theorem, partial_fractions, newton_raphson,
        binomial_probability)
}
# The level of these templates' topics; the A-Level ones written later say so in their variants, and every other
# template is GCSE.
A_LEVEL = {"differentiate_poly", "definite_integral", "suvat_final_speed"}
MATHS = frozenset(TEMPLATES)
TEMPLATES.update(physics_templates.TEMPLATES)
# How many variants of each template the bank holds (maths keeps BANK_VARIANTS).
VARIANTS = {name: physics_templates.BANK_VARIANTS for name in physics_templates.TEMPLATES}


def generate(template: str, seed: int) -> Variant:
    """The variant of `template` for `seed`: the same pair always gives the same question, answer and solution."""
    variant = TEMPLATES[template](random.Random(f"{template}:{seed}"))
    # Terms are tidied once here ("x" not "1x", "− 3" not "+ -3") for every template, as a teacher writes them.
    variant["prompt"], variant["solution"] = _tidy(variant["prompt"]), _tidy(variant.get("solution") or "")
    if variant.get("choices"):
        variant["choices"] = [_tidy(c) for c in variant["choices"]]
    variant.setdefault("unit", "")
    variant.setdefault("tolerance", 0.0)
    variant.setdefault("choices", [])
    variant.setdefault("subject", "Mathematics")
    variant.setdefault("level", "A-Level" if template in A_LEVEL else "GCSE")
    return variant


def bank_seeds(template: str, count: int | None = None) -> list[int]:
    """The first `count` seeds (in order; by default the template's share of the bank) whose variants of `template`
    all ask different questions."""
    count = count or VARIANTS.get(template, BANK_VARIANTS)
    seeds, prompts = [], set()
    for seed in _SEED_RANGE:
        prompt = generate(template, seed)["prompt"]
        if prompt not in prompts:
            prompts.add(prompt)
            seeds.append(seed)
            if len(seeds) == count:
                break
    return seeds

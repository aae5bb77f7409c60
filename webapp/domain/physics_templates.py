"""Parametrised GCSE and A-Level physics questions, in the same shape as the maths templates (question_templates).

Each template turns a random.Random into one variant: numeric answers are computed from the numbers in the prompt
with the constants the prompt states (g = 9.81 N/kg and so on), kept to 3 significant figures with a 1% tolerance, and
carry their SI unit; multiple-choice items test the ideas pupils most often get wrong. Every variant has a worked
solution that shows the equation, the substitution and the unit."""
from __future__ import annotations

import math
import random

from .question_kit import choice, num, sci, sig, within

G_EARTH = 9.81            # N/kg, as the prompts state
BIG_G = 6.67e-11          # N m^2 kg^-2
M_EARTH, R_EARTH = 5.97e24, 6.37e6
H_PLANCK, E_CHARGE, C_LIGHT = 6.63e-34, 1.60e-19, 3.00e8
K_COULOMB, R_GAS = 8.99e9, 8.31
C_WATER, L_ICE = 4200, 334_000


def _numeric(topic: str, level: str, difficulty: int, prompt: str, value: float, unit: str, solution: str,
             figures: int = 3) -> dict:
    return dict(kind="numeric", subject="Physics", level=level, topic=topic, difficulty=difficulty, prompt=prompt,
                answer=sig(value, figures), tolerance=within(float(sig(value, figures))), unit=unit,
                solution=solution)


def _choice(rng: random.Random, topic: str, level: str, difficulty: int, prompt: str, right: str, wrong: list[str],
            solution: str) -> dict:
    options, answer = choice(rng, right, wrong)
    return dict(kind="choice", subject="Physics", level=level, topic=topic, difficulty=difficulty, prompt=prompt,
                choices=options, answer=answer, solution=solution)


# --- GCSE: forces and motion ---------------------------------------------------------------------------------------

def average_speed(rng):
    v, t = rng.choice([4, 5, 6, 8, 12, 15]), rng.choice([20, 25, 40, 60, 90, 120])
    d = v * t
    return _numeric("forces-motion", "GCSE", 1, f"A cyclist travels {d} m in {t} s. Work out her average speed.",
                    v, "m/s", f"speed = distance ÷ time = {d} m ÷ {t} s = {v} m/s.")


def suvat_acceleration(rng):
    u, v = rng.choice([0, 2, 4, 5, 10]), rng.choice([12, 15, 18, 20, 25])
    s = rng.choice([20, 40, 50, 75, 100])
    a = (v * v - u * u) / (2 * s)
    return _numeric("forces-motion", "GCSE", 2,
                    f"A car speeds up from {u} m/s to {v} m/s over a distance of {s} m. Work out its acceleration, "
                    f"to 3 significant figures.", a, "m/s^2",
                    f"Use v² = u² + 2as, so a = (v² − u²) ÷ 2s = ({v}² − {u}²) ÷ (2 × {s}) = {v * v - u * u} ÷ "
                    f"{2 * s} = {sig(a)} m/s².")


def newtons_second_law(rng):
    m = rng.choice([800, 1000, 1200, 1500])
    drive, friction = rng.choice([3000, 3600, 4200, 5000]), rng.choice([600, 900, 1200])
    a = (drive - friction) / m
    return _numeric("forces-motion", "GCSE", 2,
                    f"A car of mass {m} kg has a driving force of {drive} N and resistive forces of {friction} N "
                    f"acting on it. Work out its acceleration, to 3 significant figures.", a, "m/s^2",
                    f"The resultant force is {drive} − {friction} = {drive - friction} N. F = ma, so a = F ÷ m = "
                    f"{drive - friction} ÷ {m} = {sig(a)} m/s². (Using the driving force alone forgets the "
                    f"resistive forces.)")


def weight_from_mass(rng):
    m = rng.choice([0.5, 2.4, 12, 55, 68, 75, 1200])
    w = m * G_EARTH
    return _numeric("forces-motion", "GCSE", 1,
                    f"Work out the weight of an object of mass {num(m)} kg on Earth, where g = 9.81 N/kg. Give your "
                    f"answer to 3 significant figures.", w, "N",
                    f"W = mg = {num(m)} kg × 9.81 N/kg = {sig(w)} N. Mass is in kilograms; weight is a force, in "
                    f"newtons.")


# --- GCSE: electricity ----------------------------------------------------------------------------------------------

def ohms_law(rng):
    current, resistance = rng.choice([0.2, 0.5, 1.5, 2, 3]), rng.choice([4, 6, 12, 20, 47])
    voltage = current * resistance
    if rng.random() < 0.5:
        return _numeric("electric-circuits", "GCSE", 1,
                        f"A current of {num(current)} A flows through a {resistance} Ω resistor. Work out the "
                        f"potential difference across it.", voltage, "V",
                        f"V = IR = {num(current)} A × {resistance} Ω = {sig(voltage)} V.")
    return _numeric("electric-circuits", "GCSE", 1,
                    f"The potential difference across a {resistance} Ω resistor is {num(voltage)} V. Work out the "
                    f"current through it.", current, "A",
                    f"I = V ÷ R = {num(voltage)} V ÷ {resistance} Ω = {sig(current)} A.")


def series_circuit(rng):
    r1, r2 = rng.sample([2, 3, 4, 5, 6, 8, 10, 12], 2)
    emf = rng.choice([6, 9, 12])
    current = emf / (r1 + r2)
    v1 = current * r1
    return _numeric("electric-circuits", "GCSE", 2,
                    f"A {emf} V battery is connected in series with a {r1} Ω resistor and a {r2} Ω resistor. Work "
                    f"out the potential difference across the {r1} Ω resistor, to 3 significant figures.", v1, "V",
                    f"In series the resistances add: {r1} + {r2} = {r1 + r2} Ω. The current is I = V ÷ R = {emf} ÷ "
                    f"{r1 + r2} = {sig(current)} A, the same everywhere in the loop. Across {r1} Ω: V = IR = "
                    f"{sig(current)} × {r1} = {sig(v1)} V.")


def parallel_resistors(rng):
    r1, r2 = rng.sample([2, 3, 4, 6, 10, 12, 15, 20], 2)
    total = r1 * r2 / (r1 + r2)
    return _numeric("electric-circuits", "GCSE", 3,
                    f"A {r1} Ω resistor and a {r2} Ω resistor are connected in parallel. Work out their total "
                    f"resistance, to 3 significant figures.", total, "Ω",
                    f"1/R = 1/{r1} + 1/{r2} = {r1 + r2}/{r1 * r2}, so R = {r1 * r2} ÷ {r1 + r2} = {sig(total)} Ω. "
                    f"It is less than the smaller resistor, as every parallel total is.")


def charge_flow(rng):
    current, minutes = rng.choice([0.25, 0.5, 1.2, 2, 3.5]), rng.choice([2, 5, 10, 30])
    charge = current * minutes * 60
    return _numeric("electric-circuits", "GCSE", 1,
                    f"A current of {num(current)} A flows for {minutes} minutes. Work out the charge that flows.",
                    charge, "C",
                    f"Time in seconds: {minutes} × 60 = {minutes * 60} s. Q = It = {num(current)} A × "
                    f"{minutes * 60} s = {sig(charge)} C.")


def electricity_cost(rng):
    kw, hours, pence = rng.choice([0.5, 1.5, 2, 2.5, 3]), rng.choice([2, 3, 4, 6]), rng.choice([24, 28, 30, 34])
    cost = kw * hours * pence
    return _numeric("mains-electricity", "GCSE", 2,
                    f"A {num(kw)} kW heater is used for {hours} hours. Electricity costs {pence}p per kWh. Work out "
                    f"the cost in pence.", cost, "p",
                    f"Energy = power × time = {num(kw)} kW × {hours} h = {num(kw * hours)} kWh. Cost = "
                    f"{num(kw * hours)} × {pence}p = {sig(cost)}p.")


def power_from_current(rng):
    current, resistance = rng.choice([0.5, 2, 3, 4, 5]), rng.choice([10, 20, 46, 50])
    power = current * current * resistance
    return _numeric("mains-electricity", "GCSE", 2,
                    f"A current of {num(current)} A flows through a heating element of resistance {resistance} Ω. "
                    f"Work out the power transferred.", power, "W",
                    f"P = I²R = {num(current)}² × {resistance} = {num(current * current)} × {resistance} = "
                    f"{sig(power)} W.")


def kettle_energy(rng):
    current, seconds = rng.choice([5, 8, 10, 12]), rng.choice([60, 90, 120, 150])
    energy = 230 * current * seconds / 1000
    return _numeric("mains-electricity", "GCSE", 2,
                    f"A kettle on the 230 V mains draws a current of {current} A for {seconds} s. Work out the "
                    f"energy transferred in kJ.", energy, "kJ",
                    f"P = VI = 230 × {current} = {230 * current} W. E = Pt = {230 * current} × {seconds} = "
                    f"{230 * current * seconds} J = {sig(energy)} kJ.")


# --- GCSE: matter, energy and waves --------------------------------------------------------------------------------

def density_units(rng):
    density = rng.choice([800, 1000, 2700, 7800, 8900, 11300])
    volume_cm3 = rng.choice([50, 120, 200, 250, 400])
    mass = density * volume_cm3 / 1e6
    return _numeric("particle-model", "GCSE", 2,
                    f"A block has a mass of {num(mass, 4)} kg and a volume of {volume_cm3} cm³. Work out its density "
                    f"in kg/m³.", density, "kg/m^3",
                    f"Convert the volume: 1 cm³ = 10⁻⁶ m³, so {volume_cm3} cm³ = {sci(volume_cm3 / 1e6)} m³. "
                    f"ρ = m ÷ V = {num(mass, 4)} ÷ {sci(volume_cm3 / 1e6)} = {density} kg/m³.")


def specific_heat(rng):
    mass, rise = rng.choice([0.2, 0.5, 0.8, 1.5, 2]), rng.choice([10, 15, 25, 40, 60])
    energy = mass * C_WATER * rise
    if rng.random() < 0.5:
        return _numeric("particle-model", "GCSE", 2,
                        f"Work out the energy needed to heat {num(mass)} kg of water from 20 °C to {20 + rise} °C. "
                        f"The specific heat capacity of water is 4200 J/kg °C.", energy, "J",
                        f"The temperature change is {20 + rise} − 20 = {rise} °C. ΔE = mcΔθ = {num(mass)} × 4200 × "
                        f"{rise} = {sig(energy)} J.")
    c = rng.choice([390, 450, 900, 2100])
    energy = mass * c * rise
    return _numeric("particle-model", "GCSE", 3,
                    f"Supplying {num(energy)} J to a {num(mass)} kg block raises its temperature by {rise} °C. Work "
                    f"out the specific heat capacity of the block's material.", c, "J/kg°C",
                    f"c = ΔE ÷ (mΔθ) = {num(energy)} ÷ ({num(mass)} × {rise}) = {c} J/kg °C.")


def latent_heat(rng):
    grams = rng.choice([50, 100, 150, 250, 400])
    energy = grams / 1000 * L_ICE / 1000
    return _numeric("particle-model", "GCSE", 2,
                    f"Work out the energy needed to melt {grams} g of ice at 0 °C, in kJ. The specific latent heat of "
                    f"fusion of ice is 334 000 J/kg.", energy, "kJ",
                    f"Mass in kilograms: {grams} g = {num(grams / 1000, 3)} kg. E = mL = {num(grams / 1000, 3)} × "
                    f"334 000 = {sig(energy * 1000)} J = {sig(energy)} kJ. The temperature does not change while it "
                    f"melts.")


def kinetic_energy(rng):
    m, v = rng.choice([0.16, 2, 60, 75, 900, 1200]), rng.choice([3, 5, 8, 12, 20, 25])
    ke = 0.5 * m * v * v
    return _numeric("energy-stores", "GCSE", 1,
                    f"Work out the kinetic energy of a {num(m)} kg object moving at {v} m/s.", ke, "J",
                    f"Eₖ = ½mv² = 0.5 × {num(m)} × {v}² = 0.5 × {num(m)} × {v * v} = {sig(ke)} J. Only the speed is "
                    f"squared.")


def drop_speed(rng):
    h = rng.choice([1.5, 2, 5, 10, 20, 45])
    v = math.sqrt(2 * G_EARTH * h)
    return _numeric("energy-stores", "GCSE", 3,
                    f"A ball is dropped from rest from a height of {num(h)} m. Ignoring air resistance, work out its "
                    f"speed just before it hits the ground (g = 9.81 N/kg), to 3 significant figures.", v, "m/s",
                    f"The gravitational potential energy lost becomes kinetic energy: mgh = ½mv², so the mass cancels "
                    f"and v = √(2gh) = √(2 × 9.81 × {num(h)}) = √{num(2 * G_EARTH * h, 3)} = {sig(v)} m/s.")


def efficiency(rng):
    total = rng.choice([200, 500, 800, 1200, 2000])
    share = rng.choice([0.15, 0.25, 0.4, 0.6, 0.85])
    useful = total * share
    return _numeric("energy-stores", "GCSE", 1,
                    f"A motor is supplied with {total} J of energy and transfers {num(useful)} J usefully. Work out "
                    f"its efficiency as a percentage.", share * 100, "%",
                    f"Efficiency = useful output ÷ total input = {num(useful)} ÷ {total} = {num(share)} = "
                    f"{num(share * 100)}%.")


def lifting_power(rng):
    m, h, t = rng.choice([20, 50, 80, 120]), rng.choice([2, 5, 8, 12]), rng.choice([4, 5, 8, 10, 20])
    power = m * G_EARTH * h / t
    return _numeric("energy-stores", "GCSE", 2,
                    f"A motor lifts a {m} kg load through a height of {h} m in {t} s. Work out the useful power it "
                    f"transfers (g = 9.81 N/kg), to 3 significant figures.", power, "W",
                    f"Work done = mgh = {m} × 9.81 × {h} = {sig(m * G_EARTH * h)} J. P = E ÷ t = "
                    f"{sig(m * G_EARTH * h)} ÷ {t} = {sig(power)} W.")


def wave_speed(rng):
    f, wavelength = rng.choice([2, 5, 50, 256, 440, 1000]), rng.choice([0.05, 0.2, 0.75, 1.5, 3])
    v = f * wavelength
    if rng.random() < 0.5:
        return _numeric("waves", "GCSE", 1,
                        f"A wave has a frequency of {f} Hz and a wavelength of {num(wavelength)} m. Work out its "
                        f"speed.", v, "m/s", f"v = fλ = {f} Hz × {num(wavelength)} m = {sig(v)} m/s.")
    return _numeric("waves", "GCSE", 2,
                    f"A wave travels at {num(v)} m/s with a frequency of {f} Hz. Work out its wavelength.",
                    wavelength, "m", f"λ = v ÷ f = {num(v)} ÷ {f} = {sig(wavelength)} m.")


def wave_period(rng):
    f = rng.choice([4, 20, 50, 125, 250, 500])
    period_ms = 1000 / f
    return _numeric("waves", "GCSE", 1,
                    f"A wave has a frequency of {f} Hz. Work out its period in milliseconds.", period_ms, "ms",
                    f"T = 1 ÷ f = 1 ÷ {f} = {sig(1 / f)} s = {sig(period_ms)} ms.")


def em_wavelength(rng):
    mhz = rng.choice([88.5, 97.6, 100, 198, 900, 2400])
    wavelength = C_LIGHT / (mhz * 1e6)
    return _numeric("electromagnetic-spectrum", "GCSE", 2,
                    f"A radio station broadcasts at {num(mhz)} MHz. Electromagnetic waves travel at 3.00 × 10^8 m/s. "
                    f"Work out the wavelength, to 3 significant figures.", wavelength, "m",
                    f"{num(mhz)} MHz = {sci(mhz * 1e6)} Hz. λ = c ÷ f = 3.00 × 10^8 ÷ {sci(mhz * 1e6)} = "
                    f"{sig(wavelength)} m.")


def momentum_of(rng):
    m, v = rng.choice([0.06, 0.45, 5, 70, 1500]), rng.choice([2, 4, 12, 25, 30])
    p = m * v
    return _numeric("momentum", "GCSE", 1,
                    f"Work out the momentum of a {num(m)} kg object moving at {v} m/s.", p, "kg m/s",
                    f"p = mv = {num(m)} kg × {v} m/s = {sig(p)} kg m/s.")


def collision_stick(rng):
    m1, m2 = rng.choice([0.5, 1, 2, 3]), rng.choice([0.5, 1, 1.5, 4])
    u = rng.choice([2, 3, 4, 6])
    v = m1 * u / (m1 + m2)
    return _numeric("momentum", "GCSE", 2,
                    f"A {num(m1)} kg trolley moving at {u} m/s collides with a stationary {num(m2)} kg trolley and "
                    f"they stick together. Work out their speed just after the collision, to 3 significant "
                    f"figures.", v, "m/s",
                    f"Momentum is conserved: {num(m1)} × {u} = ({num(m1)} + {num(m2)}) × v, so v = {num(m1 * u)} ÷ "
                    f"{num(m1 + m2)} = {sig(v)} m/s. (Kinetic energy is not conserved: the collision is inelastic.)")


def force_from_momentum(rng):
    m, v, t = rng.choice([0.06, 0.16, 0.43, 1.2]), rng.choice([10, 20, 30, 40]), rng.choice([0.005, 0.01, 0.02, 0.05])
    force = m * v / t
    return _numeric("momentum", "GCSE", 3,
                    f"A {num(m)} kg ball at rest is struck and leaves at {v} m/s. The contact lasts {num(t, 3)} s. "
                    f"Work out the average force on the ball.", force, "N",
                    f"Change in momentum = mΔv = {num(m)} × {v} = {num(m * v, 3)} kg m/s. F = Δp ÷ t = "
                    f"{num(m * v, 3)} ÷ {num(t, 3)} = {sig(force)} N.")


def half_life_activity(rng):
    a0, half, n = rng.choice([800, 1200, 3200, 6400]), rng.choice([2, 6, 8, 15, 30]), rng.choice([2, 3, 4])
    activity = a0 / 2 ** n
    return _numeric("atomic-structure", "GCSE", 2,
                    f"A sample has an activity of {a0} Bq. Its half-life is {half} hours. Work out its activity after "
                    f"{half * n} hours.", activity, "Bq",
                    f"{half * n} hours is {half * n} ÷ {half} = {n} half-lives. The activity halves each time: "
                    f"{a0} ÷ 2^{n} = {a0} ÷ {2 ** n} = {sig(activity)} Bq.")


def motor_effect(rng):
    b, current, cm = rng.choice([0.05, 0.2, 0.4, 1.5]), rng.choice([2, 3, 5, 8]), rng.choice([5, 10, 20, 25, 50])
    force = b * current * cm / 100
    return _numeric("magnetism", "GCSE", 2,
                    f"A wire carrying a current of {current} A has {cm} cm of its length at right angles to a "
                    f"magnetic field of flux density {num(b)} T. Work out the force on it.", force, "N",
                    f"Length in metres: {cm} cm = {num(cm / 100)} m. F = BIL = {num(b)} × {current} × {num(cm / 100)} "
                    f"= {sig(force)} N.")


def transformer(rng):
    vp, np_, ns = 230, rng.choice([1000, 2000, 2300, 4600]), rng.choice([50, 100, 115, 230, 400])
    vs = vp * ns / np_
    return _numeric("magnetism", "GCSE", 2,
                    f"A transformer has {np_} turns on its primary coil and {ns} turns on its secondary coil. The "
                    f"primary is connected to 230 V. Work out the secondary voltage.", vs, "V",
                    f"Vs ÷ Vp = Ns ÷ Np, so Vs = 230 × {ns} ÷ {np_} = {sig(vs)} V.")


# --- A-Level -------------------------------------------------------------------------------------------------------

def projectile_horizontal(rng):
    u, h = rng.choice([5, 8, 12, 15, 20]), rng.choice([1.2, 5, 10, 20, 45])
    t = math.sqrt(2 * h / G_EARTH)
    distance = u * t
    return _numeric("apl-kinematics", "A-Level", 2,
                    f"A ball is thrown horizontally at {u} m/s from the top of a cliff {num(h)} m high. Ignoring air "
                    f"resistance (g = 9.81 m/s²), how far from the foot of the cliff does it land? Give 3 "
                    f"significant figures.", distance, "m",
                    f"Vertically it starts from rest: s = ½gt², so t = √(2h/g) = √(2 × {num(h)} ÷ 9.81) = {sig(t)} s. "
                    f"Horizontally the speed stays {u} m/s: distance = {u} × {sig(t)} = {sig(distance)} m.")


def projectile_range(rng):
    u, angle = rng.choice([10, 15, 20, 25, 30]), rng.choice([20, 30, 35, 40, 50, 60])
    rad = math.radians(angle)
    if rng.random() < 0.5:
        value = u * u * math.sin(2 * rad) / G_EARTH
        return _numeric("apl-kinematics", "A-Level", 3,
                        f"A projectile is launched from level ground at {u} m/s at {angle}° above the horizontal. "
                        f"Ignoring air resistance (g = 9.81 m/s²), find its horizontal range, to 3 significant "
                        f"figures.", value, "m",
                        f"Split the velocity: uₓ = {u} cos {angle}° = {sig(u * math.cos(rad))} m/s, u_y = {u} sin "
                        f"{angle}° = {sig(u * math.sin(rad))} m/s. Time of flight t = 2u_y/g = "
                        f"{sig(2 * u * math.sin(rad) / G_EARTH)} s. Range = uₓt = u² sin 2θ ÷ g = {sig(value)} m.")
    value = (u * math.sin(rad)) ** 2 / (2 * G_EARTH)
    return _numeric("apl-kinematics", "A-Level", 3,
                    f"A projectile is launched at {u} m/s at {angle}° above the horizontal. Ignoring air resistance "
                    f"(g = 9.81 m/s²), find the greatest height it reaches above its launch point, to 3 significant "
                    f"figures.", value, "m",
                    f"Only the vertical component matters: u_y = {u} sin {angle}° = {sig(u * math.sin(rad))} m/s. At "
                    f"the top v_y = 0, so 0 = u_y² − 2gh and h = u_y² ÷ 2g = {sig(value)} m.")


def centripetal_force(rng):
    # Masses go with radii of their own scale: a ball on a string, a stone in a sling, a car on a roundabout.
    (m, r), v = rng.choice([(0.2, 0.5), (0.5, 0.8), (2, 1.5), (900, 25), (1200, 40), (1500, 60)]), \
        rng.choice([3, 5, 8, 12, 15])
    force = m * v * v / r
    return _numeric("apl-circular-motion", "A-Level", 2,
                    f"An object of mass {num(m)} kg moves at a steady {v} m/s in a circle of radius {num(r)} m. Work "
                    f"out the resultant (centripetal) force on it, to 3 significant figures.", force, "N",
                    f"F = mv² ÷ r = {num(m)} × {v}² ÷ {num(r)} = {sig(force)} N, directed towards the centre. It is "
                    f"the resultant of the real forces, not an extra force.")


def angular_speed(rng):
    rpm, r = rng.choice([33, 45, 78, 120, 1200]), rng.choice([0.05, 0.1, 0.15, 0.3])
    omega = 2 * math.pi * rpm / 60
    accel = omega * omega * r
    return _numeric("apl-circular-motion", "A-Level", 2,
                    f"A disc turns at {rpm} revolutions per minute. Work out the centripetal acceleration of a point "
                    f"{num(r)} m from its centre, to 3 significant figures.", accel, "m/s^2",
                    f"ω = 2πf = 2π × {rpm} ÷ 60 = {sig(omega)} rad/s. a = ω²r = {sig(omega)}² × {num(r)} = "
                    f"{sig(accel)} m/s².")


def shm_spring(rng):
    m, k = rng.choice([0.1, 0.2, 0.25, 0.5, 1.2]), rng.choice([10, 20, 40, 80, 150])
    period = 2 * math.pi * math.sqrt(m / k)
    return _numeric("apl-shm", "A-Level", 2,
                    f"A mass of {num(m)} kg oscillates on a spring of stiffness {k} N/m. Work out the period of "
                    f"oscillation, to 3 significant figures.", period, "s",
                    f"T = 2π√(m/k) = 2π√({num(m)} ÷ {k}) = 2π × {sig(math.sqrt(m / k))} = {sig(period)} s. The "
                    f"amplitude does not change the period.")


def shm_pendulum(rng):
    length = rng.choice([0.25, 0.5, 0.8, 1, 1.5, 2])
    period = 2 * math.pi * math.sqrt(length / G_EARTH)
    return _numeric("apl-shm", "A-Level", 2,
                    f"Work out the period of a simple pendulum of length {num(length)} m swinging through small "
                    f"angles (g = 9.81 m/s²), to 3 significant figures.", period, "s",
                    f"T = 2π√(l/g) = 2π√({num(length)} ÷ 9.81) = {sig(period)} s. The mass of the bob does not "
                    f"matter.")


def shm_max_speed(rng):
    f, amp_cm = rng.choice([0.5, 1.5, 2, 4, 5]), rng.choice([2, 3, 5, 8, 12])
    amp = amp_cm / 100
    v = 2 * math.pi * f * amp
    return _numeric("apl-shm", "A-Level", 3,
                    f"An object moves with simple harmonic motion of frequency {num(f)} Hz and amplitude {amp_cm} cm. "
                    f"Work out its greatest speed, to 3 significant figures.", v, "m/s",
                    f"ω = 2πf = {sig(2 * math.pi * f)} rad/s; amplitude A = {num(amp)} m. The speed is greatest at "
                    f"the centre: v_max = ωA = {sig(2 * math.pi * f)} × {num(amp)} = {sig(v)} m/s.")


def field_at_altitude(rng):
    km = rng.choice([400, 1000, 2000, 6370, 20200, 35800])
    r = R_EARTH + km * 1000
    g = BIG_G * M_EARTH / r ** 2
    return _numeric("apl-gravitational-fields", "A-Level", 2,
                    f"Work out the gravitational field strength {km} km above the Earth's surface. The Earth's mass "
                    f"is 5.97 × 10^24 kg, its radius 6.37 × 10^6 m and G = 6.67 × 10^-11 N m² kg⁻². Give 3 "
                    f"significant figures.", g, "N/kg",
                    f"Measure r from the Earth's centre: r = 6.37 × 10^6 + {sci(km * 1000)} = {sci(r)} m. "
                    f"g = GM ÷ r² = 6.67 × 10^-11 × 5.97 × 10^24 ÷ ({sci(r)})² = {sig(g)} N/kg.")


def orbital_period(rng):
    km = rng.choice([400, 800, 2000, 10000, 20200])
    r = R_EARTH + km * 1000
    hours = 2 * math.pi * math.sqrt(r ** 3 / (BIG_G * M_EARTH)) / 3600
    return _numeric("apl-gravitational-fields", "A-Level", 3,
                    f"A satellite is in a circular orbit {km} km above the Earth's surface. Using M = 5.97 × 10^24 kg, "
                    f"R = 6.37 × 10^6 m and G = 6.67 × 10^-11 N m² kg⁻², work out its orbital period in hours, to 3 "
                    f"significant figures.", hours, "h",
                    f"Gravity provides the centripetal force: GMm/r² = mω²r, so T = 2π√(r³/GM) with r = {sci(r)} m. "
                    f"T = {sig(hours * 3600)} s = {sig(hours)} h.")


def capacitor_energy(rng):
    micro, v = rng.choice([10, 47, 100, 220, 470, 1000]), rng.choice([5, 6, 9, 12, 25])
    energy_mj = 0.5 * micro * 1e-6 * v * v * 1000
    return _numeric("apl-electric-fields", "A-Level", 1,
                    f"A {micro} μF capacitor is charged to {v} V. Work out the energy it stores, in mJ.", energy_mj,
                    "mJ",
                    f"E = ½CV² = 0.5 × {micro} × 10^-6 × {v}² = {sci(energy_mj / 1000)} J = {sig(energy_mj)} mJ.")


def capacitor_discharge(rng):
    micro, kohm = rng.choice([100, 220, 470, 1000]), rng.choice([10, 22, 47, 100])
    tau = micro * 1e-6 * kohm * 1e3
    # A time of the order of RC, so the answer is neither all nor nothing of the starting voltage.
    v0, t = rng.choice([6, 9, 12]), float(sig(tau * rng.choice([0.25, 0.5, 1, 2]), 2))
    v = v0 * math.exp(-t / tau)
    return _numeric("apl-electric-fields", "A-Level", 3,
                    f"A {micro} μF capacitor charged to {v0} V discharges through a {kohm} kΩ resistor. Work out the "
                    f"potential difference across it after {num(t)} s, to 3 significant figures.", v, "V",
                    f"The time constant is RC = {kohm} × 10^3 × {micro} × 10^-6 = {sig(tau)} s. V = V₀e^(−t/RC) = "
                    f"{v0} × e^(−{num(t)}/{sig(tau)}) = {sig(v)} V.")


def coulomb_force(rng):
    q1, q2, cm = rng.choice([1, 2, 3, 5]), rng.choice([2, 4, 6]), rng.choice([5, 10, 20, 30])
    force = K_COULOMB * q1 * 1e-6 * q2 * 1e-6 / (cm / 100) ** 2
    return _numeric("apl-electric-fields", "A-Level", 2,
                    f"Two point charges of {q1} μC and {q2} μC are {cm} cm apart in air. Work out the force between "
                    f"them, taking 1/(4πε₀) = 8.99 × 10^9 N m² C⁻², to 3 significant figures.", force, "N",
                    f"F = kQ₁Q₂ ÷ r² = 8.99 × 10^9 × {q1} × 10^-6 × {q2} × 10^-6 ÷ {num(cm / 100)}² = {sig(force)} N. "
                    f"Remember to turn μC into C and cm into m, and to square r.")


def decay_constant(rng):
    half_days, days = rng.choice([8, 14.3, 28, 138]), rng.choice([5, 10, 20, 60])
    lam = math.log(2) / half_days
    share = math.exp(-lam * days) * 100
    return _numeric("apl-nuclear", "A-Level", 3,
                    f"An isotope has a half-life of {num(half_days)} days. What percentage of its nuclei remain "
                    f"undecayed after {days} days? Give 3 significant figures.", share, "%",
                    f"λ = ln 2 ÷ T½ = 0.693 ÷ {num(half_days)} = {sig(lam)} per day. N/N₀ = e^(−λt) = "
                    f"e^(−{sig(lam)} × {days}) = {sig(share / 100)}, which is {sig(share)}%.")


def emf_internal_resistance(rng):
    emf, r_int, r_ext = rng.choice([1.5, 4.5, 6, 9, 12]), rng.choice([0.5, 1, 2]), rng.choice([4, 5, 10, 22])
    current = emf / (r_ext + r_int)
    terminal = current * r_ext
    return _numeric("apl-electricity", "A-Level", 2,
                    f"A cell of EMF {num(emf)} V and internal resistance {num(r_int)} Ω is connected to a {r_ext} Ω "
                    f"resistor. Work out the terminal potential difference, to 3 significant figures.", terminal, "V",
                    f"ε = I(R + r), so I = {num(emf)} ÷ ({r_ext} + {num(r_int)}) = {sig(current)} A. The terminal pd "
                    f"is IR = {sig(current)} × {r_ext} = {sig(terminal)} V; the 'lost volts' Ir = "
                    f"{sig(current * r_int)} V.")


def resistivity(rng):
    (value, metal), length = rng.choice([(1.7e-8, "copper"), (4.9e-7, "constantan"), (1.1e-6, "nichrome")]), \
        rng.choice([0.5, 1, 2, 5])
    d_mm = rng.choice([0.2, 0.32, 0.5, 1])
    area = math.pi * (d_mm / 2000) ** 2
    resistance = value * length / area
    return _numeric("apl-electricity", "A-Level", 3,
                    f"A {metal} wire is {num(length)} m long with a diameter of {num(d_mm)} mm. The resistivity of "
                    f"{metal} is {sci(value, 2)} Ω m. Work out its resistance, to 3 significant figures.", resistance,
                    "Ω",
                    f"Cross-sectional area from the radius, in metres: A = π × ({num(d_mm / 2000, 5)})² = {sci(area)} "
                    f"m². R = ρL ÷ A = {sci(value, 2)} × {num(length)} ÷ {sci(area)} = {sig(resistance)} Ω.")


def young_modulus(rng):
    (modulus, metal), force = rng.choice([(2.0e11, "steel"), (1.3e11, "copper"), (7.0e10, "aluminium")]), \
        rng.choice([20, 50, 80, 100])
    length, d_mm = rng.choice([1, 1.5, 2, 2.5]), rng.choice([0.3, 0.5, 0.8])
    area = math.pi * (d_mm / 2000) ** 2
    # The extension a real wire of that metal would show, as measured to 2 significant figures; the answer is worked
    # from the measured value, as a pupil would.
    ext_mm = float(sig(force * length / (area * modulus) * 1000, 2))
    value = force * length / (area * ext_mm / 1000)
    return _numeric("apl-materials", "A-Level", 3,
                    f"A {metal} wire {num(length)} m long and {num(d_mm)} mm in diameter stretches by {num(ext_mm, 3)} "
                    f"mm under a load of {force} N. Work out the Young modulus of {metal} from these measurements, "
                    f"to 3 significant figures.", value, "Pa",
                    f"Stress = F ÷ A = {force} ÷ {sci(area)} = {sci(force / area)} Pa; strain = ΔL ÷ L = "
                    f"{sci(ext_mm / 1000)} ÷ {num(length)} = {sci(ext_mm / 1000 / length)}. E = stress ÷ strain = "
                    f"{sci(value)} Pa. Use the radius, in metres, for the area.")


def photon_energy(rng):
    nm = rng.choice([250, 400, 450, 532, 633, 700])
    joules = H_PLANCK * C_LIGHT / (nm * 1e-9)
    ev = joules / E_CHARGE
    return _numeric("apl-quantum", "A-Level", 2,
                    f"Work out the energy of a photon of wavelength {nm} nm, in electronvolts. Use h = 6.63 × 10^-34 "
                    f"J s, c = 3.00 × 10^8 m/s and e = 1.60 × 10^-19 C; give 3 significant figures.", ev, "eV",
                    f"E = hc ÷ λ = 6.63 × 10^-34 × 3.00 × 10^8 ÷ ({nm} × 10^-9) = {sci(joules)} J. Divide by e: "
                    f"{sci(joules)} ÷ 1.60 × 10^-19 = {sig(ev)} eV.")


def photoelectric(rng):
    # Every frequency offered is above each metal's threshold (the lowest photon, 12 × 10^14 Hz, carries 4.97 eV).
    (phi, metal), f_e14 = rng.choice([(2.28, "sodium"), (2.9, "calcium"), (4.3, "zinc")]), rng.choice([12, 15, 18, 20])
    photon_ev = H_PLANCK * f_e14 * 1e14 / E_CHARGE
    ke = photon_ev - phi
    return _numeric("apl-quantum", "A-Level", 3,
                    f"Light of frequency {f_e14} × 10^14 Hz falls on {metal}, whose work function is {num(phi)} eV. "
                    f"Work out the greatest kinetic energy of the emitted electrons, in eV (h = 6.63 × 10^-34 J s, "
                    f"e = 1.60 × 10^-19 C), to 3 significant figures.", ke, "eV",
                    f"Photon energy hf = 6.63 × 10^-34 × {f_e14} × 10^14 ÷ 1.60 × 10^-19 = {sig(photon_ev)} eV. "
                    f"Eₖ(max) = hf − φ = {sig(photon_ev)} − {num(phi)} = {sig(ke)} eV. A brighter light would give "
                    f"more electrons, not faster ones.")


def ideal_gas(rng):
    moles, kelvin, litres = rng.choice([0.5, 1, 2, 0.25]), rng.choice([273, 293, 300, 350]), rng.choice([5, 10, 24, 50])
    pressure = moles * R_GAS * kelvin / (litres / 1000) / 1000
    return _numeric("apl-thermal", "A-Level", 2,
                    f"{num(moles)} mol of an ideal gas at {kelvin} K fills a {litres} litre container. Work out its "
                    f"pressure in kPa (R = 8.31 J mol⁻¹ K⁻¹), to 3 significant figures.", pressure, "kPa",
                    f"Volume in m³: {litres} litres = {num(litres / 1000, 3)} m³. p = nRT ÷ V = {num(moles)} × 8.31 × "
                    f"{kelvin} ÷ {num(litres / 1000, 3)} = {sig(pressure * 1000)} Pa = {sig(pressure)} kPa.")


def bounce_impulse(rng):
    m, down, up = rng.choice([0.05, 0.06, 0.45, 0.6]), rng.choice([8, 10, 12, 15]), rng.choice([4, 6, 7, 9])
    impulse = m * (down + up)
    return _numeric("apl-forces-momentum", "A-Level", 2,
                    f"A {num(m)} kg ball hits a wall at {down} m/s and rebounds along the same line at {up} m/s. "
                    f"Work out the size of the impulse the wall gives it, to 3 significant figures.", impulse, "N s",
                    f"Take the rebound direction as positive: Δp = m(v − u) = {num(m)} × ({up} − (−{down})) = "
                    f"{num(m)} × {down + up} = {sig(impulse)} N s. Subtracting the speeds is the common slip.")


# --- multiple choice: the ideas pupils most often get wrong ----------------------------------------------------------

CONCEPTS = (
    ("vector-quantity", "forces-motion", "GCSE", 1, "Which of these is a vector quantity?",
     "Velocity", ["Speed", "Distance", "Mass"],
     "A vector has a size and a direction. Velocity is speed in a stated direction; speed, distance and mass have a "
     "size only (scalars)."),
    ("terminal-velocity", "forces-motion", "GCSE", 2,
     "A skydiver falls at a steady terminal velocity. Which statement is true?",
     "The air resistance equals her weight", ["Her weight is greater than the air resistance",
                                              "There are no forces acting on her", "Her acceleration is 9.81 m/s²"],
     "At a steady velocity the resultant force is zero (Newton's first law), so the upward air resistance balances "
     "the weight. The forces have not disappeared."),
    ("series-current", "electric-circuits", "GCSE", 1, "In a series circuit, the current is…",
     "the same at every point", ["largest next to the battery", "shared between the components",
                                 "used up by each component"],
     "Charge is not used up: in one loop the same current flows through every component. It is the potential "
     "difference that is shared."),
    ("ldr-light", "electric-circuits", "GCSE", 2, "What happens to the resistance of an LDR as the light gets brighter?",
     "It decreases", ["It increases", "It stays the same", "It becomes zero"],
     "A light-dependent resistor conducts better in brighter light, so its resistance falls."),
    ("earth-wire", "mains-electricity", "GCSE", 1, "What is the earth wire for in a mains plug?",
     "It stops a metal case becoming live if a fault happens",
     ["It carries the current back to the supply", "It carries the alternating potential difference",
      "It makes the appliance use less energy"],
     "The earth wire (green and yellow) is at 0 V and only carries current when there is a fault; the neutral wire "
     "completes the circuit."),
    ("evaporation-energy", "particle-model", "GCSE", 2,
     "While a pan of water boils at 100 °C, the energy supplied…",
     "breaks the bonds between particles, so the temperature stays the same",
     ["makes the particles move faster, so the temperature rises", "is destroyed", "is stored as chemical energy"],
     "During a change of state the energy (latent heat) goes into the internal energy by separating the particles, "
     "not into their kinetic energy, so the temperature is constant."),
    ("alpha-ionising", "atomic-structure", "GCSE", 1, "Which kind of nuclear radiation is the most ionising?",
     "Alpha", ["Beta", "Gamma", "All three are equally ionising"],
     "Alpha particles are large and doubly charged, so they ionise strongly — which is also why a sheet of paper "
     "stops them."),
    ("isotopes", "atomic-structure", "GCSE", 1, "Isotopes of an element have…",
     "the same number of protons and different numbers of neutrons",
     ["the same number of neutrons and different numbers of protons", "different numbers of electrons only",
      "the same mass number"],
     "The number of protons fixes the element; isotopes differ in their neutrons, so in their mass number."),
    ("longitudinal", "waves", "GCSE", 1, "Which of these is a longitudinal wave?",
     "Sound in air", ["Light", "A ripple on water", "Microwaves"],
     "In sound the particles oscillate along the direction the wave travels (compressions and rarefactions); "
     "electromagnetic waves and water ripples are transverse."),
    ("em-order", "electromagnetic-spectrum", "GCSE", 2,
     "Which list is in order of increasing frequency?",
     "radio, microwave, infrared, visible", ["visible, infrared, microwave, radio", "microwave, radio, visible, "
                                             "infrared", "infrared, radio, visible, microwave"],
     "Radio waves have the longest wavelength and lowest frequency; frequency rises through microwaves, infrared, "
     "visible light, ultraviolet, X-rays and gamma rays."),
    ("em-speed", "electromagnetic-spectrum", "GCSE", 1,
     "What is the same for every electromagnetic wave in a vacuum?", "Their speed",
     ["Their frequency", "Their wavelength", "The energy they carry"],
     "All electromagnetic waves travel at 3.00 × 10^8 m/s in a vacuum; frequency and wavelength differ across the "
     "spectrum."),
    ("momentum-conserved", "momentum", "GCSE", 2, "In any collision with no external forces…",
     "total momentum is conserved", ["total kinetic energy is always conserved", "each object keeps its momentum",
                                    "momentum is lost as heat"],
     "Momentum is always conserved in a closed system; kinetic energy is conserved only in elastic collisions."),
    ("motor-rule", "magnetism", "GCSE", 2,
     "Which change reverses the direction of the force on a current-carrying wire in a magnetic field?",
     "Reversing the current", ["Doubling the current", "Using a longer wire", "Using a stronger magnet"],
     "Fleming's left-hand rule: reversing either the current or the field reverses the force; changing their size "
     "changes only the force's size."),
    ("projectile-top", "apl-kinematics", "A-Level", 2,
     "At the highest point of a projectile's path (no air resistance), its acceleration is…",
     "9.81 m/s² downwards", ["zero", "9.81 m/s² upwards", "horizontal"],
     "Gravity acts all the time; only the vertical velocity is zero at the top."),
    ("circular-speed", "apl-circular-motion", "A-Level", 2,
     "An object moves in a circle at constant speed. Which is true?",
     "It is accelerating towards the centre", ["Its velocity is constant", "The resultant force on it is zero",
                                              "It is accelerating outwards"],
     "Its direction changes all the time, so its velocity changes: there is an acceleration v²/r towards the centre, "
     "caused by a resultant force towards the centre."),
    ("shm-acceleration", "apl-shm", "A-Level", 2,
     "In simple harmonic motion, where is the acceleration greatest?",
     "At the maximum displacement", ["At the equilibrium position", "Halfway to maximum displacement",
                                    "It is the same everywhere"],
     "a = −ω²x: the acceleration is proportional to the displacement, so it is greatest at the amplitude, where the "
     "speed is zero."),
    ("orbit-radius", "apl-gravitational-fields", "A-Level", 3,
     "If a satellite's orbital radius is doubled, its period is multiplied by…",
     "2√2", ["2", "4", "√2"],
     "Kepler's third law: T² ∝ r³, so T ∝ r^(3/2) and doubling r multiplies T by 2^(3/2) = 2√2 ≈ 2.83."),
    ("capacitor-time", "apl-electric-fields", "A-Level", 2,
     "After one time constant (RC) of discharge, the charge on a capacitor is about…",
     "37% of its starting value", ["50% of its starting value", "63% of its starting value", "zero"],
     "Q = Q₀e^(−t/RC); at t = RC, Q = Q₀e^(−1) = 0.37Q₀. (63% is what has left it; 50% is one half-life, 0.69RC.)"),
    ("photoelectric-intensity", "apl-quantum", "A-Level", 2,
     "Making light above the threshold frequency brighter…",
     "increases the number of photoelectrons emitted each second",
     ["increases the greatest kinetic energy of the photoelectrons", "lowers the work function",
      "has no effect at all"],
     "Each electron absorbs one photon; brighter light means more photons, not more energetic ones. The greatest "
     "kinetic energy depends only on the frequency: hf − φ."),
    ("binding-energy", "apl-nuclear", "A-Level", 3,
     "Which nuclei have the highest binding energy per nucleon?",
     "Those near iron-56", ["The lightest, such as hydrogen-2", "The heaviest, such as uranium-235",
                            "All nuclei have the same"],
     "Binding energy per nucleon peaks near iron-56; fusing light nuclei or splitting heavy ones moves towards the "
     "peak and releases energy."),
    ("lenz", "apl-magnetic-fields", "A-Level", 3, "Lenz's law is a consequence of the conservation of…",
     "energy", ["charge", "momentum", "mass"],
     "The induced current opposes the change causing it; if it helped the change, energy would be created from "
     "nothing."),
    ("stationary-nodes", "apl-waves", "A-Level", 2,
     "On a stationary wave, the distance between neighbouring nodes is…", "half a wavelength",
     ["one wavelength", "a quarter of a wavelength", "two wavelengths"],
     "Nodes are λ/2 apart (a node and the next antinode are λ/4 apart)."),
    ("plastic-deformation", "apl-materials", "A-Level", 1,
     "Beyond the elastic limit, a wire that is unloaded…",
     "does not return to its original length", ["returns to its original length", "always snaps at once",
                                                "gets shorter than it started"],
     "Past the elastic limit the deformation is plastic: the wire keeps a permanent extension."),
    ("absolute-zero", "apl-thermal", "A-Level", 1, "In the ideal gas equation pV = nRT, the temperature must be in…",
     "kelvin", ["degrees Celsius", "degrees Fahrenheit", "any unit, as long as it is consistent"],
     "pV is proportional to absolute temperature; add 273 to a Celsius temperature to get kelvin."),
)


def _concept(key: str, topic: str, level: str, difficulty: int, prompt: str, right: str, wrong: list[str],
             solution: str):
    """A fixed multiple-choice question as a template: only the order of its options depends on the seed."""
    def template(rng: random.Random) -> dict:
        return _choice(rng, topic, level, difficulty, prompt, right, wrong, solution)
    template.__name__ = f"phy_{key.replace('-', '_')}"
    return template


CALCULATIONS = (
    average_speed, suvat_acceleration, newtons_second_law, weight_from_mass, ohms_law, series_circuit,
    parallel_resistors, charge_flow, electricity_cost, power_from_current, kettle_energy, density_units, specific_heat,
    latent_heat, kinetic_energy, drop_speed, efficiency, lifting_power, wave_speed, wave_period, em_wavelength,
    momentum_of, collision_stick, force_from_momentum, half_life_activity, motor_effect, transformer,
    projectile_horizontal, projectile_range, centripetal_force, angular_speed, shm_spring, shm_pendulum, shm_max_speed,
    field_at_altitude, orbital_period, capacitor_energy, capacitor_discharge, coulomb_force, decay_constant,
    emf_internal_resistance, resistivity, young_modulus, photon_energy, photoelectric, ideal_gas, bounce_impulse)
# Template names are stored with each item: prefixed so they never clash with a maths template.
TEMPLATES = {f"phy_{f.__name__}": f for f in CALCULATIONS}
TEMPLATES.update({t.__name__: t for t in (_concept(*c) for c in CONCEPTS)})
# Fewer variants than maths: the bank wants breadth of topics more than many versions of one calculation.
BANK_VARIANTS = 6

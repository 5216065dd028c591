"""PII detection against Presidio's pattern recognizers, on the same labelled text.

A Faker sample (fixed seed) of sentences, each embedding one PII value (email, phone, card
with a valid Luhn digit, IBAN, IPv4/IPv6, MAC, SSN, a date of birth in context) or a
distractor (order numbers, prices, dates that are not of birth). Throughput is per core
(characters and records over CPU seconds); recall and precision per entity type. Presidio
runs with a blank spaCy pipeline saved to disk (no model download) and only the registry's
predefined pattern recognizers.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from faker import Faker

from comind.governance.pii_detect import detect_text

PRESIDIO = {
    "EMAIL_ADDRESS": "email", "PHONE_NUMBER": "phone", "CREDIT_CARD": "credit_card",
    "IBAN_CODE": "iban", "IP_ADDRESS": "ip_address", "US_SSN": "us_ssn",
    "MAC_ADDRESS": "mac_address", "DATE_TIME": "date_of_birth",
}  # fmt: skip
Span = tuple[str, int, int]


def _ssn(rng: random.Random) -> str:
    return f"{rng.randint(100, 665)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}"


def sample(n: int, seed: int = 17) -> list[tuple[str, list[Span]]]:
    """`n` labelled sentences: the text and its gold (type, start, end) spans."""
    fake, rng = Faker(["en_US"]), random.Random(seed)
    Faker.seed(seed)
    makers: list[tuple[str | None, str, Callable[[], str]]] = [
        ("email", "Please reply to {} about the invoice.", fake.email),
        ("phone", "You can call me on {} after six.", fake.phone_number),
        ("credit_card", "The card number is {} exp 09/29.", fake.credit_card_number),
        ("iban", "Wire the refund to IBAN {} today.", fake.iban),
        ("ip_address", "Login from {} was blocked.", fake.ipv4),
        ("ip_address", "The host at {} answered.", fake.ipv6),
        ("mac_address", "Device MAC {} joined the network.", fake.mac_address),
        ("us_ssn", "Her SSN is {} on the form.", lambda: _ssn(rng)),
        ("date_of_birth", "He was born on {} in Ohio.", lambda: fake.date_of_birth().isoformat()),
        (None, "Order #{} ships on 2024-05-{:02d} for ${}.{:02d}.", lambda: ""),
    ]
    out = []
    for _ in range(n):
        kind, template, make = rng.choice(makers)
        if kind is None:
            text = template.format(rng.randint(10**7, 10**9), rng.randint(1, 28),
                                   rng.randint(1, 999), rng.randint(0, 99))  # fmt: skip
            out.append((f"{fake.sentence()} {text}", []))
            continue
        value = make()
        prefix = fake.sentence() + " "
        start = len(prefix) + template.index("{}")
        out.append((prefix + template.format(value), [(kind, start, start + len(value))]))
    return out


def _ours(text: str) -> list[Span]:
    return [(f.detector, f.start, f.end) for f in detect_text(text)]


def presidio() -> Callable[[str], list[Span]]:
    import spacy
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    model = Path(tempfile.mkdtemp()) / "blank_en"
    spacy.blank("en").to_disk(model)
    conf = {"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": str(model)}]}
    engine = NlpEngineProvider(nlp_configuration=conf).create_engine()
    registry = RecognizerRegistry()
    registry.load_predefined_recognizers(nlp_engine=engine)
    registry.remove_recognizer("SpacyRecognizer")
    analyzer = AnalyzerEngine(nlp_engine=engine, registry=registry)

    def run(text: str) -> list[Span]:
        found = analyzer.analyze(text, language="en", score_threshold=0.0)
        return [
            (PRESIDIO[r.entity_type], r.start, r.end) for r in found if r.entity_type in PRESIDIO
        ]

    return run


def _score(
    data: list[tuple[str, list[Span]]], found: list[list[Span]], kind: str
) -> tuple[float, float]:
    def hit(a: Span, spans: list[Span]) -> bool:
        return any(b[0] == kind and a[1] < b[2] and b[1] < a[2] for b in spans)

    gold = [
        (s, f) for (_, spans), f in zip(data, found, strict=True) for s in spans if s[0] == kind
    ]
    recall = sum(hit(s, f) for s, f in gold) / max(len(gold), 1)
    mine = [(s, g) for (_, g), f in zip(data, found, strict=True) for s in f if s[0] == kind]
    precision = sum(hit(s, g) for s, g in mine) / max(len(mine), 1)
    return recall, precision


def _timed(run: Callable[[str], list[Span]], texts: list[str]) -> tuple[list[list[Span]], float]:
    started = time.process_time()
    found = [run(t) for t in texts]
    return found, time.process_time() - started


def detection(n: int = 5000) -> list[dict[str, object]]:
    """One row per engine and entity type (and an 'all' row with throughput)."""
    data = sample(n)
    texts = [t for t, _ in data]
    chars = sum(map(len, texts))
    rows: list[dict[str, object]] = []
    for name, run in (("comind", _ours), ("presidio", presidio())):
        found, cpu = _timed(run, texts)
        rows.append({"engine": name, "type": "all", "records/s": n / cpu, "chars/s": chars / cpu})
        for kind in sorted(set(PRESIDIO.values())):
            recall, precision = _score(data, found, kind)
            rows.append({"engine": name, "type": kind, "recall": recall, "precision": precision})
    return rows


def table(rows: list[dict[str, object]]) -> str:
    lines = [
        "| engine | type | records/s | chars/s | recall | precision |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        cells = [f"{r[k]:,.0f}" if k in r else "" for k in ("records/s", "chars/s")]
        cells += [f"{r[k]:.3f}" if k in r else "" for k in ("recall", "precision")]
        lines.append(f"| {r['engine']} | {r['type']} | " + " | ".join(cells) + " |")
    speed = {r["engine"]: r["records/s"] for r in rows if r["type"] == "all"}
    ratio = float(speed["comind"]) / float(speed["presidio"])  # type: ignore[arg-type]
    return "\n".join(lines) + f"\n\nthroughput ratio comind / presidio: {ratio:.1f}x"


def main() -> None:
    print(table(detection()))


if __name__ == "__main__":
    main()

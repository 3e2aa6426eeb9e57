"""The console chat: the embedded default channel, reading stdin and writing stdout."""

from __future__ import annotations

import sys
from typing import TextIO

from socialekaart.search import MapSearch

WELCOME = (
    "Hallo! Ik ben Wijkbot, een automatische assistent van de wijk.\n"
    "Typ uw vraag in uw eigen woorden. Typ /stop om te stoppen.\n"
    "Bij nood: bel 112."
)


def run_console(database, stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    search = MapSearch(database)
    interactive = stdin.isatty()
    print(WELCOME, file=stdout)
    while True:
        if interactive:
            print("> ", end="", file=stdout, flush=True)
        line = stdin.readline()
        if not line:
            break
        text = line.strip()
        if not text:
            print("Typ een vraag, bijvoorbeeld: 'hulp bij schulden'.", file=stdout)
            continue
        if text.lower() in ("/stop", "stop", "exit", "quit"):
            break
        hits = search.search(text[:2000], limit=3)
        if not hits:
            print("Dat kan ik niet vinden. Probeer het met andere woorden.", file=stdout)
            continue
        print("Dit kan u misschien helpen:", file=stdout)
        for n, hit in enumerate(hits, 1):
            print(f"{n}. {hit.name} ({hit.organization})", file=stdout)
        stdout.flush()
    print("Tot ziens!", file=stdout)

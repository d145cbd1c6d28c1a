"""Keep the message catalogs in step with the code: ``make messages``.

1. ``pybabel extract`` collects every message id from the Python code and the
   templates (``babel.cfg``) into ``config/translations/messages.pot``;
2. each catalog (``config/translations/<locale>/LC_MESSAGES/messages.po``) gets the
   ids it lacks, with an empty translation to fill in; nothing is ever removed
   (``pybabel update`` would comment out the ids it cannot see, such as keys built at
   run time like ``label("open_type", value)``, which are added to the .po by hand)
   and plural entries keep their forms;
3. the ids still untranslated in some locale are listed.

``--check`` writes nothing: it exits 1 when an id is missing or untranslated (CI).

Then ``make`` (or ``pybabel compile -d config/translations``) builds the ``.mo`` files.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config.i18n import LOCALES, TRANSLATIONS_DIR, po_path  # noqa: E402

TEMPLATE = TRANSLATIONS_DIR / "messages.pot"
KEYWORDS = ("_", "t", "translate", "ngettext:1,2")


def extract(target: Path = TEMPLATE) -> Catalog:
    """Run pybabel extract over the project into ``target``; the extracted catalog."""
    command = [str(Path(sys.executable).with_name("pybabel")), "extract", "-F", str(ROOT / "babel.cfg"),
               "--no-location", "--omit-header", "--sort-output", "-o", str(target)]
    for keyword in KEYWORDS:
        command += ["-k", keyword]
    subprocess.run([*command, str(ROOT)], check=True, cwd=ROOT, capture_output=True)
    with target.open("rb") as handle:
        return read_po(handle)


def _key(message_id: str | tuple[str, ...] | list[str]) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]


def merge(template: Catalog, locale: str, write: bool = True) -> tuple[int, list[str]]:
    """Add the template's new ids to ``locale``'s catalog (saved when ``write``);
    (added, untranslated ids)."""
    path = po_path(locale)
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    present = {_key(m.id) for m in catalog if m.id}
    added = 0
    for message in template:
        if message.id and _key(message.id) not in present:
            empty = ("",) * catalog.num_plurals if isinstance(message.id, tuple) else ""
            catalog.add(message.id, empty)
            added += 1
    if added and write:
        with path.open("wb") as handle:
            write_po(handle, catalog, width=100, sort_output=True)
    untranslated = sorted(_key(m.id) for m in catalog if m.id and (
        not m.string or (isinstance(m.string, tuple) and not all(m.string))))
    return added, untranslated


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a message is untranslated")
    args = parser.parse_args()
    if args.check:
        with tempfile.TemporaryDirectory() as folder:
            template = extract(Path(folder) / "messages.pot")
    else:
        template = extract()
    missing = False
    for locale in LOCALES:
        added, untranslated = merge(template, locale, write=not args.check)
        print(f"{locale}: {added} new id(s); {len(untranslated)} untranslated"
              + (f": {', '.join(untranslated)}" if untranslated else ""))
        missing = missing or bool(untranslated) or bool(added)
    return 1 if args.check and missing else 0


if __name__ == "__main__":
    sys.exit(main())

"""Where each source of the open corpus keeps its audio and what is known about each file.

Each reader takes the folder a source was extracted to (a Debian package's root, or a GitHub
repository's files) and lists its files as `SourceFile`s; nothing is read or converted here.
What OPEN_CORPUS.md says to leave out is left out here, by rule, with the reason recorded.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

SPEECH, NOISE = "speech", "noise"
AUDIO = (".wav", ".flac", ".ogg", ".mp3")


@dataclass(frozen=True)
class SourceFile:
    """One recording as its source ships it, with what the source says about it."""

    source: str
    path: Path
    kind: str  # SPEECH or NOISE
    name: str  # unique within the source: becomes the output file's name
    text: str = ""
    lang: str = ""
    speaker: str = ""  # speech: the voice, the unit a split keeps whole
    gender: str = ""
    age: int | None = None
    family: str = ""  # noise: the type, so that every type reaches the test split
    ambience: bool = False  # noise: a steady scene (cut into pieces) rather than a short effect


@dataclass
class Listing:
    """A source's files plus what was left out by rule (reason -> count)."""

    files: list[SourceFile] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)

    def drop(self, reason: str, count: int = 1) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + count


def _audio_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO and p.is_file()) if folder.is_dir() else []


def _kaldi_table(path: Path) -> dict[str, str]:
    table = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            parts = line.split(None, 1)
            if parts:
                table[parts[0]] = parts[1].strip() if len(parts) > 1 else ""
    return table


# ---- speech ------------------------------------------------------------------------------------


def speechocean762(root: Path) -> Listing:
    """English read by 250 native Mandarin speakers (adults and children), Kaldi-style metadata."""
    listing = Listing()
    text, gender, age = {}, {}, {}
    for part in ("train", "test"):
        text.update(_kaldi_table(root / part / "text"))
        gender.update(_kaldi_table(root / part / "spk2gender"))
        age.update({k: int(v) for k, v in _kaldi_table(root / part / "spk2age").items() if v.isdigit()})
    for path in _audio_under(root / "WAVE"):
        utt, speaker = path.stem, path.parent.name.replace("SPEAKER", "")
        if utt not in text:
            listing.drop("no transcript")
            continue
        listing.files.append(
            SourceFile(
                "speechocean762",
                path,
                SPEECH,
                f"{speaker}/{utt}",
                text[utt].lower(),
                "en",
                f"so762-{speaker}",
                gender.get(speaker, ""),
                age.get(speaker),
            )
        )
    return listing


def read_lines(path: Path) -> list[str]:
    """A text file's non-blank lines ([] if it is absent)."""
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()] if path.is_file() else []


TUXPAINT_CLIPPED = {"es"}  # every Spanish narration is clipped (OPEN_CORPUS.md)
_TUX_DESC = re.compile(r"^(?P<stamp>.+)_desc(?:_(?P<lang>[a-z]{2,3}(?:_[A-Z]{2})?))?$")


def tuxpaint_narrations(root: Path) -> Listing:
    """Stamp descriptions spoken by about a dozen narrators, one per language; text in each stamp's .txt."""
    listing = Listing()
    stamps = root / "usr/share/tuxpaint/stamps"
    for path in _audio_under(stamps):
        match = _TUX_DESC.match(path.stem)
        if not match:
            continue
        lang = match["lang"] or "en"
        if lang in TUXPAINT_CLIPPED:
            listing.drop(f"clipped language ({lang})")
            continue
        text = _tuxpaint_text(path.parent / f"{match['stamp']}.txt", lang)
        if not text:
            listing.drop("no text for its language")
            continue
        name = str(path.relative_to(stamps).with_suffix(""))
        listing.files.append(SourceFile("tuxpaint", path, SPEECH, name, text, lang.split("_")[0], f"tuxpaint-{lang}"))
    return listing


def _tuxpaint_text(txt: Path, lang: str) -> str:
    lines = read_lines(txt)
    if not lines:
        return ""
    if lang == "en":
        return lines[0].strip()
    prefix = f"{lang}.utf8="
    return next((line[len(prefix) :].strip() for line in lines if line.startswith(prefix)), "")


KTUBERLING_CLIPPED = {"sl"}  # Slovenian: 65% clipped (OPEN_CORPUS.md)


def ktuberling(root: Path) -> Listing:
    """Single words, one speaker per language; the word is in the language's .soundtheme."""
    listing = Listing()
    sounds = root / "usr/share/ktuberling/sounds"
    for theme in sorted(sounds.glob("*.soundtheme")):
        lang = theme.stem
        if lang in KTUBERLING_CLIPPED:
            listing.drop(f"clipped language ({lang})", len(_audio_under(sounds / lang)))
            continue
        for element in _xml_sounds(theme):
            path = sounds / element.get("file", "")
            if path.is_file():
                listing.files.append(
                    SourceFile(
                        "ktuberling",
                        path,
                        SPEECH,
                        f"{lang}/{path.stem}",
                        element.get("name", "").replace("_", " "),
                        lang.split("@")[0].split("_")[0],
                        f"ktuberling-{lang}",
                    )
                )
    return listing


KLETTRES_CLIPPED = {"ml"}  # Malayalam: 96% clipped (OPEN_CORPUS.md); others are measured per file


def klettres(root: Path) -> Listing:
    """Letters and syllables, about one speaker per language; the letter is in sounds.xml."""
    listing = Listing()
    base = root / "usr/share/klettres"
    for table in sorted(base.glob("*/sounds.xml")):
        lang = table.parent.name
        if lang in KLETTRES_CLIPPED:
            listing.drop(f"clipped language ({lang})", len(_audio_under(table.parent)))
            continue
        for element in _xml_sounds(table):
            path = base / element.get("file", "")
            if path.is_file():
                listing.files.append(
                    SourceFile(
                        "klettres",
                        path,
                        SPEECH,
                        f"{lang}/{path.parent.name}/{path.stem}",
                        element.get("name", "").lower(),
                        lang.split("_")[0],
                        f"klettres-{lang}",
                    )
                )
    return listing


def _xml_sounds(path: Path) -> list[ET.Element]:
    try:
        return list(ET.parse(path).getroot().iter("sound"))
    except ET.ParseError:
        return []


# ---- noise -------------------------------------------------------------------------------------

SYNTHETIC = "synthetic or not a recording (binaural beats, coloured noise, silence, alarm, morse)"
SYNTHETIC_MOODIST = {"binaural", "noise"}  # generated tones and coloured noise, not recordings
SHORT_MOODIST = {"alarm", "silence", "morse-code"}


def moodist(root: Path) -> Listing:
    """About 75 real ambiences in folders by type (places, urban, rain, ...)."""
    listing = Listing()
    sounds = root / "public/sounds"
    for path in _audio_under(sounds):
        family = path.parent.name if path.parent != sounds else "things"
        if family in SYNTHETIC_MOODIST or path.stem in SHORT_MOODIST:
            listing.drop(SYNTHETIC)
            continue
        listing.files.append(SourceFile("moodist", path, NOISE, path.stem, family=family, ambience=True))
    return listing


BLANKET_FAMILY = {
    "birds": "animals",
    "boat": "transport",
    "city": "urban",
    "coffee-shop": "places",
    "fireplace": "nature",
    "rain": "rain",
    "storm": "rain",
    "summer-night": "nature",
    "train": "transport",
    "waves": "nature",
    "wind": "nature",
    "stream": "nature",
}


def blanket(root: Path) -> Listing:
    """Eleven ambiences (licence per file in SOUNDS_LICENSING.md); its two coloured noises are synthetic."""
    listing = Listing()
    for path in _audio_under(root / "data/resources/sounds"):
        if path.stem not in BLANKET_FAMILY:
            listing.drop(SYNTHETIC)
            continue
        listing.files.append(
            SourceFile("blanket", path, NOISE, path.stem, family=BLANKET_FAMILY[path.stem], ambience=True)
        )
    return listing


def megaglest(root: Path) -> Listing:
    """Tileset ambiences and common effects; unit folders hold voice lines (speech), so they stay out."""
    listing = Listing()
    game = root / "usr/share/games/megaglest"
    for path in _audio_under(game):
        rel = path.relative_to(game).parts
        if "units" in rel:
            listing.drop("MegaGlest unit folder (voice lines: speech, not noise)")
        elif "music" in rel or "menu" in rel:
            listing.drop("music or menu sound")
        elif rel[0] == "tilesets":
            listing.files.append(
                SourceFile(
                    "megaglest", path, NOISE, "/".join(rel[1:])[: -len(path.suffix)], family="nature", ambience=True
                )
            )
        else:
            listing.files.append(
                SourceFile("megaglest", path, NOISE, "/".join(rel[-2:])[: -len(path.suffix)], family="effects")
            )
    return listing


def _flat_effects(
    source: str, folder: str, family: str, skip: Callable[[Path], bool] = lambda p: False
) -> Callable[[Path], Listing]:
    def read(root: Path) -> Listing:
        listing = Listing()
        for path in _audio_under(root / folder):
            if "music" in path.relative_to(root / folder).parts or skip(path):
                listing.drop("music or user-interface sound")
                continue
            name = str(path.relative_to(root / folder).with_suffix(""))
            listing.files.append(SourceFile(source, path, NOISE, name, family=family))
        return listing

    read.__doc__ = f"{source}: short effects ({family})."
    return read


lincity = _flat_effects("lincity", "usr/share/games/lincity-ng/sounds", "machines")
wesnoth = _flat_effects(
    "wesnoth",
    "usr/share/games/wesnoth/1.16",
    "effects",
    skip=lambda p: p.stem.startswith(("chat", "gamestart", "button", "select", "user")),
)
sonic_pi = _flat_effects("sonic-pi", "usr/share/sonic-pi/samples", "music")
widelands = _flat_effects("widelands", "usr/share/games/widelands/data", "effects")


def tuxpaint_effects(root: Path) -> Listing:
    """The stamp sound effects (animals, appliances, instruments): a stamp's own `<stamp>.ogg`."""
    listing = Listing()
    stamps = root / "usr/share/tuxpaint/stamps"
    for path in _audio_under(stamps):
        if "_desc" in path.stem or not any(path.with_suffix(s).is_file() for s in (".png", ".svg")):
            continue  # narrations, and spoken digits/letters (`7_de.ogg`): speech
        listing.files.append(
            SourceFile("tuxpaint-fx", path, NOISE, str(path.relative_to(stamps).with_suffix("")), family="effects")
        )
    return listing


@dataclass(frozen=True)
class Source:
    """A source: where it comes from and how its files are listed."""

    name: str
    origin: str  # "deb:PACKAGE" or "git:OWNER/NAME"
    read: Callable[[Path], Listing]
    licence: str


SOURCES = (
    Source(
        "speechocean762",
        "git:jimbozhang/speechocean762",
        speechocean762,
        "free for commercial and non-commercial use (README); OpenSLR SLR101: CC BY 4.0",
    ),
    Source("tuxpaint", "deb:tuxpaint-stamps-default", tuxpaint_narrations, "GPL-2"),
    Source("ktuberling", "deb:ktuberling-data", ktuberling, "GPL-2+"),
    Source("klettres", "deb:klettres-data", klettres, "GPL-2+"),
    Source(
        "moodist",
        "git:remvze/moodist",
        moodist,
        "Pixabay Content License / CC0 (training use; do not redistribute raw)",
    ),
    Source(
        "blanket",
        "git:rafaelmardojai/blanket",
        blanket,
        "CC0 / CC BY / CC BY 3.0 / public domain (SOUNDS_LICENSING.md)",
    ),
    Source("megaglest", "deb:megaglest-data", megaglest, "CC BY-SA 3.0"),
    Source("lincity", "deb:lincity-ng-data", lincity, "GPL / CC BY-SA 2"),
    Source("wesnoth", "deb:wesnoth-1.16-data", wesnoth, "GPL-2+"),
    Source("tuxpaint-fx", "deb:tuxpaint-stamps-default", tuxpaint_effects, "GPL-2"),
    Source("sonic-pi", "deb:sonic-pi-samples", sonic_pi, "CC0"),
    Source("widelands", "deb:widelands-data", widelands, "GPL-2+"),
)

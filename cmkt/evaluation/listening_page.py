"""The listening page's HTML: one file, no script or style from anywhere else, readable on a phone.

Every link is relative (audio/, images/, plots/ beside the page). The small inline script pauses
the other players when one starts, and counts the players whose audio has loaded (the line under
the title, which the browser test reads, with whether the page fits the window's width)."""

from __future__ import annotations

import html
import math

from cmkt.evaluation.report import paired_differences
from cmkt.evaluation.stats import mean_ci

STYLE = """
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1400px; padding: 0.8em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
.note { color: #555; font-size: 0.85em; }
.file { border-top: 2px solid #888; margin-top: 1.2em; padding-top: 0.4em; }
.clips { display: flex; flex-wrap: wrap; gap: 0.6em; }
.clip { flex: 1 1 260px; max-width: 380px; border: 1px solid #ddd; border-radius: 4px; padding: 0.4em; }
.clip h4 { margin: 0 0 0.2em 0; font-size: 0.9em; overflow-wrap: anywhere; }
.clip img { max-width: 100%; height: auto; display: block; }
.plots { display: flex; flex-wrap: wrap; gap: 0.5em; }
.plots img { max-width: min(100%, 560px); height: auto; }
.clip audio { width: 100%; }
.scores { font-size: 0.78em; color: #333; }
audio:focus { outline: 3px solid #1a73e8; }
img.scale { max-width: min(100%, 420px); display: block; }
"""

SCRIPT = """
const players = Array.from(document.querySelectorAll("audio"));
const status = document.getElementById("audio-status");
let ready = 0, failed = 0;
function show() {
  status.textContent = ready + " of " + players.length + " players ready" + (failed ? ", " + failed + " failed" : "");
  status.dataset.ready = ready; status.dataset.failed = failed; status.dataset.total = players.length;
  status.dataset.fits = document.documentElement.scrollWidth <= window.innerWidth + 1;  // no sideways scrolling
}
players.forEach(p => {
  if (p.readyState >= 1) { ready++; } else {
    p.addEventListener("loadedmetadata", () => { ready++; show(); }, { once: true });
    p.addEventListener("error", () => { failed++; show(); }, { once: true });
  }
  p.addEventListener("play", () => players.forEach(o => { if (o !== p) o.pause(); }));
});
show();
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _number(value: float) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def summary_table(results, metrics: tuple[str, ...]) -> str:
    """Means ± 95% intervals per system, as the score tables show them."""
    head = "".join(f"<th>{_e(m)}</th>" for m in metrics)
    body = "".join(
        f"<tr><td>{_e(r.system)}</td>"
        + "".join(f"<td>{_e(mean_ci(r.values(m).values()).text())}</td>" for m in metrics)
        + f"<td>{len(r.ok)}</td></tr>"
        for r in results
    )
    return f'<div class="scroll"><table id="summary"><tr><th>system</th>{head}<th>files</th></tr>{body}</table></div>'


def differences_table(results, metrics: tuple[str, ...], reference: str) -> str:
    """Each system minus `reference` on the files both scored: mean ± 95% interval and Wilcoxon p."""
    head = "".join(f"<th>&Delta; {_e(m)}</th>" for m in metrics)
    body = "".join(
        f"<tr><td>{_e(system)}</td>"
        + "".join(f"<td>{_e(d.difference.text())} (p={d.p_value:.3g})</td>" for d in diffs)
        + "</tr>"
        for system, diffs in paired_differences(results, metrics, reference)
    )
    return f'<div class="scroll"><table id="differences"><tr><th>system</th>{head}</tr>{body}</table></div>'


def file_section(row, metrics: tuple[str, ...]) -> str:
    groups = ", ".join(f"{_e(k)} {_e(v)}" for k, v in row.groups.items())
    clips = ""
    for clip in row.clips:
        scores = " · ".join(f"{_e(m)} {_number(clip.scores[m])}" for m in metrics if m in clip.scores)
        clips += (
            f'<div class="clip" data-system="{_e(clip.system)}"><h4>{_e(clip.system)}</h4>'
            f'<audio controls preload="metadata" src="{_e(clip.audio)}" aria-label="{_e(clip.system)}: {_e(row.key)}">'
            f"</audio>"
            f'<img src="{_e(clip.image)}" alt="spectrogram of {_e(clip.system)}" loading="lazy">'
            f'<div class="scores">{scores or "reference"} · listened at {clip.gain_db:+.1f} dB</div></div>'
        )
    return (
        f'<section class="file" data-file="{_e(row.key)}"><h3>{_e(row.key)}</h3>'
        f'<p class="note">{_e(row.why)}{"; " + groups if groups else ""}</p><div class="clips">{clips}</div></section>'
    )


def render_page(
    title: str,
    results,
    metrics: tuple[str, ...],
    reference: str,
    rows: list,
    plots: list[str],
    shown_note: str,
    lufs: float,
) -> str:
    """The whole page: summary, paired differences and plots above one section per chosen file."""
    plot_tags = "".join(f'<img src="{_e(p)}" alt="{_e(p)}">' for p in plots)
    sections = "".join(file_section(row, metrics) for row in rows)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title><style>{STYLE}</style></head>
<body>
<h1>{_e(title)}</h1>
<p id="audio-status" class="note">players loading</p>
<h2>Mean scores (± 95% interval over files)</h2>
{summary_table(results, metrics)}
<h2>Paired differences against {_e(reference)}</h2>
{differences_table(results, metrics, reference)}
<p class="note">&Delta; = system &minus; {_e(reference)} on the files both scored: mean ± 95% t-interval;
p = two-sided Wilcoxon signed-rank test.</p>
<div class="plots">{plot_tags}</div>
<h2>Listen</h2>
<p class="note">{_e(shown_note)} Each clip is the audio that was scored (the reference's rate, mono), turned up or
down to {lufs:g} LUFS for listening only; the scores are of the audio as it was. Spectrograms share one colour
scale. Tab moves between players; space or enter plays and pauses; starting one pauses the others.</p>
<img class="scale" src="images/colour_scale.png" alt="colour scale of the spectrograms">
{sections}
<script>{SCRIPT}</script>
</body></html>
"""
